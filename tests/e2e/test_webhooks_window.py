"""Webhooks are independent (issue 13): each reads its own events from
queue.db's outbox and holds at most webhook.window of them in memory, so
a dead endpoint never delays another webhook's events, and an event one
webhook acknowledged stays pending, durably, for the one that has not.
"""
import re

from conftest import wait_for
from test_webhooks import (Receiver, hooked, ids, logged, metrics,  # noqa: F401
                           receiver, submit)


def pending_rows(g, hook):
    with g.db("queue.db") as c:
        return c.execute("SELECT count(*) FROM hook_pending WHERE hook = ?",
                         (hook,)).fetchone()[0]


def held(g, hook):
    m = re.search(r'^gw_webhook_events_pending\{webhook="%d"\} (\d+)$'
                  % hook, metrics(g), re.M)
    return int(m.group(1)) if m else None


def test_dead_webhook_does_not_hold_the_others(gw_factory, sink, receiver,
                                               tmp_path):
    """Two webhooks; the second's endpoint refuses connections.  With
    webhook.window 5 and 40 events, the healthy one gets every event
    while the dead one holds no more than 5 in memory and the rest stay
    in the outbox for it alone.  After a restart the dead one is back on
    its port and gets its whole backlog; the healthy one gets nothing
    twice."""
    d = tmp_path / "dead"
    d.mkdir()
    dead = Receiver(str(d))
    port = dead.srv.server_address[1]
    dead.stop()                      # the port now refuses connections
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(open(receiver.ca, "rb").read() +
                       open(dead.ca, "rb").read())
    g = hooked(gw_factory, sink, receiver, {"webhook.window": 5,
                                            "webhook.batch_max": 5,
                                            "webhook.ca_file": str(bundle)},
               events="delivered", start=False)
    out = g.gwctl("webhook", "add", dead.url, "--events", "delivered").stdout
    m = re.match(r"webhook: (\d+)\nsecret: ([0-9a-f]{64})\n$", out)
    assert m, out
    dead_id, dead_secret = int(m.group(1)), m.group(2).encode()
    g.start()
    submit(g, 40, "w")
    sink.wait_count(40)
    wait_for(lambda: len(logged(g, "delivered")) == 40, 30,
             what="40 deliveries logged")
    want = {str(e["id"]) for e in logged(g, "delivered")}
    wait_for(lambda: set(ids(receiver.acked())) == want, 60,
             what="the healthy webhook has every event")
    got = ids(receiver.acked())
    assert len(got) == len(set(got)), "duplicates without a restart"
    # The dead one holds its window; the rest wait in queue.db, for it
    # alone: the healthy one's acknowledgements did not take them.
    assert 0 < held(g, dead_id) <= 5
    # The receiver notes its last 200 before gwd has read it.
    wait_for(lambda: held(g, g.hook_id) == 0, 10,
             what="the healthy webhook holding nothing")
    wait_for(lambda: pending_rows(g, g.hook_id) == 0, 20,
             what="the healthy webhook's rows acknowledged")
    assert pending_rows(g, dead_id) == 40
    assert g.stop() == 0
    back = Receiver(str(d), port=port)      # the same certificate
    back.secret = dead_secret
    try:
        g.start()
        wait_for(lambda: set(ids(back.acked())) == want, 60,
                 what="the dead webhook's backlog after the restart")
        assert all(r["sig_ok"] for r in back.requests)
        wait_for(lambda: pending_rows(g, dead_id) == 0, 20,
                 what="the backlog acknowledged")
        with g.db("queue.db") as c:
            left = c.execute("SELECT count(*) FROM outbox WHERE pending & 2"
                             ).fetchone()[0]
        assert left == 0
    finally:
        back.stop()
    # The healthy webhook acknowledged everything before the restart.
    assert sorted(ids(receiver.acked())) == sorted(got)


def test_webhook_added_later_gets_only_new_events(gw_factory, sink,
                                                  receiver, tmp_path):
    """A webhook added while gwd runs starts with the events that come
    after gwd loaded it, and a deleted one's rows leave hook_pending
    (they were its own)."""
    g = hooked(gw_factory, sink, receiver, events="delivered")
    submit(g, 2, "a")
    wait_for(lambda: len(set(ids(receiver.acked()))) == 2, 30,
             what="two events")
    d = tmp_path / "late"
    d.mkdir()
    late = Receiver(str(d))
    try:
        late.always_fail = True
        out = g.gwctl("webhook", "add", late.url, "--events",
                      "delivered").stdout
        m = re.match(r"webhook: (\d+)\nsecret: ([0-9a-f]{64})\n$", out)
        late_id = int(m.group(1))
        wait_for(lambda: held(g, late_id) is not None, 20,
                 what="gwd loaded the new webhook")
        submit(g, 3, "b")
        wait_for(lambda: len(set(ids(receiver.acked()))) == 5, 30,
                 what="five events to the first")
        wait_for(lambda: pending_rows(g, late_id) == 3, 20,
                 what="three rows for the new one")
        g.gwctl("webhook", "delete", str(late_id))
        wait_for(lambda: pending_rows(g, late_id) == 0, 20,
                 what="the deleted webhook's rows gone")
    finally:
        late.stop()
