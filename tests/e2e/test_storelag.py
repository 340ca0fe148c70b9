"""A store slower than the deliveries (bench/queue, "where the store
lags"): what is delivered but not recorded yet would be delivered again
after a crash, so deliveries wait while the store's backlog is above
queue.store_backlog.

The store is made slow with GW_TEST_COMMIT_DELAY (each queue.db commit
waits that long) while a queue deferred once is delivered to a fast
sink.  Checked, with no timing asserted:

- the backlog (stats store_backlog) never goes beyond the limit and the
  deliveries under way, and deliveries were held for it
  (store_behind_total);
- after kill -9 mid-drain and a restart, no message reaches the sink
  twice more often than that bound allows, and every one arrives;
- a transaction takes no more ops than its cap (GW_TEST_BATCH_MAX
  lowers it from 1000), the rest wait for the next, and every message
  is delivered once.
"""
import os
import sqlite3

from conftest import smarthost, wait_for
from test_diskfull import sink_counts
from test_metrics import stats
from test_outbox import submit

NMSG = 120
KILL_AT = 60            # messages at the sink when gwd is killed
LIMIT = 10              # queue.store_backlog (its least)
CONNS = 2               # relay.connections: deliveries under way at once
# Not recorded at most: the backlog (the limit, and what the deliveries
# under way add after it closed), and those the sink took whose reply
# gwd has not read yet.
BOUND = LIMIT + 2 * CONNS


def deferred_queue(gw_factory, sink):
    """NMSG messages tried once (the sink said 451) and due again, gwd
    stopped; the gwd and the Message-IDs."""
    sink.data_reply = lambda m: "451 4.3.0 later"
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "1h", "queue.retry_max": "1h",
                             "queue.store_backlog": LIMIT,
                             "relay.connections": CONNS})
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    mids = submit(g, NMSG, "lag")
    wait_for(lambda: stats(g)["queue_deferred"] == NMSG, 60,
             what="every message deferred once")
    assert g.stop() == 0
    with sqlite3.connect(os.path.join(g.state, "queue.db")) as c:
        c.execute("UPDATE recipient SET next_attempt = 0")
    sink.messages.clear()
    sink.data_reply = None
    return g, mids


def test_slow_store_holds_deliveries_and_bounds_duplicates(gw_factory, sink):
    g, mids = deferred_queue(gw_factory, sink)
    g.start(env={"GW_TEST_COMMIT_DELAY": "1000"})
    most = behind = 0
    while len(sink.messages) < KILL_AT:
        s = stats(g)
        most = max(most, s["store_backlog"])
        behind = s["store_behind_total"]
        assert most <= BOUND, s
    g.kill9()
    assert behind >= 1, "deliveries never waited for the store"

    g.start()
    wait_for(lambda: g.queue_count() == 0, 60, what="queue drained")
    assert g.stop() == 0
    counts = sink_counts(sink)
    assert set(counts) == set(mids)
    twice = sum(n - 1 for n in counts.values())
    assert twice <= BOUND, counts


def test_a_transaction_takes_at_most_its_cap(gw_factory, sink):
    g, mids = deferred_queue(gw_factory, sink)
    g.start(env={"GW_TEST_COMMIT_DELAY": "200", "GW_TEST_BATCH_MAX": "3"})
    wait_for(lambda: g.queue_count() == 0, 120, what="queue drained")
    s = stats(g)
    # More than the cap waited (the backlog passed LIMIT), yet no
    # transaction took more.
    assert s["store_behind_total"] >= 1, s
    assert s["store_batch_ops_max"] <= 3, s
    assert g.stop() == 0
    assert sink_counts(sink) == {m: 1 for m in mids}
