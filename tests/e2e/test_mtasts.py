"""MTA-STS (RFC 8461): a domain's published policy rules delivery to its
MX hosts (issue 15).

The test's DNS server (conftest.Dns) answers the _mta-sts TXT records and
the MX and A records; a Python HTTPS server (ssl module) with a
certificate from the test CA for every mta-sts.DOMAIN name serves each
domain's policy by the Host header.  gwd reaches it with
mta_sts.connect_to (libcurl's CONNECT_TO: the connection goes to the
test's port, the name in the URL is still the one the certificate must
match) and trusts the test CA with mta_sts.ca_file and relay.ca_file.
The MX hosts are aiosmtpd sinks on their own loopback addresses:
  good      enforce, certificate for its MX name  -> delivered, mta-sts/1
  wrongname enforce, certificate for another name -> deferred, never sent
  plain     enforce, no STARTTLS offered          -> deferred, never sent
  notlisted enforce, MX host not in the policy    -> deferred, never sent
  testing   testing, certificate for another name -> delivered, mta-sts/0
  nosts     no TXT record                         -> opportunistic
"""
import http.server
import os
import ssl

import pytest

from conftest import HttpsServer, Sink, free_port, leaf_cert, make_ca, \
    submit, wait_for

HOSTS = {"good": "127.0.0.2", "wrongname": "127.0.0.3", "plain": "127.0.0.5",
         "notlisted": "127.0.0.6", "testing": "127.0.0.7",
         "nosts": "127.0.0.8"}
MODE = {"good": "enforce", "wrongname": "enforce", "plain": "enforce",
        "notlisted": "enforce", "testing": "testing"}


def domain(kind):
    return "%s.sts.test" % kind


def mx(kind):
    return "mx.%s.sts.test" % kind


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    make_ca(d)
    # fetch404 is in the certificate but has no policy (404);
    # badcert is in neither.
    names = ",".join("DNS:mta-sts.%s" % domain(k)
                     for k in list(MODE) + ["fetch404"])
    leaf_cert(d, "web", names)
    for k in HOSTS:
        leaf_cert(d, k, "DNS:" + (mx(k) if k not in ("wrongname", "testing")
                                  else "other.sts.test"))
    return d


def policy(kind):
    pat = mx(kind) if kind != "notlisted" else "*.elsewhere.test"
    return ("version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: 86400\r\n"
            % (MODE[kind], pat)).encode()


class PolicyServer:
    def __init__(self, certs):
        self.hits = []
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0]
                srv.hits.append((host, self.path))
                kind = host[len("mta-sts."):].split(".")[0]
                if self.path != "/.well-known/mta-sts.txt" or \
                        kind not in MODE:
                    self.send_error(404)
                    return
                body = policy(kind)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = HttpsServer(H, certs, "web")
        self.port = self.server.port

    def stop(self):
        self.server.stop()


@pytest.fixture
def world(certs, dns):
    port = free_port()
    sinks = {}
    web = PolicyServer(certs)
    try:
        for kind, ip in HOSTS.items():
            ctx = None
            if kind != "plain":
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(os.path.join(certs, kind + ".pem"),
                                    os.path.join(certs, kind + ".key"))
            sinks[kind] = Sink(host=ip, port=port, tls_context=ctx,
                               requiretls=kind in ("good", "testing"))
            dns.add(domain(kind), "MX", (10, mx(kind)))
            dns.add(mx(kind), "A", ip)
            if kind in MODE:
                dns.add("_mta-sts." + domain(kind), "TXT",
                        "v=STSv1; id=%s1;" % kind)
        yield sinks, web, port
    finally:
        for s in sinks.values():
            s.stop()
        web.stop()


def outcomes(g, n):
    done = {}
    for e in g.events("action IN ('delivered', 'deferred', 'bounced')"):
        done.setdefault(e["recipient"], e)
    return len(done) == n and done


def rcpt(kind):
    return "user@" + domain(kind)


