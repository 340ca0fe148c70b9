"""Cluster mode (issue 14): gw.db's configuration shared by every node.
A change gwctl makes on one node reaches the others through the Redis
stream gw:config (gwd/cluster_config.c); two gwd nodes and a real
redis-server on loopback, logins over real SMTP AUTH."""
import base64
import smtplib

from conftest import client_tls_context, free_port, wait_for
from test_cluster import health, node, redis, send  # noqa: F401 (fixture)

PASSWORD = "n3w-pass-word"


def can_log_in(g, user="newbie", password=PASSWORD):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        try:
            s.login(user, password)
            return True
        except smtplib.SMTPAuthenticationError:
            return False


# Polling with a login that fails until the change arrives: no delay
# and no block for failed logins here (authguard is not under test).
QUIET_GUARD = {"limits.auth_fail_delay": "0", "limits.auth_failures": 100000,
               "limits.auth_failures_ip": 100000}


def pair(gw_factory, redis, sink):  # noqa: F811
    a = node(gw_factory, redis, sink, "gw1", **QUIET_GUARD)
    b = node(gw_factory, redis, sink, "gw2", **QUIET_GUARD)
    for g in (a, b):
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    return a, b


def test_subaccount_added_on_b_logs_in_on_a(gw_factory, sink, redis):  # noqa: F811
    a, b = pair(gw_factory, redis, sink)
    assert not can_log_in(a)
    b.add_subaccount("newbie", "new.example", PASSWORD)
    # Node A polls the stream every 200 ms (POLL_MS), so the login works
    # well within 1 s of gwctl's return on a quiet machine; tests never
    # assert wall-clock times, so this waits as long as the machine needs.
    wait_for(lambda: can_log_in(a), interval=0.05,
             what="node A accepting the login")
    assert "configuration change" in a.logtext()
    # What travelled is the hash gw.db keeps, never the password.
    stream = redis.cli("XRANGE", "gw:config", "-", "+")
    sent = b"".join(base64.b64decode(w) for w in stream.split()
                    if len(w) > 40 and not w.startswith("gw"))
    assert b"newbie" in sent and PASSWORD.encode() not in sent
    # Deleted on B: A refuses it.
    b.gwctl("subaccount", "delete", "newbie")
    wait_for(lambda: not can_log_in(a), interval=0.05,
             what="node A refusing the login")
    assert can_log_in(a, "app", "s3cret-pass")


def test_node_down_catches_up_when_it_returns(gw_factory, sink, redis):  # noqa: F811
    a, b = pair(gw_factory, redis, sink)
    a.stop()
    b.add_subaccount("newbie", "new.example", PASSWORD)
    a.start()
    wait_for(lambda: "cluster: ok" in health(a), what="A ok again")
    wait_for(lambda: can_log_in(a), timeout=5, interval=0.05,
             what="A taking what it missed")


def test_change_made_while_redis_is_away_goes_when_it_is_back(
        gw_factory, sink, redis):  # noqa: F811
    a, b = pair(gw_factory, redis, sink)
    redis.kill()
    for g in (a, b):
        wait_for(lambda: "cluster: degraded" in health(g), what="degraded")
    # gwctl does not need Redis: the change is B's at once, kept in
    # B's gw.db for the others.
    b.add_subaccount("newbie", "new.example", PASSWORD)
    assert can_log_in(b) and not can_log_in(a)
    with b.db("gw.db") as c:
        assert c.execute("SELECT count(*) FROM cluster_outbox"
                         ).fetchone()[0] >= 1
    redis.start()
    wait_for(lambda: can_log_in(a), timeout=30, interval=0.1,
             what="A taking the change once Redis is back")
    with b.db("gw.db") as c:
        wait_for(lambda: c.execute("SELECT count(*) FROM cluster_outbox"
                                   ).fetchone()[0] == 0, what="outbox sent")


