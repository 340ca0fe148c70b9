"""Alerts (issue 13): a bounce rate over its threshold fires once, by mail
through gw itself, Slack's JSON and PagerDuty's Events v2 to a real HTTP
receiver, as an audit event, in /metrics and in the control socket's
stats; it resolves once, with the same dedup_key, even across a restart;
a volume spike of one subaccount fires the anomaly alert and throttles
it (451 4.7.1) until `gwctl subaccount resume`."""
import json
import smtplib
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (client_tls_context, control, control_stats, free_port,
                      smarthost, wait_for)


class Receiver:
    """A real HTTP server on loopback keeping every POST: (path, JSON)."""

    def __init__(self):
        self.posts = []
        self.fail = 0             # answer this many POSTs 500 first
        self.lock = threading.Lock()
        rcv = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rcv.lock:
                    rcv.posts.append((self.path, self.headers.get(
                        "Content-Type"), json.loads(body)))
                    failing = rcv.fail > 0
                    rcv.fail -= failing
                code = 500 if failing else 202 if self.path == "/pd" else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path):
        with self.lock:
            return [p[2] for p in self.posts if p[0] == path]

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def send(g, rcpts, n=1, sub="app"):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login(sub, "s3cret-pass")
        for i in range(n):
            s.sendmail("app@example.com", rcpts, (
                "From: <app@example.com>\r\nSubject: m%d\r\n\r\nhi\r\n"
                % i).encode())


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
    return None


def header(m, name):
    """A header of a message at the sink (unfolded), or None."""
    import email
    return email.message_from_bytes(m.data)[name]


def notices(sink, word):
    """The alert mails at the sink whose Subject says word."""
    return [m for m in sink.messages if m.rcpt_tos == ["ops@alerts.test"]
            and ("gw alert bounces %s" % word) in header(m, "Subject")]


def test_bounce_rate_fires_and_resolves_once(gw_factory, sink, receiver):
    mport = free_port()
    sink.rcpt_reply = lambda a: ("550 5.1.1 no such user"
                                 if a.startswith("nobody") else None)
    g = gw_factory(relay=smarthost(sink), settings={
        "alerts.interval": "100ms", "alerts.window": "10m",
        "alerts.min_outcomes": 5, "alerts.sender": "gw-alerts@example.com",
        "alerts.pagerduty_url": "http://127.0.0.1:%d/pd" % receiver.port,
    }, extra='metrics = { listen = "127.0.0.1:%d"; };' % mport).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("alert", "add", "bounces", "--metric", "bounce_rate",
            "--above", "30", "--for", "1s",
            "--notify", "mailto:ops@alerts.test",
            "--notify", "http://127.0.0.1:%d/slack" % receiver.port,
            "--notify", "pagerduty:R0UTINGKEY1")
    out = g.gwctl("alert", "list", "--format", "json").stdout
    row = json.loads(out)
    assert row["metric"] == "bounce_rate" and row["above"] == 30
    assert row["notify"][2] == "pagerduty:R0UTINGKEY1"
    wait_for(lambda: "gw_alert_firing" in urllib.request.urlopen(
        "http://127.0.0.1:%d/metrics" % mport, timeout=5).read().decode(),
        what="gwd loaded the alert")
    assert metric(mport, 'gw_alert_firing{alert="bounces"}') == 0

    # 4 delivered, 6 bounced: 60% > 30%.
    send(g, ["ok%d@dest.test" % i for i in range(4)])
    for i in range(6):
        send(g, ["nobody%d@dest.test" % i])
    wait_for(lambda: notices(sink, "firing"), 30, what="firing mail")
    wait_for(lambda: receiver.on("/slack") and receiver.on("/pd"), 30,
             what="firing webhooks")
    mail = notices(sink, "firing")[0]
    assert mail.mail_from == ""
    assert header(mail, "From") == "<gw-alerts@example.com>"
    assert header(mail, "Auto-Submitted") == "auto-generated"
    assert "bounce_rate of all mail is 60%" in header(mail, "Subject")
    slack = receiver.on("/slack")[0]
    assert list(slack) == ["text"] and "firing" in slack["text"]
    pd = receiver.on("/pd")[0]
    assert pd["routing_key"] == "R0UTINGKEY1"
    assert pd["event_action"] == "trigger"
    assert pd["payload"]["source"] == "gw.test"
    assert pd["payload"]["severity"] == "critical"
    assert "bounce_rate" in pd["payload"]["summary"]
    dedup = pd["dedup_key"]
    assert metric(mport, 'gw_alert_firing{alert="bounces"}') == 1
    st = control_stats(g)
    assert st["alerts_firing"] == 1 and st["alert_firing.bounces"] == 1
    # log.db is written from the event outbox, a moment after.
    ev = wait_for(lambda: g.events("action = 'alert_firing'"),
                  what="alert_firing in log.db")
    assert len(ev) == 1 and ev[0]["detail"].startswith("alert=bounces ")
    found = g.tool("gwsearch", "action:alert_firing", "--format",
                   "jsonl").stdout
    assert "bounces" in found

    # A restart neither repeats the firing nor forgets it.
    g.stop()
    g.start()
    wait_for(lambda: metric(mport, 'gw_alert_firing{alert="bounces"}') == 1,
             what="firing restored")

    # 30 delivered: 6 of 40, 15% < 27% (90% of 30): resolved.
    send(g, ["ok%d@dest.test" % i for i in range(30)])
    wait_for(lambda: notices(sink, "resolved"), 30, what="resolved mail")
    wait_for(lambda: len(receiver.on("/slack")) == 2 and
             len(receiver.on("/pd")) == 2, 30, what="resolved webhooks")
    pd2 = receiver.on("/pd")[1]
    assert pd2["event_action"] == "resolve" and pd2["dedup_key"] == dedup
    assert "resolved" in receiver.on("/slack")[1]["text"]
    assert metric(mport, 'gw_alert_firing{alert="bounces"}') == 0

    # More mail, delivered after many evaluations: no other notice.
    n = len(sink.messages)
    send(g, ["ok@dest.test"], n=3)
    sink.wait_count(n + 3)
    assert len(notices(sink, "firing")) == 1
    assert len(notices(sink, "resolved")) == 1
    assert len(receiver.on("/slack")) == 2 and len(receiver.on("/pd")) == 2
    assert len(g.events("action = 'alert_firing'")) == 1
    wait_for(lambda: g.events("action = 'alert_resolved'"),
             what="alert_resolved in log.db")
    assert len(g.events("action = 'alert_resolved'")) == 1


