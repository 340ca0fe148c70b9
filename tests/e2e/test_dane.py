"""DANE for SMTP (RFC 7672): TLSA records, validated by DNSSEC, rule
delivery to the hosts that publish them (issue 15).

A real unbound on a loopback port validates a zone the test signs with
ldns-signzone (its key the only trust anchor) and serves an unsigned one
beside it; gwd asks it with dns.dnssec = true.  The MX hosts are aiosmtpd
sinks on their own loopback addresses, one port:
  good    DANE-EE: TLSA 3 1 1 of its self-signed key  -> delivered, "dane"
  ta      DANE-TA: TLSA 2 0 1 of the test CA; a leaf from it for its name
                                                      -> delivered, "dane"
  bad     TLSA 3 1 1 of another key                   -> deferred, never sent
  plain   TLSA, but no STARTTLS                       -> deferred, never sent
  bogus   TLSA whose signature was broken after signing (SERVFAIL)
                                                      -> deferred, never sent
  nodane  signed zone, no TLSA                        -> opportunistic TLS
  insecure.test: an unsigned zone with a wrong TLSA   -> opportunistic TLS
"""
import os
import shutil
import signal
import ssl
import subprocess

import pytest

from conftest import Sink, free_port, leaf_cert, make_ca, openssl, \
    self_signed_cert, submit, wait_for

HOSTS = {"good": "127.0.0.2", "ta": "127.0.0.4", "bad": "127.0.0.3",
         "plain": "127.0.0.5", "bogus": "127.0.0.7", "nodane": "127.0.0.8",
         "insecure": "127.0.0.6"}

pytestmark = pytest.mark.skipif(
    not (shutil.which("unbound") or os.path.exists("/usr/sbin/unbound")) or
    not shutil.which("ldns-signzone"),
    reason="unbound and ldns-utils (ldnsutils) are needed")


def spki_sha256(cwd, cert):
    pub = openssl("x509", "-in", cert, "-pubkey", "-noout", cwd=cwd)
    der = openssl("pkey", "-pubin", "-outform", "DER", cwd=cwd, input=pub)
    import hashlib
    return hashlib.sha256(der).hexdigest()


def cert_sha256(cwd, cert):
    der = openssl("x509", "-in", cert, "-outform", "DER", cwd=cwd)
    import hashlib
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("danecerts"))
    # DANE-EE needs no CA: a self-signed certificate for another name
    # even (the name is not checked, RFC 7672 3.1.1).
    self_signed_cert(d, "ee", "whatever.example")
    self_signed_cert(d, "other", "other")
    make_ca(d, "dane test CA")
    leaf_cert(d, "ta", "DNS:mx.ta.dane.test")
    # The TA case's server sends its chain: leaf, then the CA.
    with open(os.path.join(d, "ta-chain.pem"), "w") as f:
        f.write(open(os.path.join(d, "ta.pem")).read() +
                open(os.path.join(d, "ca.pem")).read())
    return d


