"""gwtop: --once snapshots (text and JSON) against known database contents,
and the live screen in a pseudo-terminal (80x24, keys, signals, retry).

Self-contained: `gwctl db init` makes the databases, Python's sqlite3
fills queue.db and log.db with rows at known offsets from now.
"""
import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import termios
import time

import pytest

from conftest import tally_rebuild

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GW_BUILD", os.path.join(REPO, "build"))
GWCTL = os.path.join(BUILD, "gwctl")
GWTOP = os.path.join(BUILD, "gwtop")

# (seconds ago, action, qid, recipient)
EVENTS = [
    (7200, "received", "OLD", "old@example.net"),      # outside 1 h
    (7199, "delivered", "OLD", "old@example.net"),
    (1800, "received", "A", "a@example.net, b@example.net"),
    (1799, "delivered", "A", "a@example.net"),
    (1799, "deferred", "A", "b@example.net"),
    (1500, "delivered", "A", "b@example.net"),
    (100, "received", "B", "c@example.net"),
    (99, "bounced", "B", "c@example.net"),
    (99, "dsn", "B", None),                             # not counted
    (98, "received", "C", "alice@example.com"),
    (97, "delivered", "C", "alice@example.com"),
    (50, "rejected", None, "nobody@example.net"),
    (30, "received", "E", "e@example.net"),
    (29, "deferred", "E", "e@example.net"),
    (20, "expired", "E", "e@example.net"),
    (5, "auth", None, None),                            # not counted
]

EXPECTED_EVENTS = {
    "1m": dict(received=1, delivered=0, deferred=1, bounced=0, expired=1,
               rejected=1),
    "5m": dict(received=3, delivered=1, deferred=1, bounced=1, expired=1,
               rejected=1),
    "1h": dict(received=4, delivered=3, deferred=2, bounced=1, expired=1,
               rejected=1),
}
EXPECTED_RATES = {
    "1m": dict(in_per_s="0.017", out_per_s="0.000", delivery="0.0",
               deferral="50.0", bounce="0.0", hard_bounce="0.0"),
    "5m": dict(in_per_s="0.010", out_per_s="0.003", delivery="33.3",
               deferral="25.0", bounce="33.3", hard_bounce="33.3"),
    "1h": dict(in_per_s="0.001", out_per_s="0.001", delivery="60.0",
               deferral="28.6", bounce="20.0", hard_bounce="20.0"),
}


def make_conf(d):
    conf = os.path.join(d, "gwd.conf")
    with open(conf, "w") as f:
        f.write('state_dir = "%s/state";\ncontrol_socket = "%s/control";\n'
                'dns = { resolver = "127.0.0.1"; };\n' % (d, d))
    return conf


def fill(state, now):
    with sqlite3.connect(os.path.join(state, "log.db")) as db:
        for ago, action, qid, rcpt in EVENTS:
            db.execute("INSERT INTO event (ts, qid, action, recipient, "
                       "reply_code, reply_status, remote_host, class) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       ((now - ago) * 1000000, qid, action, rcpt,
                        550 if action == "bounced" else None,
                        "5.1.1" if action == "bounced" else None,
                        "mx.example.net" if action == "bounced" else None,
                        "hard" if action == "bounced" else
                        "soft" if action == "deferred" else None))
        tally_rebuild(db)
    # Closed here, not whenever the garbage collector gets to it: the
    # close checkpoints the WAL into the file, which test_never_writes
    # would otherwise see as a write in the middle of the test.
    db.close()
    with sqlite3.connect(os.path.join(state, "queue.db")) as db:
        for mid, qid, ago in ((1, "Q1", 600), (2, "Q2", 120)):
            db.execute("INSERT INTO message (id, qid, sender, received, size, "
                       "body) VALUES (?, ?, 'a@example.com', ?, 10, x'00')",
                       (mid, qid, (now - ago) * 1000000))
        for mid, addr, attempts in ((1, "r1@example.net", 0),
                                    (1, "r2@example.org", 3),
                                    (2, "r3@example.net", 0)):
            db.execute("INSERT INTO recipient (message, address, domain, "
                       "attempts, next_attempt) VALUES (?, ?, ?, ?, ?)",
                       (mid, addr, addr.split("@")[1], attempts, now + 60))
    db.close()