def test_http_api_takes_the_clusters_quota_at_mail(gw_factory, sink, redis):  # noqa: F811
    """The send API takes a quota token as SMTP's MAIL does: a quota of
    10 an hour holds across two nodes' APIs (429 after)."""
    from test_send_api import apikey, call
    nodes = []
    for name in ("gw1", "gw2"):
        port = free_port()
        g = node(gw_factory, redis, sink, name,
                 **{"http.listen": "127.0.0.1:%d" % port})
        g.http_port = port
        nodes.append(g)
    a, b = nodes
    for g in (a, b):
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    a.gwctl("subaccount", "set", "app", "--quota-hour", "10")
    # One key, made on A, shared with B (and the quota with it).
    a.key = b.key = apikey(a, "app")

    def send_api(g, i):
        st, _, body = call(g, "/v1/messages", {
            "from": "app@example.com", "to": ["q%d@dest.test" % i],
            "subject": "q%d" % i, "text": "x"})
        assert st in (202, 429, 401), (st, body)
        return st
    first = wait_for(lambda: (lambda st: st != 401 and st)(send_api(b, 100)),
                     what="B knowing the key")
    got = {202: int(first == 202), 429: int(first == 429)}
    for i in range(8):
        for g in (a, b):
            got[send_api(g, i)] += 1
    assert got[202] == 10, got
    sink.wait_count(10)


def greeting(g):
    """The code of the greeting node g gives 127.0.0.1 now."""
    try:
        with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30):
            return 220
    except smtplib.SMTPConnectError as e:
        return e.smtp_code


def test_login_block_of_an_address_applies_on_every_node(gw_factory, sink,
                                                         redis):  # noqa: F811
    guard = {"limits.auth_fail_delay": "0", "limits.auth_failures_ip": 3}
    a = node(gw_factory, redis, sink, "gw1", **guard)
    b = node(gw_factory, redis, sink, "gw2", **guard)
    for g in (a, b):
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    assert greeting(b) == 220
    # Wrong passwords from 127.0.0.1 on A until A blocks the address
    # (smtplib may try more than one mechanism a login).
    for i in range(3):
        if greeting(a) == 421:
            break
        assert not can_log_in(a, "app", "wrong-%d" % i)
    assert greeting(a) == 421
    # Node B, where this address never failed, refuses it too.
    wait_for(lambda: greeting(b) == 421, timeout=5, interval=0.1,
             what="node B refusing the blocked address")
    assert "blocked for" in b.logtext()
    # Lifted on A: lifted on B.
    a.gwctl("auth", "unblock", "127.0.0.1")
    wait_for(lambda: greeting(b) == 220, timeout=5, interval=0.1,
             what="node B taking the address again")


def mail_code(g):
    """MAIL's reply code for subaccount app on node g."""
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        code, _ = s.mail("app@example.com")
        s.rset()
        return code


def test_pause_for_bounces_applies_on_every_node(gw_factory, sink, redis):  # noqa: F811
    sink.rcpt_reply = lambda a: ("550 5.1.1 no such user"
                                 if a.startswith("bad") else None)
    rates = {"limits.bounce_pause_minimum": 1,
             "limits.bounce_pause_percent": 50}
    a = node(gw_factory, redis, sink, "gw1", **rates)
    b = node(gw_factory, redis, sink, "gw2", **rates)
    for g in (a, b):
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    assert mail_code(b) == 250
    # A's only message bounces: A pauses app, and so does B.
    send(a, ["bad@dest.test"])
    wait_for(lambda: mail_code(a) == 451, what="A pausing app")
    wait_for(lambda: mail_code(b) == 451, timeout=5, interval=0.1,
             what="B pausing app too")
    assert "paused by another node" in b.logtext()
    # Resumed on B (where it was never paused of its own): both send.
    b.gwctl("subaccount", "resume", "app")
    wait_for(lambda: mail_code(a) == 250, timeout=5, interval=0.1,
             what="A resuming app")
    assert mail_code(b) == 250
