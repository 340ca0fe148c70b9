"""Audit events are committed with the change they report (issue 21,
item 2): a kill -9 between queue.db's commit and log.db's loses none,
and moving the outbox again after a restart doubles none.

The kill points are gwd's own test hook (GW_TEST_ABORT_AT, store.c):
gwd kills itself with SIGKILL at that point of the first batch holding a
`delivered` event, so the crash always falls between the two commits.
"""
import os
import smtplib
import sqlite3

from conftest import client_tls_context, smarthost, wait_for


def submit(g, n, tag, body="hi\r\n"):
    """n messages to u0..u<n-1>@dest.test; their Message-IDs."""
    ids = []
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        for i in range(n):
            mid = "<%s.%d@example.com>" % (tag, i)
            s.sendmail("app@example.com", ["u%d@dest.test" % i],
                       ("From: app@example.com\r\nMessage-ID: %s\r\n"
                        "Subject: %s %d\r\n\r\n%s" % (mid, tag, i, body)).encode())
            ids.append(mid)
    return ids


def killed_at(gw_factory, sink, point):
    """Queue 5 messages (deferred once), then let them be delivered with
    gwd set to die at `point` of the first delivery's batch; restart it
    and drain.  Returns the gwd."""
    sink.data_reply = lambda m: "451 4.3.0 later"
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "1s", "queue.retry_max": "1s"})
    g.start(env={"GW_TEST_ABORT_AT": point + ":delivered"})
    g.add_subaccount("app", "example.com", "s3cret-pass")
    submit(g, 5, point)
    wait_for(lambda: len({e["qid"] for e in g.events("action='deferred'")}) == 5,
             what="every message deferred once")
    sink.data_reply = None
    g.proc.wait(30)
    assert g.proc.returncode == -9, g.logtext()[-2000:]
    g.logf.close()
    assert "GW_TEST_ABORT_AT: killing gwd" in g.logtext()
    g.start()
    wait_for(lambda: g.queue_count() == 0, 30, what="queue drained")
    return g


def check_every_event(g):
    """Each message: one received, one or more delivered (one per copy
    the sink got), no event twice, the outbox empty after a stop."""
    assert g.stop() == 0
    with g.db("log.db") as c:
        qids = [r[0] for r in c.execute(
            "SELECT qid FROM event WHERE action = 'received'")]
        delivered = [r[0] for r in c.execute(
            "SELECT qid FROM event WHERE action = 'delivered'")]
        rows = c.execute("SELECT count(*) FROM event").fetchone()[0]
        distinct = c.execute(
            "SELECT count(*) FROM (SELECT DISTINCT ts, qid, action, "
            "recipient, detail FROM event)").fetchone()[0]
    assert len(qids) == 5 and len(set(qids)) == 5
    assert set(delivered) == set(qids), (qids, delivered)
    assert rows == distinct            # nothing written twice
    with g.db("queue.db") as c:
        assert c.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    # The full-text index has exactly the rows it should.
    c = sqlite3.connect(os.path.join(g.state, "log.db"))
    try:
        c.execute("INSERT INTO event_fts (event_fts) VALUES ('integrity-check')")
    finally:
        c.close()


def test_kill_between_queue_and_log_commits_loses_no_event(gw_factory, sink):
    g = killed_at(gw_factory, sink, "after-queue-commit")
    check_every_event(g)


def test_outbox_moved_again_after_a_kill_doubles_nothing(gw_factory, sink):
    g = killed_at(gw_factory, sink, "after-log-commit")
    check_every_event(g)


def test_event_ids_go_on_from_log_db(gw_factory, sink):
    """A queue.db younger than log.db (an admin started a new spool)
    never hands out an event id log.db has used: export cursors hold."""
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    submit(g, 3, "old")
    wait_for(lambda: g.queue_count() == 0 and
             len(g.events("action='delivered'")) == 3, what="delivered")
    assert g.stop() == 0
    with g.db("log.db") as c:
        top = c.execute("SELECT max(id) FROM event").fetchone()[0]
    for f in ("queue.db", "queue.db-wal", "queue.db-shm"):
        if os.path.exists(os.path.join(g.state, f)):
            os.unlink(os.path.join(g.state, f))
    g.start()
    submit(g, 2, "new")
    wait_for(lambda: len(g.events("action='delivered'")) == 5, what="delivered")
    new = g.events("id > ?", (top,))
    assert {e["message_id"] for e in new if e["action"] == "received"} == \
        {"<new.0@example.com>", "<new.1@example.com>"}
    assert all(e["qid"] not in {o["qid"] for o in g.events("id <= ?", (top,))}
               for e in new if e["qid"])
