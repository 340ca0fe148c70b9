"""Cluster mode (issue 14): gw.db's configuration shared by every node.
A change gwctl makes on one node reaches the others through the Redis
stream gw:config (gwd/cluster_config.c); two gwd nodes and a real
redis-server on loopback, logins over real SMTP AUTH."""
import base64
import json
import os
import re
import sqlite3
import smtplib
import subprocess

from conftest import client_tls_context, free_port, smarthost, wait_for
from test_cluster import health, node, rcpt_code, redis, send  # noqa: F401,E501

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
    # The login reads gw.db, committed before the change is logged.
    wait_for(lambda: "configuration change" in a.logtext(),
             what="the change logged")
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
    # B added "app" too unless A's reached it first: its change goes to
    # the stream when B's outbox is sent, after "cluster: ok", and would
    # undo a quota set before it.  B's sent first, then A has applied it.
    for g in (b, a):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
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


def test_hmac_keys_are_the_first_nodes(gw_factory, sink, redis):  # noqa: F811
    """Each node's gw.db is made with HMAC keys of its own; in a cluster
    every node takes the first node's, so an unsubscribe link node A
    made works on node B (and a VERP return path, with the same key)."""
    from test_unsubscribe import HOST, gw_key, post, sub_id, token
    nodes = []
    for name in ("gw1", "gw2"):
        port = free_port()
        g = node(gw_factory, redis, sink, name, **{
            "http.listen": "127.0.0.1:%d" % port,
            "http.public_host": "%s:%d" % (HOST, port)})
        g.http_port = port
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
        nodes.append(g)
    a, b = nodes
    for purpose in ("unsubscribe", "verp"):
        wait_for(lambda: gw_key(a, purpose) == gw_key(b, purpose),
                 what="B taking A's %s key" % purpose)
    # Each node says so after its gw.db commit (which B's keys show).
    for g, n in ((b, 2), (a, 0)):
        wait_for(lambda: "HMAC keys: the cluster's taken (%d changed here)"
                 % n in g.logtext(), what="the keys taken, logged")
    # A link as node A makes it (its key), followed on node B.
    url = "https://%s:%d/u/%s" % (HOST, b.http_port, token(
        gw_key(a), sub_id(a), "reader@dest.test"))
    wait_for(lambda: post(b, url) == (200, b""), what="B honouring A's link")
    wait_for(lambda: rcpt_code(b, "reader@dest.test") == 550,
             what="B refusing the unsubscribed reader")
    # DKIM private keys are no part of it: nothing in Redis but these.
    assert sorted(redis.cli("HKEYS", "gw:hmac").split()) == [
        "unsubscribe", "verp"]


def shared_rows(g):
    """What the nodes must agree on: subaccounts and throttles."""
    c = g.db("gw.db")
    try:
        return ([tuple(r) for r in c.execute(
                    "SELECT id, name FROM subaccount ORDER BY id")],
                [tuple(r) for r in c.execute(
                    "SELECT domain, per_minute FROM throttle "
                    "ORDER BY domain")])
    finally:
        c.close()


