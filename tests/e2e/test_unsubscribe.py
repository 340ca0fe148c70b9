"""One-click unsubscribe (RFC 8058, issue 12): bulk mail carries signed
List-Unsubscribe headers with a link to gwd's HTTPS listener; curl's
POST there suppresses the recipient for that subaccount and logs
"unsubscribed"; the page a GET shows only offers the button; anything
but a link gwd made is a 404.  With a bounce domain, List-Unsubscribe
also has a mailto: address (u-TOKEN@BOUNCE-DOMAIN); a mail to it at the
feedback listener (smtplib) has the POST's effect; forged tokens, and a
return path's b- token rewritten as u-, change nothing."""
import base64
import hashlib
import hmac
import os
import re
import smtplib
import sqlite3
import subprocess
import urllib.request

import pytest

from conftest import Raw, free_port, login, smarthost, wait_for
from test_dkim import activate, keygen, received, send, signatures, verify_dkimpy

HOST = "unsub.example.com"
BOUNCE = "bounces.example.com"


@pytest.fixture
def gw(gw_factory, dns, sink):
    port, mport = free_port(), free_port()
    g = gw_factory(relay=smarthost(sink), dns=dns,
                   extra='http = { listen = "127.0.0.1:%d"; public_host = '
                         '"%s:%d"; };\nmetrics = { listen = "127.0.0.1:%d"; };'
                   % (port, HOST, port, mport)).start()
    g.http_port, g.metrics_port = port, mport
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def curl(g, url, *args):
    """curl against gwd's HTTPS listener, the link's host resolved to
    loopback: (status, body)."""
    r = subprocess.run(["curl", "-sk", "--max-time", "20", "--resolve",
                        "%s:%d:127.0.0.1" % (HOST, g.http_port),
                        "-o", "-", "-w", "\n%{http_code}", *args, url],
                       capture_output=True, timeout=60)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or 0), body


def post(g, url, body="List-Unsubscribe=One-Click"):
    # As RFC 8058 3.2 shows: a form-encoded body, no cookies, no page.
    return curl(g, url, "-X", "POST", "--data-raw", body)


def header(data, name):
    hdr = data.split(b"\r\n\r\n", 1)[0].decode()
    return re.findall(r"(?mi)^%s:[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)"
                      % re.escape(name), hdr)


def link(data):
    (v,) = header(data, "List-Unsubscribe")
    m = re.fullmatch(r"<(https://[^>]+)>", v.strip())
    assert m, v
    return m.group(1)


def rcpt(g, addr):
    r = Raw(g.ports["submission"])
    r.reply()
    assert login(r, "app", "s3cret-pass")[0] == 235
    r.cmd("MAIL FROM:<app@example.com>")
    got = r.cmd("RCPT TO:<%s>" % addr)
    r.cmd("QUIT")
    r.close()
    return got


def sub_id(g, name="app"):
    with sqlite3.connect(os.path.join(g.state, "gw.db")) as db:
        return db.execute("SELECT id FROM subaccount WHERE name = ?",
                          (name,)).fetchone()[0]


def gw_key(g, purpose="unsubscribe"):
    with sqlite3.connect(os.path.join(g.state, "gw.db")) as db:
        return db.execute("SELECT key FROM hmac_key WHERE purpose = ?",
                          (purpose,)).fetchone()[0]


