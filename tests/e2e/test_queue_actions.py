"""gwctl queue: list, show, flush, hold, release, delete, bounce through
gwd's control socket, against a real sink that defers (451) until told
to accept, and a real DNS for the bounce's DSN."""
import json
import os
import smtplib
import threading
import time

import pytest

from conftest import Sink, client_tls_context, smarthost, wait_for
from test_metrics import control, prometheus, stats

SLOW_RETRY = {"queue.retry_min": "10m", "queue.retry_max": "1h"}


def send(g, rcpts, subject, frm="app@example.com"):
    msg = ("From: <%s>\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n"
           % (frm, ", ".join(rcpts), subject)).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail(frm, rcpts, msg)


def deferring(sink):
    """The sink answers 451 until sink.accept is set."""
    sink.accept = False
    sink.data_reply = lambda m: None if sink.accept else "451 4.3.0 try later"
    return sink


def listing(g, *args):
    out = g.gwctl("queue", "list", "--format", "json", *args).stdout
    return [json.loads(l) for l in out.splitlines()]


def qid_of(g, subject):
    ev = wait_for(lambda: g.events("action='received' AND subject=?", (subject,)),
                  what="received %s" % subject)
    return ev[0]["qid"]


def deferred(g, n):
    wait_for(lambda: len(g.events("action='deferred'")) >= n, what="%d deferred" % n)


def subjects(sink):
    return sorted(m.headers.decode().split("Subject: ")[1].split("\r\n")[0]
                  for m in sink.messages if m.mail_from)


@pytest.fixture
def gw(gw_factory, sink):
    deferring(sink)
    g = gw_factory(relay=smarthost(sink), settings=SLOW_RETRY).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def test_list_hold_survives_restart_release_flush(gw, sink):
    send(gw, ["u1@dest.test", "u2@other.test"], "two-rcpts")
    send(gw, ["u3@dest.test"], "one-rcpt")
    a, b = qid_of(gw, "two-rcpts"), qid_of(gw, "one-rcpt")
    deferred(gw, 3)

    msgs = {m["queue_id"]: m for m in listing(gw)}
    assert set(msgs) == {a, b}
    assert msgs[a]["sender"] == "app@example.com" and msgs[a]["subaccount"] == "app"
    assert msgs[a]["message_size"] > 0 and msgs[a]["arrival_time"] > 1.7e9
    assert [r["address"] for r in msgs[a]["recipients"]] == ["u1@dest.test", "u2@other.test"]
    for r in msgs[a]["recipients"] + msgs[b]["recipients"]:
        assert r["state"] == "deferred" and r["attempts"] == 1
        assert r["delay_reason"].startswith("451 4.3.0 ")
        assert r["delay_reason"].endswith("try later")
    assert [m["queue_id"] for m in listing(gw, "--domain", "OTHER.test")] == [a]
    assert listing(gw, "--subaccount", "nobody") == []
    table = gw.gwctl("queue", "list").stdout
    assert table.splitlines()[0].split()[:4] == ["QUEUE", "ID", "SIZE", "ARRIVAL"]
    assert a in table and b in table and "u2@other.test" in table and "451 4.3.0" in table
    assert "-- 2 messages, 3 recipients, 0 held" in table

    r = gw.gwctl("queue", "hold", a)
    assert r.stdout == "" and "held 1 message" in r.stderr
    assert listing(gw)[0]["held"] is True
    assert (a + "!") in gw.gwctl("queue", "list").stdout
    st = stats(gw)
    assert st["queue_held"] == 2 and st["queue_held_messages"] == 1
    assert st["queue_deferred"] == 1 and st["queue_recipients"] == 3
    ev = wait_for(lambda: gw.events("action='held'"), what="held event")
    assert ev[0]["qid"] == a and "admin" in ev[0]["detail"]

    # The destination recovers; a flush of everything sends only b.
    sink.accept = True
    r = gw.gwctl("queue", "flush")
    assert "flushed 1 message" in r.stderr
    sink.wait_count(1)
    time.sleep(1.0)
    assert subjects(sink) == ["one-rcpt"]
    assert gw.events("action='flushed'")[0]["qid"] == b

    # The hold survives a restart: still held, still not attempted.
    gw.stop()
    gw.start()
    msgs = listing(gw)
    assert [m["queue_id"] for m in msgs] == [a] and msgs[0]["held"] is True
    assert [r["state"] for r in msgs[0]["recipients"]] == ["held", "held"]
    r = gw.gwctl("queue", "flush", a)
    assert "held (release it first)" in r.stderr and "flushed 0 messages" in r.stderr
    time.sleep(1.0)
    assert subjects(sink) == ["one-rcpt"]
    assert stats(gw)["queue_held_messages"] == 1

    r = gw.gwctl("queue", "release", a)
    assert "released 1 message" in r.stderr
    # Released onto its retry schedule (10 minutes away): flush sends it.
    assert [r["state"] for r in listing(gw)[0]["recipients"]] == ["deferred"] * 2
    gw.gwctl("queue", "flush", a)
    sink.wait_count(2)
    assert subjects(sink) == ["one-rcpt", "two-rcpts"]
    wait_for(lambda: gw.queue_count() == 0, what="queue empty")
    assert stats(gw)["queue_held"] == 0
    # The store thread copies the events into log.db after queue.db's
    # commit (the empty queue above): wait for the delivery's.
    wait_for(lambda: gw.events("action='delivered' AND qid=?", (a,)),
             what="the delivery in log.db")
    actions = [e["action"] for e in gw.events("qid=?", (a,))]
    assert actions.index("held") < actions.index("released") < actions.index("delivered")


