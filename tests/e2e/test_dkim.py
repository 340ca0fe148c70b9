"""DKIM: gwd signs, independent verifiers agree, keys rotate safely.

Keys are made with gwctl; the TXT records gwctl prints are served by a
real DNS server on loopback; the signed messages the sink receives are
checked by three verifiers from Debian: Python's dkimpy, Perl's
Mail::DKIM and OpenDKIM (opendkim-testmsg, run in namespaces of its own
because it only asks the system resolver).
"""
import json
import os
import re
import smtplib
import subprocess
import threading

import pytest

from conftest import Raw, client_tls_context, login, smarthost, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def gw(gw_factory, dns, sink):
    g = gw_factory(relay=smarthost(sink), dns=dns).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def keygen(gw, dns, domain, selector, algorithm="rsa", publish=True, *extra):
    r = gw.gwctl("dkim", "keygen", domain, "--selector", selector,
                 "--algorithm", algorithm, *extra)
    assert "PRIVATE" not in r.stdout + r.stderr
    line = [l for l in r.stdout.splitlines() if " IN TXT " in l][0]
    strings = re.findall(r'"([^"]*)"', line)
    assert strings and all(len(s) < 255 for s in strings)
    if publish:
        dns.add("%s._domainkey.%s" % (selector, domain), "TXT", strings)
    return strings


def activate(gw, domain, selector):
    return gw.gwctl("dkim", "activate", domain, selector)


def send(gw, subject="signed", body=b"Hello.\r\n", frm="app@example.com",
         to="user@dest.test", extra=b""):
    msg = (b"From: App <" + frm.encode() + b">\r\nTo: <" + to.encode() + b">\r\n"
           b"Subject: " + subject.encode() + b"\r\n" + extra + b"\r\n" + body)
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail(frm, [to], msg)
    return msg


def received(sink, subject):
    def find():
        return [m for m in sink.messages if b"Subject: " + subject.encode() in m.data]
    return wait_for(find, what="message %r at the sink" % subject)[0].data


def signatures(data):
    """The DKIM-Signature fields of a message, unfolded, as tag dicts."""
    hdr = data.split(b"\r\n\r\n", 1)[0].decode()
    fields = re.findall(r"(?ms)^DKIM-Signature:(.*?)(?=^\S)", hdr + "\r\nX:")
    out = []
    for f in fields:
        v = re.sub(r"\s+", "", f)
        out.append(dict(t.split("=", 1) for t in v.split(";") if t))
    return out


# -- the three verifiers ----------------------------------------------------

def txt_lookup(dns, name):
    from dnslib import DNSRecord
    q = DNSRecord.question(name.rstrip("."), "TXT")
    a = DNSRecord.parse(q.send("127.0.0.1", dns.port, timeout=5))
    return b"".join(b"".join(rr.rdata.data) for rr in a.rr if rr.rtype == 16)


def verify_dkimpy(data, dns):
    """A list of booleans, one per signature."""
    import dkim
    d = dkim.DKIM(data)
    n = len(signatures(data))

    def dnsfunc(name, timeout=5):
        return txt_lookup(dns, name.decode() if isinstance(name, bytes) else name)
    def one(i):
        try:
            return bool(d.verify(idx=i, dnsfunc=dnsfunc))
        except dkim.ValidationError:
            return False          # e.g. "body hash mismatch"
    return [one(i) for i in range(n)]


MAIL_DKIM = r"""
use strict;
use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS::Resolver;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(
    nameservers => ['127.0.0.1'], port => $ARGV[0], recurse => 1,
    udp_timeout => 5, tcp_timeout => 5));
my $v = Mail::DKIM::Verifier->new();
local $/;
my $m = <STDIN>;
$v->PRINT($m);
$v->CLOSE;
foreach my $s ($v->signatures) {
    printf "%s %s %s %s\n", $s->domain, $s->algorithm, $s->result,
        $s->result_detail;
}
"""


