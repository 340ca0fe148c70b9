"""gwtop on the admin's 80x24 terminal: what each screen shows when it
cannot show everything.  Columns are left out rather than all cut short;
a queue id is never cut (gwsearch show takes it as read off the
screen); replies are shown from their code on, without gwd's "HOST
said:", and whole on the message screen; the help box fits; the
header's alert does not cover gwd's counters.

gwd is a stand-in on the control socket (fake_control.py) answering with
chosen figures; queue.db and log.db are made by `gwctl db init` and
filled here.  Screens are read back from tmux (test_gwtop_tmux.Tmux).
"""
import os
import re
import sqlite3
import subprocess
import time

import pytest

from conftest import BUILD, tally_rebuild
from fake_control import FakeControl, dest_line, sub_line
from test_gwtop_tmux import Tmux

GWCTL = os.path.join(BUILD, "gwctl")
GWSEARCH = os.path.join(BUILD, "gwsearch")

QID = "0123456789ABCDEF"
QID2 = "FEDCBA9876543210"
RCPT = "someone.with.a.long.name@customer-domain.example"
LONG_TEXT = ("Requested action aborted: the mailbox of this recipient is "
             "over its storage quota; the user must delete messages before "
             "more mail can be accepted (see https://help.example/quota)")
REPLY = "452 4.2.2 mx1.customer-domain.example said: " + LONG_TEXT
BUSY = "451 4.2.1 mx.other.example said: mailbox busy"


def fill(state, now):
    with sqlite3.connect(os.path.join(state, "queue.db")) as db:
        for mid, qid, ago, rcpt, reply in (
                (1, QID, 600, RCPT, REPLY),
                (2, QID2, 60, "b@other.example", BUSY)):
            db.execute("INSERT INTO message (id, qid, sender, received, "
                       "size, body) VALUES (?, ?, 'app@example.com', ?, "
                       "1234, x'00')", (mid, qid, (now - ago) * 1000000))
            db.execute("INSERT INTO recipient (message, address, domain, "
                       "attempts, next_attempt, last_reply) VALUES "
                       "(?, ?, ?, 2, ?, ?)",
                       (mid, rcpt, rcpt.split("@")[1], now + 300, reply))
    db.close()
    events = [
        (600, QID, "received", RCPT, None, None, None, None),
        (599, QID, "signed", None, None, None, None, None),
        (599, QID, "routed", RCPT, None, None, None, None),
        (590, QID, "deferred", RCPT, 452, "4.2.2",
         "mx1.customer-domain.example said: " + LONG_TEXT,
         "mx1.customer-domain.example"),
        (60, QID2, "received", "b@other.example", None, None, None, None),
        (59, QID2, "signed", None, None, None, None, None),
        (58, QID2, "deferred", "b@other.example", 451, "4.2.1",
         "mx.other.example said: mailbox busy", "mx.other.example"),
    ]
    with sqlite3.connect(os.path.join(state, "log.db")) as db:
        for ago, qid, action, rcpt, code, status, text, host in events:
            db.execute("INSERT INTO event (ts, qid, action, recipient, "
                       "reply_code, reply_status, reply_text, remote_host, "
                       "client_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       ((now - ago) * 1000000, qid, action, rcpt, code,
                        status, text, host,
                        "192.0.2.7" if action == "received" else None))
        tally_rebuild(db)
    db.close()


@pytest.fixture
def env(tmp_path):
    d = str(tmp_path)
    conf = os.path.join(d, "gwd.conf")
    with open(conf, "w") as f:
        f.write('state_dir = "%s/state";\ncontrol_socket = "%s/control";\n'
                'dns = { resolver = "127.0.0.1"; };\n' % (d, d))
    subprocess.run([GWCTL, "-c", conf, "db", "init"], check=True,
                   capture_output=True)
    fill(os.path.join(d, "state"), int(time.time()))
    return dict(dir=d, conf=conf, control=os.path.join(d, "control"))


@pytest.fixture
def screens(env):
    """Start gwtop in tmux (and a fake gwd) with make(**fake_args)."""
    made = []

    def make(x=80, y=24, args=(), **fake):
        ctl = FakeControl(env["control"], **fake)
        t = Tmux(env["dir"], env["conf"], args=("-d", "0.5") + tuple(args),
                 x=x, y=y)
        made.append((t, ctl))
        t.wait_text("gwd: running")
        return t
    yield make
    for t, ctl in made:
        t.kill()
        ctl.stop()


