"""gwd's live numbers: the control socket and Prometheus /metrics agree
with what the sink and the audit log saw."""
import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import client_tls_context, control, free_port, smarthost, wait_for
import smtplib


def send(g, rcpts, subject):
    msg = ("From: <app@example.com>\r\nSubject: %s\r\n\r\nhi\r\n" % subject).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", rcpts, msg)


def stats(g):
    return {k: int(v) for k, v in (l.split() for l in control(g, "stats").splitlines())}


def metrics_text(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


# Smarthost labels are "host:port", "[::1]:25" for IPv6.
LABEL = r'[a-z]+="[a-zA-Z0-9_.+:\[\]-]+"'


def prometheus(port):
    values = {}
    for line in metrics_text(port).splitlines():
        if line.startswith("#"):
            assert re.match(r"# (HELP|TYPE) (gw|process)_[a-z_]+ ", line), line
            continue
        name, value = line.rsplit(" ", 1)
        assert re.match(r'(gw|process)_[a-z_]+(\{%s(,%s)*\})?$'
                        % (LABEL, LABEL), name), name
        assert name not in values, name
        values[name] = float(value)
    return values


def promtool(port):
    """promtool's lint of /metrics: no complaint."""
    r = subprocess.run(["promtool", "check", "metrics"], input=metrics_text(port),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr


@pytest.fixture
def gw(gw_factory, sink):
    port = free_port()
    sink.rcpt_reply = lambda a: "550 5.1.1 no such user" if a.startswith("bad") else None
    g = gw_factory(relay=smarthost(sink),
                   extra='metrics = { listen = "127.0.0.1:%d"; };' % port).start()
    g.metrics_port = port
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def test_counts_match_sink_and_log(gw, sink):
    send(gw, ["u1@dest.test"], "one")
    send(gw, ["u2@dest.test", "bad@dest.test"], "two")
    send(gw, ["u3@dest.test"], "three")
    # Three messages and one DSN reach the sink.
    sink.wait_count(4)
    wait_for(lambda: stats(gw)["queue_recipients"] == 0, what="queue empty")
    # The log is committed by the store thread a moment after the counters.
    wait_for(lambda: len(gw.events("action='delivered'")) == 4, what="log")
    st = stats(gw)
    m = prometheus(gw.metrics_port)
    delivered = len(gw.events("action='delivered'"))
    bounced = len(gw.events("action='bounced'"))
    received = len(gw.events("action='received'"))
    assert (delivered, bounced) == (4, 1)
    assert st["delivered_total"] == delivered == len(sink.messages)
    assert st["bounced_total"] == bounced
    assert st["dsn_total"] == 1
    assert st["messages_received_total"] == 3 == received - 1    # the DSN is no submission
    assert st["recipients_received_total"] == 4
    assert st["dkim_unsigned_total"] == 4        # the DSN's signing counts too
    assert m['gw_deliveries_total{result="delivered",class="none"}'] == delivered
    assert m['gw_deliveries_total{result="bounced",class="hard"}'] == bounced
    assert m["gw_messages_received_total"] == 3
    assert m["gw_queue_messages"] == 0
    assert m["gw_queue_oldest_age_seconds"] == 0
    assert m["gw_smtp_sessions_total"] >= 3


# Every row of gwd's snapshot: its `stats` key and its Prometheus series.
ROWS = [
    ("uptime_seconds", "gw_uptime_seconds"),
    ("sessions_total", "gw_smtp_sessions_total"),
    ("sessions", "gw_smtp_sessions"),
    ("connections_out", "gw_delivery_connections"),
    ("messages_received_total", "gw_messages_received_total"),
    ("bytes_received_total", "gw_received_bytes_total"),
    ("recipients_received_total", "gw_recipients_received_total"),
    ("messages_rejected_total", "gw_messages_rejected_total"),
    ("auth_failures_total", "gw_auth_failures_total"),
    ("auth_checks_total", "gw_auth_checks_total"),
    ("auth_busy_total", "gw_auth_busy_total"),
    ("auth_queue", "gw_auth_queue"),
    ("auth_waiting", "gw_auth_waiting"),
    ("memory_bytes", "gw_smtp_memory_bytes"),
    ("memory_closed_total", "gw_smtp_memory_closed_total"),
    ("proxy_refused_untrusted_total",
     'gw_proxy_refused_total{reason="untrusted"}'),
    ("proxy_refused_malformed_total",
     'gw_proxy_refused_total{reason="malformed"}'),
    ("proxy_refused_missing_total",
     'gw_proxy_refused_total{reason="missing"}'),
    ("delivered_total", None),      # by class: gw_deliveries_total
    ("deferred_total", None),
    ("bounced_total", None),
    ("expired_total", None),
    ("dsn_total", "gw_dsn_total"),
    ("complaints_total", "gw_complaints_total"),
    ("async_bounces_total", "gw_async_bounces_total"),
    ("feedback_matched_total", 'gw_feedback_reports_total{result="matched"}'),
    ("feedback_nothing_total", 'gw_feedback_reports_total{result="nothing"}'),
    ("feedback_unmatched_total",
     'gw_feedback_reports_total{result="unmatched"}'),
    ("feedback_forged_total", 'gw_feedback_reports_total{result="forged"}'),
    ("feedback_unreadable_total",
     'gw_feedback_reports_total{result="unreadable"}'),
    ("dkim_signed_total", 'gw_dkim_messages_total{result="signed"}'),
    ("dkim_unsigned_total", 'gw_dkim_messages_total{result="unsigned"}'),
    ("sts_txt_queries_total", 'gw_mta_sts_txt_lookups_total{source="dns"}'),
    ("sts_txt_cache_hits_total",
     'gw_mta_sts_txt_lookups_total{source="cache"}'),
    ("sts_fetches_total", "gw_mta_sts_fetches_total"),
    ("sts_fetch_failures_total", "gw_mta_sts_fetch_failures_total"),
    ("sts_fetch_backoff_total", "gw_mta_sts_fetch_backoff_total"),
    ("sts_cache_domains", "gw_mta_sts_cache_domains"),
    ("sts_cache_policies", "gw_mta_sts_cache_policies"),
    ("queue_messages", "gw_queue_messages"),
    ("queue_recipients", None),     # the sum of the states
    ("queue_active", 'gw_queue_recipients{state="active"}'),
    ("queue_deferred", 'gw_queue_recipients{state="deferred"}'),
    ("queue_held", 'gw_queue_recipients{state="held"}'),
    ("queue_ready", 'gw_queue_recipients{state="ready"}'),
    ("queue_held_messages", "gw_queue_held"),
    ("queue_quarantined_messages", "gw_queue_quarantined"),
    ("queue_oldest_age_seconds", "gw_queue_oldest_age_seconds"),
    ("queue_loading", "gw_queue_loading_messages"),
    ("destinations", "gw_destinations"),
    ("subaccounts_paused", "gw_subaccounts_paused"),
    ("cluster_degraded", "gw_cluster_degraded"),
    ("cluster_nodes", "gw_cluster_nodes"),
    ("log_pruned_total", "gw_log_pruned_total"),
    ("log_oldest_age_seconds", "gw_log_oldest_event_age_seconds"),
    ("store_blocked", "gw_store_blocked"),
    ("store_backlog", "gw_store_backlog"),
    ("store_behind", "gw_store_behind"),
    ("store_behind_total", "gw_store_behind_total"),
    ("store_batch_ops_max", "gw_store_batch_ops_max"),
    ("store_commit_failures_total", "gw_store_commit_failures_total"),
    # After the rows: the alerts (gw_alert_firing has its own family).
    ("alerts_firing", None),
]


def test_every_row_in_stats_and_metrics(gw):
    """`stats` and /metrics come from one snapshot, which filled a
    64-row array and dropped any row past it without a word; now it
    grows.  Both list every row, in the same order, with equal values
    for the counters that cannot move between the two reads."""
    keys = [l.split()[0] for l in control(gw, "stats").splitlines()]
    assert keys == [k for k, _ in ROWS]
    m = prometheus(gw.metrics_port)
    rows = [p for _, p in ROWS if p]
    assert list(m)[:len(rows)] == rows
    st = stats(gw)
    for k, p in ROWS:
        if p and k.startswith(("queue_", "dkim_", "messages_")):
            assert st[k] == m[p], k
    # No "all" state beside the states it sums: sum() would count twice.
    assert not [n for n in m if 'state="all"' in n]
    promtool(gw.metrics_port)


def test_queue_gauges_while_deferred(gw_factory, sink):
    sink.data_reply = lambda msg: "451 4.3.0 try later"
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "60s", "queue.retry_max": "60s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["u1@dest.test", "u2@dest.test"], "held")
    wait_for(lambda: stats(g)["queue_deferred"] == 2, what="deferred")
    st = stats(g)
    assert st["queue_messages"] == 1 and st["queue_recipients"] == 2
    assert st["deferred_total"] == 2 and st["delivered_total"] == 0
    assert st["queue_oldest_age_seconds"] >= 0
    # gwtop, reading the same gwd, says it is running.
    r = subprocess.run([os.path.join(os.environ["GW_BUILD"], "gwtop"), "-c", g.conf,
                        "--once"], capture_output=True, text=True, timeout=30)
    assert "gwd.state=running" in r.stdout
    live = dict(l.split("=", 1) for l in r.stdout.splitlines())
    assert live["gwd.deferred_total"] == "2"
    assert live["gwd.received_total"] == "1"
    assert live["queue.deferred"] == "2"


def destinations(g, arg=""):
    """`destinations [N]` parsed: (bucket line, {domain: fields}); the
    smarthost lines after them are smarthosts(g)'s."""
    lines = [l for l in control(g, ("destinations " + arg).strip())
             .splitlines() if not l.startswith("smarthost ")]
    out = {}
    for line in lines[1:]:
        head, _, error = line.partition(" error=")
        f = head.split()
        assert f[0] == "dest", line
        kv = dict(x.split("=", 1) for x in f[2:])
        d = {k: int(v) for k, v in kv.items()
             if k not in ("age", "via", "health", "tls")}
        d["age"] = [int(x) for x in kv["age"].split(",")]
        d["via"] = kv["via"]
        d["health"] = kv["health"]
        d["tls"] = kv["tls"]
        d["error"] = error
        out[f[1]] = d
    return lines[0], out, [l.split()[1] for l in lines[1:]]


def test_destinations_command(gw_factory, sink):
    """qshape per domain from gwd's own queue: counts by age bucket,
    backoff with its next attempt, the reply that deferred, connections."""
    sink.rcpt_reply = lambda a: ("451 4.2.1 mailbox busy\x01"
                                 if a.endswith("@slow.test") or a.startswith("e@")
                                 else None)
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "60s", "queue.retry_max": "60s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    buckets, d, order = destinations(g)
    assert buckets == "buckets 5 10 20 40 80 80+"
    assert d == {}
    before = int(time.time())
    send(g, ["a@slow.test", "b@slow.test", "c@fast.test"], "mixed")
    send(g, ["d@slow.test", "e@other.test"], "more")
    sink.wait_count(1)
    wait_for(lambda: stats(g)["queue_deferred"] == 4, what="four deferred")
    _, d, order = destinations(g)
    assert order == ["slow.test", "other.test"]          # most queued first
    slow = d["slow.test"]
    assert (slow["queued"], slow["waiting"], slow["active"]) == (3, 3, 0)
    assert slow["age"] == [3, 0, 0, 0, 0, 0]
    assert before + 59 <= slow["next_attempt"] <= int(time.time()) + 61
    # The remote reply, one line: its control byte is shown as '?'.
    assert slow["error"] == "451 4.2.1 127.0.0.1 said: mailbox busy?"
    assert slow["connections"] >= 0
    # Not throttled: the smarthost's destination at its full window.
    assert slow["via"] == "[smarthost]"
    assert slow["throttled"] == 0 and slow["gap_ms"] == 0
    assert slow["window"] == slow["limit"] >= 1
    assert slow["per_minute"] == 0
    assert d["other.test"]["queued"] == 1
    # What the sink saw agrees: only fast.test got through.
    assert [m.rcpt_tos for m in sink.messages] == [["c@fast.test"]]
    _, d1, order1 = destinations(g, "1")
    assert order1 == ["slow.test"]
    for bad in ("0", "201", "x", "1x"):
        assert control(g, "destinations " + bad).startswith("error count")
    assert control(g, "destinationsx").startswith("error unknown command")


def test_health_and_errors(gw):
    with urllib.request.urlopen("http://127.0.0.1:%d/health" % gw.metrics_port,
                                timeout=5) as r:
        assert r.status == 200 and r.read() == b"ok\n"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen("http://127.0.0.1:%d/nope" % gw.metrics_port, timeout=5)
    assert e.value.code == 404
    assert control(gw, "ping") == "pong\n"
    assert control(gw, "frobnicate").startswith("error unknown command")


def test_control_version_word_and_commands(gw):
    """Requests with the protocol version word (gwctl, gwtop) and without
    it (older clients, scripts) mean the same; another version is
    refused; an unknown command lists the commands there are."""
    assert control(gw, "v1 ping") == "pong\n"
    assert control(gw, "ping") == "pong\n"
    assert [l.split()[0] for l in control(gw, "v1 stats").splitlines()] \
        == [l.split()[0] for l in control(gw, "stats").splitlines()]
    assert control(gw, "v2 ping") == \
        "error protocol version 2: this gwd speaks 1\n"
    r = control(gw, "v1 frobnicate")
    assert r == ('error unknown command "frobnicate" (try: stats, '
                 'destinations, pools, subaccounts, ping, queue, '
                 'suppression, subaccount, alert, auth, webhook, tls-report)\n')
    assert control(gw, "stats now") == 'error no arguments to "stats"\n'
    assert control(gw, "v1 destinations 1").startswith("buckets ")
    assert control(gw, "v1 queue list") == "end\n"
    assert control(gw, "suppression").startswith(
        "error usage: suppression delete")


def test_subaccounts_reply_is_never_cut(gw_factory):
    """`subaccounts` for more subaccounts than 64 KB of lines: gwd's
    answer buffer was 64 KB and dropped the rest without a word."""
    g = gw_factory().start()
    g.add_subaccount("first", "first.test", "s3cret-pass")
    names = ["sub%04d-%s" % (i, "x" * 50) for i in range(1000)]
    now = int(time.time())
    with sqlite3.connect(os.path.join(g.state, "gw.db")) as db:
        db.executemany("INSERT INTO subaccount (name, created, updated) "
                       "VALUES (?, ?, ?)", [(n, now, now) for n in names])
    db.close()
    # gwd re-reads gw.db within its poll.
    wait_for(lambda: "sub sub0999-" in control(g, "subaccounts"),
             what="gwd to read the new subaccounts")
    text = control(g, "subaccounts")
    assert len(text) > 64 * 1024
    listed = [line.split()[1] for line in text.splitlines()]
    assert sorted(listed) == sorted(names + ["first"])


def health(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port,
                                    timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_health_storage_full(gw_factory):
    """Less free space in the state directory than metrics.min_free (or
    under 1%): 503 "storage full", so a balancer sends mail elsewhere.
    This machine's disk is not 100 000 TB, so that threshold trips; the
    default 64M does not (test_health_and_errors)."""
    port = free_port()
    g = gw_factory(extra='metrics = { listen = "127.0.0.1:%d"; '
                   'min_free = "100000000G"; };' % port).start()
    assert health(port) == (503, "storage full\n")
    # Metrics still answer: only the health check says no.
    assert prometheus(port)["gw_queue_messages"] == 0


def test_control_socket_refuses_other_users(gw):
    path = os.path.join(gw.state, "control")
    assert oct(os.stat(path).st_mode & 0o777) == "0o660"
    # nobody cannot even reach the socket file; given access to it, gwd
    # still checks the peer's credentials.  (pytest's directories are
    # private to root: let nobody through them, for this test only.)
    d = gw.state
    while d != "/tmp":
        os.chmod(d, os.stat(d).st_mode | 0o011)
        d = os.path.dirname(d)
    os.chmod(path, 0o666)
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "/usr/bin/python3", "-c",
                        "import socket, time\n"
                        "s = socket.socket(socket.AF_UNIX); s.settimeout(5)\n"
                        "s.connect(%r); time.sleep(0.3)\n"
                        "try:\n"
                        "    s.sendall(b'stats\\n'); print(repr(s.recv(100)))\n"
                        "except OSError as e:\n"
                        "    print('closed', e.errno)\n" % path],
                       capture_output=True, text=True, timeout=30)
    # Told why, in one line, then closed (not reset).
    assert r.stdout.startswith("b'error permission denied: the control socket "
                               "admits root"), r.stdout + r.stderr
    assert "control: refused uid" in gw.logtext()


def test_bad_metrics_address_is_a_config_error(gw_factory):
    g = gw_factory(extra='metrics = { listen = "not-an-address"; };')
    r = subprocess.run([os.path.join(os.environ["GW_BUILD"], "gwd"), "-n", "-c", g.conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 78
    assert 'metrics.listen: "not-an-address" is not an address' in r.stderr


def test_bad_resolver_is_a_config_error(gw_factory):
    g = gw_factory(settings={"dns.resolver": "127.0.0.1:99999"})
    for prog in ("gwd", "gwctl"):
        args = ["-n"] if prog == "gwd" else ["dkim", "list"]
        r = subprocess.run([os.path.join(os.environ["GW_BUILD"], prog), "-c", g.conf]
                           + args, capture_output=True, text=True, timeout=30)
        assert r.returncode == 78, (prog, r.stderr)
        assert 'dns.resolver: "127.0.0.1:99999" is not an address' in r.stderr


def test_gwtop_shows_live_throughput(gw, sink):
    """gwtop in a terminal, against a gwd under load: the Throughput panel
    shows messages per second in and out, and a sparkline."""
    import threading
    from test_gwtop import Tty, rows
    stop = threading.Event()
    sent = []

    def load():
        with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
            s.starttls(context=client_tls_context())
            s.login("app", "s3cret-pass")
            while not stop.is_set():
                s.sendmail("app@example.com", ["u@dest.test"],
                           b"From: <app@example.com>\r\nSubject: load\r\n\r\nhi\r\n")
                sent.append(1)
                time.sleep(0.02)
    th = threading.Thread(target=load)
    th.start()
    t = Tty(gw.conf, rows=30, cols=100, args=["-d", "0.5"])
    try:
        assert t.wait_for("Throughput", 10)
        seen = set()
        end = time.time() + 10
        while time.time() < end and not {"in", "out"} <= seen:
            for line in rows(t.read(0.5)):
                f = line.split()
                if len(f) >= 3 and f[0] in ("in", "out") and f[2] == "msg/s" \
                        and float(f[1]) > 0:
                    seen.add(f[0])
                    assert any(ch in line for ch in "\u2581\u2582\u2583\u2584"
                               "\u2585\u2586\u2587\u2588"), line
        assert seen == {"in", "out"}
        assert "gwd: running" in rows(t.read(0.1))[0]
        assert " up " in rows(t.read(0.1))[0]
    finally:
        stop.set()
        th.join(30)
        t.send("q")
        t.read(0.5)
    assert sent


def test_subaccounts_command(gw_factory, sink):
    """`subaccounts`: each subaccount's quotas, their use, and pauses."""
    import smtplib
    from conftest import client_tls_context, smarthost
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.add_subaccount("idle", "idle.test", "s3cret-pass")
    g.gwctl("subaccount", "set", "app", "--quota-hour", "10",
            "--quota-day", "100")
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=20) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        for i in range(3):
            s.sendmail("app@example.com", ["x@y.test"],
                       b"Subject: q\r\n\r\nbody\r\n")
    sink.wait_count(3)
    out = control(g, "subaccounts")
    rows = {}
    for line in out.splitlines():
        word, name, *kv = line.split(" ")
        assert word == "sub"
        rows[name] = dict(x.split("=", 1) for x in kv)
    assert rows["app"] == {"enabled": "1", "quota_hour": "10",
                           "used_hour": "3", "quota_day": "100",
                           "used_day": "3", "paused": "0"}
    assert rows["idle"]["used_day"] == "0" and rows["idle"]["quota_hour"] \
        == "0"


def rcpt_replies(sink, *rules):
    """The sink answers RCPT TO by the first rule (KEY, reply) that
    matches: KEY "@domain" ends the address, any other begins it."""
    def reply(a):
        for key, r in rules:
            if a.endswith(key) if key.startswith("@") else a.startswith(key):
                return r
        return None
    sink.rcpt_reply = reply


def pools(g):
    """`pools` parsed: {name: fields with "addresses": {ip: fields}}."""
    lines = control(g, "pools").splitlines()
    assert lines[-1] == "end", lines
    out = {}
    for line in lines[:-1]:
        f = line.split()
        if f[0] == "pool":
            kv = dict(x.split("=", 1) for x in f[2:])
            p = {k: int(v) for k, v in kv.items() if k != "destinations"}
            p["destinations"] = kv["destinations"].split(",")
            p["addrs"] = {}
            out[f[1]] = p
        else:
            assert f[0] == "address", line
            kv = dict(x.split("=", 1) for x in f[3:])
            out[f[1]]["addrs"][f[2]] = {"helo": kv["helo"], "connections":
                                        int(kv["connections"])}
    return out


def test_pools_command_and_throttle_state(gw_factory, sink):
    """A pool of 127.0.0.2 and .3 for pooled.test; the sink defers,
    bounces and rate-limits some recipients.  `pools` counts what the
    sink saw from the pool's addresses, and its connections are those
    the sink has open from each; `destinations` shows the smarthost's
    destination throttled after a 421, the pool's not."""
    rcpt_replies(sink, ("@throttled.test", "421 4.7.0 rate limited"),
                 ("bad", "550 5.1.1 no such user"),
                 ("later", "451 4.2.1 mailbox busy"))
    port = free_port()
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "600s",
                             "queue.retry_max": "600s",
                             "relay.backoff_recovery": "1h",
                             "relay.idle_time": "300s"},
                   extra='metrics = { listen = "127.0.0.1:%d"; };' % port
                   ).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    assert control(g, "pools") == "end\n"
    g.gwctl("pool", "add", "out", "127.0.0.2", "127.0.0.3", "--helo",
            "mta2.example.com")
    g.gwctl("pool", "add", "idle", "127.0.0.4")
    g.gwctl("route", "add", "--to-domain", "pooled.test", "--pool", "out")
    g.gwctl("throttle", "set", "127.0.0.1", "--connections", "4",
            "--per-minute", "6000")
    send(g, ["u1@pooled.test", "bad@pooled.test"], "one")
    send(g, ["u2@pooled.test", "later@pooled.test"], "two")
    send(g, ["u3@pooled.test"], "three")
    # The DSN first: a delivery after the 421 would take a step back.
    wait_for(lambda: [m for m in sink.messages if m.mail_from == ""],
             what="the DSN delivered")
    send(g, ["x@throttled.test", "y@plain.test"], "four")
    # pooled.test: 3 delivered, 1 bounced, 1 deferred; plain.test and
    # the DSN delivered from 127.0.0.1.
    wait_for(lambda: pools(g)["out"]["delivered"] == 3 and
             stats(g)["queue_deferred"] == 2 and
             stats(g)["delivered_total"] == 5, what="all attempts made")
    from_pool = [m for m in sink.messages
                 if m.peer[0] in ("127.0.0.2", "127.0.0.3")]
    assert sorted(r for m in from_pool for r in m.rcpt_tos) == [
        "u1@pooled.test", "u2@pooled.test", "u3@pooled.test"]
    assert {m.helo for m in from_pool} == {"mta2.example.com"}
    p = pools(g)
    assert sorted(p) == ["idle", "out"]
    out = p["out"]
    assert (out["delivered"], out["deferred"], out["bounced"]) == (3, 1, 1)
    assert out["addresses"] == 2
    assert out["destinations"] == ["[smarthost]@out"]
    assert sorted(out["addrs"]) == ["127.0.0.2", "127.0.0.3"]
    assert {a["helo"] for a in out["addrs"].values()} == {"mta2.example.com"}
    assert p["idle"]["destinations"] == ["-"]
    assert p["idle"]["addrs"] == {"127.0.0.4": {"helo": "gw.test",
                                                "connections": 0}}
    assert (p["idle"]["delivered"], p["idle"]["connections"]) == (0, 0)

    # Connections open now, per source address, as the sink counts them
    # (idle connections stay open for relay.idle_time).
    def conns_agree():
        p = pools(g)["out"]
        with sink.lock:
            seen = {ip: sink.open_by_ip.get(ip, 0)
                    for ip in ("127.0.0.2", "127.0.0.3")}
        have = {ip: a["connections"] for ip, a in p["addrs"].items()}
        return have == seen and p["connections"] == sum(seen.values()) and p
    out = wait_for(conns_agree, what="pool connections as the sink sees")
    assert out["connections"] >= 1

    m = prometheus(port)
    assert m['gw_pool_connections{pool="out"}'] == out["connections"]
    assert m['gw_pool_connections{pool="idle"}'] == 0
    for outcome, n in (("delivered", 3), ("deferred", 1), ("bounced", 1)):
        assert m['gw_pool_messages_total{pool="out",outcome="%s"}'
                 % outcome] == n
        assert m['gw_pool_messages_total{pool="idle",outcome="%s"}'
                 % outcome] == 0

    # The 421 halved the smarthost's window and spaced its messages; it
    # stays so (recovery after 1 h of calm), but for one step back if
    # y@plain.test went in a transaction begun after the 421 (a
    # delivery at the new limits).  The pool's is untouched.
    _, d, _ = destinations(g)
    t = d["throttled.test"]
    assert t["via"] == "[smarthost]"
    assert (t["limit"], t["per_minute"]) == (4, 6000)
    assert t["window"] in (2, 3), t
    assert t["gap_ms"] >= 500 and t["throttled"] == 1
    assert t["error"].startswith("421 4.7.0")
    pooled = d["pooled.test"]
    assert pooled["via"] == "[smarthost]@out" and pooled["waiting"] == 1
    assert (pooled["limit"], pooled["window"], pooled["gap_ms"],
            pooled["throttled"]) == (4, 4, 0, 0)

    # gwtop --once carries the same pools, in JSON and in text.
    gwtop = os.path.join(os.environ["GW_BUILD"], "gwtop")
    r = subprocess.run([gwtop, "-c", g.conf, "--once", "--format", "json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    jp = {x["name"]: x for x in json.loads(r.stdout)["pools"]}
    assert sorted(jp) == ["idle", "out"]
    assert (jp["out"]["delivered"], jp["out"]["deferred"],
            jp["out"]["bounced"]) == (3, 1, 1)
    assert jp["out"]["destinations"] == ["[smarthost]@out"]
    assert sorted((a["address"], a["helo"]) for a in jp["out"]["addresses"]) \
        == [("127.0.0.2", "mta2.example.com"), ("127.0.0.3", "mta2.example.com")]
    assert jp["idle"]["destinations"] == []
    assert jp["idle"]["addresses"] == [{"address": "127.0.0.4", "helo":
                                        "gw.test", "connections": 0}]
    r = subprocess.run([gwtop, "-c", g.conf, "--once"], capture_output=True,
                       text=True, timeout=30)
    kv = dict(l.split("=", 1) for l in r.stdout.splitlines())
    assert (kv["pools.out.delivered"], kv["pools.out.bounced"]) == ("3", "1")
    assert sorted(kv["pools.out.addresses"].split(",")) == [
        "127.0.0.2", "127.0.0.3"]
    assert kv["pools.idle.destinations"] == "-"


def rejections(m):
    """gw_rejections_total as {(stage, reason): n}."""
    out = {}
    for name, v in m.items():
        f = re.match(r'gw_rejections_total\{stage="(\w+)",reason="(\w+)"\}$', name)
        if f:
            out[f.group(1), f.group(2)] = v
    return out


def test_rejections_by_stage_and_reason(gw_factory, sink):
    """Each refusal at MAIL, RCPT and end of DATA raises its own
    gw_rejections_total{stage,reason} by one, and no other."""
    from conftest import Raw, login
    sink.rcpt_reply = lambda a: "550 5.1.1 no such user" if a.startswith("bad") else None
    port = free_port()
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.recipients": 2,
                             "limits.bounce_pause_minimum": 1,
                             "limits.bounce_pause_percent": 50},
                   extra='metrics = { listen = "127.0.0.1:%d"; };' % port).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.add_subaccount("q", "q.test", "q-pass")
    g.add_subaccount("d", "d.test", "d-pass")
    g.gwctl("subaccount", "set", "q", "--quota-hour", "1")
    g.gwctl("suppression", "add", "victim@dest.test", "--subaccount", "app")
    g.gwctl("route", "add", "--to-domain", "blocked.test", "--reject",
            "550 5.7.1 not to them")
    g.gwctl("route", "add", "--header", "X-Block: yes", "--reject",
            "550 5.7.1 blocked by header")
    before = rejections(prometheus(port))
    assert before and set(before.values()) == {0}
    expect = {}

    def refused(stage, reason, reply, code):
        assert reply[0] == code, (stage, reason, reply)
        expect[stage, reason] = expect.get((stage, reason), 0) + 1

    r = Raw(g.ports["submission"])
    r.reply()
    r.cmd("EHLO client.test")
    refused("mail", "tls_required", r.cmd("MAIL FROM:<app@example.com>"), 530)
    r.starttls()
    r.cmd("EHLO client.test")
    refused("mail", "auth", r.cmd("MAIL FROM:<app@example.com>"), 530)
    r.close()

    r = Raw(g.ports["submission"])
    r.reply()
    assert login(r, "app", "s3cret-pass")[0] == 235
    refused("mail", "sender_domain", r.cmd("MAIL FROM:<x@other.test>"), 550)
    refused("mail", "size", r.cmd("MAIL FROM:<app@example.com> SIZE=999999999999"), 552)
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    refused("rcpt", "address_literal", r.cmd("RCPT TO:<u@[127.0.0.1]>"), 553)
    refused("rcpt", "suppression", r.cmd("RCPT TO:<victim@dest.test>"), 550)
    refused("rcpt", "policy", r.cmd("RCPT TO:<x@blocked.test>"), 550)
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250
    assert r.cmd("RCPT TO:<b@dest.test>")[0] == 250
    refused("rcpt", "recipient_limit", r.cmd("RCPT TO:<c@dest.test>"), 452)
    assert r.cmd("DATA")[0] == 354
    # An author not of the subaccount's domains.
    refused("data", "headers", r.cmd("From: <x@other.test>\r\n\r\nhi\r\n."), 550)
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    refused("data", "policy", r.cmd("From: <app@example.com>\r\nX-Block: yes\r\n"
                                    "\r\nhi\r\n."), 550)
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    refused("data", "content", r.cmd("From: <app@example.com>\r\n\r\nbare\nlf\r\n."), 550)
    r.close()

    # The quota: one message an hour for q.  Two sessions in DATA side
    # by side both passed MAIL: the second to end is refused there;
    # then MAIL is.
    ab = []
    for _ in range(2):
        c = Raw(g.ports["submission"])
        c.reply()
        assert login(c, "q", "q-pass")[0] == 235
        assert c.cmd("MAIL FROM:<q@q.test>")[0] == 250
        assert c.cmd("RCPT TO:<x@dest.test>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        ab.append(c)
    assert ab[0].cmd("From: <q@q.test>\r\n\r\nhi\r\n.")[0] == 250
    refused("data", "quota", ab[1].cmd("From: <q@q.test>\r\n\r\nhi\r\n."), 451)
    for c in ab:
        c.close()
    refused("mail", "quota", (mail_as(g, "q", "q-pass", "q@q.test"),), 451)
    # A subaccount disabled after its login: refused at its next MAIL
    # (once gwd has read gw.db again).
    c = Raw(g.ports["submission"])
    c.reply()
    assert login(c, "d", "d-pass")[0] == 235
    g.gwctl("subaccount", "disable", "d")

    def refusal():
        code = c.cmd("MAIL FROM:<d@d.test>")[0]
        if code == 250:
            c.cmd("RSET")
            return None
        return code
    refused("mail", "disabled", (wait_for(refusal, what="a refusal"),), 550)
    c.close()
    # One bounce in one recipient pauses app: its next MAIL is refused.
    send(g, ["bad@dest.test"], "bounce")
    wait_for(lambda: prometheus(port)["gw_subaccounts_paused"] == 1, what="paused")
    refused("mail", "paused", (mail_as(g, "app", "s3cret-pass", "app@example.com"),), 451)

    m = prometheus(port)
    got = {k: v for k, v in rejections(m).items() if v}
    assert got == expect
    assert len(expect) == 15
    # The refusals at the end of DATA are the messages refused.
    assert m["gw_messages_rejected_total"] == 4
    promtool(port)


def mail_as(g, user, password, frm):
    """One message from user; the reply code to MAIL, or to DATA."""
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login(user, password)
        code, _ = s.mail(frm)
        if code != 250:
            return code
        assert s.rcpt("x@dest.test")[0] == 250
        return s.data(("From: <%s>\r\n\r\nhi\r\n" % frm).encode())[0]


def histogram(m, name):
    """(cumulative buckets [(le, n)], sum, count) of a histogram."""
    buckets = []
    for k, v in m.items():
        f = re.match(r'%s_bucket\{le="([^"]+)"\}$' % name, k)
        if f:
            buckets.append((float(f.group(1)), v))
    return buckets, m[name + "_sum"], m[name + "_count"]


def test_deliveries_by_class_subaccounts_histograms(gw_factory, sink):
    """Real outcomes from the sink: bounces and deferrals by class,
    each subaccount's accepted, delivered and bounced, the latency
    histograms, the build and the process figures; promtool is clean."""
    rcpt_replies(sink, ("bad", "550 5.1.1 no such user"),
                 ("full", "552 5.2.2 mailbox full"),
                 ("later", "451 4.2.1 mailbox busy"))
    port = free_port()
    started = int(time.time())
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "600s", "queue.retry_max": "600s"},
                   extra='metrics = { listen = "127.0.0.1:%d"; };' % port).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.add_subaccount("other", "other.example", "other-pass")
    send(g, ["u1@dest.test", "bad@dest.test", "full@dest.test"], "one")
    send(g, ["u2@dest.test"], "two")
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("other", "other-pass")
        s.sendmail("o@other.example", ["u3@dest.test", "later@dest.test"],
                   b"From: <o@other.example>\r\n\r\nhi\r\n")
    # u1, u2, u3 and app's DSN delivered; later deferred.
    wait_for(lambda: stats(g)["delivered_total"] == 4 and
             stats(g)["queue_deferred"] == 1, what="outcomes")
    m = prometheus(port)
    deliveries = {k: v for k, v in m.items()
                  if k.startswith("gw_deliveries_total") and v}
    assert deliveries == {
        'gw_deliveries_total{result="delivered",class="none"}': 4,
        'gw_deliveries_total{result="bounced",class="hard"}': 1,
        'gw_deliveries_total{result="bounced",class="mailbox_full"}': 1,
        'gw_deliveries_total{result="deferred",class="soft"}': 1,
    }
    # As the audit log has them.
    assert sorted(e["class"] for e in g.events("action='bounced'")) == \
        ["hard", "mailbox_full"]

    def sub(name, outcome):
        return m['gw_subaccount_messages_total{subaccount="%s",outcome="%s"}'
                 % (name, outcome)]
    # The DSN is gwd's, not app's: app delivered 2 recipients.
    assert (sub("app", "accepted"), sub("app", "delivered"),
            sub("app", "bounced")) == (2, 2, 2)
    assert (sub("other", "accepted"), sub("other", "delivered"),
            sub("other", "bounced")) == (1, 1, 0)

    # One latency per delivered recipient; one commit per batch, at
    # least one per accepted message and per outcome.
    for name, least in (("gw_delivery_latency_seconds", 4),
                        ("gw_store_commit_seconds", 3)):
        buckets, total, count = histogram(m, name)
        assert buckets[-1][0] == float("inf") and buckets[-1][1] == count
        assert [n for _, n in buckets] == sorted(n for _, n in buckets)
        assert [le for le, _ in buckets] == sorted(le for le, _ in buckets)
        assert count >= least and total > 0, name
    assert histogram(m, "gw_delivery_latency_seconds")[2] == 4

    version = subprocess.run([os.path.join(os.environ["GW_BUILD"], "gwd"),
                              "--version"], capture_output=True, text=True,
                             timeout=30).stdout.split()[1]
    assert m['gw_build_info{version="%s"}' % version] == 1

    # process_*: what /proc says of gwd from outside.
    pid = g.proc.pid
    assert m["process_cpu_seconds_total"] > 0
    with open("/proc/%d/status" % pid) as f:
        rss = [int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:")][0]
    assert 0.5 < m["process_resident_memory_bytes"] / rss < 2
    fds = len(os.listdir("/proc/%d/fd" % pid))
    assert 0 < m["process_open_fds"] and abs(m["process_open_fds"] - fds) <= 4
    assert m["process_max_fds"] >= m["process_open_fds"]
    assert started <= m["process_start_time_seconds"] <= time.time()
    promtool(port)


def test_metrics_are_never_cut(gw_factory):
    """/metrics for more pools (or subaccounts) than 64 KB of lines: the
    answer was capped at 64 KB and cut mid-line without a word."""
    port = free_port()
    g = gw_factory(extra='metrics = { listen = "127.0.0.1:%d"; };' % port).start()
    g.gwctl("pool", "add", "first", "127.0.0.4")     # gw.db and its schema
    names = ["pool%04d-%s" % (i, "x" * 40) for i in range(1000)]
    now = int(time.time())
    with sqlite3.connect(os.path.join(g.state, "gw.db")) as db:
        db.executemany("INSERT INTO pool (name, created) VALUES (?, ?)",
                       [(n, now) for n in names])
        db.executemany("INSERT INTO pool_address (pool, address) VALUES (?, ?)",
                       [(n, "127.0.0.4") for n in names])
    db.close()
    wait_for(lambda: "pool pool0999-" in control(g, "pools"),
             what="gwd to read the new pools")
    text = metrics_text(port)
    assert len(text) > 64 * 1024 and text.endswith("\n")
    m = prometheus(port)
    assert sorted(k[len('gw_pool_connections{pool="'):-2] for k in m
                  if k.startswith("gw_pool_connections{")) == ["first"] + names
    assert "process_open_fds" in m
    promtool(port)


def test_subaccount_label_is_escaped(gw_factory, sink):
    """A subaccount name written into gw.db by another program, with a
    quote, a backslash and a space: its series stays one valid line."""
    from conftest import Raw
    port = free_port()
    g = gw_factory(relay=smarthost(sink),
                   extra='metrics = { listen = "127.0.0.1:%d"; };' % port).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")   # gw.db's schema
    name = 'we"ird\\ name'
    now = int(time.time())
    with sqlite3.connect(os.path.join(g.state, "gw.db")) as db:
        sid = db.execute("INSERT INTO subaccount (name, created, updated) "
                         "VALUES (?, ?, ?)", (name, now, now)).lastrowid
        db.execute("INSERT INTO subaccount_domain VALUES (?, 'weird.test')", (sid,))
        db.execute("INSERT INTO subaccount_ip VALUES (?, '127.0.0.9/32')", (sid,))
    db.close()
    wait_for(lambda: "sub %s " % name in control(g, "subaccounts"),
             what="gwd to read the subaccount")
    # Allowed by its address on the ip_auth listener.
    r = Raw(g.ports["plain"], source="127.0.0.9")
    r.reply()
    r.cmd("EHLO client.test")
    assert r.cmd("MAIL FROM:<w@weird.test>")[0] == 250
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("From: <w@weird.test>\r\n\r\nhi\r\n.")[0] == 250
    r.close()
    sink.wait_count(1)
    wait_for(lambda: 'subaccount="we\\"ird\\\\ name",outcome="delivered"} 1\n'
             in metrics_text(port), what="the delivery counted")
    promtool(port)