def test_alert_test_and_errors(gw_factory, sink, receiver):
    g = gw_factory(relay=smarthost(sink), settings={
        "alerts.pagerduty_url": "http://127.0.0.1:%d/pd" % receiver.port,
    }).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    dead = free_port()
    g.gwctl("alert", "add", "q", "--metric", "queue_depth", "--above",
            "1000", "--notify", "mailto:ops@alerts.test",
            "--notify", "http://127.0.0.1:%d/slack" % receiver.port,
            "--notify", "pagerduty:KEY2",
            "--notify", "http://127.0.0.1:%d/dead" % dead)
    wait_for(lambda: "error no alert" not in control(g, "alert test q"),
             what="gwd loaded the alert")
    r = g.gwctl("alert", "test", "q", check=False)
    assert r.returncode == 69, r.stdout + r.stderr     # one target failed
    lines = r.stdout.splitlines()
    assert "http://127.0.0.1:%d/slack HTTP 200: ok" % receiver.port in lines
    assert "pagerduty:KEY2 HTTP 202: ok" in lines
    assert any(l.startswith("http://127.0.0.1:%d/dead failed:" % dead)
               for l in lines), lines
    assert any(l.startswith("mailto:ops@alerts.test queued as ")
               for l in lines), lines
    wait_for(lambda: [m for m in sink.messages
                      if "TEST: gw alert q" in header(m, "Subject")],
             what="test mail")
    # No firing: a test is no event of the alert's.
    assert g.events("action LIKE 'alert_%'") == []

    # gwctl refuses what gwd could not use.
    for args, why in [
            (["--metric", "bounce", "--above", "1"], "--metric"),
            (["--metric", "queue_depth", "--above", "x"], "--above"),
            (["--metric", "queue_depth", "--above", "1", "--subaccount",
              "app"], "all mail only"),
            (["--metric", "volume_anomaly", "--above", "1"], "--subaccount"),
            (["--metric", "bounce_rate", "--above", "1", "--throttle"],
             "--throttle"),
            (["--metric", "bounce_rate", "--above", "1", "--notify",
              "ops@alerts.test"], "mailto:"),
            (["--metric", "bounce_rate", "--above", "1", "--notify",
              "pagerduty:"], "routing key")]:
        if "--notify" not in args:
            args = args + ["--notify", "mailto:ops@alerts.test"]
        r = g.gwctl("alert", "add", "bad", *args, check=False)
        assert r.returncode == 64 and why in r.stderr, (args, r.stderr)
    r = g.gwctl("alert", "add", "q", "--metric", "queue_depth", "--above",
                "1", "--notify", "mailto:a@b.test", check=False)
    assert r.returncode == 65 and "exists" in r.stderr
    assert g.gwctl("alert", "test", "nosuch", check=False).returncode == 67
    g.gwctl("alert", "delete", "q")
    assert g.gwctl("alert", "delete", "q", check=False).returncode == 67
    assert g.gwctl("alert", "list").stdout == ""