def test_hold_and_delete_during_an_attempt(gw, sink):
    gate = threading.Event()

    def slow(m):
        gate.wait(20)           # the attempt is under way meanwhile
        return None if sink.accept else "451 4.3.0 try later"
    sink.data_reply = slow
    send(gw, ["u1@dest.test"], "in-flight")
    a = qid_of(gw, "in-flight")
    wait_for(lambda: sink.attempts == 1, what="attempt under way")
    r = gw.gwctl("queue", "delete", a, check=False)
    assert r.returncode == 75 and "%s being delivered now" % a in r.stderr
    r = gw.gwctl("queue", "bounce", "ALL", check=False)
    assert r.returncode == 75 and "bounced 0 messages" in r.stderr
    r = gw.gwctl("queue", "hold", a)
    assert "held 1 message" in r.stderr
    assert "%s recipients in delivery now finish their attempt" % a in r.stderr
    m = listing(gw)[0]
    assert m["held"] is True and m["recipients"][0]["state"] == "active"
    gate.set()
    # The attempt ends deferred: the recipient waits held, not for a retry.
    deferred(gw, 1)
    wait_for(lambda: listing(gw)[0]["recipients"][0]["state"] == "held",
             what="held after the attempt")
    assert stats(gw)["queue_held"] == 1 and stats(gw)["queue_deferred"] == 0
    sink.accept = True
    gw.gwctl("queue", "flush", "ALL")
    time.sleep(1.0)
    assert sink.messages == [] and sink.attempts == 1
    gw.gwctl("queue", "release", a)
    gw.gwctl("queue", "flush", a)
    sink.wait_count(1)
    assert subjects(sink) == ["in-flight"]


def test_held_gauges_in_prometheus(gw_factory, sink):
    deferring(sink)
    port = __import__("conftest").free_port()
    g = gw_factory(relay=smarthost(sink), settings=SLOW_RETRY,
                   extra='metrics = { listen = "127.0.0.1:%d"; };' % port).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["u1@dest.test", "u2@dest.test"], "gauged")
    send(g, ["u3@dest.test"], "other")
    deferred(g, 3)
    g.gwctl("queue", "hold", qid_of(g, "gauged"))
    m = prometheus(port)
    assert m["gw_queue_held"] == 1
    assert m['gw_queue_recipients{state="held"}'] == 2
    assert m['gw_queue_recipients{state="deferred"}'] == 1
    assert m['gw_queue_recipients{state="ready"}'] == 0
    # No "all" series beside the states: their sum is the whole queue.
    assert sum(v for k, v in m.items()
               if k.startswith("gw_queue_recipients{")) == 3


def test_show(gw, sink):
    send(gw, ["u1@dest.test"], "show-me")
    a = qid_of(gw, "show-me")
    deferred(gw, 1)
    out = gw.gwctl("queue", "show", a).stdout
    assert out.startswith("Message %s\n" % a)
    assert "Sender:      app@example.com" in out
    assert "Subject: show-me" in out.split("Headers\n")[1].split("Recipients\n")[0]
    rc = out.split("Recipients\n")[1].split("History\n")[0]
    assert "u1@dest.test  deferred, next attempt 20" in rc and "1 attempt (451 4.3.0" in rc
    hist = out.split("History\n")[1]
    assert "received" in hist and "deferred" in hist and "451" in hist
    gw.gwctl("queue", "hold", a)
    out = gw.gwctl("queue", "show", a).stdout
    assert "held (never attempted until released)" in out
    assert "held, not attempted until released" in out
    assert "held by admin" in out.split("History\n")[1]


