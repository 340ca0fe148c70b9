"""gwctl dkim: keys, their DNS records, checks against a real DNS server
on loopback, rotation, import, canonicalization, organisation signatures.

gwd is not started: gwctl is driven as an admin would, with the
configuration the Gwd fixture writes (dns.resolver points at the Dns
fixture).  Every gwctl call is checked for private key material.
"""
import base64
import json
import os
import re
import sqlite3
import stat
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from test_gwctl import GWCTL as GWCTL_BIN, Gw



@pytest.fixture
def gw(gw_factory, dns):
    return gw_factory(dns=dns)


def ctl(gw, *args, rc=0, input=None):
    r = gw.gwctl(*args, input=input, check=False)
    assert "PRIVATE" not in r.stdout + r.stderr, args
    assert "-----BEGIN" not in r.stdout + r.stderr, args
    if rc is not None:
        assert r.returncode == rc, (args, r.returncode, r.stdout, r.stderr)
    return r


def record(out):
    """(strings of the zone-file line, host, value) from keygen output."""
    lines = out.splitlines()
    zone = [l for l in lines if " IN TXT " in l]
    assert len(zone) == 1, out
    strings = re.findall(r'"([^"]*)"', zone[0])
    host = [l[6:] for l in lines if l.startswith("host: ")][0]
    value = [l[7:] for l in lines if l.startswith("value: ")][0]
    assert zone[0].startswith(host + ". IN TXT ( "), zone[0]
    assert zone[0].endswith(" )")
    return strings, host, value


def tags(value):
    out = {}
    for spec in value.split(";"):
        if spec.strip():
            k, _, v = spec.partition("=")
            out[k.strip()] = v.strip()
    return out


def keygen(gw, domain, selector=None, *extra, rc=0):
    args = ["dkim", "keygen", domain] + (["--selector", selector] if selector
                                         else []) + list(extra)
    return ctl(gw, *args, rc=rc)


def publish(dns, out):
    strings, host, _ = record(out)
    dns.add(host, "TXT", strings)
    return host


def row(gw, domain, selector):
    with gw.db("gw.db") as c:
        r = c.execute("SELECT * FROM dkim_key WHERE domain = ? AND "
                      "selector = ?", (domain, selector)).fetchone()
        return dict(r) if r else None


def states(gw, domain="example.com"):
    rows = [json.loads(l) for l in ctl(gw, "dkim", "list", "--format",
                                       "json").stdout.splitlines()]
    return {k["selector"]: k["state"] for k in rows if k["domain"] == domain}


# -- keygen -------------------------------------------------------------------

def test_keygen_rsa_record(gw):
    r = keygen(gw, "Example.COM.", "s1")
    strings, host, value = record(r.stdout)
    assert host == "s1._domainkey.example.com"
    assert strings[0] == "v=DKIM1; k=rsa; "
    assert all(0 < len(s) < 255 for s in strings)
    assert "".join(strings) == value
    t = tags(value)
    assert t["v"] == "DKIM1" and t["k"] == "rsa"
    pub = serialization.load_der_public_key(base64.b64decode(t["p"]))
    assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == 2048
    k = row(gw, "example.com", "s1")
    assert k["state"] == "pending" and k["algorithm"] == "rsa-sha256"
    assert k["bits"] == 2048 and k["activated"] is None
    assert k["public_key"] == t["p"]
    # Stored as PKCS#8, and it is the private half of the record's key.
    assert k["private_key"].startswith("-----BEGIN PRIVATE KEY-----\n")
    priv = serialization.load_pem_private_key(k["private_key"].encode(), None)
    assert priv.public_key().public_numbers() == pub.public_numbers()
    assert "pending" in r.stderr and "dkim activate example.com s1" in r.stderr


def test_keygen_ed25519_record(gw):
    r = keygen(gw, "example.com", "e1", "--algorithm", "ed25519")
    strings, host, value = record(r.stdout)
    assert strings[0] == "v=DKIM1; k=ed25519; "
    raw = base64.b64decode(tags(value)["p"])
    assert len(raw) == 32                                    # RFC 8463
    k = row(gw, "example.com", "e1")
    assert k["algorithm"] == "ed25519-sha256" and k["bits"] is None
    priv = serialization.load_pem_private_key(k["private_key"].encode(), None)
    assert isinstance(priv, ed25519.Ed25519PrivateKey)
    assert priv.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw


