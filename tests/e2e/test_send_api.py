"""The HTTP send API (issue 13): POST /v1/messages (JSON) and
/v1/messages/raw (RFC 5322) on gwd's HTTPS listener with a bearer API
key, sent with Python's urllib and http.client and with curl.  Messages
arrive at an aiosmtpd sink DKIM-signed (dkimpy verifies), attachments
intact, cc and bcc delivered and no Bcc: in the header.  Every refusal
is application/problem+json carrying the SMTP reply it stands for (403
foreign sender domain, 422 suppressed recipient, 429 quota and rate,
413, 400, 401); hostile bodies (deep nesting, 100 MB, invalid UTF-8,
wrong types, header injection) get a clean 4xx and gwd keeps serving.
A 202 is durable: gwd killed -9 right after it delivers the message
after a restart.  GET /v1/messages/ID lists a message's events, for its
own subaccount only."""
import base64
import email
import email.policy
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import free_port, smarthost, wait_for
from test_dkim import activate, keygen, signatures, verify_dkimpy


@pytest.fixture
def gw(gw_factory, dns, sink):
    return start(gw_factory, dns, sink)


def start(gw_factory, dns, sink, http_extra=""):
    port = free_port()
    g = gw_factory(relay=smarthost(sink), dns=dns,
                   extra='http = { listen = "127.0.0.1:%d"; %s };'
                   % (port, http_extra)).start()
    g.http_port = port
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.key = apikey(g, "app")
    return g


