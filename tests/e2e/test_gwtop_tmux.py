"""gwtop as an admin runs it: in tmux, against a running gwd under load
(a thread sending through gwd to a sink), every key pressed with
`send-keys` and the screen read back with `capture-pane -p`.

The numbers on screen are checked against what the sink received and
what log.db and queue.db hold; gwd is stopped and started under gwtop;
the window is resized; the terminal is checked after every way out.
Each test has its own tmux server (-L NAME) and kills it at the end.
"""
import os
import re
import signal
import smtplib
import subprocess
import threading
import time
import uuid

import pytest

from conftest import BUILD, client_tls_context, smarthost, wait_for

GWTOP = os.path.join(BUILD, "gwtop")
GWCTL = os.path.join(BUILD, "gwctl")
SGR_COLOUR = re.compile(r"\x1b\[(\d+;)*[34][0-7]m")


class Tmux:
    """One tmux server with one 80x24 window running gwtop; when gwtop
    exits the shell prints its status and `stty -a` and stays."""

    def __init__(self, tmp, conf, args=("-d", "0.5"), env=None, x=80, y=24):
        self.name = "gwtop-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
        self.stty = os.path.join(str(tmp), "stty-%s.txt" % self.name)
        inner = " ".join([GWTOP, "-c", conf] + list(args))
        envs = " ".join("%s=%s" % kv for kv in (env or {}).items())
        # stty reads the pane's terminal, as the admin's shell would.
        shell = ("env -u NO_COLOR %s %s; echo \"gwtop exit $?\"; "
                 "stty -a > %s; exec sleep 600" % (envs, inner, self.stty))
        self.tmux("new-session", "-d", "-x", str(x), "-y", str(y), shell)
        self.pid = int(self.tmux("display-message", "-p", "#{pane_pid}").strip())

    def tmux(self, *args):
        r = subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null"]
                           + list(args), capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def screen(self, escapes=False):
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []))

    def lines(self):
        return self.screen().split("\n")[:-1]

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def literal(self, text):
        self.tmux("send-keys", "-l", text)

    def wait(self, pred, what, timeout=30):
        """Poll the screen until pred(text) is true; return the text."""
        box = {}

        def check():
            box["s"] = self.screen()
            return pred(box["s"])
        try:
            wait_for(check, timeout, 0.1, what)
        except AssertionError:
            raise AssertionError("timed out waiting for %s; screen:\n%s"
                                 % (what, box.get("s")))
        return box["s"]

    def wait_text(self, text, timeout=30):
        return self.wait(lambda s: text in s, repr(text), timeout)

    def gwtop_pid(self):
        r = subprocess.run(["pgrep", "-P", str(self.pid), "-x", "gwtop"],
                           capture_output=True, text=True)
        return int(r.stdout.split()[0]) if r.stdout.split() else None

    def alternate_on(self):
        return self.tmux("display-message", "-p", "#{alternate_on}").strip()

    def assert_restored(self, status):
        """gwtop gone, the pane back on the main screen, the tty sane."""
        self.wait_text("gwtop exit %d" % status)
        wait_for(lambda: os.path.exists(self.stty) and
                 os.path.getsize(self.stty) > 0, 10, what="stty -a")
        assert self.alternate_on() == "0"
        modes = open(self.stty).read().split()
        for m in ("icanon", "echo", "icrnl", "isig", "opost", "onlcr"):
            assert m in modes and "-" + m not in modes, (m, modes)
        assert "rows" in modes

    def kill(self):
        subprocess.run(["tmux", "-L", self.name, "kill-server"],
                       capture_output=True, timeout=20)


@pytest.fixture
def tmux_factory(tmp_path):
    made = []

    def make(*a, **kw):
        t = Tmux(tmp_path, *a, **kw)
        made.append(t)
        return t
    yield make
    for t in made:
        t.kill()


def send(g, rcpts, subject="t"):
    msg = ("From: <app@example.com>\r\nSubject: %s\r\n\r\nhi\r\n"
           % subject).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", rcpts, msg)


