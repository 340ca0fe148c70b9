"""gwctl domain check: what a sending domain needs in DNS (DKIM, the
bounce domain's MX and SPF, DMARC and alignment), checked against a real
DNS server on loopback (the Dns fixture, dns.resolver points at it).

A domain whose records are all right gives ok lines and exit 0; each
record made missing or wrong in turn gives that line with the record to
publish, and exit 1.  gwd is not started: gwctl reads gw.db and gwd.conf.
"""
import re

import pytest

from test_gwctl_dkim import ctl, keygen, publish

BD = "bounces.example.com"


@pytest.fixture
def gw(gw_factory, dns):
    g = gw_factory(dns=dns)
    g.add_subaccount("app", "example.com")
    ctl(g, "subaccount", "set", "app", "--bounce-domain", BD)
    ctl(g, "pool", "add", "main", "127.0.0.1")
    g.dkim_host = publish(dns, keygen(g, "example.com", None,
                                      "--activate").stdout)
    dns.add(BD, "MX", (10, "gw.test"))
    dns.add(BD, "TXT", "v=spf1 ip4:127.0.0.1 -all")
    dns.add("_dmarc.example.com", "TXT", "v=DMARC1; p=reject; rua=mailto:d@example.com")
    return g


def check(gw, rc):
    r = ctl(gw, "domain", "check", "example.com", rc=rc)
    return r.stdout


def line(out, check_name):
    """The line of a check, and the lines under it."""
    lines = out.splitlines()
    for i, l in enumerate(lines):
        if l.startswith(check_name + " "):
            rest = []
            for m in lines[i + 1:]:
                if not m.startswith("  "):
                    break
                rest.append(m.strip())
            return l, rest
    raise AssertionError((check_name, out))


def test_all_ok(gw):
    out = check(gw, 0)
    assert line(out, "dkim")[0] == "dkim %s: ok" % gw.dkim_host
    assert line(out, "mx")[0] == "mx %s: ok" % BD
    assert line(out, "spf")[0] == "spf %s: ok" % BD
    assert line(out, "dmarc")[0] == "dmarc _dmarc.example.com: ok (p=reject)"
    assert line(out, "dkim-alignment")[0].startswith(
        "dkim-alignment example.com: ok (d=example.com, relaxed)")
    assert line(out, "spf-alignment")[0].startswith(
        "spf-alignment example.com: ok (return path at %s" % BD)
    assert "publish" not in out
    assert all(re.search(r": ok( |$)", l) for l in out.splitlines()), out


def test_no_mx(gw, dns):
    del dns.zone[(BD, "MX")]
    l, rest = line(check(gw, 1), "mx")
    assert l == "mx %s: missing (no MX record)" % BD
    assert rest == ["publish: %s. IN MX 10 gw.test." % BD]


def test_mx_elsewhere(gw, dns):
    dns.zone[(BD, "MX")] = [(10, "mx.elsewhere.test")]
    l, rest = line(check(gw, 1), "mx")
    assert l == "mx %s: wrong (points at mx.elsewhere.test, not gw.test)" % BD
    assert rest == ["publish: %s. IN MX 10 gw.test." % BD]


def test_spf_without_gw(gw, dns):
    dns.zone[(BD, "TXT")] = ["v=spf1 ip4:192.0.2.0/24 mx -all"]
    l, rest = line(check(gw, 1), "spf")
    assert l == "spf %s: wrong (127.0.0.1 gets fail)" % BD
    assert rest == ['publish: %s. IN TXT "v=spf1 ip4:192.0.2.0/24 mx '
                    'ip4:127.0.0.1 -all"' % BD]


def test_spf_missing(gw, dns):
    del dns.zone[(BD, "TXT")]
    l, rest = line(check(gw, 1), "spf")
    assert l == "spf %s: missing (no SPF record)" % BD
    assert rest == ['publish: %s. IN TXT "v=spf1 ip4:127.0.0.1 -all"' % BD]


def test_spf_include_and_a(gw, dns):
    """include: (nested), a:, ip4 with a prefix: evaluated through DNS."""
    dns.zone[(BD, "TXT")] = ["v=spf1 ip4:192.0.2.1 include:_spf.gw.test ~all"]
    dns.add("_spf.gw.test", "TXT", "v=spf1 include:_spf2.gw.test -all")
    dns.add("_spf2.gw.test", "TXT", "v=spf1 a:out.gw.test/24 -all")
    dns.add("out.gw.test", "A", "127.0.0.9")
    assert line(check(gw, 0), "spf")[0] == "spf %s: ok" % BD
    # redirect= when no term matched.
    dns.zone[(BD, "TXT")] = ["v=spf1 ip4:192.0.2.1 redirect=_spf.gw.test"]
    assert line(check(gw, 0), "spf")[0] == "spf %s: ok" % BD
    dns.zone[(BD, "TXT")] = ["v=spf1 ip4:192.0.2.1 include:_spf.gw.test ~all"]
    # The include's target without gw's address: softfail from ~all.
    dns.zone[("out.gw.test", "A")] = ["192.0.2.9"]
    l, rest = line(check(gw, 1), "spf")
    assert l == "spf %s: wrong (127.0.0.1 gets softfail)" % BD
    assert rest == ['publish: %s. IN TXT "v=spf1 ip4:192.0.2.1 '
                    'include:_spf.gw.test ip4:127.0.0.1 ~all"' % BD]


