"""log.retention_days: gwd prunes old events, in small batches, while it
keeps logging; the full-text index stays consistent and ids never come
back."""
import smtplib
import sqlite3
import os
import time

from conftest import client_tls_context, smarthost, wait_for

DAY_US = 86400 * 1000000


def send(g, subject):
    msg = ("From: <app@example.com>\r\nSubject: %s\r\n\r\nhi\r\n" % subject).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["u@dest.test"], msg)


def test_old_events_pruned_recent_kept(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink), settings={"log.retention_days": 2}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, "recent")
    sink.wait_count(1)
    wait_for(lambda: g.events("action='delivered'"), what="delivered event")
    # 1200 events from three days ago, indexed as gwd indexes them.
    now = int(time.time() * 1000000)
    db = sqlite3.connect(os.path.join(g.state, "log.db"), timeout=30)
    with db:
        for i in range(1200):
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

    def remaining():
        with sqlite3.connect("file:%s?mode=ro" % os.path.join(g.state, "log.db"),
                             uri=True, timeout=30) as c:
            return c.execute("SELECT count(*) FROM event WHERE sender = "
                             "'old@example.com'").fetchone()[0]
    # Batches of 500, a few a second: gone within seconds, not at once.
    wait_for(lambda: remaining() == 0, 30, what="old events pruned")
    with sqlite3.connect(os.path.join(g.state, "log.db"), timeout=30) as c:
        c.execute("INSERT INTO event_fts (event_fts) VALUES ('integrity-check')")
        assert c.execute("SELECT count(*) FROM event_rcpt WHERE qid LIKE "
                         "'OLD%'").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM event_fts WHERE event_fts "
                         "MATCH 'old'").fetchone()[0] == 0
    # The recent message is all still there, and new ids go on upwards.
    assert g.events("subject='recent'")
    send(g, "after")
    ev = wait_for(lambda: g.events("subject='after'"), what="new event")
    assert ev[0]["id"] > max_old