class Load:
    """A thread sending one message after another until stopped."""

    def __init__(self, g, rcpt="u@dest.test"):
        self.g, self.rcpt = g, rcpt
        self.sent = 0
        self.error = None
        self.stop_ = threading.Event()
        self.th = threading.Thread(target=self.run)
        self.th.start()

    def run(self):
        try:
            with smtplib.SMTP("127.0.0.1", self.g.ports["submission"],
                              timeout=30) as s:
                s.starttls(context=client_tls_context())
                s.login("app", "s3cret-pass")
                while not self.stop_.is_set():
                    s.sendmail("app@example.com", [self.rcpt],
                               b"From: <app@example.com>\r\n"
                               b"Subject: load\r\n\r\nhi\r\n")
                    self.sent += 1
                    time.sleep(0.02)
        except Exception as e:      # reported by stop(), in the test
            self.error = e

    def stop(self):
        self.stop_.set()
        self.th.join(60)
        assert self.error is None, "load: %r" % self.error


def deferring(sink):
    """slow.test and o@other.test are told to come back later."""
    sink.rcpt_reply = lambda a: ("451 4.2.1 mailbox busy"
                                 if a.endswith("@slow.test")
                                 or a.startswith("o@") else None)


@pytest.fixture
def gw(gw_factory, sink):
    deferring(sink)
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "600s",
                             "queue.retry_max": "600s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def row(lines, first):
    """The first line whose first word is `first`, split."""
    for l in lines:
        f = l.split()
        if f and f[0] == first:
            return f
    return None


def numbers_settled(g, sink):
    """Wait until gwd has nothing in flight and log.db has caught up."""
    wait_for(lambda: len(g.events("action='delivered'")) == len(sink.messages)
             and g.queue_count() == 4, 30, what="delivered all but 4")