def test_keygen_sizes(gw):
    r = keygen(gw, "example.com", "a", "--bits", "1024", rc=65)
    assert "1024" in r.stderr and "2048" in r.stderr
    keygen(gw, "example.com", "a", "--bits", "512", rc=65)
    r = keygen(gw, "example.com", "a", "--bits", "2000", rc=65)
    assert "2048, 3072 or 4096" in r.stderr
    keygen(gw, "example.com", "a", "--bits", "many", rc=64)
    r = keygen(gw, "example.com", "a", "--algorithm", "ed25519", "--bits",
               "2048", rc=64)
    assert "Ed25519" in r.stderr
    keygen(gw, "example.com", "a", "--algorithm", "dsa", rc=64)
    r = keygen(gw, "example.com", "big", "--bits", "3072")
    _, _, value = record(r.stdout)
    pub = serialization.load_der_public_key(base64.b64decode(tags(value)["p"]))
    assert pub.key_size == 3072 and row(gw, "example.com", "big")["bits"] == 3072
    assert row(gw, "example.com", "a") is None


def test_default_selectors(gw):
    s1 = record(keygen(gw, "example.com").stdout)[1].split(".")[0]
    s2 = record(keygen(gw, "example.com").stdout)[1].split(".")[0]
    s3 = record(keygen(gw, "example.com", None, "--algorithm",
                       "ed25519").stdout)[1].split(".")[0]
    assert re.fullmatch(r"\d{8}r", s1), s1
    assert s2 == s1 + "2"
    assert s3 == s1[:8] + "e"


def test_names_checked(gw):
    keygen(gw, "not a domain", "s1", rc=65)
    keygen(gw, "example.com", "-bad", rc=65)
    keygen(gw, "example.com", "a_b", rc=65)
    keygen(gw, "example.com", "a..b", rc=65)
    keygen(gw, "example.com", "x" * 64, rc=65)
    keygen(gw, "example.com", "Sel-1.Mail")           # lower-cased, labels
    assert row(gw, "example.com", "sel-1.mail")["state"] == "pending"
    r = keygen(gw, "example.com", "sel-1.mail", rc=65)
    assert "already has" in r.stderr
    ctl(gw, "dkim", "activate", "example.com", "nosuch", rc=67)
    ctl(gw, "dkim", "show", "nokeys.test", rc=67)


def test_list_table_and_json(gw):
    assert ctl(gw, "dkim", "list").stdout.split() == [
        "DOMAIN", "SELECTOR", "ALGORITHM", "BITS", "STATE", "CREATED",
        "ACTIVATED"]
    keygen(gw, "example.com", "r1")
    keygen(gw, "b.example", "e1", "--algorithm", "ed25519", "--activate")
    lines = ctl(gw, "dkim", "list").stdout.splitlines()
    assert lines[0].split() == ["DOMAIN", "SELECTOR", "ALGORITHM", "BITS",
                                "STATE", "CREATED", "ACTIVATED"]
    assert lines[1].split()[:5] == ["b.example", "e1", "ed25519-sha256", "-",
                                    "active"]
    assert lines[2].split()[:5] == ["example.com", "r1", "rsa-sha256", "2048",
                                    "pending"]
    rows = [json.loads(l) for l in
            ctl(gw, "dkim", "list", "--format", "json").stdout.splitlines()]
    assert [(k["domain"], k["selector"]) for k in rows] == [
        ("b.example", "e1"), ("example.com", "r1")]
    e, r = rows
    assert e["bits"] is None and e["state"] == "active"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["activated"])
    assert r["bits"] == 2048 and r["algorithm"] == "rsa-sha256"
    assert r["activated"] is None and r["retired"] is None
    assert set(r) == {"domain", "selector", "algorithm", "bits", "state",
                      "created", "activated", "retiring", "retired"}
    only = ctl(gw, "dkim", "list", "example.com", "--format", "json").stdout
    assert len(only.splitlines()) == 1
    ctl(gw, "dkim", "list", "--format", "xml", rc=64)