def gwd(gw_factory, certs, dns, web, port, enable=True, more=None):
    # enable None: mta_sts.enable not in gwd.conf (its default).
    settings = {"mta_sts.ca_file": os.path.join(certs, "ca.pem"),
                "mta_sts.connect_to": "127.0.0.1:%d" % web.port,
                "mta_sts.timeout": "10s", "dns.timeout": "3s"}
    if enable is not None:
        settings["mta_sts.enable"] = enable
    g = gw_factory(relay={"mode": "mx", "tls": "opportunistic",
                          "mx_port": port, "command_timeout": "10s",
                          "ca_file": os.path.join(certs, "ca.pem")},
                   dns=dns, settings=dict(settings, **(more or {})))
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def test_mtasts(gw_factory, certs, dns, world):
    sinks, web, port = world
    g = gwd(gw_factory, certs, dns, web, port)
    before = {k: s.nconn for k, s in sinks.items()}
    submit(g, sorted(rcpt(k) for k in HOSTS))
    done = wait_for(lambda: outcomes(g, len(HOSTS)), timeout=90,
                    what="an outcome for every domain")

    e = done[rcpt("good")]
    assert e["action"] == "delivered", e["reply_text"]
    assert e["tls_policy"] == "mta-sts", e["tls_policy"]
    assert e["tls_verified"] == 1, e["tls_note"]
    assert e["tls_note"] == "mta-sts enforce: certificate verified"
    got = sinks["good"].messages
    assert len(got) == 1 and got[0].tls

    for kind, why in (("wrongname", "does not meet the MTA-STS policy"),
                      ("plain", "does not offer STARTTLS"),
                      ("notlisted", "is not one the MTA-STS policy")):
        e = done[rcpt(kind)]
        assert e["action"] == "deferred", (kind, e["action"])
        assert e["tls_policy"] == "mta-sts", (kind, e["tls_policy"])
        assert why in e["reply_text"], (kind, e["reply_text"])
        assert e["tls_note"].startswith("mta-sts enforce: "), \
            (kind, e["tls_note"])
    assert "hostname mismatch" in done[rcpt("wrongname")]["tls_note"]

    e = done[rcpt("testing")]
    assert e["action"] == "delivered", e["reply_text"]
    assert e["tls_policy"] == "mta-sts"
    assert e["tls_verified"] == 0
    assert e["tls_note"].startswith("mta-sts testing: "), e["tls_note"]
    assert len(sinks["testing"].messages) == 1

    e = done[rcpt("nosts")]
    assert e["action"] == "delivered", e["reply_text"]
    assert e["tls_policy"] == "opportunistic"

    # Retries keep to the policy, from the cache: nothing ever reaches
    # the hosts that fail it, and the policy is fetched once.
    wait_for(lambda: len(g.events("action = 'deferred' AND recipient = ?",
                                  (rcpt("wrongname"),))) >= 2, timeout=30,
             what="a retry of the wrong-name host")
    for kind in ("wrongname", "plain", "notlisted"):
        assert not sinks[kind].messages, kind
    assert sinks["wrongname"].nconn > before["wrongname"]
    assert sinks["plain"].nconn > before["plain"]
    assert sinks["notlisted"].nconn == before["notlisted"]
    fetched = [h for h, _ in web.hits if h == "mta-sts." + domain("wrongname")]
    assert len(fetched) == 1, web.hits

    # gwsearch shows the policy, and finds events by it.
    out = g.tool("gwsearch", "show", done[rcpt("good")]["qid"]).stdout
    assert "tls=mta-sts verified" in out, out
    import csv
    import io

    def found(*terms):
        out = g.tool("gwsearch", *terms, "--format", "csv",
                     check=False).stdout
        return {r["recipient"] for r in csv.DictReader(io.StringIO(out))}
    # A search finds whole messages: this one has mta-sts events, and
    # an opportunistic one, but none under DANE or "verify".
    assert rcpt("wrongname") in found("tls:mta-sts", "status:deferred")
    assert rcpt("nosts") in found("tls:opportunistic")
    assert found("tls:dane") == set()
    assert found("tls:verify") == set()
    bad = g.tool("gwsearch", "tls:bogus", check=False)
    assert bad.returncode != 0 and "is not one of" in bad.stderr