def test_under_load_numbers_match_sink_and_log(gw, sink, tmux_factory):
    load = Load(gw)
    try:
        t = tmux_factory(gw.conf)
        t.wait_text("gwd: running")
        # Throughput moves while the load runs.
        t.wait(lambda s: any(len(f) > 2 and f[0] == "out" and f[2] == "msg/s"
                             and float(f[1]) > 0
                             for f in (l.split() for l in s.split("\n"))),
               "out msg/s above zero")
        send(gw, ["a@slow.test", "b@slow.test", "o@other.test"])
        send(gw, ["c@slow.test"])
    finally:
        load.stop()
    numbers_settled(gw, sink)
    delivered = len(gw.events("action='delivered'"))
    received = len(gw.events("action='received'"))
    assert delivered == len(sink.messages) == load.sent
    assert received == load.sent + 2

    # Overview: the Events panel counts what log.db holds.
    def counts(s):
        lines = s.split("\n")
        return (row(lines, "received"), row(lines, "delivered"),
                row(lines, "deferred"))
    s = t.wait(lambda s: counts(s)[0] and counts(s)[0][3] == str(received)
               and counts(s)[1][3] == str(delivered)
               and counts(s)[2][3] == "4", "1 h counts to match the log")
    assert "Queue     4 recipients: 0 ready, 4 deferred   2 messages" in s
    assert set(row(s.split("\n"), "complaint")[2:5]) <= {"-", "0.000"}

    # 2: destinations, most queued first, ages and the deferring reply.
    t.keys("2")
    s = t.wait_text("slow.test")
    lines = t.lines()
    assert lines[2].startswith("Destinations: 2 domains")
    # 80 columns: ACT, CONN and NEXT give way (test_gwtop_layout.py).
    assert lines[3].split()[:9] == ["DOMAIN", "QUEUED", "<5m", "<10m", "<20m",
                                    "<40m", "<80m", "80m+", "THROTTLE"]
    assert lines[4].split()[:8] == ["slow.test", "3", "3", "0", "0", "0", "0",
                                    "0"]
    assert lines[4].split()[8] == "ok"          # deferred, not throttled
    assert lines[5].split()[:2] == ["other.test", "1"]
    assert "451 4.2" in lines[4]                # as much as 80 columns show
    assert "dest.test" not in s                 # all of it was delivered
    assert lines[-1].split()[-2:] == ["sort:", "QUEUED"]
    # < and > choose the sort column: DOMAIN sorts A to Z.
    t.keys("<")
    t.wait(lambda s: s.split("\n")[23].split()[-2:] == ["sort:", "DOMAIN"]
           and s.split("\n")[4].startswith("other.test"), "sort by DOMAIN")
    t.keys("I")
    t.wait(lambda s: "sort: DOMAIN (reversed)" in s
           and s.split("\n")[4].startswith("slow.test"), "reversed")
    t.keys(">")
    t.wait(lambda s: s.split("\n")[23].split()[-2:] == ["sort:", "QUEUED"]
           and s.split("\n")[4].startswith("slow.test"), "sort by QUEUED")
    t.keys(">", ">")
    t.wait_text("sort: <10m")
    # / filters the rows; Esc clears the filter.
    t.keys("/")
    t.wait_text("Filter: _")
    t.literal("othx")
    t.wait_text("Filter: othx_")
    t.keys("BSpace")
    t.wait_text("Filter: oth_")
    t.keys("Enter")
    s = t.wait(lambda s: "filter: oth" in s and "slow.test" not in s,
               "filtered to other.test")
    assert t.lines()[4].startswith("other.test")
    t.keys("Escape")
    t.wait(lambda s: "slow.test" in s and "other.test" in s
           and "filter:" not in s, "filter cleared")

    # 3: subaccounts over the last hour, from log.db.
    t.keys("3")
    s = t.wait_text("Subaccounts over the last hour")
    app = row(t.lines(), "app")
    assert app == ["app", str(received), str(delivered), "4", "0", "0.0",
                   "-", "-"]
    t.keys("w")
    t.wait_text("Subaccounts over the last 24 h")
    assert row(t.lines(), "app")[1:3] == [str(received), str(delivered)]

    # 4: the queue from queue.db; Enter shows a message's lifecycle.
    with gw.db("queue.db") as c:
        qids = [r[0] for r in c.execute(
            "SELECT qid FROM message ORDER BY received, id")]
    t.keys("4")
    t.wait_text("Queue: 2 messages")
    lines = t.lines()
    assert lines[5].split()[:5] == ["QID", "AGE", "RCPT", "TRY", "NEXT"]
    assert [l.split()[0] for l in lines[6:8]] == qids      # oldest first
    assert lines[6].split()[2:4] == ["3", "1"]
    assert all("451 4.2.1" in l for l in lines[6:8])     # the last reply
    t.keys("Down")
    t.keys("Enter")
    s = t.wait_text("Message %s: " % qids[1])
    life = [l.split()[1] for l in t.lines()[4:] if l[:2].isdigit()]
    actions = [e["action"] for e in gw.events("qid=?", (qids[1],))]
    assert life == actions and life[0] == "received" and "deferred" in life
    t.keys("Escape")
    t.wait_text("Queue: 2 messages")
    t.keys("Up", "Enter")
    t.wait_text("Message %s: " % qids[0])
    t.keys("Escape")
    t.wait_text("Queue: 2 messages")
    t.keys("NPage", "Enter")                     # PgDn: to the last
    t.wait_text("Message %s: " % qids[1])
    t.keys("Escape")
    t.wait_text("Queue: 2 messages")
    t.keys("PPage", "Enter")                     # PgUp: to the first
    t.wait_text("Message %s: " % qids[0])
    t.keys("Escape")
    t.wait_text("Queue: 2 messages")

    # Tab goes round the screens; 1 comes back to the overview.
    t.keys("Tab")
    t.wait_text("IP pools: 0 pools")
    t.keys("Tab")
    t.wait_text("Events         1 min")
    t.keys("Tab")
    t.wait_text("Destinations: ")
    t.keys("1")
    t.wait_text("Events         1 min")
    t.keys("q")
    t.assert_restored(0)


def test_every_other_key(gw, tmux_factory):
    t = tmux_factory(gw.conf, args=("-d", "0.5"))
    t.wait_text("every 0.5s  gwd: running")
    t.keys("h")
    t.wait_text("gwtop keys")
    s = t.screen()
    for k in ("q", "1", "2", "3", "4", "5", "Tab", "/", "< >", "I", "w", "space",
              "+ -", "^L"):
        assert re.search(r"\s%s\s" % re.escape(k), s), k
    t.keys("x")                                 # any key closes the help
    t.wait(lambda s: "gwtop keys" not in s, "help closed")
    t.keys("?")
    t.wait_text("gwtop keys")
    t.keys("Escape")
    t.wait(lambda s: "gwtop keys" not in s, "help closed")
    t.keys("Space")
    t.wait_text("every 0.5s  FROZEN")
    # Frozen: the clock on the header line stands still.
    clock = t.lines()[0].split()[2]
    t.keys("Space")
    t.wait(lambda s: "FROZEN" not in s and s.split()[2] != clock,
           "running again")
    t.keys("+")
    t.wait_text("every 1.0s")
    t.keys("+")
    t.wait_text("every 2.0s")
    t.keys("-", "-", "-")
    t.wait_text("every 0.5s")
    t.keys("C-l")
    t.wait_text("every 0.5s")
    t.keys("Q")
    t.assert_restored(0)