def test_snapshot_trims_the_stream_and_a_new_node_joins(gw_factory, sink,
                                                         redis):  # noqa: F811
    """cluster.snapshot_every = 10: after 30 changes the stream has been
    trimmed below a snapshot; a node with an empty gw.db loads it, then
    the rest, and ends with the same subaccounts and throttles."""
    snap = {"cluster.snapshot_every": 10}
    a = node(gw_factory, redis, sink, "gw1", **snap)
    b = node(gw_factory, redis, sink, "gw2", **snap)
    for g in (a, b):
        wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    for i in range(30):
        a.gwctl("throttle", "set", "d%02d.example" % i, "--per-minute",
                str(10 + i))
    a.gwctl("throttle", "delete", "d03.example")
    b.add_subaccount("late", "late.example", PASSWORD)
    # Both at the stream's end first: a node that applied another's
    # change while its own waited applies its own again in the stream's
    # order, so A can pass through an older state that B shares.
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    wait_for(lambda: shared_rows(a) == shared_rows(b),
             what="A and B agreeing")
    # A second snapshot trims the stream below the first.
    wait_for(lambda: redis.cli("HGET", "gw:config:snapshot",
                               "trimmed").strip(), what="a trimmed stream")
    assert "configuration snapshot at" in a.logtext() + b.logtext()
    assert int(redis.cli("XLEN", "gw:config")) < 25
    # Neither node was ever behind: no snapshot undid a change of theirs.
    assert "snapshot" not in "".join(
        line for line in (a.logtext() + b.logtext()).splitlines(True)
        if "applied" in line)
    # A brand-new node: its own gw.db, nothing applied yet.
    c = gw_factory(relay=smarthost(sink), settings={
        "cluster.redis": "127.0.0.1:%d" % redis.port,
        "cluster.node": "gw3", "cluster.snapshot_every": 10}).start()
    wait_for(lambda: "configuration snapshot" in c.logtext(), timeout=20,
             what="the new node taking the snapshot")
    wait_for(lambda: caught_up(c, redis), what="the new node caught up")
    wait_for(lambda: shared_rows(c) == shared_rows(a),
             what="the new node agreeing with the others")
    assert ("d03.example", 13) not in shared_rows(c)[1]
    assert ("d04.example", 14) in shared_rows(c)[1]
    assert can_log_in(c, "late", PASSWORD)
    # A change after the join reaches it as any other.
    a.gwctl("throttle", "set", "after.example", "--per-minute", "5")
    wait_for(lambda: shared_rows(c) == shared_rows(a),
             what="the next change on the new node")


def caught_up(g, redis):  # noqa: F811
    """Node g sent all its changes and applied the stream to its end."""
    last = redis.cli("XREVRANGE", "gw:config", "+", "-", "COUNT", "1").split()
    with g.db("gw.db") as c:
        if c.execute("SELECT count(*) FROM cluster_outbox").fetchone()[0]:
            return False
        row = c.execute("SELECT last_id FROM cluster_applied WHERE stream "
                        "= 'gw:config'").fetchone()
    return bool(last) and row is not None and row[0] == last[0]


def note_writes(g, name):
    """Triggers in g's gw.db (gwd stopped) noting in test_writes each
    delete of an allowlisted address and each write of subaccount
    name."""
    c = sqlite3.connect(os.path.join(g.state, "gw.db"), timeout=10)
    c.executescript("""
        CREATE TABLE test_writes (what TEXT);
        CREATE TRIGGER test_ip_del AFTER DELETE ON subaccount_ip
          BEGIN INSERT INTO test_writes VALUES ('ip deleted'); END;
        CREATE TRIGGER test_sub_del AFTER DELETE ON subaccount
          WHEN old.name = '%s'
          BEGIN INSERT INTO test_writes VALUES ('subaccount deleted'); END;
        CREATE TRIGGER test_sub_upd AFTER UPDATE ON subaccount
          WHEN old.name = '%s'
          BEGIN INSERT INTO test_writes VALUES ('subaccount updated'); END;
    """ % (name, name))
    c.close()


