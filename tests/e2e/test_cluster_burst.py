"""Cluster quotas under a burst (issue 14): more MAILs waiting for one
Redis round trip than the batch of tokens that round trip brings.
bench/relay --cluster with 50 sessions found it: the waiters beyond the
batch were refused "quota across the cluster" with the quota far from
used up.  A real redis-server and gwd on loopback; Redis is held with
SIGSTOP while the MAILs arrive, so they all wait for the same reply."""
import signal
import smtplib
import subprocess

from conftest import client_tls_context, wait_for
from test_cluster import health, node, redis  # noqa: F401 (fixture)

SESSIONS = 30        # more than the 20 tokens a batch brings at most


def unread_bytes(port):
    """Bytes gwd has not read yet on its sessions on port (ss's Recv-Q
    of the server side)."""
    r = subprocess.run(["ss", "-Htn", "state", "established",
                        "( sport = :%d )" % port], capture_output=True,
                       text=True, check=True)
    return sum(int(line.split()[0]) for line in r.stdout.splitlines())


def test_more_waiters_than_a_batch_all_get_tokens(gw_factory, sink,
                                                  redis):  # noqa: F811
    g = node(gw_factory, redis, sink, "gw1",
             **{"limits.connections_per_ip": 100})
    wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    # 100 000 an hour: batches of 20 tokens, and nowhere near used up.
    g.gwctl("subaccount", "set", "app", "--quota-hour", "100000")
    port = g.ports["submission"]
    sessions = []
    try:
        for _ in range(SESSIONS):
            s = smtplib.SMTP("127.0.0.1", port, timeout=60)
            s.starttls(context=client_tls_context())
            s.login("app", "s3cret-pass")
            sessions.append(s)
        redis.proc.send_signal(signal.SIGSTOP)
        try:
            for s in sessions:
                s.send(b"MAIL FROM:<app@example.com>\r\n")
            # Every MAIL read by gwd, so every one waits for the one
            # request to Redis that the first sent.
            wait_for(lambda: unread_bytes(port) == 0, what="MAILs read")
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        codes = [s.getreply() for s in sessions]
        assert "cluster: ok" in health(g)
        assert [c for c, _ in codes] == [250] * SESSIONS, codes
    finally:
        for s in sessions:
            s.close()
