"""A deep queue across a restart (issue 21 item 8, issue 16 "Memory").

gwd reads its queue from queue.db a slice at a time after a start and
accepts and delivers mail meanwhile.  The test holds the reading part of
the way through (GW_TEST_LOAD_PAUSE=N:PATH: after N messages, while PATH
exists) and checks, while messages are still on disk only:

- a new message is accepted and delivered;
- the messages already read and due are delivered;
- gwctl acts on messages not read yet: show (headers and Message-ID from
  queue.db), hold, delete, bounce (a DSN with the original's headers);
  the whole queue's actions (ALL) are refused until the end, and `queue
  list` says how many are not listed yet;

then lets the reading finish: every message is delivered exactly once,
but the deleted and bounced ones, which never are.  A few thousand
messages; no timing is asserted (bench/queue measures it).
"""
import os
import re
import smtplib
import sqlite3
import threading

from conftest import control, smarthost, wait_for
from test_diskfull import sink_counts

NMSG = 3000
THREADS = 4
PAUSE_AT = 1000


def stats(g):
    return {k: int(v) for k, v in (l.split() for l in control(g, "stats").splitlines())}


def fill(g, n):
    """n messages over THREADS connections; their Message-IDs, in order."""
    mids = ["<bq.%d@example.com>" % i for i in range(n)]

    def send(part):
        with smtplib.SMTP("127.0.0.1", g.ports["plain"], timeout=60) as s:
            for i in part:
                s.sendmail("app@example.com", ["u%d@dest.test" % i],
                           ("From: app@example.com\r\nMessage-ID: %s\r\n"
                            "Subject: deep %d\r\n\r\nqueued\r\n"
                            % (mids[i], i)).encode())

    threads = [threading.Thread(target=send, args=(range(k, n, THREADS),))
               for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return mids


def unread(g, n):
    """The queue ids of the last n messages by arrival: read last."""
    with g.db("queue.db") as c:
        return [r[0] for r in c.execute(
            "SELECT qid FROM message ORDER BY received DESC, id DESC LIMIT ?",
            (n,))]


def test_restart_while_the_queue_is_read(gw_factory, sink):
    # The destination is down (451 to every recipient) while the queue
    # fills; each message is tried once and waits an hour.
    sink.rcpt_reply = lambda addr: "451 4.3.0 try later"
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "1h", "queue.retry_max": "1h",
                             "relay.connections": 4})
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("subaccount", "allow-ip", "app", "127.0.0.1")
    mids = fill(g, NMSG)
    wait_for(lambda: stats(g)["queue_deferred"] == NMSG, 120,
             what="every message deferred once")
    assert g.stop() == 0

    # An hour passes (their retries are due) and the destination is back.
    with sqlite3.connect(os.path.join(g.state, "queue.db")) as c:
        c.execute("UPDATE recipient SET next_attempt = 0")
    sink.rcpt_reply = None
    show_qid, hold_qid, delete_qid, bounce_qid = unread(g, 4)
    mid_of = {}
    with g.db("queue.db") as c:
        for qid, mid in c.execute("SELECT qid, message_id FROM message"):
            mid_of[qid] = mid
    gate = os.path.join(g.dir, "load-gate")
    open(gate, "w").close()
    g.start(env={"GW_TEST_LOAD_PAUSE": "%d:%s" % (PAUSE_AT, gate)})
    wait_for(lambda: "queue loading paused after %d messages" % PAUSE_AT
             in g.logtext(), 60, what="the reading paused")
    assert stats(g)["queue_loading"] == NMSG - PAUSE_AT

    # What was read is delivered; so is a new message.
    with smtplib.SMTP("127.0.0.1", g.ports["plain"], timeout=60) as s:
        s.sendmail("app@example.com", ["new@dest.test"],
                   b"From: app@example.com\r\nMessage-ID: <bq.new@example.com>"
                   b"\r\nSubject: new\r\n\r\nnew\r\n")
    wait_for(lambda: "<bq.new@example.com>" in sink_counts(sink), 60,
             what="the new message delivered")
    wait_for(lambda: len(sink.messages) >= PAUSE_AT + 1, 120,
             what="the messages read delivered")
    assert stats(g)["queue_loading"] == NMSG - PAUSE_AT

    # gwctl on messages not read yet.
    out = g.gwctl("queue", "show", show_qid).stdout
    assert "Message-ID:  %s" % mid_of[show_qid] in out, out
    assert re.search(r"Subject: deep \d+", out), out
    r = g.gwctl("queue", "hold", hold_qid)
    assert r.returncode == 0, r.stderr
    r = g.gwctl("queue", "delete", delete_qid)
    assert r.returncode == 0, r.stderr
    r = g.gwctl("queue", "bounce", bounce_qid)
    assert r.returncode == 0, r.stderr
    r = g.gwctl("queue", "flush", check=False)
    assert r.returncode == 65 and "still reading its queue" in r.stderr, r
    r = g.gwctl("queue", "list", check=False)
    assert "more messages are not listed" in r.stderr, r.stderr
    assert hold_qid in r.stdout and "!" in r.stdout     # held, read now
    assert stats(g)["queue_loading"] == NMSG - PAUSE_AT - 4
    assert stats(g)["queue_held_messages"] == 1

    # The rest is read, and delivered; the held one once released.
    os.unlink(gate)
    wait_for(lambda: stats(g)["queue_loading"] == 0, 60, what="queue read")
    assert "queue loaded: messages=%d " % NMSG in g.logtext()
    g.gwctl("queue", "release", hold_qid)
    wait_for(lambda: g.queue_count() == 0, 180, what="queue drained")
    counts = sink_counts(sink)
    dsns = [m for m in sink.messages if m.mail_from == ""]
    assert len(dsns) == 1
    assert mid_of[bounce_qid].encode() in dsns[0].data    # the original's
    assert b"Subject: deep " in dsns[0].data              # headers
    expected = {m: 1 for m in mids + ["<bq.new@example.com>"]
                if m not in (mid_of[delete_qid], mid_of[bounce_qid])}
    del counts[re.search(rb"(?m)^Message-ID: (<[^>]+>)", dsns[0].data)
               .group(1).decode()]
    assert counts == expected
    assert g.stop() == 0
    delivered = g.events("action='delivered'")
    assert len(delivered) == NMSG - 2 + 1 + 1      # and the DSN
    assert len({e["qid"] for e in delivered}) == len(delivered)
