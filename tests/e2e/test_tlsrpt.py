"""TLS-RPT (RFC 8460): sessions under a domain's MTA-STS policy are
counted in queue.db, and `gwctl tls-report send` sends the aggregate
report (gzipped JSON) to the rua of the domain's _smtp._tls TXT record:
mailed through gw itself in a multipart/report, or POSTed to an https:
address (issue 15).

The MTA-STS world of test_mtasts.py: "testing" publishes a testing-mode
policy and its MX host's certificate names another host; "good" an
enforced policy its MX meets.  reports.test's MX is a plain sink of its
own; rua.reports.test a Python HTTPS server (a certificate from the test
CA, reached through tls_rpt.connect_to).  gwd restarts between the deliveries and the report: the counts are
on disk.
"""
import email
import email.policy
import gzip
import http.server
import json
import os

from conftest import HttpsServer, Sink, leaf_cert, submit, wait_for
from test_mtasts import certs, domain, gwd, outcomes, rcpt, world  # noqa: F401

REPORTS_IP = "127.0.0.9"


class ReportServer:
    """An HTTPS server taking TLS-RPT POSTs (RFC 8460 3) for
    rua.reports.test, its certificate from the test CA."""

    def __init__(self, certs):
        self.posts = []
        srv = self
        leaf_cert(certs, "rua", "DNS:rua.reports.test")

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                srv.posts.append((self.headers.get("Host"), self.path,
                                  self.headers.get("Content-Type"),
                                  self.rfile.read(n)))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = HttpsServer(H, certs, "rua")
        self.port = self.server.port

    def stop(self):
        self.server.stop()


def report_parts(msg):
    m = email.message_from_bytes(msg.data, policy=email.policy.default)
    assert m.get_content_type() == "multipart/report", m.get_content_type()
    assert m.get_param("report-type") == "tlsrpt"
    att = [p for p in m.iter_parts()
           if p.get_content_type() == "application/tlsrpt+gzip"]
    assert len(att) == 1, [p.get_content_type() for p in m.iter_parts()]
    return m, att[0]


def test_testing_mode_failure_is_reported(gw_factory, certs, dns, world):
    sinks, web, port = world
    reports = Sink(host=REPORTS_IP, port=port)
    rua = ReportServer(certs)
    try:
        dns.add("reports.test", "MX", (10, "mx.reports.test"))
        dns.add("mx.reports.test", "A", REPORTS_IP)
        # "testing" reports by mail, "good" over HTTPS.
        dns.add("_smtp._tls." + domain("testing"), "TXT",
                "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test")
        dns.add("_smtp._tls." + domain("good"), "TXT",
                "v=TLSRPTv1;rua=https://rua.reports.test/tlsrpt")
        g = gwd(gw_factory, certs, dns, web, port,
                more={"tls_rpt.enable": True,
                      "tls_rpt.org_name": "Test Org",
                      "tls_rpt.contact": "tls@example.com",
                      "tls_rpt.ca_file": os.path.join(certs, "ca.pem"),
                      "tls_rpt.connect_to": "127.0.0.1:%d" % rua.port})
        submit(g, [rcpt("testing"), rcpt("good")])
        done = wait_for(lambda: outcomes(g, 2), timeout=90,
                        what="both deliveries")
        assert done[rcpt("testing")]["action"] == "delivered"
        assert done[rcpt("good")]["action"] == "delivered"
        with g.db("queue.db") as c:
            wait_for(lambda: c.execute("SELECT count(*) FROM tls_rpt")
                     .fetchone()[0] >= 2, timeout=10, what="the counts")

        g.stop()
        g.start()
        r = g.gwctl("tls-report", "send")
        assert "sent 2" in r.stdout and "failed 0" in r.stdout, r.stdout
        assert "posted to https://rua.reports.test/tlsrpt: HTTP 201" in \
            r.stdout, r.stdout
        wait_for(lambda: len(reports.messages) == 1, timeout=60,
                 what="the mailed report at the sink")

        got = {}
        assert len(rua.posts) == 1
        host, path, ctype, body = rua.posts[0]
        assert (host, path, ctype) == ("rua.reports.test", "/tlsrpt",
                                       "application/tlsrpt+gzip")
        got[domain("good")] = json.loads(gzip.decompress(body))
        for msg in reports.messages:
            assert msg.rcpt_tos == ["tlsrpt@reports.test"]
            assert msg.mail_from == ""
            m, att = report_parts(msg)
            dom = m["TLS-Report-Domain"]
            assert m["TLS-Report-Submitter"]
            assert m["Subject"].startswith("Report Domain: %s Submitter: "
                                           % dom), m["Subject"]
            assert "Report-ID: <" in m["Subject"]
            name = att.get_filename()
            assert name.endswith(".json.gz") and ("!%s!" % dom) in name, \
                name
            rep = json.loads(gzip.decompress(att.get_content()))
            assert rep["organization-name"] == "Test Org"
            assert rep["contact-info"] == "tls@example.com"
            got[dom] = rep

        pol = got[domain("testing")]["policies"]
        assert len(pol) == 1
        p = pol[0]
        assert p["policy"]["policy-type"] == "sts"
        assert p["policy"]["policy-domain"] == domain("testing")
        assert "mode: testing" in p["policy"]["policy-string"]
        assert p["summary"] == {"total-successful-session-count": 0,
                                "total-failure-session-count": 1}, p
        f = p["failure-details"]
        assert len(f) == 1
        assert f[0]["result-type"] == "certificate-host-mismatch", f
        assert f[0]["receiving-mx-hostname"] == "mx.testing.sts.test"
        assert f[0]["receiving-ip"] == "127.0.0.7"
        assert f[0]["failed-session-count"] == 1
        assert f[0]["sending-mta-ip"]

        p = got[domain("good")]["policies"][0]
        assert p["summary"] == {"total-successful-session-count": 1,
                                "total-failure-session-count": 0}, p
        assert "failure-details" not in p

        # Reported rows are gone: a second send has nothing to say.
        with g.db("queue.db") as c:
            assert c.execute("SELECT count(*) FROM tls_rpt").fetchone()[0] \
                == 0
        r = g.gwctl("tls-report", "send")
        assert "sent 0" in r.stdout, r.stdout
        bad = g.gwctl("tls-report", "send", "--day", "yesterday",
                      check=False)
        assert bad.returncode != 0 and "not a date" in bad.stderr
    finally:
        reports.stop()
        rua.stop()