def test_enforced_by_default(gw_factory, certs, dns, world):
    # Without mta_sts.enable in gwd.conf, a published enforce policy
    # rules; a domain without one is delivered as before.
    sinks, web, port = world
    g = gwd(gw_factory, certs, dns, web, port, enable=None)
    submit(g, [rcpt("wrongname"), rcpt("nosts")])
    done = wait_for(lambda: outcomes(g, 2), timeout=60, what="outcomes")
    e = done[rcpt("wrongname")]
    assert e["action"] == "deferred" and e["tls_policy"] == "mta-sts", e
    assert not sinks["wrongname"].messages
    e = done[rcpt("nosts")]
    assert e["action"] == "delivered" and e["tls_policy"] == \
        "opportunistic", e
    assert ("_mta-sts." + domain("nosts"), "TXT") in dns.queries


def test_failed_fetch_is_an_event_and_counted(gw_factory, certs, dns, world):
    # A TXT record, but no policy to be had: a 404, or a policy server
    # whose certificate is not for mta-sts.DOMAIN.  Delivered as if no
    # policy were published; an sts_fetch_failed event that gwsearch
    # finds, a warning, and for TLS-RPT each session a failure of the
    # RFC 8460 type (RFC 8460 counts sessions): a second message to
    # fetch404, while the fetch backs off, is a second failed session
    # (relay.idle_time 0: a new connection, not the first one's).
    sinks, web, port = world
    for k in ("fetch404", "badcert"):
        dns.add(domain(k), "MX", (10, mx("nosts")))
        dns.add("_mta-sts." + domain(k), "TXT", "v=STSv1; id=%s1;" % k)
    g = gwd(gw_factory, certs, dns, web, port,
            more={"tls_rpt.enable": True, "relay.idle_time": "0s"})
    submit(g, [rcpt("fetch404"), rcpt("badcert")])
    done = wait_for(lambda: outcomes(g, 2), timeout=60, what="outcomes")
    for k in ("fetch404", "badcert"):
        e = done[rcpt(k)]
        assert e["action"] == "delivered", e
        assert e["tls_policy"] == "opportunistic", e
    evs = {e["remote_host"]: e for e in
           g.events("action = 'sts_fetch_failed'")}
    e = evs["mta-sts." + domain("fetch404")]
    assert e["tls_policy"] == "mta-sts" and e["tls_verified"] == 0
    assert e["tls_note"] == "policy fetch: HTTP status 404", e
    assert "domain=%s " % domain("fetch404") in e["detail"]
    e = evs["mta-sts." + domain("badcert")]
    assert e["tls_note"].startswith("policy fetch: certificate not valid:"), e
    assert ("mta-sts domain=%s policy fetch: HTTP status 404; delivering as "
            "if it published no policy" % domain("fetch404")) in g.logtext()
    out = g.tool("gwsearch", "status:sts_fetch_failed", "--format",
                 "json").stdout
    assert "mta-sts." + domain("fetch404") in out, out
    assert "mta-sts." + domain("badcert") in out, out
    submit(g, ["second@" + domain("fetch404")])
    done = wait_for(lambda: outcomes(g, 3), timeout=60, what="outcomes")
    assert done["second@" + domain("fetch404")]["action"] == "delivered"
    with g.db("queue.db") as c:
        rows = wait_for(lambda: (lambda r: sum(x[4] for x in r) >= 3 and r)(
            c.execute("SELECT domain, policy, result, mx_host, sum(count) "
                      "FROM tls_rpt WHERE result != '' GROUP BY domain, "
                      "policy, result, mx_host ORDER BY domain").fetchall()),
            timeout=10, what="the counts")
    assert [tuple(r) for r in rows] == [
        (domain("badcert"), "sts", "sts-webpki-invalid", mx("nosts"), 1),
        (domain("fetch404"), "sts", "sts-policy-fetch-error", mx("nosts"),
         2)], [tuple(r) for r in rows]