def test_delete_is_never_delivered(gw, sink):
    send(gw, ["u1@dest.test", "u2@dest.test"], "doomed")
    send(gw, ["u3@dest.test"], "keeper")
    a, b = qid_of(gw, "doomed"), qid_of(gw, "keeper")
    deferred(gw, 3)
    r = gw.gwctl("queue", "delete", a)
    assert "deleted 1 message" in r.stderr
    assert [m["queue_id"] for m in listing(gw)] == [b]
    with gw.db("queue.db") as c:
        assert c.execute("SELECT count(*) FROM message WHERE qid=?", (a,)).fetchone()[0] == 0
    ev = wait_for(lambda: gw.events("action='deleted'"), what="deleted events")
    assert sorted(e["recipient"] for e in ev) == ["u1@dest.test", "u2@dest.test"]
    assert all(e["qid"] == a and "deleted by admin" in e["detail"] for e in ev)
    sink.accept = True
    gw.gwctl("queue", "flush", "ALL")
    sink.wait_count(1)
    time.sleep(1.0)
    assert subjects(sink) == ["keeper"]
    assert not any(m.mail_from == "" for m in sink.messages)      # no DSN
    r = gw.gwctl("queue", "delete", a, check=False)
    assert r.returncode == 65 and "queue id %s: not in the queue" % a in r.stderr
    # gwsearch tells the admin's deletion as each recipient's end.
    out = gw.tool("gwsearch", "show", a).stdout
    att = out[out.index("Attempts"):out.index("Final state")]
    assert "deleted" in att and "deleted by admin without delivery" in att
    final = out[out.index("Final state"):]
    assert "u1@dest.test" in final and "deleted" in final and "deferred" not in final


def test_bounce_sends_a_dsn_to_the_sender(gw_factory, dns):
    # Two real sinks: the recipient's MX defers, the sender's takes the DSN.
    dest = deferring(Sink(host="127.0.0.2"))
    home = Sink(host="127.0.0.3", port=dest.port)
    try:
        dns.add("dest.test", "MX", (10, "mx.dest.test"))
        dns.add("mx.dest.test", "A", "127.0.0.2")
        dns.add("example.com", "MX", (10, "mx.example.com"))
        dns.add("mx.example.com", "A", "127.0.0.3")
        s = dict(SLOW_RETRY)
        s["relay.mx_port"] = dest.port
        g = gw_factory(relay={"mode": "mx"}, dns=dns, settings=s).start()
        g.add_subaccount("app", "example.com", "s3cret-pass")
        send(g, ["u1@dest.test"], "return-me")
        a = qid_of(g, "return-me")
        deferred(g, 1)
        r = g.gwctl("queue", "bounce", a)
        assert "bounced 1 message" in r.stderr
        d = home.wait_count(1)[0]
        assert d.mail_from == "" and d.rcpt_tos == ["app@example.com"]
        text = d.data.decode().replace("\r\n ", " ")     # unfolded
        assert "Final-Recipient: rfc822; u1@dest.test" in text
        assert "Action: failed" in text and "Status: 5.0.0" in text
        # gw's words, not the remote's: no smtp Diagnostic-Code.
        assert ("X-Gw-Diagnostic: returned to the sender by the administrator;"
                " last error: 451 4.3.0 mx.dest.test said: try later") in text
        assert "Diagnostic-Code:" not in text
        assert "Subject: return-me" in text
        ev = wait_for(lambda: g.events("action='bounced'"), what="bounced")
        assert ev[0]["qid"] == a and ev[0]["recipient"] == "u1@dest.test"
        assert "bounced by admin" in ev[0]["detail"]
        assert g.events("action='dsn' AND qid=?", (a,))
        wait_for(lambda: g.queue_count() == 0, what="queue empty")
        assert dest.messages == []
    finally:
        home.stop()
        dest.stop()


def test_bounce_never_answers_the_null_sender(gw, sink):
    msg = b"From: <app@example.com>\r\nSubject: auto-reply\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("", ["u1@dest.test"], msg)
    a = qid_of(gw, "auto-reply")
    deferred(gw, 1)
    sink.accept = True
    r = gw.gwctl("queue", "bounce", a)
    assert "bounced 1 message" in r.stderr
    assert "%s no DSN: the null sender" % a in r.stderr
    wait_for(lambda: gw.events("action='bounced'"), what="bounced")
    wait_for(lambda: gw.queue_count() == 0, what="queue empty")
    time.sleep(1.0)
    assert sink.messages == [] and gw.events("action='dsn'") == []