def test_own_changes_are_not_applied_again(gw_factory, sink, redis):  # noqa: F811
    """A node applies the changes gwctl made on it once, when gwctl
    makes them: reading them back from the stream must not apply them
    again, which replaced the subaccount row (its delete cascading to
    the IP allowlist, 530 for the allowlisted client until the later
    allow-ip came round) and set settings back to earlier values for a
    moment.  Several changes made while gwd is down all go, and come
    back, when it starts; triggers in gw.db note every write they
    make to those tables, so any moment of undoing is seen after."""
    g = node(gw_factory, redis, sink, "gw1")
    wait_for(lambda: "cluster: ok" in health(g), what="cluster ok")
    wait_for(lambda: caught_up(g, redis), what="node caught up")
    g.stop()
    g.add_subaccount("ipsub", "ip.example", PASSWORD)
    g.gwctl("subaccount", "allow-ip", "ipsub", "127.0.0.1/32")
    g.gwctl("subaccount", "set", "ipsub", "--quota-hour", "10")
    g.gwctl("subaccount", "set", "ipsub", "--quota-hour", "20")
    g.add_subaccount("other", "other.example", PASSWORD)
    with g.db("gw.db") as c:
        assert c.execute("SELECT count(*) FROM cluster_outbox"
                         ).fetchone()[0] >= 5
    note_writes(g, "ipsub")
    g.start()
    wait_for(lambda: caught_up(g, redis), what="node caught up")
    with g.db("gw.db") as c:
        assert [r[0] for r in c.execute("SELECT what FROM test_writes")] == []
        assert c.execute("SELECT cidr FROM subaccount_ip JOIN subaccount "
                         "ON subaccount.id = subaccount_id WHERE name = "
                         "'ipsub'").fetchall()[0][0] == "127.0.0.1"
    assert can_log_in(g, "ipsub")


def quota_hour(g, name="app"):
    with g.db("gw.db") as c:
        return c.execute("SELECT quota_hour FROM subaccount WHERE name = ?",
                         (name,)).fetchone()[0]


def test_own_change_after_anothers_is_applied_again(gw_factory, sink,
                                                    redis):  # noqa: F811
    """What a node skips is only what nothing overwrote: a change of
    B's applied on A while a change of A's waits to be sent (A's comes
    after it in the stream) is undone on A by A's own, as on B, so
    the last writer in stream order wins on both."""
    a, b = pair(gw_factory, redis, sink)
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    a.stop()
    a.gwctl("subaccount", "set", "app", "--quota-hour", "10")
    b.gwctl("subaccount", "set", "app", "--quota-hour", "20")
    wait_for(lambda: caught_up(b, redis), what="B's change in the stream")
    a.start()
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    assert (quota_hour(a), quota_hour(b)) == (10, 10)


def test_own_insert_applied_again_keeps_the_allowlist(gw_factory, sink,
                                                      redis):  # noqa: F811
    """When a node does apply its own changes again (another node's
    came between), a row no other node touched meanwhile is left as it
    is: an insert of a row that is there, even one a later change of
    ours made differ (quota, allow-ip's `updated`), replaced it, which
    deleted it first, and the delete cascaded to the subaccount's IP
    allowlist; an update of it set it back for a moment."""
    a, b = pair(gw_factory, redis, sink)
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    a.stop()
    a.add_subaccount("ipsub", "ip.example", PASSWORD)
    a.gwctl("subaccount", "set", "ipsub", "--quota-hour", "7")
    a.gwctl("subaccount", "allow-ip", "ipsub", "127.0.0.1/32")
    b.gwctl("subaccount", "set", "app", "--quota-hour", "20")
    wait_for(lambda: caught_up(b, redis), what="B's change in the stream")
    note_writes(a, "ipsub")
    a.start()
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    with a.db("gw.db") as c:
        assert [r[0] for r in c.execute("SELECT what FROM test_writes")] == []
    assert (quota_hour(a), quota_hour(b)) == (20, 20)
    assert (quota_hour(a, "ipsub"), quota_hour(b, "ipsub")) == (7, 7)
    assert can_log_in(b, "ipsub")


def xlen(redis):  # noqa: F811
    return int(redis.cli("XLEN", "gw:config") or 0)


def allowlist(g, name="ipsub"):
    with g.db("gw.db") as c:
        return [r[0] for r in c.execute(
            "SELECT cidr FROM subaccount_ip JOIN subaccount ON "
            "subaccount.id = subaccount_id WHERE name = ?", (name,))]


