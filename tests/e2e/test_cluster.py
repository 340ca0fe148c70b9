"""Cluster mode (issue 14): two gwd nodes on loopback sharing limits and
the suppression list through a real redis-server started here, with
aiosmtpd sinks counting what arrives.  Rates are checked over windows
of sink arrival times against the bound common/cshare.h documents:
load on the machine can only slow gwd down, never push it over."""
import json
import os
import shutil
import smtplib
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import client_tls_context, control_stats, free_port, \
    smarthost, wait_for

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
pytestmark = pytest.mark.skipif(not os.path.exists(REDIS),
                                reason="redis-server is not installed")


class Redis:
    """A redis-server of its own, no persistence; stop and start again on
    the same port."""

    def __init__(self, tmp):
        self.port = free_port()
        self.dir = str(tmp)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.ping(), what="redis-server answering")
        return self

    def ping(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port)] + list(args),
                           capture_output=True, text=True, timeout=10)
        return r.stdout


@pytest.fixture
def redis(tmp_path):
    r = Redis(tmp_path).start()
    yield r
    if r.proc.poll() is None:
        r.kill()


class Stamped:
    """Arrival times at a sink, by subject prefix (the node that sent)."""

    def __init__(self, sink):
        self.times = []
        self.sink = sink
        sink.data_reply = self._seen

    def _seen(self, msg):
        subj = [h for h in msg.data.split(b"\r\n") if h.startswith(b"Subject:")]
        self.times.append((time.monotonic(), subj[0][9:].decode().strip()))
        return None

    def in_window(self, seconds, prefix=""):
        t = [x for x, s in self.times if s.startswith(prefix)]
        if not t:
            return 0
        return len([x for x in t if x - t[0] < seconds])

    def span(self):
        return self.times[-1][0] - self.times[0][0] if self.times else 0


def node(gw_factory, redis, sink, name, **settings):
    port = free_port()
    s = {"cluster.redis": "127.0.0.1:%d" % redis.port, "cluster.node": name,
         "metrics.listen": "127.0.0.1:%d" % port}
    s.update(settings)
    g = gw_factory(relay=smarthost(sink), settings=s).start()
    g.metrics_port = port
    # The first node's subaccount may have reached this one already
    # (gw.db's configuration is shared: test_cluster_config.py).
    r = g.gwctl("subaccount", "add", "app", "--domain", "example.com",
                "--password-stdin", input="s3cret-pass\n", check=False)
    assert r.returncode == 0 or "already exists" in r.stderr, r.stderr
    return g


def health(g):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health"
                                    % g.metrics_port, timeout=5) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        return e.read().decode()


def send(g, rcpts, subject="t"):
    """One message; smtplib's refused recipients (raises if all are)."""
    msg = ("From: app@example.com\r\nTo: x@dest.test\r\nSubject: %s\r\n"
           "\r\nbody\r\n" % subject).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        return s.sendmail("app@example.com", rcpts, msg)


def rcpt_code(g, rcpt):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.mail("app@example.com")
        code, _ = s.rcpt(rcpt)
        s.rset()
        return code


def test_without_cluster_no_redis_and_health_unchanged(gw_factory, sink):
    port = free_port()
    g = gw_factory(relay=smarthost(sink),
                   settings={"metrics.listen": "127.0.0.1:%d" % port}).start()
    g.metrics_port = port
    assert health(g) == "ok\n"
    assert "cluster:" not in g.logtext()


def test_health_says_degraded_and_back(gw_factory, sink, redis):
    g = node(gw_factory, redis, sink, "gw1")
    wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    redis.kill()
    wait_for(lambda: "cluster: degraded" in health(g), what="degraded")
    # Still healthy for a load balancer: it relays, to its share.
    assert health(g).startswith("ok\n")
    assert "cluster: degraded: Redis 127.0.0.1:%d" % redis.port in g.logtext()
    send(g, ["a@dest.test"], "while-down")
    sink.wait_count(1)
    redis.start()
    wait_for(lambda: "cluster: ok" in health(g), timeout=20, what="ok again")
    assert "gw1" in redis.cli("ZRANGE", "gw:nodes", "0", "-1")


