"""Cluster mode (issue 14): a throttle's connection limit is the whole
cluster's.  Each connection holds a lease in Redis (gwd/cluster_lease.c)
that its node renews; a node killed -9 stops renewing, and its leases
lapse after CSHARE_LEASE_TTL_MS.  Two gwd nodes and a real redis-server
on loopback; the sink counts the sessions open at once."""
import threading

from conftest import wait_for
from test_cluster import both_see_two, health, redis, send, \
    throttled_pair  # noqa: F401 (fixture)


def most_at_once(sink):
    """The most connections carrying mail at once: each connection from
    its first message to its last one's reply (sink.delay after).  Not
    sink.max_open, which counts a session until its QUIT is read: gwd
    lets a connection go once its QUIT is written, so under load the
    sink may read another node's EHLO first."""
    spans = {}
    for m in sink.messages:
        a, b = spans.get(m.conn, (m.at, m.at))
        spans[m.conn] = (min(a, m.at), max(b, m.at))
    # At one instant an end comes before a start.
    ev = sorted([(a, 1) for a, b in spans.values()] +
                [(b + sink.delay, -1) for a, b in spans.values()])
    n = most = 0
    for _, d in ev:
        n += d
        most = max(most, n)
    return most


def limited_pair(gw_factory, redis, sink, connections):  # noqa: F811
    return throttled_pair(gw_factory, redis, sink, connections,
                          "--connections")


def test_connection_limit_holds_across_two_nodes(gw_factory, sink, redis):  # noqa: F811
    """2 connections for the cluster: with a slow sink and a backlog on
    each node, each node alone would open 2 (4 together)."""
    sink.delay = 0.4
    a, b = limited_pair(gw_factory, redis, sink, 2)
    for i in range(10):
        send(a, ["a%d@dest.test" % i], "a%d" % i)
        send(b, ["b%d@dest.test" % i], "b%d" % i)
    sink.wait_count(20, timeout=60)
    assert most_at_once(sink) <= 2, most_at_once(sink)
    subj = [m.data.split(b"Subject: ")[1][:1] for m in sink.messages]
    assert subj.count(b"a") == 10 and subj.count(b"b") == 10
    # Every lease given back once the connections closed (a hash with
    # no node left is gone).
    wait_for(lambda: redis.cli("KEYS", "gw:leasen:*").strip() == "",
             timeout=20, what="leases given back")


def test_leases_of_a_node_killed_lapse(gw_factory, sink, redis):  # noqa: F811
    """Node A holds both leases (its sessions wait at the sink), then is
    killed -9: B gets no lease until A's lapse, then opens both."""
    sink.gate = threading.Event()
    a, b = limited_pair(gw_factory, redis, sink, 2)
    for i in range(4):
        send(a, ["a%d@dest.test" % i], "a%d" % i)
    wait_for(lambda: sink.live == 2, timeout=30, what="A's 2 sessions")
    keys = redis.cli("KEYS", "gw:leasen:*").split()
    assert len(keys) == 1, keys
    assert redis.cli("HGET", keys[0], "gw1").strip() == "2"
    a.kill9()
    wait_for(lambda: sink.live == 0, what="A's sessions gone")
    for i in range(4):
        send(b, ["b%d@dest.test" % i], "b%d" % i)
    # A's leases lapse (5 s), then B takes the whole limit.
    wait_for(lambda: sink.live == 2, timeout=30, what="B's 2 sessions")
    assert redis.cli("HGET", keys[0], "gw1").strip() == ""
    assert redis.cli("HGET", keys[0], "gw2").strip() == "2"
    assert sink.max_open <= 2
    sink.gate.set()
    wait_for(lambda: sum(m.data.split(b"Subject: ")[1][:1] == b"b"
                         for m in sink.messages) == 4, timeout=30,
             what="B's 4 delivered")


def test_degraded_each_node_opens_its_share(gw_factory, sink, redis):  # noqa: F811
    """Redis killed: 2 connections over 2 live nodes is 1 each, so the
    two together still open at most 2 (each alone would open 2)."""
    sink.delay = 0.4
    a, b = limited_pair(gw_factory, redis, sink, 2)
    both_see_two(a, b)
    redis.kill()
    for g in (a, b):
        wait_for(lambda: "cluster: degraded" in health(g), what="degraded")
    for i in range(8):
        send(a, ["a%d@dest.test" % i], "a%d" % i)
        send(b, ["b%d@dest.test" % i], "b%d" % i)
    sink.wait_count(16, timeout=60)
    assert most_at_once(sink) <= 2, most_at_once(sink)