def test_own_changes_known_after_a_restart(gw_factory, sink, redis):  # noqa: F811
    """Changes a node sent before it restarted, and reads back only
    after, are still its own: they are not applied again, which
    replaced the subaccount row (its delete cascading to the IP
    allowlist) and set the quota back to what later changes of ours
    had changed.  Reads are held off by Redis's ACL (XREAD refused)
    while A sends, across A's restart, and while A makes one more
    change; triggers in A's gw.db see any moment of undoing."""
    a, b = pair(gw_factory, redis, sink)
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    n = xlen(redis)
    assert redis.cli("ACL", "SETUSER", "default", "-xread").strip() == "OK"
    a.add_subaccount("ipsub", "ip.example", PASSWORD)
    a.gwctl("subaccount", "allow-ip", "ipsub", "127.0.0.1/32")
    a.gwctl("subaccount", "set", "ipsub", "--quota-hour", "7")
    wait_for(lambda: xlen(redis) == n + 3, what="A's changes in the stream")
    a.stop()
    note_writes(a, "ipsub")
    a.start()
    wait_for(lambda: "cluster: ok" in health(a), what="A ok again")
    a.gwctl("subaccount", "set", "ipsub", "--quota-hour", "9")
    c = sqlite3.connect(os.path.join(a.state, "gw.db"), timeout=10)
    with c:     # gwctl's own writes
        c.execute("DELETE FROM test_writes")
    c.close()
    assert redis.cli("ACL", "SETUSER", "default", "+xread").strip() == "OK"
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    with a.db("gw.db") as c:
        assert [r[0] for r in c.execute("SELECT what FROM test_writes")] == []
    assert (allowlist(a), allowlist(b)) == (["127.0.0.1"], ["127.0.0.1"])
    assert (quota_hour(a, "ipsub"), quota_hour(b, "ipsub")) == (9, 9)
    assert "names this node" not in a.logtext()
    assert "another gwd" not in a.logtext()     # the one before the restart
    assert can_log_in(b, "ipsub")


def test_two_nodes_of_one_name_lose_no_change(gw_factory, sink, redis):  # noqa: F811
    """cluster.node set alike on two nodes: both say so (their
    heartbeats), and neither takes the other's changes for its own."""
    a = node(gw_factory, redis, sink, "gw1", **QUIET_GUARD)
    b = node(gw_factory, redis, sink, "gw1", **QUIET_GUARD)
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
        wait_for(lambda: "another gwd heartbeats as node \"gw1\"" in
                 g.logtext(), what="the warning")
    a.add_subaccount("newbie", "new.example", PASSWORD)
    wait_for(lambda: can_log_in(b), interval=0.05, what="B taking A's")
    b.gwctl("subaccount", "set", "newbie", "--quota-hour", "5")
    wait_for(lambda: quota_hour(a, "newbie") == 5, what="A taking B's")
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    assert "names this node (gw1)" in a.logtext()
    assert "names this node (gw1)" in b.logtext()


class Monitor:
    """redis-cli MONITOR: the commands Redis runs, as it runs them."""

    def __init__(self, redis):  # noqa: F811
        self.redis = redis
        self.proc = subprocess.Popen(
            ["redis-cli", "-p", str(redis.port), "MONITOR"],
            stdout=subprocess.PIPE, text=True)
        self.lines = []
        self.seen(lambda line: True, "MONITOR started")

    def seen(self, pred, what):
        """Read until a line pred() takes: that line."""
        while True:
            line = self.proc.stdout.readline()
            assert line, "MONITOR ended before %s" % what
            self.lines.append(line)
            if pred(line):
                return line

    def upto_now(self):
        """Every command run before this call."""
        mark = "mark-%d" % len(self.lines)
        self.redis.cli("ECHO", mark)
        self.seen(lambda line: '"%s"' % mark in line, "the mark")
        return self.lines

    def polled_by(self, n, times=1):
        """Until n nodes have each polled times since now (asked where
        the stream was trimmed): whatever each sent before (on its one
        connection) ran; twice, and each has the first poll's answer
        (a node polls again only once that one is read)."""
        start, who = len(self.upto_now()), {}
        for line in self.lines[start:]:
            if POLL.search(line):
                who[line.split()[2]] = who.get(line.split()[2], 0) + 1
        while len([k for k in who if who[k] >= times]) < n:
            k = self.seen(POLL.search, "a poll").split()[2]
            who[k] = who.get(k, 0) + 1

    def close(self):
        self.proc.kill()
        self.proc.wait()