def test_gwtop_shows_destination_tls(gw_factory, certs, dns, world):
    # gwtop's destinations: the policy and result of the last attempt
    # that connected, from gwd's `destinations` (the mail is deferred,
    # so the domain stays queued and listed).
    import json
    sinks, web, port = world
    g = gwd(gw_factory, certs, dns, web, port)
    submit(g, [rcpt("wrongname")])
    wait_for(lambda: outcomes(g, 1), timeout=60, what="the deferral")

    def dests():
        out = g.tool("gwtop", "--once", "--screen", "destinations",
                     "--format", "json").stdout
        return {d["domain"]: d for d in json.loads(out)["destinations"]}
    d = wait_for(lambda: dests().get(domain("wrongname")), timeout=10,
                 what="the destination listed")
    assert d["tls"] == {"policy": "mta-sts", "verified": False}, d
    text = g.tool("gwtop", "--once", "--screen", "destinations").stdout
    line = [x for x in text.splitlines()
            if x.startswith(domain("wrongname"))][0]
    assert line.split()[12] == "mta-sts/no", line


def test_disabled_policies_are_not_looked_up(gw_factory, certs, dns, world):
    # mta_sts.enable off: no TXT query, no fetch, enforce ignored.
    sinks, web, port = world
    g = gwd(gw_factory, certs, dns, web, port, enable=False)
    submit(g, [rcpt("wrongname")])
    e = wait_for(lambda: outcomes(g, 1), timeout=60,
                 what="the outcome")[rcpt("wrongname")]
    assert e["action"] == "delivered" and e["tls_policy"] == "opportunistic"
    assert not web.hits
    assert not [q for q in dns.queries if q[0].startswith("_mta-sts.")]


def test_policy_survives_restart(gw_factory, certs, dns, world):
    # The policy is kept in queue.db: after a restart, with the policy
    # server gone, the cached policy still rules (RFC 8461 5.1).
    sinks, web, port = world
    g = gwd(gw_factory, certs, dns, web, port)
    submit(g, [rcpt("good")])
    e = wait_for(lambda: outcomes(g, 1), timeout=60,
                 what="the first outcome")[rcpt("good")]
    assert e["action"] == "delivered" and e["tls_policy"] == "mta-sts"
    with g.db("queue.db") as c:
        rows = wait_for(lambda: c.execute(
            "SELECT domain, id FROM mta_sts").fetchall(), timeout=10,
            what="the stored policy")
    assert [tuple(r) for r in rows] == [(domain("good"), "good1")]
    g.stop()
    web.stop()
    g.start()
    submit(g, [rcpt("good")], subject="again")
    wait_for(lambda: len(g.events("action = 'delivered'")) == 2, timeout=60,
             what="the second delivery")
    e = g.events("action = 'delivered'")[-1]
    assert e["tls_policy"] == "mta-sts" and e["tls_verified"] == 1, \
        e["tls_note"]
    assert len(web.hits) == 1


def requiretls_send(g, to):
    import smtplib
    from conftest import client_tls_context
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", [to],
                   b"From: app@example.com\r\nSubject: rt\r\n\r\nx\r\n",
                   mail_options=["REQUIRETLS"])


def test_requiretls_met_by_enforced_policy(gw_factory, certs, dns, world):
    # RFC 8689 4.2.1: without DNSSEC, an enforced MTA-STS policy is what
    # vouches for the MX host; a policy in testing mode does not.
    sinks, web, port = world
    g = gwd(gw_factory, certs, dns, web, port)
    requiretls_send(g, rcpt("good"))
    requiretls_send(g, rcpt("testing"))
    # (The DSN to app@example.com has an outcome too: not counted.)
    done = wait_for(lambda: (lambda d: rcpt("good") in d and
                             rcpt("testing") in d and d)(
        {e["recipient"]: e for e in g.events(
            "action IN ('delivered', 'deferred', 'bounced') AND "
            "recipient LIKE '%.sts.test'")}), timeout=60, what="outcomes")
    e = done[rcpt("good")]
    assert e["action"] == "delivered" and e["tls_policy"] == "mta-sts", \
        e["reply_text"]
    got = sinks["good"].messages
    assert len(got) == 1 and "REQUIRETLS" in got[0].mail_options
    e = done[rcpt("testing")]
    assert e["action"] == "bounced" and "5.7.10" in (e["reply_status"] or
                                                    ""), e
    assert not sinks["testing"].messages