class Unbound:
    def __init__(self, d, port, sink_port, certs):
        self.dir = d
        self.port = port
        ee = spki_sha256(certs, "ee.pem")
        other = spki_sha256(certs, "other.pem")
        ca = cert_sha256(certs, "ca.pem")
        tlsa = "_%d._tcp" % sink_port
        zone = ["$ORIGIN dane.test.", "$TTL 300",
                "@ IN SOA ns.dane.test. admin.dane.test. 1 3600 600 86400 300",
                "@ IN NS ns.dane.test.", "ns IN A 127.0.0.1"]
        for kind in ("good", "ta", "bad", "plain", "bogus", "nodane"):
            zone += ["%s IN MX 10 mx.%s.dane.test." % (kind, kind),
                     "mx.%s IN A %s" % (kind, HOSTS[kind])]
        zone += ["%s.mx.good IN TLSA 3 1 1 %s" % (tlsa, ee),
                 "%s.mx.ta IN TLSA 2 0 1 %s" % (tlsa, ca),
                 "%s.mx.bad IN TLSA 3 1 1 %s" % (tlsa, other),
                 "%s.mx.plain IN TLSA 3 1 1 %s" % (tlsa, ee),
                 "%s.mx.bogus IN TLSA 3 1 1 %s" % (tlsa, ee)]
        with open(os.path.join(d, "dane.test.zone"), "w") as f:
            f.write("\n".join(zone) + "\n")
        key = subprocess.run(
            ["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test"],
            cwd=d, check=True, capture_output=True).stdout.decode().strip()
        subprocess.run(["ldns-signzone", "-n", "dane.test.zone", key],
                       cwd=d, check=True, capture_output=True)
        # Break the bogus host's record after signing: its RRSIG no
        # longer covers what is served, and a validator says SERVFAIL.
        signed = os.path.join(d, "dane.test.zone.signed")
        text = open(signed).read()
        rec = "TLSA\t3 1 1 %s" % ee
        i = text.index(rec, text.index("%s.mx.bogus" % tlsa))
        text = text[:i] + "TLSA\t3 1 1 " + other + text[i + len(rec):]
        open(signed, "w").write(text)
        with open(os.path.join(d, "insecure.test.zone"), "w") as f:
            f.write("$ORIGIN insecure.test.\n$TTL 300\n"
                    "@ IN SOA ns.insecure.test. a.insecure.test. 1 3600 600 "
                    "86400 300\n@ IN NS ns.insecure.test.\n"
                    "ns IN A 127.0.0.1\n@ IN MX 10 mx.insecure.test.\n"
                    "mx IN A %s\n%s.mx IN TLSA 3 1 1 %s\n"
                    % (HOSTS["insecure"], tlsa, other))
        conf = os.path.join(d, "unbound.conf")
        with open(conf, "w") as f:
            f.write("""server:
  interface: 127.0.0.1
  port: %d
  do-ip6: no
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  access-control: 127.0.0.0/8 allow
  local-zone: "test." nodefault
  module-config: "validator iterator"
  trust-anchor-file: "%s/%s.ds"
auth-zone:
  name: "dane.test"
  zonefile: "%s"
  for-downstream: no
  for-upstream: yes
  fallback-enabled: no
auth-zone:
  name: "insecure.test"
  zonefile: "%s/insecure.test.zone"
  for-downstream: no
  for-upstream: yes
  fallback-enabled: no
""" % (port, d, d, key, signed, d))
        exe = shutil.which("unbound") or "/usr/sbin/unbound"
        self.log = open(os.path.join(d, "unbound.log"), "w")
        self.proc = subprocess.Popen([exe, "-d", "-c", conf],
                                     stdout=self.log, stderr=self.log)
        wait_for(self.answers, timeout=20, what="unbound answering")

    def answers(self):
        import dnslib
        import socket
        q = dnslib.DNSRecord.question("good.dane.test", "MX")
        q.header.ad = 1
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        try:
            s.sendto(q.pack(), ("127.0.0.1", self.port))
            r = dnslib.DNSRecord.parse(s.recv(4096))
            return r.header.ad and len(r.rr) == 1
        except OSError:
            return False
        finally:
            s.close()

    @property
    def resolver(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def server_context(certs, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs, cert), os.path.join(certs, key))
    return ctx


@pytest.fixture
def world(certs, tmp_path):
    port = free_port()
    tls = {"good": ("ee.pem", "ee.key"), "ta": ("ta-chain.pem", "ta.key"),
           "bad": ("ee.pem", "ee.key"), "bogus": ("ee.pem", "ee.key"),
           "nodane": ("ee.pem", "ee.key"), "insecure": ("ee.pem", "ee.key")}
    sinks = {}
    ub = None
    try:
        for kind, ip in HOSTS.items():
            ctx = server_context(certs, *tls[kind]) if kind in tls else None
            sinks[kind] = Sink(host=ip, port=port, tls_context=ctx,
                               requiretls=kind == "good")
        d = tmp_path / "unbound"
        d.mkdir()
        ub = Unbound(str(d), free_port(), port, certs)
        yield sinks, ub, port
    finally:
        for s in sinks.values():
            s.stop()
        if ub:
            ub.stop()


def rcpt(kind):
    return "user@insecure.test" if kind == "insecure" else \
        "user@%s.dane.test" % kind


def outcomes(g, n):
    done = {}
    for e in g.events("action IN ('delivered', 'deferred', 'bounced')"):
        done.setdefault(e["recipient"], e)
    return len(done) == n and done