def test_config_refuses_bad_cluster_settings(gw_factory, sink, tmp_path):
    g = gw_factory(relay=smarthost(sink), settings={
        "cluster.redis": "redis.example:6379", "cluster.node": "a b",
        "cluster.tls": True})
    r = subprocess.run([os.path.join(os.environ.get("GW_BUILD", "build"),
                        "gwd"), "-n", "-c", g.conf], capture_output=True,
                       text=True)
    assert r.returncode != 0
    assert 'cluster.redis: "redis.example:6379" is not an address' in r.stderr
    assert 'cluster.node: "a b" is not a node name' in r.stderr
    assert "cluster.tls: this build's hiredis has no TLS" in r.stderr


def both_see_two(a, b):
    """Each node's own count of live nodes is 2 (its heartbeat's answer,
    once a second): only then is its degraded share a half."""
    for g in (a, b):
        wait_for(lambda: control_stats(g)["cluster_nodes"] == 2,
                 what="2 live nodes seen by each node")


def throttled_pair(gw_factory, redis, sink, per_minute,
                   what="--per-minute"):
    """Two nodes with a throttle on the sink (what: which limit)."""
    a = node(gw_factory, redis, sink, "gw1")
    b = node(gw_factory, redis, sink, "gw2")
    for g in (a, b):
        g.gwctl("throttle", "set", "127.0.0.1", what, str(per_minute))
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    return a, b


def load(a, b, n):
    for i in range(n):
        send(a, ["a%d@dest.test" % i], "a%d" % i)
        send(b, ["b%d@dest.test" % i], "b%d" % i)


def test_per_minute_throttle_holds_across_two_nodes(gw_factory, sink, redis):
    """60/min shared: over the first 10 s of arrivals the two nodes
    together send at most 10 + the slack of cshare.h (a batch of 1 and
    1 s of held tokens: 2) + the window's edge (1).  Each node alone
    would send 10 of its own: 20 together."""
    st = Stamped(sink)
    a, b = throttled_pair(gw_factory, redis, sink, 60)
    load(a, b, 10)
    wait_for(lambda: st.span() >= 10.5 or len(st.times) == 20, timeout=60,
             what="10 s of arrivals")
    n = st.in_window(10.0)
    assert n <= 13, (n, st.times)
    # Shared, not starved: both nodes got some of the budget.
    assert st.in_window(10.0, "a") >= 2 and st.in_window(10.0, "b") >= 2, st.times


def test_degraded_each_node_keeps_to_its_share(gw_factory, sink, redis):
    """Redis killed: 60/min over 2 live nodes is 30/min each, one every
    2 s: over 10 s a node sends at most 5 + the edge.  Both keep
    delivering, both say degraded; Redis back, both are ok again."""
    st = Stamped(sink)
    a, b = throttled_pair(gw_factory, redis, sink, 60)
    both_see_two(a, b)
    send(a, ["seen@dest.test"], "warm")
    sink.wait_count(1)
    redis.kill()
    for g in (a, b):
        wait_for(lambda: "cluster: degraded" in health(g), what="degraded")
    st.times.clear()
    load(a, b, 8)
    wait_for(lambda: st.span() >= 10.5 or len(st.times) == 16, timeout=60,
             what="10 s of arrivals")
    for p in ("a", "b"):
        n = st.in_window(10.0, p)
        assert 2 <= n <= 6, (p, n, st.times)
    for g in (a, b):
        assert "each node uses 1/2 of every shared limit" in g.logtext()
    redis.start()
    for g in (a, b):
        wait_for(lambda: "cluster: ok" in health(g), timeout=20, what="ok")
    # Nothing acknowledged is lost: all 17 arrive.
    sink.wait_count(17, timeout=60)


def test_suppression_add_on_one_node_refused_by_the_other(gw_factory, sink,
                                                          redis):
    a = node(gw_factory, redis, sink, "gw1")
    b = node(gw_factory, redis, sink, "gw2")
    for g in (a, b):
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    assert rcpt_code(b, "victim@dest.test") == 250
    a.gwctl("suppression", "add", "Victim@Dest.Test", "--reason", "asked")
    # Node B hears of it at once (a Redis message); tests never assert
    # wall-clock times, so this waits as long as a loaded machine needs.
    wait_for(lambda: rcpt_code(b, "victim@dest.test") >= 500,
             interval=0.05, what="node B refusing")
    # Deleted on A: B takes it again.
    a.gwctl("suppression", "delete", "victim@dest.test")
    wait_for(lambda: rcpt_code(b, "victim@dest.test") == 250,
             interval=0.05, what="node B accepting again")