def test_nothing_counted_when_disabled(gw_factory, certs, dns, world):
    sinks, web, port = world
    g = gwd(gw_factory, certs, dns, web, port)
    submit(g, [rcpt("testing")])
    wait_for(lambda: outcomes(g, 1), timeout=60, what="the delivery")
    with g.db("queue.db") as c:
        assert c.execute("SELECT count(*) FROM tls_rpt").fetchone()[0] == 0


def test_missed_day_is_reported_at_start(gw_factory, certs, dns, world):
    # Counts of a day before today that no run reported (gwd was down at
    # midnight) go out when gwd starts: the daily job's catch-up.
    import sqlite3
    import time
    sinks, web, port = world
    reports = Sink(host=REPORTS_IP, port=port)
    try:
        dns.add("reports.test", "MX", (10, "mx.reports.test"))
        dns.add("mx.reports.test", "A", REPORTS_IP)
        dns.add("_smtp._tls." + domain("testing"), "TXT",
                "v=TLSRPTv1; rua=mailto:tlsrpt@reports.test")
        g = gwd(gw_factory, certs, dns, web, port,
                more={"tls_rpt.enable": True})
        g.stop()
        yesterday = int(time.time()) // 86400 - 1
        with sqlite3.connect(os.path.join(g.state, "queue.db")) as c:
            c.execute("INSERT INTO tls_rpt VALUES (?, ?, 'sts', "
                      "'starttls-not-supported', '', 'mx.testing.sts.test',"
                      " '127.0.0.7', 3)", (yesterday, domain("testing")))
        g.start()
        wait_for(lambda: reports.messages, timeout=60,
                 what="the missed day's report")
        m, att = report_parts(reports.messages[0])
        rep = json.loads(gzip.decompress(att.get_content()))
        assert rep["date-range"]["start-datetime"] == time.strftime(
            "%Y-%m-%dT00:00:00Z", time.gmtime(yesterday * 86400))
        p = rep["policies"][0]
        assert p["summary"]["total-failure-session-count"] == 3
        assert p["failure-details"][0]["result-type"] == \
            "starttls-not-supported"
        with g.db("queue.db") as c:
            wait_for(lambda: c.execute("SELECT count(*) FROM tls_rpt")
                     .fetchone()[0] == 0, timeout=10, what="the rows gone")
    finally:
        reports.stop()


def test_failed_handshake_under_testing_is_counted(gw_factory, certs, dns,
                                                   world):
    # A testing policy's MX host whose handshake fails (it wants a client
    # certificate, over TLS 1.2): delivered in plaintext after, and the
    # failed session counted.
    import ssl
    from test_mtasts import HOSTS
    sinks, web, port = world
    sinks["testing"].stop()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(certs, "testing.pem"),
                        os.path.join(certs, "testing.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(os.path.join(certs, "ca.pem"))
    sinks["testing"] = Sink(host=HOSTS["testing"], port=port, tls_context=ctx)
    g = gwd(gw_factory, certs, dns, web, port, more={"tls_rpt.enable": True})
    submit(g, [rcpt("testing")])
    e = wait_for(lambda: outcomes(g, 1), timeout=60,
                 what="the delivery")[rcpt("testing")]
    assert e["action"] == "delivered" and not sinks["testing"].messages[0].tls
    with g.db("queue.db") as c:
        rows = wait_for(lambda: c.execute(
            "SELECT policy, result, mx_host, count FROM tls_rpt").fetchall(),
            timeout=10, what="the count")
    assert [tuple(r) for r in rows] == [
        ("sts", "validation-failure", "mx.testing.sts.test", 1)], \
        [tuple(r) for r in rows]