def token(key, sub, rcpt_addr):
    """common/unsubtok.h's format, written again from its description."""
    v, leb = sub, b""
    while True:
        leb += bytes([(v & 0x7f) | (0x80 if v > 0x7f else 0)])
        v >>= 7
        if not v:
            break
    raw = b"\x01" + leb + rcpt_addr.encode()
    raw += hmac.new(key, raw, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_one_click_unsubscribe(gw, dns, sink):
    keygen(gw, dns, "example.com", "s1")
    activate(gw, "example.com", "s1")
    gw.gwctl("subaccount", "set", "app", "--bulk", "yes")
    assert '"bulk":true' in gw.gwctl("subaccount", "list", "--format",
                                     "json").stdout.replace(" ", "")
    # (gwd reads gw.db again at each login: the next message is bulk.)
    send(gw, "news 1", to="reader@dest.test")
    data = received(sink, "news 1")
    url = link(data)
    assert url.startswith("https://%s:%d/u/" % (HOST, gw.http_port))
    # No bounce domain: no mailto: (link() took the only URI).
    assert "mailto:" not in header(data, "List-Unsubscribe")[0]
    assert header(data, "List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    # Both fields are signed, and the signature verifies (dkimpy).
    (sig,) = signatures(data)
    h = sig["h"].lower().split(":")
    assert "list-unsubscribe" in h and "list-unsubscribe-post" in h
    assert verify_dkimpy(data, dns) == [True]
    # The link is gwd's own token for this subaccount and recipient.
    assert url.rsplit("/", 1)[1] == token(gw_key(gw), sub_id(gw), "reader@dest.test")

    # A GET (a person, or a scanner following links) only shows a page.
    code, page = curl(gw, url)
    assert code == 200
    assert b'<form method="post">' in page and b"reader@dest.test" in page
    assert b'name="List-Unsubscribe" value="One-Click"' in page
    assert gw.events("action='unsubscribed'") == []
    assert rcpt(gw, "reader@dest.test")[0] == 250

    # The RFC 8058 POST: 200, no page; once more: the same, nothing new.
    assert post(gw, url) == (200, b"")
    assert post(gw, url) == (200, b"")
    (ev,) = wait_for(lambda: gw.events("action='unsubscribed'"), what="event")
    assert ev["subaccount"] == "app" and ev["recipient"] == "reader@dest.test"
    assert ev["client_ip"] == "127.0.0.1"
    code, text = rcpt(gw, "reader@dest.test")
    assert code == 550 and "suppressed: unsubscribe" in text
    # Only this recipient, and it survives a restart (queue.db).
    assert rcpt(gw, "other@dest.test")[0] == 250
    gw.stop()
    gw.start()
    assert rcpt(gw, "reader@dest.test")[0] == 550
    r = gw.tool("gwsearch", "--format", "jsonl", "status:unsubscribed")
    assert "reader@dest.test" in r.stdout, r.stdout + r.stderr
    listed = gw.gwctl("suppression", "list", "--format", "json").stdout
    assert '"source":"unsubscribe"' in listed.replace(" ", ""), listed


def test_bad_links_are_404(gw):
    base = "https://%s:%d" % (HOST, gw.http_port)
    key, sid = gw_key(gw), sub_id(gw)
    good = token(key, sid, "x@dest.test")
    forged = token(b"k" * 32, sid, "x@dest.test")
    other_sub = token(key, sid + 1000, "x@dest.test")    # no such subaccount
    # The MAC of one subaccount's link does not carry over to another's.
    moved = good[:1] + ("C" if good[1] != "C" else "D") + good[2:]
    for path in ["/u/" + forged, "/u/" + other_sub, "/u/" + moved,
                 "/u/", "/u/%00", "/u/" + good + "A", "/u/" + good + "/x",
                 "/", "/u", "/metrics", "/u/" + "A" * 5000]:
        for method in ("GET", "POST"):
            code, body = curl(gw, base + path, "-X", method,
                              *(["--data-raw", "List-Unsubscribe=One-Click"]
                                if method == "POST" else []))
            assert code in (404, 414, 431), (path, method, code)
    assert gw.events("action='unsubscribed'") == []
    # A good link, a body that is not RFC 8058's: refused, not done.
    assert post(gw, base + "/u/" + good, "hello")[0] == 400
    assert post(gw, base + "/u/" + good, "x" * 5000)[0] == 413
    assert curl(gw, base + "/u/" + good, "-X", "DELETE")[0] == 405
    assert gw.events("action='unsubscribed'") == []
    assert post(gw, base + "/u/" + good) == (200, b"")
    wait_for(lambda: gw.events("action='unsubscribed'"), what="event")


def test_link_of_a_subaccount_added_just_now(gw):
    """gwd reads the subaccounts again every 500 ms and at AUTH, MAIL
    and API calls; a link's request too, so the links of a subaccount
    gwctl added a moment ago work at once (CI once saw 404 for "app",
    added by the fixture under 500 ms before)."""
    gw.add_subaccount("fresh", "fresh.example", "an0ther-pass")
    url = "https://%s:%d/u/%s" % (HOST, gw.http_port, token(
        gw_key(gw), sub_id(gw, "fresh"), "y@dest.test"))
    code, body = curl(gw, url)
    assert code == 200 and b"y@dest.test" in body, (code, body)


def test_tls_1_2_at_least(gw):
    url = "https://%s:%d/u/x" % (HOST, gw.http_port)
    assert curl(gw, url, "--tlsv1.2", "--tls-max", "1.2")[0] == 404
    assert curl(gw, url, "--tlsv1.3")[0] == 404
    assert curl(gw, url, "--tlsv1.0", "--tls-max", "1.1")[0] == 0
    # Plain HTTP to the HTTPS port gets no page.
    r = subprocess.run(["curl", "-s", "--max-time", "10", "-o", "/dev/null",
                        "-w", "%{http_code}",
                        "http://127.0.0.1:%d/u/x" % gw.http_port],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout in ("000", "400"), r.stdout


def test_key_rotation_keeps_old_links(gw):
    base = "https://%s:%d/u/" % (HOST, gw.http_port)
    sid, k1 = sub_id(gw), gw_key(gw)
    r = gw.gwctl("key", "rotate", "unsubscribe")
    assert "work for 90 more days" in r.stderr
    k2 = gw_key(gw)
    assert k2 != k1 and gw_key(gw, "unsubscribe.previous") == k1
    # gwd reads the keys with gw.db's next change.
    wait_for(lambda: post(gw, base + token(k2, sid, "new@dest.test"))[0] == 200,
             what="gwd to take the new key")
    assert post(gw, base + token(k1, sid, "old@dest.test"))[0] == 200
    # A second rotation forgets the first key.
    gw.gwctl("key", "rotate", "unsubscribe")
    wait_for(lambda: post(gw, base + token(gw_key(gw), sid, "n3@dest.test"))[0]
             == 200, what="the third key")
    assert post(gw, base + token(k1, sid, "gone@dest.test"))[0] == 404
    assert post(gw, base + token(k2, sid, "k2@dest.test"))[0] == 200
    r = gw.gwctl("key", "rotate", "dkim", check=False)
    assert r.returncode == 64 and 'no key "dkim"' in r.stderr


def test_rule_bulk_one_recipient_only(gw, sink):
    gw.gwctl("route", "add", "--to-domain", "news.test", "--bulk")
    rules = gw.gwctl("route", "list", "--format", "json").stdout
    assert '"bulk":true' in rules.replace(" ", "")
    assert "bulk-mail" in gw.gwctl("route", "list").stdout
    wait_for(lambda: "routing rules: 1" in gw.logtext(), what="gwd to load the rule")
    send(gw, "ruled", to="a@news.test")
    send(gw, "plain", to="a@dest.test")
    send(gw, "own", to="b@news.test",
         extra=b"List-Unsubscribe: <mailto:leave@example.com>\r\n")
    assert link(received(sink, "ruled")).startswith("https://")
    assert header(received(sink, "plain"), "List-Unsubscribe") == []
    own = received(sink, "own")
    assert header(own, "List-Unsubscribe") == ["<mailto:leave@example.com>"]
    assert header(own, "List-Unsubscribe-Post") == []
    # Two recipients: each copy names its own (test_bulk_many_recipients).
    send_many(gw, ["c@news.test", "d@news.test"], "two")
    sink.wait_count(5)
    got = {m.rcpt_tos[0]: link(m.data) for m in sink.messages
           if b"Subject: two" in m.data}
    assert got == {a: link_of(gw, a) for a in ("c@news.test", "d@news.test")}


def test_bulk_needs_public_host(gw_factory):
    g = gw_factory().start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    for args in (["subaccount", "set", "app", "--bulk", "yes"],
                 ["route", "add", "--bulk"]):
        r = g.gwctl(*args, check=False)
        assert r.returncode == 78, r.stderr
        assert "http.public_host is not set" in r.stderr
    assert g.gwctl("subaccount", "set", "app", "--bulk", "no").returncode == 0
    bad = gw_factory(extra='http = { listen = "127.0.0.1:1"; public_host = '
                           '"evil.test>\\r\\nBcc: x"; };')
    r = subprocess.run([os.path.join(os.environ["GW_BUILD"], "gwd"), "-n", "-c",
                        bad.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 78 and "http.public_host:" in r.stderr, r.stderr


def test_metrics_and_health_beside_https(gw):
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/health" % gw.metrics_port,
                                timeout=10) as r:
        assert r.status == 200 and r.read() == b"ok\n"
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % gw.metrics_port,
                                timeout=10) as r:
        assert b"gw_messages_received_total" in r.read()
    # The HTTPS listener serves only links: no metrics there.
    assert curl(gw, "https://%s:%d/metrics" % (HOST, gw.http_port))[0] == 404


@pytest.fixture
def gwfb(gw_factory, dns, sink):
    """gwd with the HTTPS listener, a feedback listener and a bounce
    domain for every subaccount."""
    port, mport = free_port(), free_port()
    g = gw_factory(relay=smarthost(sink), dns=dns, feedback=True, settings={
        "http.listen": "127.0.0.1:%d" % port,
        "http.public_host": "%s:%d" % (HOST, port),
        "metrics.listen": "127.0.0.1:%d" % mport,
        "feedback.domains": [BOUNCE],
        "feedback.bounce_domain": BOUNCE,
        "feedback.rate": "1000/min",
    }).start()
    g.http_port, g.metrics_port = port, mport
    g.add_subaccount("app", "example.com", "s3cret-pass")
    keygen(g, dns, "example.com", "s1")
    activate(g, "example.com", "s1")
    g.gwctl("subaccount", "set", "app", "--bulk", "yes")
    return g


def uris(data):
    (v,) = header(data, "List-Unsubscribe")
    return re.findall(r"<([^>]*)>", v)


def mailto_token(key, qid, idx, domain):
    """common/verp.h's unsubscribe address, written again from its
    description: the MAC covers the kind ("u:")."""
    mac = hmac.new(key, ("u:%s:%d:%s" % (qid.upper(), idx, domain.lower())
                         ).encode(), hashlib.sha256).hexdigest()[:16]
    return "u-%s-%x-%s@%s" % (qid, idx, mac, domain)


def mail_to(g, addr, frm="reader@dest.test"):
    """What a mail client sends for a mailto: unsubscribe."""
    with smtplib.SMTP("127.0.0.1", g.ports["feedback"], timeout=30) as s:
        s.ehlo("mx.dest.test")
        s.sendmail(frm, [addr], "From: <%s>\r\nTo: <%s>\r\nSubject: "
                   "unsubscribe\r\n\r\nplease\r\n" % (frm, addr))


def metric(g, result):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % g.metrics_port,
                                timeout=10) as r:
        m = re.search(r'^gw_feedback_reports_total\{result="%s"\} (\d+)$'
                      % result, r.read().decode(), re.M)
    return int(m.group(1)) if m else 0


def test_mailto_unsubscribe(gwfb, dns, sink):
    g = gwfb
    send(g, "news m", to="reader@dest.test")
    data = received(sink, "news m")
    https, mailto = uris(data)
    assert https == link_of(g, "reader@dest.test")
    # The u- address: this message, its only recipient (index 0).
    (ev,) = wait_for(lambda: g.events("action='received'"), what="received")
    addr = mailto_token(gw_key(g, "verp"), ev["qid"], 0, BOUNCE)
    assert mailto == "mailto:" + addr
    assert len(addr.split("@")[0]) <= 64
    # Still signed (dkim.c's h= has List-Unsubscribe), and it verifies.
    (sig,) = signatures(data)
    assert "list-unsubscribe" in sig["h"].lower().split(":")
    assert verify_dkimpy(data, dns) == [True]
    assert rcpt(g, "reader@dest.test")[0] == 250

    mail_to(g, addr)
    (ev2,) = wait_for(lambda: g.events("action='unsubscribed'"), what="event")
    assert ev2["subaccount"] == "app" and ev2["recipient"] == "reader@dest.test"
    assert ev2["qid"] == ev["qid"] and ev2["detail"] == "via=mailto"
    code, text = rcpt(g, "reader@dest.test")
    assert code == 550 and "suppressed: unsubscribe" in text
    assert rcpt(g, "other@dest.test")[0] == 250
    # A second mail (any case, as some MTAs write it): harmless.
    mail_to(g, addr.upper())
    wait_for(lambda: "already suppressed" in g.logtext(), what="second mail")
    assert len(g.events("action='unsubscribed'")) == 1
    assert metric(g, "matched") == 2 and metric(g, "forged") == 0


def send_many(g, rcpts, subject):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        from conftest import client_tls_context
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", rcpts,
                   b"From: App <app@example.com>\r\nSubject: " +
                   subject.encode() + b"\r\n\r\nthe same for all\r\n")


def test_bulk_many_recipients(gwfb, dns, sink):
    """Bulk mail to three recipients: the body is stored once, and each
    recipient's copy goes in its own transaction with its own signed
    List-Unsubscribe (queue.db's recipient.prefix); dkimpy verifies each;
    recipient 2's link unsubscribes recipient 2 only."""
    g = gwfb
    rcpts = ["n0@dest.test", "n1@dest.test", "n2@dest.test"]
    # Held at the sink first: what queue.db has, across a restart.
    sink.data_reply = lambda m: "451 4.3.0 later"
    send_many(g, rcpts, "news many")
    (ev,) = wait_for(lambda: g.events("action='received'"), what="received")
    qid = ev["qid"]
    wait_for(lambda: len(g.events("action='deferred'")) >= 3,
             what="three deferred copies")
    with sqlite3.connect("file:%s?mode=ro" % os.path.join(g.state, "queue.db"),
                         uri=True) as q:
        (body,) = q.execute("SELECT body FROM message").fetchone()
        rows = q.execute("SELECT address, prefix FROM recipient ORDER BY id"
                         ).fetchall()
    # One body, unsigned, no link; each recipient its own fields.
    assert b"List-Unsubscribe" not in body and b"DKIM-Signature" not in body
    assert [a for a, _ in rows] == rcpts
    for a, prefix in rows:
        assert prefix.startswith(b"DKIM-Signature:")
        assert token(gw_key(g), sub_id(g), a).encode() in prefix
    g.stop()
    g.start()
    sink.data_reply = None
    sink.wait_count(3)
    copies = {m.rcpt_tos[0]: m.data for m in sink.messages}
    assert all(len(m.rcpt_tos) == 1 for m in sink.messages)
    assert sorted(copies) == rcpts
    for i, a in enumerate(rcpts):
        data = copies[a]
        assert uris(data) == [link_of(g, a), "mailto:" + mailto_token(
            gw_key(g, "verp"), qid, i, BOUNCE)]
        assert header(data, "List-Unsubscribe-Post") == [
            "List-Unsubscribe=One-Click"]
        (sig,) = signatures(data)
        assert "list-unsubscribe" in sig["h"].lower().split(":")
        assert verify_dkimpy(data, dns) == [True], a
        assert data.endswith(b"\r\nthe same for all\r\n")
    assert post(g, link_of(g, "n1@dest.test")) == (200, b"")
    (u,) = wait_for(lambda: g.events("action='unsubscribed'"), what="event")
    assert u["recipient"] == "n1@dest.test"
    assert rcpt(g, "n1@dest.test")[0] == 550
    assert rcpt(g, "n0@dest.test")[0] == 250
    assert rcpt(g, "n2@dest.test")[0] == 250


def link_of(g, rcpt_addr):
    return "https://%s:%d/u/%s" % (HOST, g.http_port,
                                  token(gw_key(g), sub_id(g), rcpt_addr))


def test_mailto_forged_changes_nothing(gwfb, sink):
    g = gwfb
    send(g, "news v", to="victim@dest.test")
    data = received(sink, "news v")
    good = uris(data)[1][len("mailto:"):]
    local, domain = good.split("@")
    (m,) = [x for x in sink.messages if b"Subject: news v" in x.data]
    ret = m.mail_from
    assert ret.startswith("b-")
    qid = local.split("-")[1]
    forged = [
        # A digit of the MAC changed.
        local[:-1] + ("0" if local[-1] != "0" else "1") + "@" + domain,
        # The message's own return path, its b- made u-: the MAC covers
        # the kind.
        "u" + ret[1:],
        # Another recipient index with the same MAC.
        local.replace("-0-", "-1-", 1) + "@" + domain,
        # Made with another key.
        mailto_token(b"k" * 32, qid, 0, BOUNCE),
    ]
    for n, addr in enumerate(forged, 1):
        mail_to(g, addr, frm="victim@dest.test")
        wait_for(lambda: metric(g, "forged") == n, what="forged %d" % n)
    assert len(re.findall(r"feedback: .* forged unsubscribe report",
                          g.logtext())) == len(forged)
    assert g.events("action='unsubscribed'") == []
    assert rcpt(g, "victim@dest.test")[0] == 250
    # The good one, after all that, works.
    mail_to(g, good, frm="victim@dest.test")
    wait_for(lambda: g.events("action='unsubscribed'"), what="event")
    assert rcpt(g, "victim@dest.test")[0] == 550


def test_concurrent_posts_one_event(gw):
    """Two POSTs for one link at once (a provider's retry racing its
    first try), the store slow (GW_TEST_COMMIT_DELAY): the second is not
    answered before the suppression is on disk, and there is one
    "unsubscribed" event."""
    import threading
    gw.stop()
    gw.start(env={"GW_TEST_COMMIT_DELAY": "1500"})
    url = link_of(gw, "twice@dest.test")
    first = []
    t = threading.Thread(target=lambda: first.append(post(gw, url)))
    t.start()
    # The first is in (logged), its commit not done yet.
    wait_for(lambda: "unsubscribed subaccount=app rcpt=twice@dest.test"
             in gw.logtext(), what="the first POST taken")
    assert post(gw, url) == (200, b"")
    with gw.db("queue.db") as q:
        assert q.execute("SELECT count(*) FROM suppression WHERE address = "
                         "'twice@dest.test'").fetchone()[0] == 1
    t.join()
    assert first == [(200, b"")]
    wait_for(lambda: gw.events("action='unsubscribed'"), what="the event")
    assert len(gw.events("action='unsubscribed'")) == 1


def test_mailto_alone_without_public_host(gw_factory, dns, sink):
    """No HTTPS host but a bounce domain: bulk mail still gets a
    List-Unsubscribe, the mailto: address alone and no
    List-Unsubscribe-Post (one-click needs an https URI, RFC 8058 3.1);
    it is signed, and a mail to it unsubscribes.  gwctl takes --bulk
    then; with neither a host nor a bounce domain it refuses."""
    g = gw_factory(relay=smarthost(sink), dns=dns, feedback=True, settings={
        "feedback.domains": [BOUNCE],
        "feedback.rate": "1000/min",
    }).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    keygen(g, dns, "example.com", "s1")
    activate(g, "example.com", "s1")
    for args in (["subaccount", "set", "app", "--bulk", "yes"],
                 ["route", "add", "--bulk", "--subaccount", "app"]):
        r = g.gwctl(*args, check=False)
        assert r.returncode == 78 and "no bounce domain" in r.stderr, r.stderr
    # The bounce domain given in the same command counts.
    g.gwctl("subaccount", "set", "app", "--bulk", "yes", "--bounce-domain",
            BOUNCE)
    assert g.gwctl("route", "add", "--bulk", "--subaccount", "app",
                   check=False).returncode == 0
    r = g.gwctl("route", "add", "--bulk", check=False)
    assert r.returncode == 78, r.stderr

    send(g, "news alone", to="reader@dest.test")
    data = received(sink, "news alone")
    (ev,) = wait_for(lambda: g.events("action='received'"), what="received")
    addr = mailto_token(gw_key(g, "verp"), ev["qid"], 0, BOUNCE)
    assert header(data, "List-Unsubscribe") == ["<mailto:%s>" % addr]
    assert header(data, "List-Unsubscribe-Post") == []
    (sig,) = signatures(data)
    assert "list-unsubscribe" in sig["h"].lower().split(":")
    assert verify_dkimpy(data, dns) == [True]
    # dkimpy again, the field changed: the signature covers it.
    bad = data.replace(addr.encode(), addr.replace("u-", "u-0", 1).encode())
    assert verify_dkimpy(bad, dns) == [False]

    mail_to(g, addr)
    (u,) = wait_for(lambda: g.events("action='unsubscribed'"), what="event")
    assert u["recipient"] == "reader@dest.test" and u["detail"] == "via=mailto"
    assert rcpt(g, "reader@dest.test")[0] == 550