def mail_from(g, n):
    """n MAIL FROMs in one session (each message whole when accepted):
    the replies of the refused ones, the count accepted."""
    refused, ok = [], 0
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        for i in range(n):
            try:
                s.sendmail("app@example.com", ["x%d@dest.test" % i],
                           b"From: <app@example.com>\r\nSubject: v\r\n\r\nv\r\n")
                ok += 1
            except smtplib.SMTPSenderRefused as e:
                refused.append((e.smtp_code, e.smtp_error.decode()))
                s.rset()
    return refused, ok


def test_volume_anomaly_throttles_until_resume(gw_factory, sink, receiver):
    # Short buckets and "days" of 8 s: a real configuration, so the
    # test need not wait a week for its baseline.  A "day" is four
    # buckets: the baseline (4 and 8 buckets back) never holds the
    # spike's first messages, however slowly a sanitizer build sends.
    g = gw_factory(relay=smarthost(sink), settings={
        "alerts.interval": "100ms", "alerts.volume_bucket": "2s",
        "alerts.volume_span": "2s", "alerts.volume_period": "8s",
        "alerts.volume_days": 2, "alerts.volume_floor": 8,
    }).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("alert", "add", "spike", "--metric", "volume_anomaly",
            "--subaccount", "app", "--above", "5", "--for", "0s",
            "--throttle",
            "--notify", "http://127.0.0.1:%d/slack" % receiver.port)
    # The baseline: one message, then a quiet "day".  A restart in
    # between: the history is rebuilt from log.db, or there would be
    # none to compare with and the spike would pass.
    send(g, ["seed@dest.test"])
    g.stop()
    g.start()
    time.sleep(9)
    # The spike: far more than the usual (almost nothing) per bucket.
    refused, ok = [], 0
    for _ in range(20):
        r, n = mail_from(g, 10)
        refused += r
        ok += n
        if refused:
            break
    assert refused, "never throttled after %d messages" % ok
    code, text = refused[0]
    assert code == 451 and text.startswith("4.7.1 ") and "throttled" in text
    wait_for(lambda: receiver.on("/slack"), 30, what="anomaly webhook")
    assert "volume_anomaly of subaccount app" in receiver.on("/slack")[0][
        "text"]
    ev = wait_for(lambda: g.events("action = 'paused'"), what="paused")
    assert len(ev) == 1 and ev[0]["detail"].startswith("throttled to 8 ")
    assert len(g.events("action = 'alert_firing'")) == 1
    # Within the safe rate, mail still goes; beyond it, 451 again.
    r = g.gwctl("subaccount", "resume", "app")
    assert "resumed" in r.stderr
    refused, ok = mail_from(g, 3)
    assert refused == [] and ok == 3
    wait_for(lambda: g.events("action = 'resumed'"), what="resumed")
    assert len(g.events("action = 'resumed'")) == 1


def test_queue_depth_webhook_tried_again(gw_factory, sink, receiver):
    """A queue held back fires queue_depth; the receiver's first answer
    is 500, so the notice is posted again (the same body), once."""
    sink.gate = threading.Event()
    receiver.fail = 1
    g = gw_factory(relay=smarthost(sink), settings={
        "alerts.interval": "100ms"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("alert", "add", "backlog", "--metric", "queue_depth",
            "--above", "2", "--for", "0s",
            "--notify", "http://127.0.0.1:%d/slack" % receiver.port)
    try:
        send(g, ["r%d@dest.test" % i for i in range(3)])
        wait_for(lambda: len(receiver.on("/slack")) == 2, 30,
                 what="the notice tried again")
    finally:
        sink.gate.set()
    first, again = receiver.on("/slack")
    assert first == again and "queue_depth of all mail is 3 recipients" \
        in first["text"]
    assert "trying again" in g.logtext()
    wait_for(lambda: len(receiver.on("/slack")) == 3, 30, what="resolved")
    assert "resolved" in receiver.on("/slack")[2]["text"]
    wait_for(lambda: len(g.events("action LIKE 'alert_%'")) == 2,
             what="both events in log.db")
    assert [e["action"] for e in g.events("action LIKE 'alert_%'")] == [
        "alert_firing", "alert_resolved"]