def apikey(g, sub):
    out = g.gwctl("apikey", "add", sub, "--label", "api-test").stdout
    return re.search(r"apikey: (\S+)", out).group(1)


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def call(g, path, body=None, key=None, method=None, headers=None):
    """(status, headers, parsed JSON or raw bytes) through urllib."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    h = {"Content-Type": "application/json"}
    if key is not False:
        h["Authorization"] = "Bearer " + (key or g.key)
    h.update(headers or {})
    req = urllib.request.Request("https://127.0.0.1:%d%s" % (g.http_port, path),
                                 data=body, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, context=ctx(), timeout=60) as r:
            st, hd, data = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        st, hd, data = e.code, e.headers, e.read()
    try:
        return st, hd, json.loads(data)
    except ValueError:
        return st, hd, data


def curl(g, path, *args):
    r = subprocess.run(["curl", "-sk", "--max-time", "60", "-o", "-", "-w",
                        "\n%{http_code}", "-H", "Authorization: Bearer " + g.key,
                        *args, "https://127.0.0.1:%d%s" % (g.http_port, path)],
                       capture_output=True, timeout=120)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or 0), body


def signed(g, dns):
    keygen(g, dns, "example.com", "s1")
    activate(g, "example.com", "s1")


def at_sink(sink, subject, n=1):
    def find():
        got = [m for m in sink.messages if subject.encode() in m.data]
        return got if len(got) >= n else None
    return wait_for(find, what="%r at the sink" % subject)


def header_names(data):
    hdr = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return [l.split(":", 1)[0].lower() for l in hdr.split("\r\n")
            if l and l[0] not in " \t"]


def ok(g, subject="alive"):
    """A good request is still served (gwd is up and answering)."""
    st, _, b = call(g, "/v1/messages", {"from": "app@example.com",
                                        "to": ["alive@dest.test"],
                                        "subject": subject, "text": "x"})
    assert st == 202, b
    return b["id"]


def problem(st, hd, b, status):
    assert st == status, (st, b)
    assert hd["Content-Type"] == "application/problem+json", hd
    assert b["status"] == status and b["title"] and b["type"]
    return b


# -- messages that go --------------------------------------------------------

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def test_json_message_signed_with_attachment_cc_bcc(gw, dns, sink):
    signed(gw, dns)
    st, hd, b = call(gw, "/v1/messages", {
        "from": "App Team <app@example.com>",
        "to": ["Ann <ann@dest.test>"], "cc": ["cat@dest.test"],
        "bcc": ["bob@dest.test"], "reply_to": "help@example.com",
        "subject": "json héllo", "text": "plain body\nsecond line\n",
        "html": "<p>html body</p>", "headers": {"X-Campaign": "c42"},
        "attachments": [{"filename": "r.pdf", "content_type":
                         "application/pdf",
                         "content_base64": base64.b64encode(PDF).decode()}]})
    assert st == 202, b
    assert hd["Content-Type"] == "application/json"
    assert re.fullmatch(r"[0-9A-F]{16}", b["id"])
    (m,) = wait_for(lambda: sink.messages, what="the message")
    assert sorted(m.rcpt_tos) == ["ann@dest.test", "bob@dest.test",
                                  "cat@dest.test"]
    assert m.mail_from == "app@example.com"
    assert verify_dkimpy(m.data, dns) == [True]
    assert "bcc" not in header_names(m.data)
    assert "with HTTPS id %s" % b["id"] in m.data.decode("ascii", "replace")
    msg = email.message_from_bytes(m.data, policy=email.policy.default)
    assert msg["Subject"] == "json héllo"
    assert msg["X-Campaign"] == "c42"
    assert msg["Reply-To"] == "help@example.com"
    assert "cat@dest.test" in msg["Cc"] and "ann@dest.test" in msg["To"]
    (att,) = list(msg.iter_attachments())
    assert att.get_filename() == "r.pdf"
    assert att.get_content_type() == "application/pdf"
    assert att.get_content() == PDF
    body = msg.get_body(("plain",)).get_content()
    assert body.replace("\r\n", "\n") == "plain body\nsecond line\n"
    assert "<p>html body</p>" in msg.get_body(("html",)).get_content()
    # The audit trail says where it came from.
    (ev,) = gw.events("qid = ? AND action = 'received'", (b["id"],))
    assert ev["subaccount"] == "app" and ev["client_ip"] == "127.0.0.1"
    assert "via=http" in ev["detail"] and "auth=apikey" in ev["detail"]


def test_raw_message_with_curl_envelope_from_query(gw, dns, sink, tmp_path):
    signed(gw, dns)
    raw = (b"From: App <app@example.com>\r\nTo: <shown@dest.test>\r\n"
           b"Bcc: <hidden@dest.test>\r\nSubject: raw one\r\n\r\nbody\r\n")
    f = tmp_path / "m.eml"
    f.write_bytes(raw)
    st, body = curl(gw, "/v1/messages/raw?to=only%40dest.test", "-H",
                    "Content-Type: message/rfc822", "--data-binary", "@%s" % f)
    assert st == 202, body
    (m,) = at_sink(sink, "raw one")
    assert m.rcpt_tos == ["only@dest.test"]
    assert verify_dkimpy(m.data, dns) == [True]
    assert "bcc" not in header_names(m.data)


def test_raw_message_envelope_from_headers_lf_lines(gw, dns, sink):
    signed(gw, dns)
    # Bare LF line ends, as HTTP clients write them: stored as CRLF.
    raw = (b"From: app@example.com\nTo: a@dest.test, B <b@dest.test>\n"
           b"Cc: c@dest.test\nBcc: d@dest.test\nSubject: raw hdrs\n\n"
           b"line\n")
    st, _, b = call(gw, "/v1/messages/raw", raw,
                    headers={"Content-Type": "message/rfc822"})
    assert st == 202, b
    (m,) = at_sink(sink, "raw hdrs")
    assert sorted(m.rcpt_tos) == ["a@dest.test", "b@dest.test",
                                  "c@dest.test", "d@dest.test"]
    assert verify_dkimpy(m.data, dns) == [True]
    assert b"\n" not in m.data.replace(b"\r\n", b"")
    assert "bcc" not in header_names(m.data)


def test_keep_alive(gw, sink):
    c = http.client.HTTPSConnection("127.0.0.1", gw.http_port, context=ctx(),
                                    timeout=30)
    socks = set()
    for i in range(3):
        c.request("POST", "/v1/messages", json.dumps(
            {"from": "app@example.com", "to": ["k@dest.test"],
             "subject": "ka %d" % i, "text": "x"}),
            {"Authorization": "Bearer " + gw.key,
             "Content-Type": "application/json"})
        r = c.getresponse()
        assert r.status == 202, r.read()
        r.read()
        socks.add(id(c.sock))
        assert c.sock is not None
    assert len(socks) == 1
    c.close()
    at_sink(sink, "ka ", 3)


def test_keep_alive_outlives_idle_timeout(gw_factory, dns, sink):
    """http.idle_timeout counts from the last request or answer, not from
    the connect: a client that asks every 0.2 s keeps its one connection
    for more than three idle_timeouts, and is closed once it stops."""
    g = start(gw_factory, dns, sink, 'idle_timeout = "1s";')
    c = http.client.HTTPSConnection("127.0.0.1", g.http_port, context=ctx(),
                                    timeout=30)
    c.connect()
    sock = c.sock
    for i in range(20):
        c.request("GET", "/v1/messages/%016X" % i,
                  headers={"Authorization": "Bearer " + g.key})
        r = c.getresponse()
        r.read()
        assert r.status == 404, r.status
        assert c.sock is sock, "request %d needed a new connection" % i
        time.sleep(0.2)        # the client's pace, not a wait for gwd
    # Idle now: gwd closes it (EOF; the socket timeout only stops a hung
    # test).
    sock.settimeout(30)
    assert sock.recv(1) == b""
    c.close()


def test_lifecycle_own_subaccount_only(gw, sink):
    qid = ok(gw, "life")
    at_sink(sink, "life")

    def delivered():
        st, _, b = call(gw, "/v1/messages/" + qid, method="GET")
        assert st == 200, b
        acts = [e["event"]["action"] for e in b["events"]]
        return acts if "delivered" in acts else None
    acts = wait_for(delivered, what="delivered in the lifecycle")
    assert acts[0] == "received"
    st, _, b = call(gw, "/v1/messages/" + qid, method="GET")
    assert b["id"] == qid
    assert b["events"][-1]["email"]["to"]["address"] == "alive@dest.test"
    gw.add_subaccount("other", "other.test", "pw-other-1")
    other = apikey(gw, "other")
    problem(*call(gw, "/v1/messages/" + qid, key=other, method="GET"), 404)
    problem(*call(gw, "/v1/messages/0123456789ABCDEF", method="GET"), 404)


def test_durable_after_kill9(gw, sink):
    # The sink defers everything: the message can only be in the queue.
    sink.rcpt_reply = lambda a: "451 4.3.0 not now"
    qid = ok(gw, "durable")
    gw.kill9()
    sink.rcpt_reply = None
    gw.start()
    (m,) = at_sink(sink, "durable")
    assert ("id %s" % qid).encode() in m.data


# -- refusals ----------------------------------------------------------------

MSG = {"from": "app@example.com", "to": ["r@dest.test"], "subject": "s",
       "text": "t"}


def test_unauthenticated(gw):
    b = problem(*call(gw, "/v1/messages", MSG, key=False), 401)
    assert "Bearer" in b["detail"]
    st, hd, _ = call(gw, "/v1/messages", MSG, key="gw_" + "A" * 40)
    assert st == 401 and hd["WWW-Authenticate"].startswith("Bearer")
    wrong = gw.key[:-4] + ("AAAA" if not gw.key.endswith("AAAA") else "BBBB")
    problem(*call(gw, "/v1/messages", MSG, key=wrong), 401)
    ok(gw)


def test_foreign_sender_domain(gw):
    b = problem(*call(gw, "/v1/messages", dict(MSG, **{"from":
                                                       "x@evil.test"})), 403)
    assert b["smtp_reply"].startswith("550 5.7.1 <x@evil.test>")
    assert b["reason"] == "foreign-sender-domain"
    # The raw From: header is checked as at the end of DATA.
    raw = b"From: x@evil.test\r\nSubject: f\r\n\r\nb\r\n"
    b = problem(*call(gw, "/v1/messages/raw?from=app%40example.com&to=r%40dest.test",
                      raw), 403)
    assert b["smtp_reply"].startswith("550 5.7.1")
    ev = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(
        gw.events("action = 'rejected' AND detail = 'stage=api'")),
        what="two rejected events")
    assert ev[0]["reply_code"] == 550 and ev[0]["sender"] == "x@evil.test"


def test_suppressed_recipient(gw):
    gw.gwctl("suppression", "add", "gone@dest.test", "--subaccount", "app")
    b = problem(*call(gw, "/v1/messages", dict(MSG, to=["ok@dest.test"],
                                               bcc=["gone@dest.test"])), 422)
    assert b["smtp_reply"].startswith("550 5.1.1 <gone@dest.test>")
    assert b["reason"] == "suppressed-recipient"


def test_quota(gw):
    gw.gwctl("subaccount", "set", "app", "--quota-hour", "1")
    ok(gw)
    st, hd, b = call(gw, "/v1/messages", MSG)
    problem(st, hd, b, 429)
    assert int(hd["Retry-After"]) > 0
    assert b["smtp_reply"].startswith("451 4.7.1") and b["reason"] == "quota"


def test_rate_limit_per_key(gw_factory, dns, sink):
    g = start(gw_factory, dns, sink, "api_rate = 2;")
    codes = [call(g, "/v1/messages", MSG)[0] for _ in range(6)]
    assert codes.count(202) >= 2 and 429 in codes, codes
    st, hd, b = call(g, "/v1/messages", MSG)
    if st == 429:
        assert int(hd["Retry-After"]) >= 1 and b["reason"] == "rate"


def test_too_large(gw_factory, dns, sink):
    g = start(gw_factory, dns, sink, "api_max_size = \"64k\";")
    big = dict(MSG, text="x" * 70000)
    problem(*call(g, "/v1/messages", big), 413)
    # Chunked, with no length to refuse it early: read, dropped, 413.
    st, body = curl(g, "/v1/messages", "-H", "Transfer-Encoding: chunked",
                    "-H", "Content-Type: application/json",
                    "--data-binary", json.dumps(big))
    assert st == 413, body
    ok(g)


def test_wrong_routes(gw):
    problem(*call(gw, "/v1/nothing", MSG), 404)
    problem(*call(gw, "/v1/messages", method="GET"), 405)
    problem(*call(gw, "/v1/messages/raw", method="DELETE"), 405)


# -- hostile bodies ----------------------------------------------------------

HOSTILE = [
    ("deep nesting", b"[" * 100000 + b"]" * 100000),
    ("deep in a member", b'{"to":' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("invalid UTF-8", b'{"from":"app@example.com","to":["r@dest.test"],'
                      b'"subject":"\xff\xfe","text":"t"}'),
    ("overlong UTF-8", b'{"from":"app@example.com","to":["r@dest.test"],'
                       b'"text":"\xc0\xaf"}'),
    ("not JSON", b"from=app@example.com"),
    ("empty", b""),
    ("array", b"[]"),
    ("NUL", b'{"from":"app@example.com","to":["r@dest.test"],"text":"a\\u0000b"}'),
    ("duplicate key", b'{"from":"app@example.com","from":"x@evil.test",'
                      b'"to":["r@dest.test"],"text":"t"}'),
    ("to not an array", json.dumps(dict(MSG, to="r@dest.test")).encode()),
    ("to of numbers", json.dumps(dict(MSG, to=[1, 2])).encode()),
    ("subject a number", json.dumps(dict(MSG, subject=5)).encode()),
    ("attachments an object", json.dumps(dict(MSG, attachments={})).encode()),
    ("attachment bad base64", json.dumps(dict(MSG, attachments=[
        {"filename": "a", "content_base64": "%%%"}])).encode()),
    ("attachment no name", json.dumps(dict(MSG, attachments=[
        {"content_base64": "QQ=="}])).encode()),
    ("header injection", json.dumps(dict(MSG, subject="x\r\nBcc: e@evil.test"))
     .encode()),
    ("header name", json.dumps(dict(MSG, headers={"X Bad": "v"})).encode()),
    ("reserved header", json.dumps(dict(MSG, headers={"Bcc": "e@evil.test"}))
     .encode()),
    ("unknown member", json.dumps(dict(MSG, form="x")).encode()),
    ("no recipient", json.dumps(dict(MSG, to=[])).encode()),
    ("bad address", json.dumps(dict(MSG, to=["<@a:b@c>"])).encode()),
    ("no body", json.dumps({"from": "app@example.com", "to": ["r@dest.test"]})
     .encode()),
]


@pytest.mark.parametrize("name,body", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_json(gw, name, body):
    b = problem(*call(gw, "/v1/messages", body), 400)
    assert b["detail"]
    ok(gw)


def test_hostile_raw(gw):
    for raw in (b"From: app@example.com\r\nTo: r@dest.test\r\n\r\na\rb\r\n",
                b"From: app@example.com\r\nTo: r@dest.test\r\n\r\n" + b"y" * 2000
                + b"\r\n",
                b"From: app@example.com\r\nTo: r@dest.test\r\n\r\na\0b\r\n",
                b"Subject: no from, no to\r\n\r\nb\r\n"):
        st, hd, b = call(gw, "/v1/messages/raw", raw)
        assert 400 <= st < 500 and hd["Content-Type"] == \
            "application/problem+json", (raw[:60], st, b)
    ok(gw)


def test_100mb_body(gw):
    """A declared 100 MB is refused before it is read; the connection
    is closed, and gwd serves the next request."""
    c = http.client.HTTPSConnection("127.0.0.1", gw.http_port, context=ctx(),
                                    timeout=60)
    c.putrequest("POST", "/v1/messages")
    c.putheader("Authorization", "Bearer " + gw.key)
    c.putheader("Content-Type", "application/json")
    c.putheader("Content-Length", str(100 << 20))
    c.endheaders()
    chunk = b"[" * (1 << 20)
    try:
        for _ in range(100):
            c.send(chunk)
    except OSError:
        pass                      # closed on us, as it should
    r = c.getresponse()
    assert r.status == 413
    assert json.loads(r.read())["status"] == 413
    c.close()
    ok(gw)


def test_sigterm_answers_waiting_requests(gw_factory, dns, sink):
    """SIGTERM while API requests wait on gwd: each gets its answer
    before gwd exits (0).  Messages being committed (each queue.db
    commit slowed by GW_TEST_COMMIT_DELAY) get 202 or, if their turn had
    not come, 503; every 202's queue id is in log.db after the stop.  A
    request whose body was still coming at SIGTERM gets 503
    problem+json once it is in: nothing was queued."""
    port = free_port()
    g = gw_factory(relay=smarthost(sink), dns=dns,
                   extra='shutdown_timeout = "60s"; http = { listen = '
                   '"127.0.0.1:%d"; };' % port)
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.start(env={"GW_TEST_COMMIT_DELAY": "1500"})
    g.http_port = port
    g.key = apikey(g, "app")

    def body(subject):
        return json.dumps({"from": "app@example.com", "to": ["t@dest.test"],
                           "subject": subject, "text": "x"}).encode()

    # The half-sent one: its head and half its body.
    late = body("late")
    slow = ctx().wrap_socket(socket.create_connection(
        ("127.0.0.1", port), timeout=60))
    slow.sendall(("POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
                  "Authorization: Bearer %s\r\nContent-Type: application/"
                  "json\r\nContent-Length: %d\r\n\r\n"
                  % (g.key, len(late))).encode() + late[:10])
    answers = {}
    sent = []

    def post(i):
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx(),
                                        timeout=60)
        try:
            c.request("POST", "/v1/messages", body("waiting %d" % i),
                      {"Authorization": "Bearer " + g.key,
                       "Content-Type": "application/json"})
            sent.append(i)   # TLS is up: gwd has taken the connection
            r = c.getresponse()
            answers[i] = (r.status, r.getheader("Content-Type"),
                          json.loads(r.read()))
        except (OSError, http.client.HTTPException) as e:
            answers[i] = e
        finally:
            c.close()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    # Every request sent; whether each is then being committed or not
    # yet, its answer is checked below (202 or 503).
    wait_for(lambda: len(sent) == 4, 30, what="four requests sent")
    g.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "shutting down" in g.logtext(), 30,
             what="gwd shutting down")
    slow.sendall(late[10:])
    got = slow.recv(65536)
    while b"\r\n\r\n" not in got:
        more = slow.recv(65536)
        assert more, got
        got += more
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 "), head
    assert b"application/problem+json" in head
    for t in threads:
        t.join(60)
    assert g.proc.wait(60) == 0
    accepted = []
    for i, a in sorted(answers.items()):
        assert isinstance(a, tuple), "request %d: %r" % (i, a)
        status, ctype, doc = a
        assert status in (202, 503), a
        if status == 202:
            accepted.append(doc["id"])
        else:
            assert ctype == "application/problem+json", a
    assert len(answers) == 4
    qids = {e["qid"] for e in g.events("action = 'received'")}
    assert set(accepted) <= qids
    assert "late" not in {e["subject"] for e in g.events(
        "action = 'received'")}