# -- check and activate ---------------------------------------------------

def test_activate_needs_the_record(gw, dns):
    out = keygen(gw, "example.com", "s1").stdout
    r = ctl(gw, "dkim", "check", "example.com", rc=1)
    assert r.stdout == "s1._domainkey.example.com: missing (no such name)\n"
    r = ctl(gw, "dkim", "activate", "example.com", "s1", rc=65)
    assert "not activated" in r.stderr and "missing" in r.stderr
    assert states(gw) == {"s1": "pending"}
    publish(dns, out)
    r = ctl(gw, "dkim", "check", "example.com", "s1")
    assert r.stdout == "s1._domainkey.example.com: matches\n"
    ctl(gw, "dkim", "activate", "example.com", "s1")
    assert states(gw) == {"s1": "active"}
    assert row(gw, "example.com", "s1")["activated"] is not None
    assert ("s1._domainkey.example.com", "TXT") in dns.queries


def test_check_different_and_malformed(gw, dns):
    keygen(gw, "example.com", "s1")
    other = keygen(gw, "other.test", "s1").stdout
    dns.add("s1._domainkey.example.com", "TXT", record(other)[0])
    r = ctl(gw, "dkim", "check", "example.com", rc=1)
    assert "different (p= holds another key)" in r.stdout
    ctl(gw, "dkim", "activate", "example.com", "s1", rc=65)
    # A key record of the wrong type, and TXT that is no DKIM record.
    keygen(gw, "example.com", "s2")
    dns.add("s2._domainkey.example.com", "TXT",
            "v=DKIM1; k=ed25519; p=" + base64.b64encode(b"x" * 32).decode())
    keygen(gw, "example.com", "s3")
    dns.add("s3._domainkey.example.com", "TXT", "v=spf1 -all")
    out = ctl(gw, "dkim", "check", "example.com", rc=1).stdout.splitlines()
    assert out[1] == ("s2._domainkey.example.com: different "
                      "(k=ed25519, expected k=rsa)")
    assert out[2] == ("s3._domainkey.example.com: missing "
                      "(no DKIM key record among the TXT records)")
    # --force activates without asking DNS.
    ctl(gw, "dkim", "activate", "example.com", "s3", "--force")
    assert states(gw)["s3"] == "active"


def test_check_folded_record_matches(gw, dns):
    """p= split across strings with white space, tags in another order."""
    out = keygen(gw, "example.com", "s1").stdout
    p = tags(record(out)[2])["p"]
    dns.add("s1._domainkey.example.com", "TXT",
            ["v=DKIM1;  p=" + p[:100], " " + p[100:200] + "\t", p[200:] + " ;"
             " h=sha256; k=rsa;"])
    ctl(gw, "dkim", "check", "example.com")


def test_check_unreachable_dns(gw_factory):
    g = gw_factory()            # resolver 127.0.0.1:1, nobody there
    keygen(g, "example.com", "s1")
    r = ctl(g, "dkim", "check", "example.com", rc=69)
    assert "DNS lookup of s1._domainkey.example.com failed" in r.stderr
    r = ctl(g, "dkim", "activate", "example.com", "s1", rc=69)
    assert "--force" in r.stderr
    assert states(g) == {"s1": "pending"}


def back_retiring(gw, domain, selector, seconds):
    """As if the key had turned retiring `seconds` earlier."""
    c = sqlite3.connect(os.path.join(gw.state, "gw.db"))
    with c:
        c.execute("UPDATE dkim_key SET retiring = retiring - ? WHERE "
                  "domain = ? AND selector = ?", (seconds, domain, selector))
    c.close()


def test_retire_within_7_days_needs_force(gw, dns):
    keygen(gw, "example.com", "old", "--activate")
    publish(dns, keygen(gw, "example.com", "new").stdout)
    ctl(gw, "dkim", "activate", "example.com", "new")
    back_retiring(gw, "example.com", "old", 6 * 86400 + 5 * 3600 + 60)
    r = ctl(gw, "dkim", "retire", "example.com", "old", rc=65)
    assert re.search(r"example\.com key old turned retiring 6d05h ago "
                     r"\(\d{4}-\d\d-\d\dT[\d:]+Z\)", r.stderr), r.stderr
    assert "Retire it after " in r.stderr and "--force" in r.stderr
    assert r.stdout == "" and states(gw)["old"] == "retiring"
    r = ctl(gw, "dkim", "retire", "example.com", "old", "--force")
    assert record(r.stdout)[2] == "v=DKIM1; k=rsa; p="
    assert states(gw) == {"old": "retired", "new": "active"}