# A node's snapshot, given to Redis: one EVALSHA each (an EVAL follows
# when Redis answers NOSCRIPT).
SNAPSHOT_WRITE = re.compile(
    r'"EVALSHA" "[0-9a-f]{40}" "[0-9]+" "gw:config:snapshot" "gw:config"',
    re.I)
# A node's poll: where the stream was trimmed (not the tests' HGET).
POLL = re.compile(r'"HM?GET" "gw:config:snapshot" .*"trimmed"', re.I)


def add_entries(redis, entries):  # noqa: F811
    """Append entries (field lists) to gw:config at once; the last id."""
    cmds = ["MULTI"] + ["XADD gw:config * " + " ".join(e) for e in entries]
    r = subprocess.run(["redis-cli", "-p", str(redis.port)],
                       input="\n".join(cmds + ["EXEC"]) + "\n",
                       capture_output=True, text=True, timeout=10)
    return r.stdout.split()[-1]


def applied_upto(g, id):
    with g.db("gw.db") as c:
        row = c.execute("SELECT last_id FROM cluster_applied WHERE stream "
                        "= 'gw:config'").fetchone()
    return row is not None and row[0] == id


def test_snapshot_published_by_one_node(gw_factory, sink, redis):  # noqa: F811
    """Three nodes reach cluster.snapshot_every changes together: one
    of them publishes the snapshot, not all three (each did, the first
    snapshot at least, as none saw the others').  MONITOR counts the
    snapshots Redis is given.  After a second interval (one snapshot
    more) a new node bootstraps from it, the stream trimmed below the
    first."""
    snap = {"cluster.snapshot_every": 10}
    nodes = [node(gw_factory, redis, sink, "gw%d" % i, **snap)
             for i in (1, 2, 3)]
    for g in nodes:
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    mon = Monitor(redis)
    try:
        # A change already applied, again from a node that is none of
        # these: each node counts it, none is changed by it.
        first = redis.cli("XRANGE", "gw:config", "-", "+", "COUNT", "1")
        cs = first.split()[first.split().index("cs") + 1]
        for rnd in (1, 2):
            n = 10 - xlen(redis) if rnd == 1 else 10
            last = add_entries(redis, [["node", "test", "cs", cs]] * n)
            for g in nodes:
                wait_for(lambda: applied_upto(g, last),
                         what="every node at the stream's end")
            wait_for(lambda: redis.cli("HGET", "gw:config:snapshot",
                                       "id").strip() == last,
                     what="the snapshot published")
            mon.polled_by(len(nodes))
            published = [line for line in mon.upto_now()
                         if SNAPSHOT_WRITE.search(line)]
            assert len(published) == rnd, [p[:120] for p in published]
    finally:
        mon.close()
    assert redis.cli("HGET", "gw:config:snapshot", "trimmed").strip()
    new = gw_factory(relay=smarthost(sink), settings={
        "cluster.redis": "127.0.0.1:%d" % redis.port,
        "cluster.node": "gw4", "cluster.snapshot_every": 10}).start()
    wait_for(lambda: "configuration snapshot" in new.logtext(),
             what="the new node taking the snapshot")
    wait_for(lambda: shared_rows(new) == shared_rows(nodes[0]),
             what="the new node agreeing with the others")
    assert can_log_in(new, "app", "s3cret-pass")