def test_dane(gw_factory, world):
    sinks, ub, port = world
    g = gw_factory(relay={"mode": "mx", "tls": "opportunistic",
                          "mx_port": port, "command_timeout": "10s"},
                   settings={"dns.resolver": ub.resolver,
                             "dns.dnssec": True, "dns.timeout": "3s",
                             "tls_rpt.enable": True})
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    # aiosmtpd's controller connects to each sink once as it starts.
    before = {k: s.nconn for k, s in sinks.items()}
    submit(g, sorted(rcpt(k) for k in HOSTS))
    done = wait_for(lambda: outcomes(g, len(HOSTS)), timeout=90,
                    what="an outcome for every host")

    for kind in ("good", "ta"):
        e = done[rcpt(kind)]
        assert e["action"] == "delivered", (kind, e["reply_text"])
        assert e["tls_policy"] == "dane", (kind, e["tls_policy"])
        assert e["tls_verified"] == 1, (kind, e["tls_note"])
        want = "dane: TLSA 3 1 1 matched" if kind == "good" else \
            "dane: TLSA 2 0 1 matched"
        assert e["tls_note"] == want, (kind, e["tls_note"])
        got = [m for m in sinks[kind].messages if rcpt(kind) in m.rcpt_tos]
        assert len(got) == 1 and got[0].tls, kind

    for kind, why in (("bad", "does not match its TLSA records"),
                      ("plain", "does not offer STARTTLS"),
                      ("bogus", "TLSA records of mx.bogus.dane.test could "
                                "not be looked up")):
        e = done[rcpt(kind)]
        assert e["action"] == "deferred", (kind, e["action"])
        assert e["tls_policy"] == "dane", (kind, e["tls_policy"])
        assert why in e["reply_text"], (kind, e["reply_text"])
        assert e["tls_note"].startswith("dane: "), (kind, e["tls_note"])
    assert "no matching dane tlsa records" in \
        done[rcpt("bad")]["tls_note"].lower()

    # TLS-RPT counts each first session by its outcome, policy "tlsa".
    def counted():
        with g.db("queue.db") as c:
            rows = c.execute("SELECT domain, policy, result, mx_host,"
                             " receiving_ip FROM tls_rpt").fetchall()
        return {r[0]: tuple(r[1:]) for r in rows}
    want = {"good.dane.test": ("tlsa", "", "", ""),
            "bad.dane.test": ("tlsa", "tlsa-invalid", "mx.bad.dane.test",
                              HOSTS["bad"]),
            "plain.dane.test": ("tlsa", "starttls-not-supported",
                                "mx.plain.dane.test", HOSTS["plain"]),
            "bogus.dane.test": ("tlsa", "dnssec-invalid",
                                "mx.bogus.dane.test", HOSTS["bogus"])}
    got = wait_for(lambda: all(k in counted() for k in want) and counted(),
                   timeout=10, what="the TLS-RPT counts")
    for k, v in want.items():
        assert got[k] == v, (k, got[k])
    assert "nodane.dane.test" not in got and "insecure.test" not in got

    for kind in ("nodane", "insecure"):
        e = done[rcpt(kind)]
        assert e["action"] == "delivered", (kind, e["reply_text"])
        assert e["tls_policy"] == "opportunistic", (kind, e["tls_policy"])
        got = [m for m in sinks[kind].messages if rcpt(kind) in m.rcpt_tos]
        assert len(got) == 1 and got[0].tls, kind

    # Retries follow the same rule: nothing ever reaches the hosts whose
    # records fail, in plaintext or otherwise.
    wait_for(lambda: len(g.events("action = 'deferred' AND recipient = ?",
                                  (rcpt("bad"),))) >= 2, timeout=30,
             what="a retry of the bad host")
    for kind in ("bad", "plain", "bogus"):
        assert not sinks[kind].messages, kind
    assert sinks["bad"].nconn > before["bad"]
    assert sinks["plain"].nconn > before["plain"]
    # The bogus host is never even connected to.
    assert sinks["bogus"].nconn == before["bogus"]

    # REQUIRETLS (RFC 8689) is met by a DANE-verified hop.
    import smtplib
    from conftest import client_tls_context
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["rt@good.dane.test"],
                   b"From: app@example.com\r\nSubject: rt\r\n\r\nx\r\n",
                   mail_options=["REQUIRETLS"])
    e = wait_for(lambda: g.events("action IN ('delivered', 'bounced') AND "
                                  "recipient = 'rt@good.dane.test'"),
                 timeout=60, what="the REQUIRETLS message")[0]
    assert e["action"] == "delivered" and e["tls_policy"] == "dane", \
        e["reply_text"]
    got = [m for m in sinks["good"].messages
           if "rt@good.dane.test" in m.rcpt_tos]
    assert len(got) == 1 and "REQUIRETLS" in got[0].mail_options

    # gwsearch shows the policy as any other.
    qid = done[rcpt("good")]["qid"]
    out = g.tool("gwsearch", "show", qid).stdout
    assert "tls=dane verified" in out, out


def test_without_dnssec_records_are_ignored(gw_factory, world):
    # dns.dnssec off (the default): the AD bit is not trusted, TLSA
    # records change nothing, the wrong one included.
    sinks, ub, port = world
    g = gw_factory(relay={"mode": "mx", "tls": "opportunistic",
                          "mx_port": port},
                   settings={"dns.resolver": ub.resolver,
                             "dns.timeout": "3s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    submit(g, [rcpt("bad")])
    done = wait_for(lambda: outcomes(g, 1), timeout=60, what="delivery")
    e = done[rcpt("bad")]
    assert e["action"] == "delivered", e["reply_text"]
    assert e["tls_policy"] == "opportunistic"
    assert len(sinks["bad"].messages) == 1