def test_check_says_network_unreachable(tmp_path):
    """A resolver on a network with no route: the system's word for it,
    not a timeout (gwctl in a network namespace holding only lo)."""
    if subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("needs unshare -n (root)")
    g = Gw(str(tmp_path))
    with open(g.conf, "w") as f:
        f.write('state_dir = "%s";\ndns = { resolver = "192.0.2.53"; '
                'timeout = "5s"; };\n' % g.state)
    g.ok("dkim", "keygen", "example.com", "--selector", "s1")
    r = subprocess.run(["unshare", "-n", GWCTL_BIN, "-c", g.conf, "dkim",
                        "check", "example.com"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 69, (r.stdout, r.stderr)
    assert ("DNS lookup of s1._domainkey.example.com failed: 192.0.2.53:53: "
            "network unreachable") in r.stderr, r.stderr
    assert "no answer in time" not in r.stderr


def test_check_tcp_fallback(gw, dns):
    """A 4096-bit record does not fit 512 bytes: TC, then TCP."""
    from dnslib.server import DNSHandler

    class Small(DNSHandler):
        udplen = 512

    dns.udp.server.RequestHandlerClass = Small
    out = keygen(gw, "example.com", "big", "--bits", "4096").stdout
    host = publish(dns, out)
    assert len(record(out)[2]) > 512
    ctl(gw, "dkim", "check", "example.com")
    assert dns.queries.count((host, "TXT")) == 2       # UDP, then TCP


# -- rotation ---------------------------------------------------------------

def test_rotation_end_to_end(gw, dns):
    old = keygen(gw, "example.com", "old", "--activate").stdout
    publish(dns, old)
    assert states(gw) == {"old": "active"}
    # --activate only for the first key of an algorithm: nothing stored.
    r = keygen(gw, "example.com", "x", "--activate", rc=65)
    assert '"old"' in r.stderr and row(gw, "example.com", "x") is None
    new = keygen(gw, "example.com", "new").stdout
    ctl(gw, "dkim", "activate", "example.com", "new", rc=65)
    assert states(gw) == {"old": "active", "new": "pending"}
    # Published from `dkim dns` (zone-file lines), as an admin would.
    dns_out = ctl(gw, "dkim", "dns", "example.com").stdout
    line = [l for l in dns_out.splitlines() if l.startswith("new.")][0]
    dns.add("new._domainkey.example.com", "TXT", re.findall(r'"([^"]*)"', line))
    assert "".join(re.findall(r'"([^"]*)"', line)) == record(new)[2]
    r = ctl(gw, "dkim", "activate", "example.com", "new")
    assert r.stdout == ("example.com new: active\n"
                        "example.com old: retiring\n")
    assert states(gw) == {"old": "retiring", "new": "active"}
    assert row(gw, "example.com", "old")["retiring"] is not None
    ctl(gw, "dkim", "check", "example.com")            # both records served
    # The active key cannot go without --force; the retiring one can.
    r = ctl(gw, "dkim", "retire", "example.com", "new", rc=65)
    assert "active" in r.stderr and "--force" in r.stderr
    ctl(gw, "dkim", "delete", "example.com", "old", rc=65)
    # Retiring for less than 7 days: mail it signed is still checked.
    r = ctl(gw, "dkim", "retire", "example.com", "old", rc=65)
    assert "turned retiring 0d00h ago" in r.stderr, r.stderr
    assert "kept 7 to 14 days" in r.stderr and "--force" in r.stderr
    assert states(gw) == {"old": "retiring", "new": "active"}
    back_retiring(gw, "example.com", "old", 7 * 86400 + 60)
    r = ctl(gw, "dkim", "retire", "example.com", "old")
    strings, host, value = record(r.stdout)
    assert host == "old._domainkey.example.com"
    assert value == "v=DKIM1; k=rsa; p=" and strings == ["v=DKIM1; k=rsa; ",
                                                         "p="]
    assert states(gw) == {"old": "retired", "new": "active"}
    assert row(gw, "example.com", "old")["retired"] is not None
    dns_out = ctl(gw, "dkim", "dns", "example.com").stdout.splitlines()
    assert "; old rsa-sha256 retired (revoked)" in dns_out
    assert ('old._domainkey.example.com. IN TXT ( "v=DKIM1; k=rsa; " "p=" )'
            in dns_out)
    # DNS still has the old key: the check of the retired key says so.
    r = ctl(gw, "dkim", "check", "example.com", "old", rc=1)
    assert "different (p= still holds a key)" in r.stdout
    ctl(gw, "dkim", "check", "example.com")            # retired left out
    ctl(gw, "dkim", "activate", "example.com", "old", rc=65)
    ctl(gw, "dkim", "delete", "example.com", "new", rc=65)
    ctl(gw, "dkim", "delete", "example.com", "old")
    assert states(gw) == {"new": "active"}
    # A pending key may be deleted; an active one retired with --force.
    keygen(gw, "example.com", "spare")
    ctl(gw, "dkim", "delete", "example.com", "spare")
    ctl(gw, "dkim", "retire", "example.com", "new", "--force")
    assert states(gw) == {"new": "retired"}


def test_algorithms_rotate_separately(gw, dns):
    publish(dns, keygen(gw, "example.com", "r1", "--activate").stdout)
    e1 = keygen(gw, "example.com", "e1", "--algorithm", "ed25519",
                "--activate").stdout
    assert states(gw) == {"r1": "active", "e1": "active"}
    publish(dns, e1)
    publish(dns, keygen(gw, "example.com", "e2", "--algorithm",
                        "ed25519").stdout)
    ctl(gw, "dkim", "activate", "example.com", "e2")
    assert states(gw) == {"r1": "active", "e1": "retiring", "e2": "active"}


def test_show(gw, dns):
    keygen(gw, "example.com", "s1", "--activate")
    keygen(gw, "example.com", "s2", "--algorithm", "ed25519")
    out = ctl(gw, "dkim", "show", "example.com").stdout
    assert out.startswith("domain: example.com\ncanon: relaxed/relaxed\n")
    assert "selector: s1\nalgorithm: rsa-sha256\nbits: 2048\nstate: active\n" \
        in out
    assert "selector: s2\nalgorithm: ed25519-sha256\nstate: pending\n" in out
    assert out.count(" IN TXT ") == 2 and out.count("\nvalue: v=DKIM1") == 2


# -- import -------------------------------------------------------------------

def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def test_import(gw, tmp_path):
    key = str(tmp_path / "rsa.pem")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", key)
    spki = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform",
                           "DER"], check=True, capture_output=True).stdout
    r = ctl(gw, "dkim", "import", "example.com", "imp", key)
    assert tags(record(r.stdout)[2])["p"] == base64.b64encode(spki).decode()
    k = row(gw, "example.com", "imp")
    assert k["state"] == "pending" and k["bits"] == 2048
    assert k["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    # PKCS#1 ("BEGIN RSA PRIVATE KEY"), from standard input, stored as PKCS#8.
    pkcs1 = str(tmp_path / "rsa1.pem")
    openssl("pkey", "-in", key, "-traditional", "-out", pkcs1)
    assert open(pkcs1).read().startswith("-----BEGIN RSA PRIVATE KEY-----")
    ctl(gw, "dkim", "import", "example.com", "imp1", "-", "--activate",
        input=open(pkcs1).read())
    k1 = row(gw, "example.com", "imp1")
    assert k1["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert k1["public_key"] == k["public_key"] and k1["state"] == "active"
    # Ed25519.
    ed = str(tmp_path / "ed.pem")
    openssl("genpkey", "-algorithm", "ED25519", "-out", ed)
    r = ctl(gw, "dkim", "import", "example.com", "ed", ed)
    assert tags(record(r.stdout)[2])["k"] == "ed25519"
    assert row(gw, "example.com", "ed")["algorithm"] == "ed25519-sha256"


def test_import_refusals(gw, tmp_path):
    small = str(tmp_path / "small.pem")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
            "rsa_keygen_bits:1024", "-out", small)
    r = ctl(gw, "dkim", "import", "example.com", "s", small, rc=65)
    assert "2048" in r.stderr
    enc = str(tmp_path / "enc.pem")
    openssl("genpkey", "-algorithm", "ED25519", "-aes256", "-pass",
            "pass:secret", "-out", enc)
    r = ctl(gw, "dkim", "import", "example.com", "s", enc, rc=65)
    assert "encrypted" in r.stderr
    ec = str(tmp_path / "ec.pem")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-out", ec)
    r = ctl(gw, "dkim", "import", "example.com", "s", ec, rc=65)
    assert "RSA and Ed25519" in r.stderr
    pub = str(tmp_path / "pub.pem")
    openssl("pkey", "-in", small, "-pubout", "-out", pub)
    ctl(gw, "dkim", "import", "example.com", "s", pub, rc=65)
    ctl(gw, "dkim", "import", "example.com", "s", str(tmp_path / "none"),
        rc=66)
    assert states(gw) == {}


# -- canon, organisation signature, files -------------------------------------

def test_canon(gw):
    assert ctl(gw, "dkim", "canon", "example.com").stdout == "relaxed/relaxed\n"
    ctl(gw, "dkim", "canon", "example.com", "simple/simple")
    assert ctl(gw, "dkim", "canon", "Example.com").stdout == "simple/simple\n"
    ctl(gw, "dkim", "canon", "example.com", "relaxed/simple")
    with gw.db("gw.db") as c:
        assert [tuple(r) for r in c.execute(
            "SELECT domain, canon FROM dkim_domain")] == [
            ("example.com", "relaxed/simple")]
    ctl(gw, "dkim", "canon", "example.com", "relaxed", rc=64)
    keygen(gw, "example.com", "s1")                 # keeps the setting
    assert "canon: relaxed/simple" in ctl(gw, "dkim", "show",
                                          "example.com").stdout


def test_subaccount_dkim_org(gw):
    gw.add_subaccount("app", "example.com")
    r = ctl(gw, "subaccount", "dkim-org", "app", "Org.Test")
    assert "no active DKIM key" in r.stderr
    with gw.db("gw.db") as c:
        assert c.execute("SELECT dkim_org_domain FROM subaccount").fetchone()[0] \
            == "org.test"
    listed = json.loads(ctl(gw, "subaccount", "list", "--format",
                            "json").stdout)
    assert listed["dkim_org_domain"] == "org.test"
    keygen(gw, "org.test", "o1", "--activate")
    assert "second signature for: app" in ctl(gw, "dkim", "show",
                                              "org.test").stdout
    ctl(gw, "subaccount", "dkim-org", "app", "none")
    listed = json.loads(ctl(gw, "subaccount", "list", "--format",
                            "json").stdout)
    assert listed["dkim_org_domain"] is None
    ctl(gw, "subaccount", "dkim-org", "app", "bad domain", rc=65)
    ctl(gw, "subaccount", "dkim-org", "nosuch", "org.test", rc=67)
    ctl(gw, "subaccount", "dkim-org", "app", rc=64)


def test_gw_db_mode_and_no_private_key_read(gw):
    keygen(gw, "example.com", "s1")
    mode = stat.S_IMODE(os.stat(os.path.join(gw.state, "gw.db")).st_mode)
    assert mode == 0o600, oct(mode)
    # Every read-only command, in both formats: no key material.
    for args in (("list",), ("list", "--format", "json"),
                 ("show", "example.com"), ("dns", "example.com")):
        ctl(gw, "dkim", *args)


def test_help_lists_dkim(gw):
    out = ctl(gw, "help", "dkim").stdout
    for verb in ("keygen", "import", "list", "show", "dns", "check", "activate",
                 "retire", "delete", "canon"):
        assert "  dkim %s" % verb in out
    assert "subaccount dkim-org NAME DOMAIN|none" in ctl(gw, "help").stdout
    # Prefixes work as for the other nouns.
    keygen(gw, "example.com", "s1")
    assert ctl(gw, "dk", "l").stdout.splitlines()[1].startswith("example.com")