@pytest.fixture
def env(tmp_path):
    """Fresh databases per test: event ages are relative to now."""
    d = str(tmp_path)
    conf = make_conf(d)
    r = subprocess.run([GWCTL, "-c", conf, "db", "init"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    now = int(time.time())
    fill(os.path.join(d, "state"), now)
    return dict(dir=d, conf=conf, state=os.path.join(d, "state"), now=now)


def oldest_age(env):
    """What queue.oldest_age_s should be about now (Q1 came 600 s before)."""
    return int(time.time()) - (env["now"] - 600)


def once(env, *args):
    r = subprocess.run([GWTOP, "-c", env["conf"], "--once"] + list(args),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_help_version():
    r = subprocess.run([GWTOP, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: gwtop")
    r = subprocess.run([GWTOP, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("gwtop ")


def test_help_and_usage_fit_80_columns():
    """--help and a usage error wrap before an 80-column terminal does."""
    for args in (["--help"], ["--bogus"]):
        r = subprocess.run([GWTOP] + args, capture_output=True, text=True)
        lines = (r.stdout + r.stderr).splitlines()
        assert lines and max(len(l) for l in lines) <= 79, lines


def test_usage_errors(env):
    for args in (["-d", "0.1"], ["-d", "x"], ["--once", "--format", "xml"],
                 ["--once", "extra"]):
        r = subprocess.run([GWTOP, "-c", env["conf"]] + args,
                           capture_output=True, text=True)
        assert r.returncode == 64, args
    # The live view needs a terminal.
    r = subprocess.run([GWTOP, "-c", env["conf"]], capture_output=True,
                       text=True)
    assert r.returncode == 64 and "--once" in r.stderr


def test_once_text(env):
    kv = dict(line.split("=", 1) for line in once(env).splitlines())
    assert kv["gwd.state"] == "stopped"
    assert kv["queue.recipients"] == "3"
    assert kv["queue.ready"] == "2"
    assert kv["queue.deferred"] == "1"
    assert kv["queue.messages"] == "2"
    assert abs(int(kv["queue.oldest_age_s"]) - oldest_age(env)) <= 1
    for w, counts in EXPECTED_EVENTS.items():
        for a, n in counts.items():
            assert kv["events.%s.%s" % (w, a)] == str(n), (w, a)
    for w, rates in EXPECTED_RATES.items():
        for name, v in rates.items():
            assert kv["rates.%s.%s" % (w, name)] == v, (w, name)
    assert kv["time"].endswith("Z")
    # Received -> delivered: C in 1 s (5 min); A's two in 1 s and 300 s.
    # Read from log buckets (common/tally.h): a bucket's middle, 1.007 s
    # and 303.1 s (bucket 294.9 .. 311.3 s).
    assert (kv["rates.1m.latency_p50_s"], kv["rates.5m.latency_p50_s"],
            kv["rates.1h.latency_p50_s"]) == ("-", "1.0", "1.0")
    assert (kv["rates.5m.latency_p95_s"], kv["rates.1h.latency_p95_s"]) == (
        "1.0", "303.1")
    # No complaint: 0 of the delivered; no delivery in the last minute.
    assert (kv["rates.1m.complaint"], kv["rates.1h.complaint"]) == (
        "-", "0.000")


def test_once_json(env):
    out = once(env, "--format", "json")
    assert len(out.splitlines()) == 1
    s = json.loads(out)
    assert s["gwd"] == {"state": "stopped"}
    q = s["queue"]
    assert (q["recipients"], q["ready"], q["deferred"], q["messages"]) == (
        3, 2, 1, 2)
    assert s["events"] == EXPECTED_EVENTS
    for w, rates in EXPECTED_RATES.items():
        for name, v in rates.items():
            assert s["rates"][w][name] == pytest.approx(float(v)), (w, name)
    assert s["rates"]["1h"]["latency_p95_s"] == 303.1
    assert s["rates"]["1m"]["latency_p50_s"] is None
    assert s["rates"]["1h"]["complaint"] == 0
    assert s["rates"]["1m"]["complaint"] is None


def test_once_no_data_rates_are_null(tmp_path):
    conf = make_conf(str(tmp_path))
    subprocess.run([GWCTL, "-c", conf, "db", "init"], check=True,
                   capture_output=True)
    s = json.loads(subprocess.run([GWTOP, "-c", conf, "--once", "--format",
                                   "json"], capture_output=True,
                                  text=True).stdout)
    assert s["rates"]["1h"]["bounce"] is None
    assert s["rates"]["1h"]["hard_bounce"] is None
    assert s["rates"]["1h"]["in_per_s"] == 0
    assert s["queue"]["oldest_age_s"] == 0
    text = subprocess.run([GWTOP, "-c", conf, "--once"], capture_output=True,
                          text=True).stdout
    assert "rates.1h.delivery=-\n" in text


def test_once_subaccounts_quota_and_hard_bounce(gw_factory, sink):
    """Against gwd: quota use from `subaccounts` after N messages, a
    subaccount without traffic listed too, and the hard bounce rate
    from the classes gwd wrote to log.db."""
    from conftest import smarthost, wait_for
    from test_gwtop_tmux import send
    sink.rcpt_reply = lambda a: ("550 5.1.1 <%s>: user unknown" % a
                                 if a.startswith("gone") else
                                 "552 5.2.2 mailbox full"
                                 if a.startswith("full") else None)
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.add_subaccount("idle", "idle.test", "s3cret-pass")
    g.gwctl("subaccount", "set", "app", "--quota-hour", "10")
    rcpts = ["u1@dest.test", "u2@dest.test", "gone1@dest.test",
             "gone2@dest.test", "full@dest.test"]
    for r in rcpts:
        send(g, [r])
    # Each message one recipient: 2 delivered, 3 bounced (2 of them
    # hard), and a DSN for each bounce delivered back to app.
    wait_for(lambda: len(g.events("action='bounced'")) == 3 and
             len(g.events("action='delivered'")) == 5, 30,
             what="2 deliveries, 3 bounces, 3 DSNs")
    hard = len(g.events("action='bounced' AND class='hard'"))
    final = len(g.events("action IN ('delivered', 'bounced', 'expired')"))
    assert (hard, final) == (2, 8)
    env = dict(conf=g.conf)

    s = json.loads(once(env, "--format", "json"))
    assert s["gwd"]["delivered_total"] == 5       # running, with counters
    for w in ("5m", "1h"):
        assert s["rates"][w]["hard_bounce"] == pytest.approx(
            round(100.0 * hard / final, 1)), w
        assert s["rates"][w]["bounce"] == pytest.approx(
            round(100.0 * 3 / final, 1)), w
    subs = {x["name"]: x for x in s["subaccounts"]}
    assert subs["app"] == {"name": "app", "enabled": True, "quota_hour": 10,
                           "used_hour": len(rcpts), "quota_day": 0,
                           "used_day": len(rcpts), "paused": False,
                           "reason": None}
    assert subs["idle"]["used_hour"] == 0 and subs["idle"]["quota_hour"] \
        == 0 and subs["idle"]["paused"] is False

    kv = dict(line.split("=", 1) for line in once(env).splitlines())
    assert kv["rates.1h.hard_bounce"] == "%.1f" % (100.0 * hard / final)
    assert (kv["subaccounts.app.quota_hour"], kv["subaccounts.app.used_hour"],
            kv["subaccounts.app.quota_day"], kv["subaccounts.app.paused"]) \
        == ("10", str(len(rcpts)), "0", "0")
    assert kv["subaccounts.idle.used_day"] == "0"
    assert "subaccounts.app.reason" not in kv


def test_once_subaccount_with_the_longest_name(gw_factory):
    """gwctl admits subaccount names of 64 characters; gwtop kept 63
    and dropped the line of gwd's `subaccounts` that named one."""
    from conftest import wait_for
    g = gw_factory().start()
    name = "a" + "b" * 62 + "z"
    assert len(name) == 64
    g.add_subaccount(name, "long.test", "s3cret-pass")
    g.add_subaccount("short", "short.test", "s3cret-pass")

    def listed():
        s = json.loads(once(dict(conf=g.conf), "--format", "json"))
        return sorted(x["name"] for x in s["subaccounts"])
    # gwd notices gw.db's change within its poll; then both are listed.
    wait_for(lambda: "short" in listed(), what="gwd to list short")
    assert listed() == sorted([name, "short"])
    kv = dict(line.split("=", 1) for line in
              once(dict(conf=g.conf)).splitlines())
    assert kv["subaccounts.%s.quota_hour" % name] == "0"


def test_once_missing_databases(tmp_path):
    conf = make_conf(str(tmp_path))
    r = subprocess.run([GWTOP, "-c", conf, "--once"], capture_output=True,
                       text=True)
    assert r.returncode == 66
    assert "queue.db" in r.stderr and "log.db" in r.stderr
    assert r.stdout == ""


def test_gwd_running_when_socket_listens(env):
    path = os.path.join(env["dir"], "control")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(4)
    try:
        assert "gwd.state=running\n" in once(env)
    finally:
        s.close()
        os.unlink(path)
    assert "gwd.state=stopped\n" in once(env)


def unique_keys(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate keys: %r" % keys
    return dict(pairs)


def test_once_json_has_unique_keys(env):
    """With gwd answering, "gwd" was both the state (a string) and the
    object of its counters: two members of one name."""
    from fake_control import FakeControl, sub_line
    ctl = FakeControl(os.path.join(env["dir"], "control"),
                      subaccounts=[sub_line("app")])
    try:
        out = once(env, "--format", "json")
    finally:
        ctl.stop()
    s = json.loads(out, object_pairs_hook=unique_keys)
    assert s["gwd"]["state"] == "running"
    assert s["gwd"]["uptime_s"] == 7200
    kv = dict(line.split("=", 1) for line in once(env).splitlines())
    assert kv["gwd.state"] == "stopped"


def test_once_screen_destinations(env):
    """qshape for scripts: the queue by domain and age, text and JSON."""
    from fake_control import FakeControl, dest_line
    now = int(time.time())
    ctl = FakeControl(os.path.join(env["dir"], "control"), destinations=[
        dest_line("busy.example", queued=3, waiting=3, age=(2, 1, 0, 0, 0,
                  0), limit=4, window=2, gap_ms=500, throttled=1,
                  next_attempt=now + 90, tls="dane", tls_verified=0,
                  error="421 4.7.0 mx.busy.example said: slow down"),
        dest_line("ok.example", waiting=0)])
    try:
        text = once(env, "--screen", "destinations")
        s = json.loads(once(env, "--screen", "destinations", "--format",
                            "json"), object_pairs_hook=unique_keys)
    finally:
        ctl.stop()
    lines = [l.split() for l in text.splitlines()]
    assert lines[0] == ["DOMAIN", "QUEUED", "<5m", "<10m", "<20m", "<40m",
                        "<80m", "80m+", "ACT", "CONN", "THROTTLE", "NEXT",
                        "TLS", "ERROR"]
    assert lines[1] == ["TOTAL", "4", "3", "1", "0", "0", "0", "0", "0", "0"]
    busy = lines[2]
    assert busy[:11] == ["busy.example", "3", "2", "1", "0", "0", "0", "0",
                         "0", "0", "2/4,500ms"]
    assert 80 <= int(busy[11]) <= 90
    assert busy[12] == "dane/no"
    assert " ".join(busy[13:]) == "421 4.7.0 mx.busy.example said: slow down"
    assert lines[3] == ["ok.example", "1", "1", "0", "0", "0", "0", "0", "0",
                        "0", "ok", "-", "-", "-"]
    assert s["gwd"] == {"state": "running"}
    assert s["buckets"] == [5, 10, 20, 40, 80]
    d = {x["domain"]: x for x in s["destinations"]}
    assert list(d) == ["busy.example", "ok.example"]
    assert d["busy.example"]["ages"] == [2, 1, 0, 0, 0, 0]
    assert d["busy.example"]["throttle"] == {"throttled": True, "limit": 4,
                                             "window": 2, "gap_ms": 500,
                                             "per_minute": 0}
    assert d["busy.example"]["next_attempt"].endswith("Z")
    assert d["busy.example"]["error"].startswith("421 4.7.0 ")
    assert d["ok.example"]["next_attempt"] is None
    assert d["ok.example"]["error"] is None
    assert d["busy.example"]["tls"] == {"policy": "dane", "verified": False}
    assert d["ok.example"]["tls"] is None
    # Without gwd there is no such screen to print.
    r = subprocess.run([GWTOP, "-c", env["conf"], "--once", "--screen",
                        "destinations"], capture_output=True, text=True)
    assert r.returncode == 69 and "destinations" in r.stderr
    r = subprocess.run([GWTOP, "-c", env["conf"], "--once", "--screen",
                        "pools"], capture_output=True, text=True)
    assert r.returncode == 64


def test_once_destinations_smarthost_health(env):
    """Issue 14: each destination's smarthosts up of all (health=), and
    each smarthost's own line, in the text and the JSON."""
    from fake_control import FakeControl, SMARTHOSTS, dest_line
    ctl = FakeControl(os.path.join(env["dir"], "control"), destinations=[
        dest_line("relayed.example", via="[smarthost]", health="1/2"),
        dest_line("direct.example", health="0/0")] + SMARTHOSTS)
    try:
        text = once(env, "--screen", "destinations")
        s = json.loads(once(env, "--screen", "destinations", "--format",
                            "json"), object_pairs_hook=unique_keys)
    finally:
        ctl.stop()
    d = {x["domain"]: x for x in s["destinations"]}
    assert d["relayed.example"]["health"] == {"up": 1, "total": 2}
    assert d["direct.example"]["health"] is None
    assert s["smarthosts"] == [
        {"host": "a.test:587", "up": False, "failures": 3, "successes": 0,
         "changed": "2023-11-14T22:13:20.000000Z",
         "error": "check: connect: Connection refused"},
        {"host": "b.test:587", "up": True, "failures": 0, "successes": 7,
         "changed": "2023-11-14T22:13:20.000000Z", "error": None}]
    table = text.split("\n\n")[1].splitlines()
    assert table[0].split() == ["SMARTHOST", "UP", "FAILURES", "ERROR"]
    assert table[1].split() == ["a.test:587", "down", "3", "check:",
                                "connect:", "Connection", "refused"]
    assert table[2].split() == ["b.test:587", "up", "0", "-"]


def test_never_writes(env):
    files = {f: open(os.path.join(env["state"], f), "rb").read()
             for f in ("queue.db", "log.db")}
    once(env)
    once(env, "--format", "json")
    for f, data in files.items():
        assert open(os.path.join(env["state"], f), "rb").read() == data


class Screen:
    """Just enough of an xterm to replay what ncurses writes: cursor
    addressing, erase, insert/delete, scrolling regions; attributes are
    ignored (colour is checked on the raw bytes)."""

    CSI = re.compile(r"\x1b\[([?>=]?)([0-9;]*)([ -/]*)([@-~])")

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.g = [[" "] * cols for _ in range(rows)]
        self.y = self.x = 0
        self.top, self.bot = 0, rows - 1
        self.last = " "
        self.saved = (0, 0)

    def text(self):
        return "\n".join("".join(r).rstrip() for r in self.g)

    def _scroll(self, n, top=None):
        top = self.top if top is None else top
        for _ in range(n):
            del self.g[top]
            self.g.insert(self.bot, [" "] * self.cols)

    def _rscroll(self, n, top=None):
        top = self.top if top is None else top
        for _ in range(n):
            del self.g[self.bot]
            self.g.insert(top, [" "] * self.cols)

    def _put(self, ch):
        if self.x >= self.cols:
            self.x = 0
            self._lf()
        self.g[self.y][self.x] = ch
        self.last = ch
        self.x += 1

    def _lf(self):
        if self.y == self.bot:
            self._scroll(1)
        elif self.y < self.rows - 1:
            self.y += 1

    def _csi(self, priv, params, final):
        p = [int(v) if v else 0 for v in params.split(";")] if params else []
        n = max(p[0], 1) if p else 1
        if priv:
            return
        if final in "Hf":
            self.y = min(max((p[0] if p else 1), 1), self.rows) - 1
            self.x = min(max((p[1] if len(p) > 1 else 1), 1), self.cols) - 1
        elif final == "d":
            self.y = min(n, self.rows) - 1
        elif final == "G" or final == "`":
            self.x = min(n, self.cols) - 1
        elif final == "A":
            self.y = max(self.y - n, 0)
        elif final == "B":
            self.y = min(self.y + n, self.rows - 1)
        elif final == "C":
            self.x = min(self.x + n, self.cols - 1)
        elif final == "D":
            self.x = max(self.x - n, 0)
        elif final == "K":
            m = p[0] if p else 0
            a, b = {0: (self.x, self.cols), 1: (0, self.x + 1),
                    2: (0, self.cols)}[m]
            self.g[self.y][a:b] = [" "] * (b - a)
        elif final == "J":
            m = p[0] if p else 0
            rows = {0: range(self.y + 1, self.rows), 1: range(0, self.y),
                    2: range(self.rows), 3: range(self.rows)}[m]
            for r in rows:
                self.g[r] = [" "] * self.cols
            if m == 0:
                self._csi("", "0", "K")
            elif m == 1:
                self._csi("", "1", "K")
        elif final == "X":
            b = min(self.x + n, self.cols)
            self.g[self.y][self.x:b] = [" "] * (b - self.x)
        elif final == "@":
            row = self.g[self.y]
            self.g[self.y] = (row[:self.x] + [" "] * n + row[self.x:])[:self.cols]
        elif final == "P":
            row = self.g[self.y]
            self.g[self.y] = row[:self.x] + row[self.x + n:] + [" "] * n
        elif final == "L":
            if self.top <= self.y <= self.bot:
                self._rscroll(n, self.y)
        elif final == "M":
            if self.top <= self.y <= self.bot:
                self._scroll(n, self.y)
        elif final == "S":
            self._scroll(n)
        elif final == "T":
            self._rscroll(n)
        elif final == "b":
            for _ in range(n):
                self._put(self.last)
        elif final == "r":
            self.top = (p[0] if p and p[0] else 1) - 1
            self.bot = (p[1] if len(p) > 1 and p[1] else self.rows) - 1
            self.y = self.x = 0

    def feed(self, data):
        s = data.decode("utf-8", "replace")
        i = 0
        while i < len(s):
            c = s[i]
            if c == "\x1b":
                m = self.CSI.match(s, i)
                if m:
                    self._csi(m[1], m[2], m[4])
                    i = m.end()
                    continue
                nxt = s[i + 1:i + 2]
                if nxt in "()":
                    i += 3
                    continue
                if nxt == "7":
                    self.saved = (self.y, self.x)
                elif nxt == "8":
                    self.y, self.x = self.saved
                elif nxt == "M":
                    if self.y == self.top:
                        self._rscroll(1)
                    else:
                        self.y = max(self.y - 1, 0)
                elif nxt == "E":
                    self.x = 0
                    self._lf()
                i += 2
                continue
            if c == "\r":
                self.x = 0
            elif c == "\n":
                self._lf()
            elif c == "\b":
                self.x = max(self.x - 1, 0)
            elif c == "\t":
                self.x = min((self.x // 8 + 1) * 8, self.cols - 1)
            elif c >= " ":
                self._put(c)
            i += 1


class Tty:
    """gwtop in a pseudo-terminal of a given size."""

    def __init__(self, conf, rows=24, cols=80, args=(), env=None):
        self.screen = Screen(rows, cols)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["TERM"] = "xterm"
            os.environ.pop("NO_COLOR", None)
            os.environ.update(env or {})
            os.execv(GWTOP, [GWTOP, "-c", conf] + list(args))
        self.resize(rows, cols, signal_child=False)
        self.out = b""

    def resize(self, rows, cols, signal_child=True):
        if signal_child:
            self.read(0.2)
            self.screen = Screen(rows, cols)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))
        if signal_child:
            os.kill(self.pid, signal.SIGWINCH)

    def read(self, secs):
        end = time.time() + secs
        while time.time() < end:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    break
                self.out += data
                self.screen.feed(data)
        return self.screen.text()

    def wait_for(self, text, secs=5):
        end = time.time() + secs
        while time.time() < end:
            if text in self.read(0.1):
                return True
        return False

    def send(self, keys):
        os.write(self.fd, keys.encode())

    def exit_status(self, secs=5):
        end = time.time() + secs
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.read(0.2)
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            self.read(0.1)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError("gwtop did not exit")


def rows(screen):
    return screen.split("\n")


def test_live_screen_keys_and_quit(env):
    t = Tty(env["conf"])
    assert t.wait_for("3 recipients: 2 ready, 1 deferred")
    r = rows(t.read(0.3))
    assert len(r) == 24
    assert r[0].startswith(" gwtop ") and "gwd: stopped" in r[0]
    assert "every 2.0s" in r[0]
    assert r[2].split() == ["Queue", "3", "recipients:", "2", "ready,", "1",
                            "deferred", "2", "messages", "oldest", r[2].split()[-1]]
    age = oldest_age(env)
    assert r[2].split()[-1] in ["%dm%02ds" % divmod(a, 60)
                                for a in (age - 1, age, age + 1)]
    assert r[4].split() == ["Events", "1", "min", "5", "min", "1", "h",
                            "Rates", "1", "min", "5", "min", "1", "h"]
    for i, a in enumerate(("received", "delivered", "deferred", "bounced",
                           "expired", "rejected")):
        assert r[5 + i].split()[:4] == [a] + [
            str(EXPECTED_EVENTS[w][a]) for w in ("1m", "5m", "1h")], a
    rates = {"in msg/s": "in_per_s", "out msg/s": "out_per_s",
             "delivery %": "delivery", "deferral %": "deferral",
             "bounce %": "bounce", "hard bounce%": "hard_bounce"}
    for i, (label, key) in enumerate(rates.items()):
        assert r[5 + i][40:].split() == label.split() + [
            EXPECTED_RATES[w][key] for w in ("1m", "5m", "1h")], label
    # Received -> delivered: C in 1 s (5 min); A's two in 1 s and 300 s.
    # Read from log buckets (common/tally.h): a bucket's middle, 1.007 s
    # and 303.1 s (bucket 294.9 .. 311.3 s).
    assert r[11][40:].split() == ["latency", "p50", "-", "1.0", "1.0"]
    assert r[12][40:].split() == ["latency", "p95", "-", "1.0", "303.1"]
    assert r[13][40:].split() == ["complaint", "%", "-", "0.000", "0.000"]
    assert r[15].split() == ["TIME", "ACTION", "QID", "RECIPIENT", "RESULT"]
    # Newest first: auth, expired, deferred, received (E), rejected ...
    assert [x.split()[1] for x in r[16:23]] == [
        "auth", "expired", "deferred", "received", "rejected", "delivered",
        "received"]
    assert r[23].strip().startswith("q quit  h help  / filter  < > sort")
    assert r[23].split()[-2:] == ["sort:", "TIME"]
    assert b"\x1b[?1049h" in t.out          # alternate screen entered
    assert re.search(rb"\x1b\[(\d+;)*3[0-7]m", t.out)     # some colour
    t.send("h")
    assert t.wait_for("gwtop keys")
    assert "refresh less / more often (0.5 s to 60 s)" in t.read(0.1)
    t.send("x")                             # any key closes the help
    t.read(0.3)
    assert "gwtop keys" not in t.read(0.3)
    t.send(" ")
    assert t.wait_for("FROZEN")
    t.send("+")
    assert t.wait_for("every 5.0s")
    t.send("--")
    assert t.wait_for("every 1.0s")
    t.send("-----")
    assert t.wait_for("every 0.5s")
    t.resize(30, 100)
    assert t.wait_for("3 recipients")
    r = rows(t.read(0.3))
    assert len(r) == 30 and r[29].strip().startswith("q quit")
    t.send("q")
    assert t.exit_status() == 0
    assert b"\x1b[?1049l" in t.out           # terminal restored


def test_live_narrow_stacks_rates(env):
    t = Tty(env["conf"], rows=24, cols=60)
    assert t.wait_for("recipients")
    r = rows(t.read(0.3))
    t.send("q")
    assert t.exit_status() == 0
    assert r[4].split() == ["Events", "1", "min", "5", "min", "1", "h"]
    assert r[11].split() == ["in", "msg/s", "0.017", "0.010", "0.001"]
    assert r[15].split() == ["bounce", "%", "0.0", "33.3", "20.0"]
    assert r[16].split() == ["hard", "bounce%", "0.0", "33.3", "20.0"]
    assert r[19].split() == ["complaint", "%", "-", "0.000", "0.000"]


def test_live_sigterm_restores_terminal(env):
    t = Tty(env["conf"])
    assert t.wait_for("recipients")
    t.out = b""
    os.kill(t.pid, signal.SIGTERM)
    assert t.exit_status() == 0
    assert b"\x1b[?1049l" in t.out


def test_live_no_color(env):
    t = Tty(env["conf"], env={"NO_COLOR": "1"})
    assert t.wait_for("recipients")
    t.read(0.3)
    t.send("q")
    assert t.exit_status() == 0
    # No colour (SGR 30-37/40-47) at all with NO_COLOR.
    assert not re.search(rb"\x1b\[(\d+;)*[34][0-7]m", t.out)


def test_live_missing_then_retry_and_tiny(tmp_path):
    conf = make_conf(str(tmp_path))
    t = Tty(conf, cols=200, args=["-d", "0.5"])
    assert t.wait_for("Queue     retrying: ")
    r = rows(t.read(0.2))
    assert r[2].endswith("/state/queue.db: No such file or directory")
    assert r[4].startswith("Events    retrying: ")
    assert r[4].endswith("/state/log.db: No such file or directory")
    subprocess.run([GWCTL, "-c", conf, "db", "init"], check=True,
                   capture_output=True)
    assert t.wait_for("0 recipients: 0 ready, 0 deferred")
    t.resize(6, 30)
    t.read(0.6)
    t.resize(3, 10)
    t.read(0.6)
    t.send("q")
    assert t.exit_status() == 0