def test_suppression_catch_up_after_being_down(gw_factory, sink, redis):
    a = node(gw_factory, redis, sink, "gw1")
    b = node(gw_factory, redis, sink, "gw2")
    wait_for(lambda: "cluster: ok" in health(a), what="cluster ok")
    b.stop()
    a.gwctl("suppression", "add", "late@dest.test")
    b.start()
    wait_for(lambda: "cluster: ok" in health(b), what="B ok")
    wait_for(lambda: rcpt_code(b, "late@dest.test") >= 500, timeout=5,
             what="B refusing what it missed")


def test_gwctl_says_when_redis_is_away(gw_factory, sink, redis):
    a = node(gw_factory, redis, sink, "gw1")
    redis.kill()
    r = a.gwctl("suppression", "add", "x@dest.test", check=False)
    assert r.returncode == 75, r.stderr
    assert "made on this node only" in r.stderr
    # The local list has it all the same.
    assert "x@dest.test" in a.gwctl("suppression", "list").stdout


REFUSALS = []


def try_send(g, rcpt, subject):
    """1 when the message was accepted, 0 when MAIL got a 451 (kept in
    REFUSALS)."""
    try:
        send(g, [rcpt], subject)
        return 1
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == 451, e
        REFUSALS.append(e.smtp_error.decode())
        return 0


def test_quota_of_ten_an_hour_holds_across_two_nodes(gw_factory, sink, redis):
    a = node(gw_factory, redis, sink, "gw1")
    b = node(gw_factory, redis, sink, "gw2")
    for g in (a, b):
        g.gwctl("subaccount", "set", "app", "--quota-hour", "10")
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    got = {"a": 0, "b": 0}
    for i in range(8):
        got["a"] += try_send(a, "qa%d@dest.test" % i, "qa%d" % i)
        got["b"] += try_send(b, "qb%d@dest.test" % i, "qb%d" % i)
    assert got["a"] + got["b"] == 10, got
    assert got["a"] >= 4 and got["b"] >= 4, got
    sink.wait_count(10)
    assert "reached its quota across the cluster" in REFUSALS[-1], REFUSALS


def test_quota_share_while_degraded_then_reconciled(gw_factory, sink, redis):
    """Redis away: 10/hour over 2 nodes is 5 a node.  Redis back (empty:
    it was killed): what the nodes accepted meanwhile counts."""
    a = node(gw_factory, redis, sink, "gw1")
    b = node(gw_factory, redis, sink, "gw2")
    for g in (a, b):
        g.gwctl("subaccount", "set", "app", "--quota-hour", "10")
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    both_see_two(a, b)
    redis.kill()
    for g in (a, b):
        wait_for(lambda: "cluster: degraded" in health(g), what="degraded")
    n = sum(try_send(a, "d%d@dest.test" % i, "d%d" % i) for i in range(7))
    assert n == 5, n
    assert "this node's share while the cluster is degraded" in \
        REFUSALS[-1], REFUSALS
    redis.start()
    wait_for(lambda: "cluster: ok" in health(a), timeout=20, what="ok")
    wait_for(lambda: "accepted while degraded added" in a.logtext(),
             what="reconciled")
    wait_for(lambda: "cluster: ok" in health(b), timeout=20, what="ok")
    # 5 counted already: B gets the other 5, not 10.
    n = sum(try_send(b, "e%d@dest.test" % i, "e%d" % i) for i in range(7))
    assert n == 5, n


def gwtop_cluster(g, *args):
    return g.tool("gwtop", "--cluster", *args).stdout


