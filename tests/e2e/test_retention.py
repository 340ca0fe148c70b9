"""log.retention_days: gwd prunes old events, in short transactions,
while it keeps logging; the full-text index stays consistent and ids
never come back."""
import re
import smtplib
import sqlite3
import os
import time

from conftest import client_tls_context, free_port, smarthost, wait_for
from test_metrics import prometheus

DAY_US = 86400 * 1000000


def send(g, subject):
    msg = ("From: <app@example.com>\r\nSubject: %s\r\n\r\nhi\r\n" % subject).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["u@dest.test"], msg)


def add_old_events(g, n):
    """n events from three days ago, indexed as gwd indexes them, in one
    transaction; the highest id."""
    now = int(time.time() * 1000000)
    db = sqlite3.connect(os.path.join(g.state, "log.db"), timeout=30)
    with db:
        for i in range(n):
            cur = db.execute(
                "INSERT INTO event (ts, qid, action, sender, recipient, subject)"
                " VALUES (?, ?, 'delivered', 'old@example.com', ?, 'old mail')",
                (now - 3 * DAY_US + i, "OLD%05d" % (i // 3), "r%d@dest.test" % i))
            db.execute("INSERT INTO event_fts (rowid, sender, recipient, subject)"
                       " VALUES (?, 'old@example.com', ?, 'old mail')",
                       (cur.lastrowid, "r%d@dest.test" % i))
            db.execute("INSERT INTO event_rcpt (qid, address) VALUES (?, ?)",
                       ("OLD%05d" % (i // 3), "r%d@dest.test" % i))
    max_old = db.execute("SELECT max(id) FROM event").fetchone()[0]
    db.close()
    return max_old


def remaining(g):
    with sqlite3.connect("file:%s?mode=ro" % os.path.join(g.state, "log.db"),
                         uri=True, timeout=30) as c:
        return c.execute("SELECT count(*) FROM event WHERE sender = "
                         "'old@example.com'").fetchone()[0]


def check_consistent(g):
    """The full-text index agrees with the table; no old row is left."""
    with sqlite3.connect(os.path.join(g.state, "log.db"), timeout=30) as c:
        c.execute("INSERT INTO event_fts (event_fts) VALUES ('integrity-check')")
        assert c.execute("SELECT count(*) FROM event_rcpt WHERE qid LIKE "
                         "'OLD%'").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM event_fts WHERE event_fts "
                         "MATCH 'old'").fetchone()[0] == 0


def test_old_events_pruned_recent_kept(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink), settings={"log.retention_days": 2}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, "recent")
    sink.wait_count(1)
    wait_for(lambda: g.events("action='delivered'"), what="delivered event")
    max_old = add_old_events(g, 1200)
    # Short transactions, one after another: gone within seconds.
    wait_for(lambda: remaining(g) == 0, 30, what="old events pruned")
    check_consistent(g)
    # The recent message is all still there, and new ids go on upwards.
    assert g.events("subject='recent'")
    send(g, "after")
    ev = wait_for(lambda: g.events("subject='after'"), what="new event")
    assert ev[0]["id"] > max_old


def test_backlog_cleared_in_one_pass(gw_factory, sink):
    # 6000 events past the cutoff: twelve of the old 500-event batches,
    # three of its passes (2000 a second at most).  gwd prunes them in
    # one pass, transaction after transaction, without waiting for the
    # next second in between (issue 21 item 7).
    port = free_port()
    g = gw_factory(relay=smarthost(sink), settings={"log.retention_days": 2},
                   extra='metrics = { listen = "127.0.0.1:%d"; };' % port).start()
    wait_for(lambda: "ready:" in g.logtext(), what="gwd ready (log.db made)")
    add_old_events(g, 6000)
    wait_for(lambda: remaining(g) == 0, 120, what="old events pruned")
    check_consistent(g)
    passes = wait_for(lambda: [int(n) for n in re.findall(
        r"retention pass: (\d+) events in \d+ transactions", g.logtext())],
        what="the pass reported")
    assert passes == [6000], passes
    # Said while it was behind (a day past the cutoff), and when done.
    text = g.logtext()
    assert "log.db: retention is behind: the oldest event is" in text
    assert "log.db: retention caught up" in text
    m = prometheus(port)
    assert m["gw_log_pruned_total"] == 6000
    # gwd's own start-up events are all that is left: seconds old.
    assert m["gw_log_oldest_event_age_seconds"] < 2 * 86400