def test_snapshots_go_on_after_redis_restarted_empty(gw_factory, sink,
                                                     redis):  # noqa: F811
    """Redis restarted empty has no snapshot: a node that still took
    the last one it saw for the current one was refused the right to
    publish the next, for good."""
    snap = {"cluster.snapshot_every": 10}
    nodes = [node(gw_factory, redis, sink, "gw%d" % i, **snap)
             for i in (1, 2)]
    for g in nodes:
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    first = redis.cli("XRANGE", "gw:config", "-", "+", "COUNT", "1")
    cs = first.split()[first.split().index("cs") + 1]
    for rnd in (1, 2):
        n = 10 - xlen(redis) if rnd == 1 else 10
        last = add_entries(redis, [["node", "test", "cs", cs]] * n)
        wait_for(lambda: redis.cli("HGET", "gw:config:snapshot",
                                   "id").strip() == last,
                 what="the snapshot published")
        if rnd == 1:
            mon = Monitor(redis)
            mon.polled_by(len(nodes), 2)    # each knows the snapshot
            mon.close()
            redis.kill()
            redis.start()
            for g in nodes:
                wait_for(lambda: "cluster: ok" in health(g),
                         what="cluster ok again")


def stream_entries(redis):  # noqa: F811
    """gw:config as [(id, {field: value})]."""
    out = subprocess.run(["redis-cli", "-p", str(redis.port), "--json",
                          "XRANGE", "gw:config", "-", "+"],
                         capture_output=True, text=True, timeout=10).stdout
    return [(e[0], dict(zip(e[1][::2], e[1][1::2])))
            for e in json.loads(out or "[]")]


def set_filler(g):
    """A change of a row nothing else touches (throttle filler.example):
    entries of it again, applied already, change nothing."""
    g.gwctl("throttle", "set", "filler.example", "--per-minute", "5")


def two_snapshots(redis):  # noqa: F811
    """Ten entries of set_filler()'s change, a snapshot, ten more, a
    second one: the stream is trimmed below the first."""
    cs = [f["cs"] for _, f in stream_entries(redis)
          if b"filler.example" in base64.b64decode(f["cs"])][-1]
    for rnd in (1, 2):
        last = add_entries(redis, [["node", "test", "cs", cs]] * 10)
        wait_for(lambda: redis.cli("HGET", "gw:config:snapshot",
                                   "id").strip() == last,
                 what="snapshot %d published" % rnd)


def test_own_change_trimmed_into_a_snapshot_is_not_sent_again(
        gw_factory, sink, redis):  # noqa: F811
    """gwd killed after Redis took a change of its own (the XADD) but
    before it noted it sent; while it is down another node changes the
    same row, and two snapshots trim the first change into the second.
    Restarted, the node never reads its entry back (it is inside the
    snapshot, not in the stream): it sent the change again, and the
    older value overwrote the newer on every node.  gw.db held by the
    test (BEGIN IMMEDIATE) makes the note of "sent" fail, as the kill
    would skip it, and keeps the entry from being read back; A is
    killed once Redis has the entry."""
    snap = {"cluster.snapshot_every": 10}
    a = node(gw_factory, redis, sink, "gw1", **snap)
    b = node(gw_factory, redis, sink, "gw2", **snap)
    set_filler(b)
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    before = [i for i, _ in stream_entries(redis)]
    # A's change waits (XADD refused) until gw.db is held.
    assert redis.cli("ACL", "SETUSER", "default", "-xadd").strip() == "OK"
    a.gwctl("subaccount", "set", "app", "--quota-hour", "10")
    held = sqlite3.connect(os.path.join(a.state, "gw.db"), timeout=10,
                           isolation_level=None)
    held.execute("BEGIN IMMEDIATE")
    assert redis.cli("ACL", "SETUSER", "default", "+xadd").strip() == "OK"
    wait_for(lambda: len(stream_entries(redis)) > len(before),
             what="A's change in Redis")
    a.kill9()
    held.rollback()
    held.close()
    ours = [i for i, f in stream_entries(redis) if i not in before]
    assert len(ours) == 1, ours
    with sqlite3.connect(os.path.join(a.state, "gw.db")) as c:
        assert c.execute("SELECT count(*) FROM cluster_outbox"
                         ).fetchone()[0] == 1
        assert c.execute("SELECT count(*) FROM cluster_applied WHERE "
                         "stream = 'gw:config:sent'").fetchone()[0] == 0
    # B's later change of the same row, then two snapshots: the second
    # trims the stream below the first, A's entry with it.
    b.gwctl("subaccount", "set", "app", "--quota-hour", "20")
    wait_for(lambda: caught_up(b, redis), what="B's change in the stream")
    two_snapshots(redis)
    assert ours[0] not in [i for i, _ in stream_entries(redis)]
    a.start()
    for g in (a, b):
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    assert (quota_hour(a), quota_hour(b)) == (20, 20)
    assert "in the snapshot taken: not sent again" in a.logtext()