def test_gwtop_cluster_shows_every_node_and_the_totals(gw_factory, sink,
                                                       redis):
    import json
    a = node(gw_factory, redis, sink, "gw1")
    b = node(gw_factory, redis, sink, "gw2")
    send(a, ["x1@dest.test"], "x1")
    send(a, ["x2@dest.test"], "x2")
    send(b, ["x3@dest.test"], "x3")
    sink.wait_count(3)

    def rows():
        return {r["node"]: r for r in map(json.loads, gwtop_cluster(
            a, "--format", "json").splitlines())}
    wait_for(lambda: rows().get("TOTAL", {}).get("messages_received_total")
             == 3, what="both snapshots in Redis")
    r = rows()
    assert r["gw1"]["state"] == r["gw2"]["state"] == "up", r
    assert (r["gw1"]["messages_received_total"],
            r["gw2"]["messages_received_total"]) == (2, 1), r
    assert r["TOTAL"]["delivered_total"] == 3, r
    text = gwtop_cluster(b).splitlines()
    assert text[0].split()[:3] == ["NODE", "STATE", "SEEN"], text
    assert [line.split()[0] for line in text[1:]] == ["gw1", "gw2", "TOTAL"]
    # A node stopped is "gone" once its heartbeat is old.
    b.stop()
    wait_for(lambda: rows()["gw2"]["state"] == "gone", timeout=20,
             what="gw2 gone")


def test_gwtop_cluster_needs_a_cluster(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink))
    r = g.tool("gwtop", "--cluster", check=False)
    assert r.returncode == 78 and "no cluster.redis" in r.stderr, r.stderr


def test_degraded_in_stats_metrics_and_gwtop(gw_factory, sink, redis):
    from conftest import control_stats
    g = node(gw_factory, redis, sink, "gw1")
    wait_for(lambda: control_stats(g)["cluster_nodes"] == 1, what="1 node")
    assert control_stats(g)["cluster_degraded"] == 0
    redis.kill()
    wait_for(lambda: control_stats(g)["cluster_degraded"] == 1,
             what="degraded in stats")
    once = g.tool("gwtop", "--once").stdout
    assert "gwd.cluster_degraded=1" in once, once
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                % g.metrics_port, timeout=5) as r:
        assert "gw_cluster_degraded 1" in r.read().decode()


def test_redis_that_stops_answering_is_dropped(gw_factory, sink, redis):
    """A Redis that keeps its connections but says nothing (SIGSTOP, a
    dead network): the heartbeat's deadline makes the node degraded,
    and it relays meanwhile; SIGCONT, and it is back."""
    import signal
    g = node(gw_factory, redis, sink, "gw1")
    wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: "cluster: degraded" in health(g), timeout=20,
                 what="degraded")
        assert "Redis 127.0.0.1:%d stopped answering" % redis.port \
            in g.logtext()
        send(g, ["s@dest.test"], "stopped")
        sink.wait_count(1)
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: "cluster: ok" in health(g), timeout=20, what="ok")


def test_suppression_import_reaches_the_other_node(gw_factory, sink, redis):
    """An import of 2500 addresses goes to Redis in pipelined batches
    (more than one): every one is in the shared list, and node B refuses
    the last."""
    a = node(gw_factory, redis, sink, "gw1")
    b = node(gw_factory, redis, sink, "gw2")
    wait_for(lambda: "cluster: ok" in health(b), what="B ok")
    lines = "".join("imp%d@dest.test\n" % i for i in range(2500))
    a.gwctl("suppression", "import", "-", input=lines)
    assert redis.cli("HLEN", "gw:suppressed").strip() == "2500"
    wait_for(lambda: rcpt_code(b, "imp2499@dest.test") >= 500, timeout=5,
             what="B refusing an imported address")


def test_gwsearch_show_names_the_node(gw_factory, sink, redis):
    """Queue ids are each node's own (as each log.db is): `gwsearch show`
    names the node whose log.db it read, cluster.node."""
    a = node(gw_factory, redis, sink, "gw1")
    b = node(gw_factory, redis, sink, "gw2")
    for g, subject in ((a, "on-a"), (b, "on-b")):
        send(g, ["n-%s@dest.test" % subject], subject)
    sink.wait_count(2)
    for g, name, subject in ((a, "gw1", "on-a"), (b, "gw2", "on-b")):
        def found():
            r = g.tool("gwsearch", "subject:" + subject, "--format",
                       "jsonl", check=False)
            return r if r.returncode == 0 and r.stdout else None
        r = wait_for(found, what="the message in %s's log" % name)
        qid = json.loads(r.stdout.splitlines()[0])["email"]["local_id"]
        out = g.tool("gwsearch", "show", qid).stdout
        assert out.splitlines()[:2] == ["Message " + qid,
                                        "  Node:        " + name], out