def test_resize_redraws_cleanly(gw, tmux_factory):
    t = tmux_factory(gw.conf)
    t.wait_text("Events         1 min")
    before = t.lines()
    assert len(before) == 24 and all(len(l) <= 80 for l in before)
    t.tmux("resize-window", "-x", "120", "-y", "40")
    s = t.wait(lambda s: len(s.split("\n")) == 41 and
               "q quit" in s.split("\n")[39], "40 rows")
    big = s.split("\n")[:-1]
    assert big[0].startswith(" gwtop ")
    assert all(len(l) <= 120 for l in big)
    # Laid out for the width: the RESULT column moved right.
    result_at = lambda ls: [l for l in ls if l.split()[:1] == ["TIME"]][0] \
        .index("RESULT")
    assert result_at(big) > result_at(before)
    t.tmux("resize-window", "-x", "80", "-y", "24")
    # tmux keeps the bottom of the tall screen until gwtop redraws: wait
    # for the redraw, then the layout must be the one from before.
    labels = lambda ls: [(i, l.split()[0]) for i, l in enumerate(ls)
                         if l.split() and l.split()[0] in
                         ("Queue", "Throughput", "Events", "TIME", "q")]
    s = t.wait(lambda s: len(s.split("\n")) == 25 and
               s.startswith(" gwtop ") and
               labels(s.split("\n")[:-1]) == labels(before), "redrawn")
    after = s.split("\n")[:-1]
    assert result_at(after) == result_at(before)
    # Blank where it was blank: no line of the big layout survives.
    assert [bool(l.strip()) for l in after] == [bool(l.strip()) for l in before]
    assert all(len(l) <= 80 for l in after)
    t.keys("q")
    t.assert_restored(0)


def test_gwd_stopped_and_started_underneath(gw, sink, tmux_factory):
    send(gw, ["a@slow.test"])
    wait_for(lambda: gw.queue_count() == 1, what="one queued")
    t = tmux_factory(gw.conf)
    t.keys("2")
    t.wait_text("slow.test")
    gw.stop()
    s = t.wait_text("gwd: stopped, retrying")
    t.wait_text("gwd is not answering on its control socket: retrying")
    t.keys("1")
    s = t.wait_text("Queue     1 recipients")  # queue.db is still there
    assert "Throughput" not in s
    gw.start()
    t.wait(lambda s: "gwd: running up" in s and "Throughput" in s,
           "gwd back")
    t.keys("2")
    t.wait_text("slow.test")
    os.kill(t.gwtop_pid(), signal.SIGTERM)
    t.assert_restored(0)


@pytest.fixture
def dbs(tmp_path):
    """Databases without a gwd: gwtop shows them, gwd is down."""
    conf = os.path.join(str(tmp_path), "gwd.conf")
    with open(conf, "w") as f:
        f.write('state_dir = "%s/state";\ncontrol_socket = "%s/control";\n'
                'dns = { resolver = "127.0.0.1"; };\n' % (tmp_path, tmp_path))
    subprocess.run([GWCTL, "-c", conf, "db", "init"], check=True,
                   capture_output=True)
    return conf


def test_no_color(dbs, tmux_factory):
    plain = tmux_factory(dbs, env={"NO_COLOR": "1"})
    coloured = tmux_factory(dbs)
    for t in (plain, coloured):
        t.wait_text("gwd: stopped, retrying")
    assert not SGR_COLOUR.search(plain.screen(escapes=True))
    assert SGR_COLOUR.search(coloured.screen(escapes=True))
    for t in (plain, coloured):
        t.keys("q")
        t.assert_restored(0)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT,
                                 signal.SIGHUP])
def test_signals_restore_the_terminal(dbs, tmux_factory, sig):
    t = tmux_factory(dbs)
    t.wait_text("gwd: stopped")
    assert t.alternate_on() == "1"
    os.kill(t.gwtop_pid(), sig)
    t.assert_restored(0)