def set_while_down(redis, nodes, by, quotas, down, last):  # noqa: F811
    """app's hourly quota set to each of quotas on node by, each read
    by every node; node down stopped, the quota set to last on it (its
    gwctl), two snapshots, down started: its change sent, then read by
    the others."""
    for q in quotas:
        by.gwctl("subaccount", "set", "app", "--quota-hour", q)
        for g in nodes:
            wait_for(lambda: caught_up(g, redis), what="node caught up")
    down.stop()
    down.gwctl("subaccount", "set", "app", "--quota-hour", last)
    two_snapshots(redis)
    down.start()
    for g in [down] + [g for g in nodes if g is not down]:
        wait_for(lambda: caught_up(g, redis), what="node caught up")
    assert "configuration snapshot" in down.logtext()


def test_change_made_while_down_survives_a_snapshot(gw_factory, sink,
                                                     redis):  # noqa: F811
    """Outbox row ids start again at 1 once every change of a node came
    back: a snapshot's mark of that node (the highest seq of that
    node's changes it holds) must not take a new row for one in it.
    A's changes read back, A stopped, a change made on A (its row's id
    1 again), two snapshots: the change goes when A starts, and wins."""
    snap = {"cluster.snapshot_every": 10}
    a = node(gw_factory, redis, sink, "gw1", **snap)
    b = node(gw_factory, redis, sink, "gw2", **snap)
    set_filler(b)
    set_while_down(redis, (a, b), a, ("5", "6"), a, "7")
    assert (quota_hour(a), quota_hour(b)) == (7, 7)


def test_snapshot_marks_keep_two_nodes_of_one_name_apart(
        gw_factory, sink, redis):  # noqa: F811
    """cluster.node set alike on two nodes: the mark a snapshot holds
    of one of them (its changes up to it are in the snapshot) is not
    the other's, whose change made while it was down still goes."""
    snap = dict(QUIET_GUARD, **{"cluster.snapshot_every": 10})
    a = node(gw_factory, redis, sink, "gw1", **snap)
    b = node(gw_factory, redis, sink, "gw1", **snap)
    set_filler(a)
    set_while_down(redis, (a, b), a, ("5", "6", "7"), b, "8")
    assert (quota_hour(a), quota_hour(b)) == (8, 8)


def commandstat(redis, cmd):  # noqa: F811
    """How many times Redis ran cmd since it started (INFO commandstats)."""
    m = re.search(r"cmdstat_%s:calls=(\d+)" % cmd.lower(),
                  redis.cli("INFO", "commandstats"))
    return int(m.group(1)) if m else 0


def test_waiting_changes_go_one_after_another(gw_factory, sink, redis):  # noqa: F811
    """Changes waiting in the outbox (made while Redis was away) go each
    as soon as Redis took the one before, not one a poll: the node sends
    all 30 with far fewer stream reads between them (it used to read
    after each, and waited a poll for the next)."""
    a = node(gw_factory, redis, sink, "gw1")
    wait_for(lambda: "cluster: ok" in health(a), what="cluster ok")
    redis.kill()
    wait_for(lambda: "cluster: degraded" in health(a), what="degraded")
    for i in range(30):
        a.gwctl("throttle", "set", "w%02d.example" % i, "--per-minute",
                str(10 + i))
    redis.start()
    wait_for(lambda: caught_up(a, redis), timeout=30, what="all sent")
    assert int(redis.cli("XLEN", "gw:config")) >= 30
    xadd, xread = commandstat(redis, "xadd"), commandstat(redis, "xread")
    assert xadd >= 30
    assert xread < 10, (xadd, xread)
