"""Two cluster nodes behind HAProxy (issue 14), all real and on loopback:
a redis-server, two gwd nodes sharing it, and HAProxy running
examples/haproxy.cfg (PROXY v2 to both nodes, /health checks) in front.
Clients connect to HAProxy from 127.0.0.5-8, HAProxy to the nodes from
127.0.0.1, the only address the nodes trust to send a PROXY header.

kill -9 of one node while several clients send through HAProxy: new
sessions go to the other node, and every message a client got a 250
for reaches the sink (counted by Message-ID) once the killed node is
back: nothing acknowledged is lost.  No timing is asserted: each step
waits for what it needs with a generous deadline."""
import email.parser
import smtplib
import threading

import pytest

from conftest import Raw, client_tls_context, control_stats, wait_for
from test_cluster import health, redis  # noqa: F401 (fixture)
from test_proxy_protocol import (example_haproxy, node, stop_haproxy,
                                 v2_header)

SENDERS = ["127.0.0.%d" % i for i in (5, 6, 7, 8)]
STRANGER = "127.0.0.9"


@pytest.fixture
def cluster(gw_factory, sink, redis, tmp_path):  # noqa: F811
    nodes = []
    for name in ("gw1", "gw2"):
        nodes.append(node(gw_factory, sink, **{
            "cluster.redis": "127.0.0.1:%d" % redis.port,
            "cluster.node": name}))
    for g, ports in nodes:
        g.metrics_port = ports["metrics"]
        wait_for(lambda: "cluster: ok" in health(g), timeout=30,
                 what="cluster ok")
    proc, log, front = example_haproxy(tmp_path, [p for _, p in nodes])
    yield nodes, log, front
    stop_haproxy(proc)


def message_id(data):
    h = email.parser.BytesHeaderParser().parsebytes(data)
    return (h["Message-ID"] or "").strip().strip("<>")


class Senders:
    """One thread per source address, each sending one message per
    session through HAProxy until stopped; acked holds the Message-IDs
    that got a 250, failed counts sessions that broke off."""

    def __init__(self, port):
        self.port = port
        self.acked = set()
        self.failed = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(ip,))
                        for ip in SENDERS]
        for t in self.threads:
            t.start()

    def run(self, ip):
        n = 0
        while not self.stopping.is_set():
            n += 1
            mid = "m%d-%s@client.test" % (n, ip)
            msg = ("From: app@example.com\r\nTo: u@dest.test\r\n"
                   "Message-ID: <%s>\r\nSubject: %s\r\n\r\nbody\r\n"
                   % (mid, mid)).encode()
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=60,
                                  source_address=(ip, 0),
                                  local_hostname="client.test") as s:
                    s.starttls(context=client_tls_context())
                    s.login("app", "s3cret-pass")
                    s.sendmail("app@example.com", ["u@dest.test"], msg)
            except (smtplib.SMTPException, OSError):
                with self.lock:
                    self.failed += 1
                continue
            with self.lock:
                self.acked.add(mid)

    def count(self):
        with self.lock:
            return len(self.acked)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(120)
        assert not any(t.is_alive() for t in self.threads)


def received_ids(g):
    return {e["message_id"].strip("<>")
            for e in g.events("action='received'")}


def test_kill9_one_node_under_load_loses_nothing_acknowledged(cluster, sink):
    (a, _), (b, _) = cluster[0]
    log, front = cluster[1], cluster[2]
    # The sink defers everything at first: what the nodes acknowledge
    # stays in their queues, so a's queue is what kill -9 puts at risk.
    sink.data_reply = lambda msg: "451 4.3.0 not yet"
    load = Senders(front[587])
    try:
        # leastconn spreads the concurrent sessions over both nodes.
        wait_for(lambda: len(received_ids(a)) >= 5 and
                 len(received_ids(b)) >= 5, timeout=120,
                 what="both nodes taking mail through HAProxy")
        a.kill9()
        wait_for(lambda: b"gw_submission/gw1 is DOWN" in open(log, "rb").read(),
                 timeout=60, what="haproxy marking gw1 down")
        # New sessions, every one on b, still acknowledged.
        at_b, acked = len(received_ids(b)), load.count()
        wait_for(lambda: len(received_ids(b)) >= at_b + 8 and
                 load.count() >= acked + 8, timeout=120,
                 what="sessions going to gw2 once gw1 is down")
    finally:
        load.stop()
    on_a = received_ids(a)
    on_b = received_ids(b)
    assert load.acked <= on_a | on_b, load.acked - (on_a | on_b)
    # The sink takes mail again: b delivers all of its queue; a's
    # acknowledged messages wait in a's queue on disk.
    sink.data_reply = None
    wait_for(lambda: b.queue_count() == 0, timeout=120,
             what="gw2's queue delivered")
    at_sink = {message_id(m.data) for m in sink.messages}
    missing = load.acked - at_sink
    assert missing, "nothing of gw1's was left queued at the kill"
    assert missing <= on_a, missing - on_a
    # a restarts and delivers what it had acknowledged.  Another test
    # run on the machine may have taken one of its ports meanwhile: the
    # listeners HAProxy does not use may move (a first start's rule).
    a.started = False
    a.start()
    wait_for(lambda: load.acked <= {message_id(m.data)
                                    for m in sink.messages},
             timeout=120, what="every acknowledged message at the sink")
    wait_for(lambda: a.queue_count() == 0, timeout=60, what="gw1's queue")
    # Each node's audit log names the real clients, never HAProxy.
    for g in (a, b):
        ips = {e["client_ip"] for e in g.events("action='received'")}
        assert ips and ips <= set(SENDERS), ips


def test_header_from_an_untrusted_address_is_refused(cluster, sink):
    (a, aports), _ = cluster[0]
    front = cluster[2]
    # A client reaching a node directly, claiming another address in a
    # well-formed v2 header: closed before the banner, and counted.
    r = Raw(aports[587], source=STRANGER)
    r.send(v2_header("203.0.113.9", "127.0.0.1", 40000, 587))
    assert r.closed(wait=10)
    assert r.buf == b""
    wait_for(lambda: control_stats(a)["proxy_refused_untrusted_total"] == 1,
             what="counted")
    assert "ip=%s PROXY header refused reason=untrusted" % STRANGER in \
        a.logtext()
    # The same client through HAProxy is served, under its own address.
    with smtplib.SMTP("127.0.0.1", front[587], timeout=60,
                      source_address=(STRANGER, 0)) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["u@dest.test"],
                   b"From: app@example.com\r\nSubject: via\r\n\r\nx\r\n")
    sink.wait_count(1, timeout=60)
    ips = [e["client_ip"] for g, _ in cluster[0]
           for e in g.events("action='received'")]
    assert ips == [STRANGER]
    assert not any(e["client_ip"] == "203.0.113.9" for g, _ in cluster[0]
                   for e in g.events())