def verify_mail_dkim(data, dns):
    r = subprocess.run(["perl", "-e", MAIL_DKIM, str(dns.port)], input=data,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    return [l.split()[2] == "pass" for l in lines], lines


def verify_opendkim(data, dns, tmp_path, names):
    """opendkim-testmsg's verdict: 0 when the message verifies."""
    recs = {n: [s.decode() for s in dns_strings(dns, n)] for n in names}
    rj = tmp_path / "records.json"
    rj.write_text(json.dumps(recs))
    mf = tmp_path / "message.eml"
    mf.write_bytes(data.replace(b"\r\n", b"\n"))   # it reads LF text
    r = subprocess.run(["unshare", "--net", "--mount", "--fork", "/usr/bin/python3",
                        os.path.join(HERE, "opendkim_verify.py"), str(rj), str(mf)],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def dns_strings(dns, name):
    return [s if isinstance(s, bytes) else s.encode()
            for s in dns.zone[(name.lower(), "TXT")][-1]]


def sig_names(data):
    return ["%s._domainkey.%s" % (s["s"], s["d"]) for s in signatures(data)]


def all_verify(data, dns, tmp_path, opendkim=True, mail_dkim=True):
    assert signatures(data), "not signed"
    assert all(verify_dkimpy(data, dns)), "dkimpy says no"
    if mail_dkim:
        ok, lines = verify_mail_dkim(data, dns)
        assert ok and all(ok), "Mail::DKIM says: %s" % lines
    if opendkim:
        rc, out = verify_opendkim(data, dns, tmp_path, sig_names(data))
        assert rc == 0, "opendkim-testmsg says: %s" % out


# -- signing ----------------------------------------------------------------

@pytest.mark.parametrize("alg", ["rsa", "ed25519"])
def test_signature_verifies_with_three_verifiers(gw, dns, sink, tmp_path, alg):
    keygen(gw, dns, "example.com", "s1", alg)
    activate(gw, "example.com", "s1")
    send(gw, subject="alg-" + alg,
         body=b"Line one\r\ntrailing spaces   \r\n\r\n8-bit: \xc3\xa9\r\n\r\n\r\n",
         extra=b"Reply-To: <r@example.com>\r\nList-Unsubscribe: <mailto:u@example.com>\r\n"
               b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    data = received(sink, "alg-" + alg)
    sigs = signatures(data)
    assert len(sigs) == 1
    s = sigs[0]
    assert s["a"] == ("rsa-sha256" if alg == "rsa" else "ed25519-sha256")
    assert s["c"] == "relaxed/relaxed" and s["d"] == "example.com" and s["s"] == "s1"
    h = s["h"].lower().split(":")
    assert h.count("from") == 2                      # over-signed
    for name in ("to", "subject", "date", "message-id", "reply-to",
                 "list-unsubscribe", "list-unsubscribe-post"):
        assert name in h
    all_verify(data, dns, tmp_path, mail_dkim=(alg == "rsa"))
    if alg == "ed25519":
        # Debian 12's Mail::DKIM (1.20230212) predates its Ed25519 support:
        # it must say exactly that, not that the signature is bad.
        ok, lines = verify_mail_dkim(data, dns)
        assert lines == ["example.com ed25519-sha256 invalid invalid "
                         "(unsupported algorithm ed25519-sha256)"], lines
    ev = wait_for(lambda: gw.events("action='signed'"), what="signed event")
    assert ev[0]["detail"] == "d=example.com s=s1 a=%s" % s["a"]


@pytest.mark.parametrize("alg", ["rsa", "ed25519"])
def test_verifiers_catch_tampering(gw, dns, sink, tmp_path, alg):
    keygen(gw, dns, "example.com", "s1", alg)
    activate(gw, "example.com", "s1")
    send(gw, subject="tamper")
    data = received(sink, "tamper").replace(b"Hello.", b"Jello.")
    assert verify_dkimpy(data, dns) == [False]
    ok, _ = verify_mail_dkim(data, dns)
    assert ok == [False]
    rc, _ = verify_opendkim(data, dns, tmp_path, sig_names(data))
    assert rc != 0
    # A second From: added in transit breaks the signature (over-signing).
    data = received(sink, "tamper").replace(b"From: App", b"From: evil@evil.test\r\nFrom: App", 1)
    assert verify_dkimpy(data, dns) == [False]


def test_dual_rsa_and_ed25519(gw, dns, sink, tmp_path):
    keygen(gw, dns, "example.com", "r1", "rsa")
    keygen(gw, dns, "example.com", "e1", "ed25519")
    activate(gw, "example.com", "r1")
    activate(gw, "example.com", "e1")
    send(gw, subject="dual")
    data = received(sink, "dual")
    algs = sorted(s["a"] for s in signatures(data))
    assert algs == ["ed25519-sha256", "rsa-sha256"]
    assert verify_dkimpy(data, dns) == [True, True]
    ok, lines = verify_mail_dkim(data, dns)
    assert sorted(lines) == [
        "example.com ed25519-sha256 invalid invalid (unsupported algorithm "
        "ed25519-sha256)", "example.com rsa-sha256 pass pass"], lines


def test_unsigned_is_logged_with_the_reason(gw, sink):
    send(gw, subject="nokey")
    data = received(sink, "nokey")
    assert signatures(data) == []
    ev = wait_for(lambda: gw.events("action='unsigned'"), what="unsigned event")
    assert "no active DKIM key for example.com" in ev[0]["detail"]


def test_pending_key_does_not_sign(gw, dns, sink):
    keygen(gw, dns, "example.com", "p1")
    send(gw, subject="pending")
    assert signatures(received(sink, "pending")) == []


def test_subdomain_signed_by_parent_key(gw_factory, dns, sink, tmp_path):
    g = gw_factory(relay=smarthost(sink), dns=dns).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    keygen(g, dns, "example.com", "s1")
    activate(g, "example.com", "s1")
    send(g, subject="subdomain", frm="news@mail.example.com")
    data = received(sink, "subdomain")
    assert signatures(data)[0]["d"] == "example.com"
    all_verify(data, dns, tmp_path, opendkim=False)


def test_simple_canonicalization(gw, dns, sink, tmp_path):
    keygen(gw, dns, "example.com", "s1")
    activate(gw, "example.com", "s1")
    gw.gwctl("dkim", "canon", "example.com", "simple/simple")
    send(gw, subject="simple", body=b"a  b\r\n\r\n")
    data = received(sink, "simple")
    assert signatures(data)[0]["c"] == "simple/simple"
    all_verify(data, dns, tmp_path)


@pytest.mark.parametrize("canon", ["simple/simple", "relaxed/relaxed"])
def test_empty_body_goes_out_as_one_crlf(gw, dns, sink, tmp_path, canon):
    """A message without body is relayed with a body of one CRLF: the
    same body hash (RFC 6376 3.4.3), and Exim 4.96, which fails its own
    simple verification on a zero-length body, agrees.  Before, the
    body went out empty."""
    keygen(gw, dns, "example.com", "s1")
    activate(gw, "example.com", "s1")
    gw.gwctl("dkim", "canon", "example.com", canon)
    send(gw, subject="empty-" + canon, body=b"")
    m = wait_for(lambda: [m for m in sink.messages
                          if b"Subject: empty-" + canon.encode() in m.data],
                 what="the message")[0]
    assert m.body == b"\r\n"
    assert signatures(m.data)[0]["c"] == canon
    all_verify(m.data, dns, tmp_path)


def test_org_domain_second_signature(gw, dns, sink, tmp_path):
    keygen(gw, dns, "example.com", "s1")
    activate(gw, "example.com", "s1")
    keygen(gw, dns, "org.test", "o1")
    activate(gw, "org.test", "o1")
    gw.gwctl("subaccount", "dkim-org", "app", "org.test")
    send(gw, subject="org")
    data = received(sink, "org")
    assert [s["d"] for s in signatures(data)] == ["example.com", "org.test"]
    assert verify_dkimpy(data, dns) == [True, True]
    ev = wait_for(lambda: gw.events("action='signed'"), what="signed event")
    assert "d=org.test s=o1" in ev[0]["detail"]


# -- DSNs -------------------------------------------------------------------

def bounce_one(g, sink, subject):
    """A message the sink refuses; the DSN that comes back to app@."""
    sink.rcpt_reply = lambda a: "550 5.1.1 no such user" if a.startswith("bad") else None
    send(g, subject=subject, to="bad@dest.test")
    return wait_for(lambda: [m for m in sink.messages if m.mail_from == ""],
                    what="the DSN")[0]


def test_dsn_signed_by_hostname_key(gw, dns, sink, tmp_path):
    """A DSN's From: is MAILER-DAEMON@hostname (gw.test): with a key for
    that domain it is signed, verifies, and its signing is logged as any
    message's.  Before, DSNs were never signed."""
    keygen(gw, dns, "gw.test", "b1")
    activate(gw, "gw.test", "b1")
    d = bounce_one(gw, sink, "dsn-signed")
    assert b"From: Mail Delivery System <MAILER-DAEMON@gw.test>" in d.data
    assert [s["d"] for s in signatures(d.data)] == ["gw.test"]
    all_verify(d.data, dns, tmp_path)
    rec = wait_for(lambda: gw.events("action='received' AND sender=''"),
                   what="the DSN's received event")[0]
    ev = wait_for(lambda: gw.events("action='signed' AND qid=?", (rec["qid"],)),
                  what="the DSN's signed event")
    assert ev[0]["detail"] == "d=gw.test s=b1 a=rsa-sha256"


def test_dsn_from_signed_by_parent_key(gw_factory, dns, sink, tmp_path):
    """dsn_from names the DSNs' From:; a key of its domain's parent
    signs them (as for any message)."""
    g = gw_factory(relay=smarthost(sink), dns=dns,
                   extra='dsn_from = "bounces@mail.example.com";').start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    keygen(g, dns, "example.com", "s1")
    activate(g, "example.com", "s1")
    d = bounce_one(g, sink, "dsn-from")
    assert b"From: Mail Delivery System <bounces@mail.example.com>" in d.data
    assert [s["d"] for s in signatures(d.data)] == ["example.com"]
    all_verify(d.data, dns, tmp_path, opendkim=False)


def test_dsn_unsigned_is_logged(gw, sink):
    bounce_one(gw, sink, "dsn-unsigned")
    rec = wait_for(lambda: gw.events("action='received' AND sender=''"),
                   what="the DSN's received event")[0]
    ev = wait_for(lambda: gw.events("action='unsigned' AND qid=?", (rec["qid"],)),
                  what="the DSN's unsigned event")
    assert "no active DKIM key for gw.test" in ev[0]["detail"]


def test_dsn_from_must_be_an_address(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink), extra='dsn_from = "not an address";')
    r = g.tool("gwd", "-n", check=False)
    assert r.returncode == 78
    assert 'dsn_from: "not an address" is not an address' in r.stderr


# -- rotation ---------------------------------------------------------------

def test_rotation_every_stage_verifies(gw, dns, sink, tmp_path):
    keygen(gw, dns, "example.com", "old")
    activate(gw, "example.com", "old")
    send(gw, subject="stage-1")
    # A new key: pending until published and activated; old still signs.
    keygen(gw, dns, "example.com", "new", "rsa", False)
    r = gw.gwctl("dkim", "activate", "example.com", "new", check=False)
    assert r.returncode != 0            # not published yet
    send(gw, subject="stage-2")
    # Published, activated: new signs, old is retiring (record kept).
    name = "new._domainkey.example.com"
    strings = re.findall(r'"([^"]*)"', [l for l in gw.gwctl(
        "dkim", "dns", "example.com").stdout.splitlines() if l.startswith("new.")][0])
    dns.add(name, "TXT", strings)
    activate(gw, "example.com", "new")
    send(gw, subject="stage-3")
    listing = [json.loads(l) for l in gw.gwctl(
        "dkim", "list", "--format", "json").stdout.splitlines()]
    states = {k["selector"]: k["state"] for k in listing}
    assert states == {"old": "retiring", "new": "active"}
    # Retired at once (--force: it turned retiring moments ago): the
    # revocation record is printed; mail keeps verifying.
    r = gw.gwctl("dkim", "retire", "example.com", "old", "--force")
    assert "p=" in r.stdout and "PRIVATE" not in r.stdout
    send(gw, subject="stage-4")
    for stage, sel in (("stage-1", "old"), ("stage-2", "old"),
                       ("stage-3", "new"), ("stage-4", "new")):
        data = received(sink, stage)
        assert signatures(data)[0]["s"] == sel, stage
        assert all(verify_dkimpy(data, dns)), stage


# -- signing off the event loop ---------------------------------------------

def test_big_message_signed_while_others_are_served(gw_factory, dns, sink):
    g = gw_factory(relay=smarthost(sink), dns=dns,
                   settings={"limits.message_size": "30M"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    keygen(g, dns, "example.com", "s1", "rsa", True, "--bits", "4096")
    activate(g, "example.com", "s1")
    big = Raw(g.ports["submission"], timeout=120)
    big.reply()
    login(big, "app", "s3cret-pass")
    big.cmd("MAIL FROM:<app@example.com>")
    big.cmd("RCPT TO:<u@dest.test>")
    big.cmd("DATA")
    line = b"x" * 998 + b"\r\n"
    big.send(b"From: app@example.com\r\nSubject: big\r\n\r\n" + line * 24000 + b".\r\n")
    # While the big one is hashed and signed (on a worker thread), another
    # session is served.
    got = []
    t = threading.Thread(target=lambda: got.append(big.reply()[0]))
    t.start()
    small = Raw(g.ports["submission"])
    assert small.reply()[0] == 220
    assert small.cmd("EHLO other.test")[0] == 250
    assert small.cmd("NOOP")[0] == 250
    t.join(120)
    assert got == [250]
    data = received(sink, "big")
    assert len(data) > 24000 * 1000
    assert verify_dkimpy(data, dns) == [True]