def test_queue_ids_whole_and_replies_from_the_code(env, screens):
    t = screens()
    # Overview, recent events: the whole queue id, the reply's code and
    # text without "HOST said:".
    s = t.wait_text("deferred")
    line = [l for l in t.lines() if " deferred " in l and QID2 in l]
    assert line, s
    assert "451 4.2.1 mailbox busy" in line[0]
    assert "said:" not in s
    # The id read off the screen is one gwsearch shows.
    shown = [w for w in line[0].split() if re.fullmatch(r"[0-9A-F]{16}", w)]
    assert shown == [QID2]
    r = subprocess.run([GWSEARCH, "-c", env["conf"], "show", shown[0]],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "Message " + QID2 in r.stdout, r.stderr
    # 4: the queue at 80 columns: SENDER and SIZE give way, the id, the
    # recipient and the reply's reason stay.
    t.keys("4")
    t.wait_text("Queue: 2 messages")
    lines = t.lines()
    head = [l for l in lines if l.split()[:1] == ["QID"]][0]
    assert head.split() == ["QID", "AGE", "RCPT", "TRY", "NEXT",
                            "RECIPIENT", "LAST", "REPLY"]
    row2 = [l for l in lines if l.startswith(QID2)][0]
    assert "b@other.example" in row2
    assert row2.rstrip().endswith("451 4.2.1 mailbox busy")
    assert all(len(l) <= 80 for l in lines)


def test_message_screen_shows_the_whole_reply(env, screens):
    t = screens()
    t.keys("4")
    t.wait_text("Queue: 2 messages")
    t.keys("Enter")
    s = t.wait_text("Message %s: " % QID)
    # The whole reply, host included, over as many lines as it takes.
    joined = " ".join(l.strip() for l in s.split("\n"))
    assert REPLY in joined, s
    assert RCPT + ": 2 attempts, next in" in s
    # Below it the lifecycle, routine events included.
    assert re.search(r"\bsigned\b", s) and re.search(r"\brouted\b", s)


def test_destinations_throttle_unit_and_error(env, screens):
    now = int(time.time())
    t = screens(destinations=[
        dest_line("busy.example", queued=3, waiting=3, age=(3, 0, 0, 0, 0,
                  0), limit=4, window=2, gap_ms=500, throttled=1,
                  next_attempt=now + 90,
                  error="421 4.7.0 mx.busy.example said: too many "
                  "connections, slow down"),
        dest_line("slow.example", queued=1, error=BUSY)])
    t.keys("2")
    t.wait_text("busy.example")
    lines = t.lines()
    # On 80 columns ACT, CONN and NEXT give way; the domain is whole.
    head = [l for l in lines if l.startswith("DOMAIN")][0]
    assert head.split() == ["DOMAIN", "QUEUED", "<5m", "<10m", "<20m",
                            "<40m", "<80m", "80m+", "THROTTLE", "LAST",
                            "ERROR"]
    row = [l for l in lines if l.startswith("busy.example ")][0]
    assert "2/4 500ms 421 4.7.0 too" in row, row
    assert "said" not in t.screen()
    row = [l for l in lines if l.startswith("slow.example ")][0]
    assert " ok 451 4.2.1 mailbox" in row, row
    # Wider, the columns come back (HEALTH too) and the error is whole.
    t.tmux("resize-window", "-x", "150", "-y", "24")
    s = t.wait(lambda s: "ACT" in s and "NEXT" in s, "wide layout")
    row = [l for l in s.split("\n") if l.startswith("busy.example ")][0]
    assert row.rstrip().endswith("421 4.7.0 too many connections, slow "
                                 "down"), row
    assert row.split()[8:12] == ["0", "0", "2/4", "500ms"]


def test_pools_figures_once_per_pool(env, screens):
    t = screens(pools=[
        "pool out connections=3 delivered=120 deferred=4 bounced=2 "
        "addresses=2 destinations=gmail.com@out",
        "address out 192.0.2.10 helo=mta1.example.com connections=1",
        "address out 192.0.2.11 helo=mta2.example.com connections=2"])
    t.keys("5")
    t.wait_text("IP pools: 1 pools, 2 addresses")
    rows = [l for l in t.lines() if "192.0.2.1" in l]
    assert len(rows) == 2
    assert rows[0].split() == ["out", "192.0.2.10", "mta1.example.com", "1",
                               "120", "4", "2", "gmail.com@out"]
    # The second address: its own figures only, under the pool's.
    assert rows[1].startswith(" ")
    assert rows[1].split() == ["192.0.2.11", "mta2.example.com", "2"]
    # Filtered to the second address, its row is the first: the pool's
    # figures are on it.
    t.keys("/")
    t.literal("192.0.2.11")
    t.keys("Enter")
    t.wait(lambda s: "192.0.2.10" not in s and "filter: 192" in s,
           "filtered")
    rows = [l for l in t.lines() if "192.0.2.11" in l]
    assert rows[0].split() == ["out", "192.0.2.11", "mta2.example.com", "2",
                               "120", "4", "2", "gmail.com@out"]


def test_help_fits_80x24(env, screens):
    t = screens()
    t.keys("h")
    s = t.wait_text("gwtop keys")
    for what in ("filter the table (Esc clears; Esc again: back)",
                 "overview: queue, throughput, rates, events",
                 "refresh less / more often (0.5 s to 60 s)",
                 "recent events: also signed and routed, or not",
                 "freeze / resume the display"):
        assert what in s, (what, s)
    lines = t.lines()
    assert all(len(l) <= 80 for l in lines)


def test_frozen_is_not_paused(env, screens):
    t = screens(subaccounts=[sub_line("billing", paused=True,
                                      reason="bounce rate 9.0%")])
    head = t.wait(lambda s: "PAUSED: billing" in s.split("\n")[0],
                  "the alert").split("\n")[0]
    # gwd's counters are there, whole or shortened, never covered.
    assert re.search(r"gwd: running up 2h00m(, in 3 out 12 conn)?  "
                     r"PAUSED: billing\s*$", head), head
    t.keys("Space")
    head = t.wait(lambda s: "FROZEN" in s.split("\n")[0],
                  "frozen").split("\n")[0]
    assert head.count("PAUSED") == 1 and "PAUSED: billing" in head
    t.keys("Space")
    t.wait(lambda s: "FROZEN" not in s.split("\n")[0], "running again")


def test_alerts_firing_in_the_header(env, screens):
    """gwd's firing alerts (alert_firing.NAME in stats) beside the paused
    subaccount, in the header of every screen (100 columns: on 80 they
    cover gwd's state, as the paused one alone may)."""
    t = screens(x=100, subaccounts=[sub_line("billing", paused=True,
                                      reason="bounce rate 9.0%")],
                stats={"alerts_firing": 2, "alert_firing.bounces": 1,
                       "alert_firing.queue": 1})
    head = t.wait(lambda s: "ALERT:" in s.split("\n")[0],
                  "the alert").split("\n")[0]
    assert re.search(r"PAUSED: billing  ALERT: bounces \+1\s*$", head), head
    t.keys("2")
    assert "ALERT: bounces +1" in t.lines()[0]


def test_routine_events_hidden_until_e(env, screens):
    t = screens()
    s = t.wait_text("deferred")
    assert not re.search(r"\b(signed|routed)\b", s)
    t.keys("e")
    t.wait(lambda s: re.search(r"\bsigned\b", s), "routine events shown")
    t.keys("e")
    t.wait(lambda s: not re.search(r"\b(signed|routed)\b", s),
           "hidden again")


def test_screen_option_chooses_the_first_screen(env, screens):
    t = screens(args=("--screen", "destinations"),
                destinations=[dest_line("first.example")])
    t.wait_text("Destinations: 1 domains")
    t.keys("1")
    t.wait_text("Events ")


def test_destinations_smarthost_health(env, screens):
    """Issue 14: HEALTH, the smarthosts of each destination up of all
    (left out first on 80 columns), and the count in the title."""
    from fake_control import SMARTHOSTS
    t = screens(x=140, args=("--screen", "destinations"), destinations=[
        dest_line("relayed.example", via="[smarthost]", health="1/2"),
        dest_line("direct.example", health="0/0")] + SMARTHOSTS)
    t.wait_text("smarthosts up: 1 of 2")
    lines = t.lines()
    head = [l for l in lines if l.startswith("DOMAIN")][0].split()
    assert "HEALTH" in head
    col = head.index("HEALTH")          # every cell before is one word
    row = [l for l in lines if l.startswith("relayed.example ")][0].split()
    assert row[col] == "1/2", row
    row = [l for l in lines if l.startswith("direct.example ")][0].split()
    assert row[col] == "-", row