def test_spf_lookup_limit(gw, dns):
    """More than 10 DNS-querying terms: permerror (RFC 7208 4.6.4)."""
    dns.zone[(BD, "TXT")] = ["v=spf1 " + " ".join(
        "a:h%d.gw.test" % i for i in range(11)) + " ip4:127.0.0.1 -all"]
    l, _ = line(check(gw, 1), "spf")
    assert l == ("spf %s: wrong (127.0.0.1 gets permerror: more than 10 "
                 "DNS lookups)" % BD)


def test_dmarc_missing_and_org_domain(gw, dns):
    del dns.zone[("_dmarc.example.com", "TXT")]
    l, rest = line(check(gw, 1), "dmarc")
    assert l.startswith("dmarc _dmarc.example.com: missing")
    assert rest == ['publish: _dmarc.example.com. IN TXT "v=DMARC1; '
                    'p=none; rua=mailto:dmarc-reports@example.com"']
    # A subdomain finds its organisational domain's record.
    ctl(gw, "subaccount", "domain-add", "app", "news.example.com")
    dns.add("_dmarc.example.com", "TXT", "v=DMARC1; p=quarantine")
    r = ctl(gw, "domain", "check", "news.example.com", rc=1)
    assert "dmarc _dmarc.example.com: ok (p=quarantine)" in r.stdout
    # news.example.com has no key of its own: gw does not sign it.
    assert line(r.stdout, "dkim-alignment")[0].startswith(
        "dkim-alignment news.example.com: missing")
    assert "spf-alignment news.example.com: ok" in r.stdout


def test_alignment_wrong(gw, dns):
    ctl(gw, "subaccount", "set", "app", "--bounce-domain", "bounces.other.test")
    dns.add("bounces.other.test", "MX", (10, "gw.test"))
    dns.add("bounces.other.test", "TXT", "v=spf1 ip4:127.0.0.1 -all")
    out = check(gw, 1)
    assert line(out, "mx")[0] == "mx bounces.other.test: ok"
    l, rest = line(out, "spf-alignment")
    assert l.startswith("spf-alignment example.com: wrong (return path at "
                        "bounces.other.test does not align")
    # Strict DKIM alignment from the record's adkim=s: d=example.com
    # still aligns with example.com itself.
    dns.zone[("_dmarc.example.com", "TXT")] = ["v=DMARC1; p=none; adkim=s"]
    assert "dkim-alignment example.com: ok (d=example.com, strict)" in \
        check(gw, 1)


def test_dkim_key_mismatch(gw, dns):
    host = gw.dkim_host
    dns.zone[(host, "TXT")] = [["v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwrong"]]
    l, rest = line(check(gw, 1), "dkim")
    assert l == "dkim %s: wrong (p= holds another key)" % host
    assert len(rest) == 1 and rest[0].startswith("publish: %s. IN TXT (" % host)
    del dns.zone[(host, "TXT")]
    l, _ = line(check(gw, 1), "dkim")
    assert l.startswith("dkim %s: missing" % host)


def test_no_pools_uses_hostname(gw, dns):
    ctl(gw, "pool", "delete", "main")
    dns.add("gw.test", "A", "127.0.0.2")
    l, rest = line(check(gw, 1), "spf")
    assert l.startswith("spf %s: wrong (127.0.0.2 gets fail; no pools: gw "
                        "sends from the machine's default address" % BD)
    assert rest == ['publish: %s. IN TXT "v=spf1 ip4:127.0.0.1 '
                    'ip4:127.0.0.2 -all"' % BD]


def test_no_bounce_domain_and_unknown_domain(gw, dns):
    ctl(gw, "subaccount", "set", "app", "--bounce-domain", "none")
    l, rest = line(check(gw, 1), "bounce-domain")
    assert l.startswith("bounce-domain example.com: missing")
    assert "--bounce-domain bounces.example.com" in rest[0]
    r = ctl(gw, "domain", "check", "nobody.test", rc=67)
    assert "no subaccount sends from nobody.test" in r.stderr


def test_spf_hostile_records(gw, dns):
    """A negative or too long prefix is a permerror, not a match of every
    address; an include: loop ends at the lookup limit; control bytes
    from DNS are not printed."""
    dns.add("out.gw.test", "A", "192.0.2.9")
    for rec in ("v=spf1 a:out.gw.test/-8 -all", "v=spf1 a:out.gw.test/33 -all"):
        dns.zone[(BD, "TXT")] = [rec]
        l, _ = line(check(gw, 1), "spf")
        assert "gets permerror" in l and "is not valid" in l, l
    dns.zone[(BD, "TXT")] = ["v=spf1 include:%s -all" % BD]
    l, _ = line(check(gw, 1), "spf")
    assert l == ("spf %s: wrong (127.0.0.1 gets permerror: more than 10 "
                 "DNS lookups)" % BD)
    dns.zone[(BD, "TXT")] = ["v=spf1 ip4:192.0.2.1 \x1b[31m -all"]
    out = check(gw, 1)
    assert "\x1b" not in out and "?[31m" in out