def test_ctrl_c_restores_the_terminal(dbs, tmux_factory):
    t = tmux_factory(dbs)
    t.wait_text("gwd: stopped")
    t.keys("C-c")
    t.assert_restored(0)


def test_pools_screen_and_throttle_column(gw_factory, sink, tmux_factory):
    """5: a pool's addresses with the numbers the sink saw from them;
    2: the destination a 421 throttled shows window/limit and gap, in
    amber.  backoff_recovery is long so it stays throttled."""
    from test_metrics import destinations
    sink.rcpt_reply = lambda a: (
        "421 4.7.0 rate limited" if a.endswith("@throttled.test") else
        "550 5.1.1 no such user" if a.startswith("bad") else None)
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "600s",
                             "queue.retry_max": "600s",
                             "relay.backoff_recovery": "1h",
                             "relay.idle_time": "300s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("pool", "add", "out", "127.0.0.2", "127.0.0.3", "--helo",
            "mta2.example.com")
    g.gwctl("route", "add", "--to-domain", "pooled.test", "--pool", "out")
    g.gwctl("throttle", "set", "127.0.0.1", "--connections", "4")
    send(g, ["u1@pooled.test", "bad@pooled.test"], "one")
    send(g, ["u2@pooled.test"], "two")
    send(g, ["u3@pooled.test"], "three")
    # The DSN first: a delivery after the 421 would take a step back.
    wait_for(lambda: [m for m in sink.messages if m.mail_from == ""],
             what="the DSN delivered")
    send(g, ["x@throttled.test"], "four")
    # Three to the pool and the DSN delivered, one bounced, one deferred.
    wait_for(lambda: len(g.events("action='delivered'")) == 4 and
             len(g.events("action='deferred'")) == 1, 30, what="attempts")
    pool_ips = ("127.0.0.2", "127.0.0.3")
    delivered = len([m for m in sink.messages if m.peer[0] in pool_ips])
    assert delivered == 3

    t = tmux_factory(g.conf, x=120)
    t.keys("5")
    t.wait_text("IP pools: 1 pools, 2 addresses")
    assert t.lines()[3].split() == ["POOL", "ADDRESS", "HELO", "CONN",
                                    "DELIVERED", "DEFERRED", "BOUNCED",
                                    "DESTINATIONS"]

    def rows_match(s):
        rows = [l.split() for l in s.split("\n")
                if any(ip in l for ip in pool_ips)]
        with sink.lock:
            open_now = {ip: str(sink.open_by_ip.get(ip, 0))
                        for ip in pool_ips}
        # The pool's figures on its first row only.
        return len(rows) == 2 and rows[0][0] == "out" and \
            rows[0][1] in pool_ips and rows[0][2:] == [
                "mta2.example.com", open_now[rows[0][1]], str(delivered),
                "0", "1", "[smarthost]@out"] and \
            rows[1][0] in pool_ips and rows[1][1:] == [
                "mta2.example.com", open_now[rows[1][0]]]
    t.wait(rows_match, "pool rows as the sink saw them")
    # / keeps the rows with the text; < > sort.
    t.keys("/")
    t.literal("127.0.0.3")
    t.keys("Enter")
    s = t.wait(lambda s: "filter: 127.0.0.3" in s and "127.0.0.2" not in s,
               "filtered to one address")
    assert [l.split()[:2] for l in s.split("\n") if "mta2." in l] \
        == [["out", "127.0.0.3"]]
    t.keys("Escape")
    t.wait(lambda s: "127.0.0.2" in s and "127.0.0.3" in s, "unfiltered")
    t.keys(">")
    t.wait_text("sort: ADDRESS")
    t.keys("I")
    s = t.wait_text("sort: ADDRESS (reversed)")
    assert [l.split()[:2] for l in s.split("\n") if "mta2." in l] \
        == [["out", "127.0.0.3"], ["127.0.0.2", "mta2.example.com"]]

    # 2: the throttled destination, as gwd's `destinations` says it.
    t.keys("2")
    t.wait_text("throttled.test")
    d = destinations(g)[1]["throttled.test"]
    assert d["throttled"] == 1 and d["via"] == "[smarthost]"
    assert (d["limit"], d["window"]) == (4, 2) and d["gap_ms"] >= 1000
    want = "2/4 %ds" % (d["gap_ms"] // 1000)
    line = [l for l in t.lines() if l.startswith("throttled.test")][0]
    assert line.split()[10:12] == want.split(), line
    coloured = [l for l in t.screen(escapes=True).split("\n")
                if "throttled.test" in l][0]
    assert re.search(r"\x1b\[(\d+;)*33m\s*%s" % re.escape(want), coloured), \
        repr(coloured)
    t.keys("q")
    t.assert_restored(0)


def test_subaccounts_quota_pause_and_header_alert(gw_factory, sink,
                                                  tmux_factory):
    """3: QUOTA as gwd counts it (amber from 80%, red when used up), a
    subaccount without traffic listed with its day quota; after a pause as in
    test_suppression's, PAUSED yes in red with the reason, and the
    header's alert on every screen until the resume."""
    from test_metrics import control
    from test_suppression import pausing_gw
    g = pausing_gw(gw_factory, sink)
    g.add_subaccount("idle", "idle.test", "s3cret-pass")
    g.gwctl("subaccount", "set", "app", "--quota-hour", "10")
    g.gwctl("subaccount", "set", "idle", "--quota-day", "100")

    def used_hour():
        line = [x for x in control(g, "subaccounts").splitlines()
                if x.startswith("sub app ")][0]
        return int(re.search(r" used_hour=(\d+)", line).group(1))

    def app_row(s):
        return row(s.split("\n"), "app")

    t = tmux_factory(g.conf)
    t.keys("3")
    # gwd reads gw.db's change within a poll; gwtop shows it at a refresh.
    s = t.wait(lambda s: "0/100" in (row(s.split("\n"), "idle") or []),
               "idle listed without traffic, with its day quota")
    # Only a day quota: that one, in green.
    assert row(s.split("\n"), "idle")[1:] == ["0", "0", "0", "0", "-",
                                              "0/100", "d", "-"]
    line = [l for l in t.screen(escapes=True).split("\n") if "0/100" in l][0]
    assert re.search(r"\x1b\[(\d+;)*32m\s*0/100 d", line), repr(line)
    for i in range(8):
        send(g, ["u%d@dest.test" % i])
    wait_for(lambda: len(g.events("action='delivered'")) == 8, 30,
             what="8 deliveries")
    assert used_hour() == 8
    s = t.wait(lambda s: app_row(s) and app_row(s)[-3:] == ["8/10", "h", "-"],
               "QUOTA 8/10 h")
    assert "PAUSED:" not in t.lines()[0]
    line = [l for l in t.screen(escapes=True).split("\n") if "8/10" in l][0]
    assert re.search(r"\x1b\[(\d+;)*33m\s*8/10 h", line), repr(line)

    # 10 recipients, then a hard bounce: 1 in 11 > 5%, paused.
    send(g, ["u8@dest.test", "u9@dest.test"])
    wait_for(lambda: len(g.events("action='delivered'")) == 10, 30,
             what="10 deliveries")
    send(g, ["gone@dest.test"])
    wait_for(lambda: g.events("action='paused'"), 30, what="paused event")
    assert used_hour() == 10
    s = t.wait(lambda s: app_row(s) and app_row(s)[-3:] == ["10/10", "h",
                                                           "yes"],
               "QUOTA 10/10 h, PAUSED yes")
    assert "PAUSED: app" in s.split("\n")[0]
    reason = [l for l in s.split("\n") if l.startswith("paused app: ")]
    assert reason and "bounce rate 9.0%" in reason[0], s
    esc = t.screen(escapes=True).split("\n")
    line = [l for l in esc if "10/10" in l][0]
    assert re.search(r"\x1b\[(\d+;)*31m\s*10/10 h", line), repr(line)
    assert re.search(r"\x1b\[(\d+;)*31m\s*yes", line), repr(line)
    assert re.search(r"\x1b\[(\d+;)*31m[^\x1b]*PAUSED: app", esc[0]), \
        repr(esc[0])
    # The alert on the other screens too, until gwd resumes it.
    for k in ("1", "2", "4", "5"):
        t.keys(k)
        t.wait(lambda s: "PAUSED: app" in s.split("\n")[0],
               "header alert on screen " + k)
    g.gwctl("subaccount", "resume", "app")
    t.wait(lambda s: "PAUSED:" not in s.split("\n")[0], "alert gone")
    t.keys("3")
    t.wait(lambda s: app_row(s) and app_row(s)[-1] == "-", "PAUSED -")
    t.keys("q")
    t.assert_restored(0)