def test_stdin_and_ALL(gw, sink):
    for i in range(3):
        send(gw, ["u%d@dest.test" % i], "bulk%d" % i)
    deferred(gw, 3)
    ids = [m["queue_id"] for m in listing(gw)]
    assert len(ids) == 3
    r = gw.gwctl("queue", "hold", "-", input="%s\n\n  %s  \n" % (ids[0], ids[1]))
    assert "held 2 messages" in r.stderr
    assert [m["held"] for m in listing(gw)] == [True, True, False]
    r = gw.gwctl("queue", "release", "ALL")
    assert "released 2 messages (unchanged: 1)" in r.stderr
    r = gw.gwctl("queue", "hold", "ALL")
    assert "held 3 messages" in r.stderr
    assert stats(gw)["queue_held_messages"] == 3
    r = gw.gwctl("queue", "delete", "ALL")
    assert "deleted 3 messages" in r.stderr
    assert gw.gwctl("queue", "list").stdout == "queue is empty\n"
    assert gw.gwctl("queue", "list", "--format", "json").stdout == ""
    wait_for(lambda: gw.queue_count() == 0, what="queue.db empty")
    assert stats(gw)["queue_held_messages"] == 0 and stats(gw)["queue_messages"] == 0


def test_bad_ids_are_named(gw, sink):
    send(gw, ["u1@dest.test"], "real")
    a = qid_of(gw, "real")
    ghost = "0000000000000001"
    r = gw.gwctl("queue", "hold", a, ghost, check=False)
    assert r.returncode == 65
    assert "queue id %s: not in the queue" % ghost in r.stderr
    assert "held 1 message" in r.stderr
    r = gw.gwctl("queue", "release", "xyz", check=False)
    assert r.returncode == 65 and '"xyz" is not a queue id' in r.stderr
    r = gw.gwctl("queue", "delete", "all", check=False)
    assert r.returncode == 65 and "ALL must be upper case" in r.stderr
    r = gw.gwctl("queue", "delete", "ALL", a, check=False)
    assert r.returncode == 64 and "ALL stands alone" in r.stderr
    gw.gwctl("queue", "release", a)
    # Every id is checked before any is sent: a typo stops the lot.
    r = gw.gwctl("queue", "hold", "-", input="%s\nnot-an-id\n" % a, check=False)
    assert r.returncode == 65 and '"not-an-id" is not a queue id' in r.stderr
    assert listing(gw)[0]["held"] is False
    r = gw.gwctl("queue", "hold", "-", input="%s\nALL\n" % a, check=False)
    assert r.returncode == 65 and "ALL stands alone on the command line" in r.stderr
    # More ids than one request carries: sent in turns, each answered.
    ghosts = ["%016X" % (i + 1) for i in range(149)]
    r = gw.gwctl("queue", "hold", "-", input="\n".join(ghosts + [a]) + "\n",
                 check=False)
    assert r.returncode == 65 and "held 1 message" in r.stderr
    assert r.stderr.count("not in the queue") == 149
    assert "queue id %s: not in the queue" % ghosts[-1] in r.stderr
    r = gw.gwctl("queue", "show", ghost, check=False)
    assert r.returncode == 65 and ghost in r.stderr
    assert len(listing(gw)) == 1


def test_in_the_shell(gw, sink):
    send(gw, ["u1@dest.test"], "shell")
    a = qid_of(gw, "shell")
    r = gw.gwctl("shell", input="que l --format json\nqueue ho %s\nqueue hold -\n"
                 "queue show %s\n" % (a, a), check=False)
    assert json.loads(r.stdout.splitlines()[0])["queue_id"] == a
    assert "held 1 message" in r.stderr
    assert "not in the shell" in r.stderr
    assert "held (never attempted until released)" in r.stdout
    assert "\n  \tby gw.test (gw)" in r.stdout            # folded header kept
    assert "queue" in gw.gwctl("help").stdout


def test_shell_completes_queue_ids(gw, sink):
    from test_gwctl import pty_session
    send(gw, ["u1@dest.test"], "completed")
    a = qid_of(gw, "completed")
    # "queue ho" TAB, then the id's first digits TAB: the rest is filled in.
    out = pty_session(gw, ["queue ho\t", a[:4] + "\t", "\r", "queue release \t",
                           "\x15", "quit\r"])
    assert "held 1 message" in out and a[4:] in out   # the id was completed
    assert "ALL  %s" % a in out                        # both candidates listed
    assert listing(gw)[0]["held"] is True


def test_raw_protocol_refusals(gw):
    assert control(gw, "queue").startswith("error queue: missing verb")
    assert control(gw, "queue hold") == "error hold: which messages? (queue ids or ALL)\n"
    assert "write ALL in upper case" in control(gw, "queue delete all")
    assert control(gw, "queue list") == "end\n"
    assert control(gw, "queue show 0000000000000001") == "unknown 0000000000000001\nend\n"
    assert control(gw, "queue flush") == "end\n"
    assert "queue" in control(gw, "frobnicate")


def test_gwd_down_is_said(gw):
    gw.stop()
    r = gw.gwctl("queue", "list", check=False)
    assert r.returncode == 69
    assert "gwd is not running" in r.stderr and os.path.join(gw.state, "control") in r.stderr
    r = gw.gwctl("queue", "hold", "ALL", check=False)
    assert r.returncode == 69 and "gwd is not running" in r.stderr
