"""gwsearch: C0 and C1 control characters (U+0080..U+009F, UTF-8 C2 80 ..
C2 9F) never leave gwsearch raw, in any output format.

A terminal that honours 8-bit controls takes U+009B as CSI, so a subject
"\\u009b31m" colours an admin's terminal just as "\\x1b[31m" does; a SIEM
that splits on U+0085 (NEL) sees two records.  Issue 19 item 10.
"""
import csv
import io
import json
import subprocess

import pytest

from test_gwsearch import GWSEARCH, NOW, insert_event, make_log

# ESC, CSI (U+009B), NEL (U+0085), U+0080 and U+009F, then text that
# must stay as it is: U+00A0 (the first character after C1) and e-acute.
SUBJECT = "a\x1b[31mb\u009b32mc\u0085d\u0080e\u009ff\u00a0g\u00e9"
REPLY = "\u009b1;1H\u0085x"
QID = "C1C1C1C1C1C1"


def c1_bytes(data):
    """Raw C1 controls (as UTF-8) and raw ESC in data."""
    return [data[i:i + 2] for i in range(len(data) - 1)
            if data[i] == 0xC2 and 0x80 <= data[i + 1] <= 0x9F] + \
        ([b"\x1b"] if b"\x1b" in data else [])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    conf, state, db, _ = make_log(tmp_path_factory, "controls")
    insert_event(db, NOW - 20, dict(
        qid=QID, action="received", sender="x@hostile.test",
        recipient="y@example.net", subject=SUBJECT, size=10))
    insert_event(db, NOW - 19, dict(
        qid=QID, action="bounced", recipient="y\u0085@example.net",
        remote_host="mx.example.net", reply_code=550, reply_status="5.1.1",
        reply_text=REPLY))
    db.execute("INSERT INTO event_rcpt VALUES (?, 'y@example.net')", (QID,))
    db.commit()
    db.close()
    return dict(conf=str(conf), state=state)


def gs(env, *args):
    r = subprocess.run([GWSEARCH, "-c", env["conf"]] + list(args),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout
    assert c1_bytes(r.stdout) == [], r.stdout
    return r.stdout.decode("utf-8")


def test_jsonl_escapes_c1(env):
    out = gs(env, "--format", "jsonl", "from:x@hostile.test")
    assert "\\u009b32m" in out and "\\u0085" in out and "\\u0080" in out
    assert "\\u009f" in out and "\\u001b[31m" in out
    ev = [json.loads(line) for line in out.splitlines()]
    # The value itself survives: JSON escapes are exact.
    assert ev[0]["email"]["subject"] == SUBJECT
    assert ev[1]["gw"]["smtp"]["text"] == REPLY
    assert "\u00a0g\u00e9" in out          # not a control: kept as it is


def test_csv_replaces_c1(env):
    out = gs(env, "--format", "csv", "from:x@hostile.test")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert rows[0]["subject"] == ("a\ufffd[31mb\ufffd32mc\ufffdd\ufffde"
                                  "\ufffdf\u00a0g\u00e9")
    assert rows[1]["reply_text"] == "\ufffd1;1H\ufffdx"


def test_cef_replaces_c1(env):
    out = gs(env, "--format", "cef", "from:x@hostile.test")
    lines = out.split("\n")
    assert len(lines) == 3 and lines[2] == ""      # NEL split nothing
    assert "msg=a [31mb 32mc d e f\u00a0g\u00e9" in lines[0]
    assert "cs3=550 5.1.1  1;1H x" in lines[1]


def test_syslog_export_escapes_c1(env, tmp_path):
    out = tmp_path / "out.log"
    r = subprocess.run([GWSEARCH, "-c", env["conf"], "export", "--cursor",
                        str(tmp_path / "cursor"), "--format", "syslog5424",
                        "--output", str(out)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert c1_bytes(data) == []
    line = [x for x in data.decode().splitlines() if QID in x][0]
    assert line.startswith("<") and "\\u009b32m" in line
    assert json.loads(line.split("] ", 1)[1])["email"]["subject"] == SUBJECT


def test_table_and_show_escape_c1(env):
    out = gs(env, "--no-pager", "from:x@hostile.test")
    assert "\\xc2\\x9b32m" in out and "\\xc2\\x85" in out
    out = gs(env, "show", QID)
    assert "\\xc2\\x9b32m" in out and "\\xc2\\x9b1;1H" in out
    # The recipient heads its attempts and its final state.
    assert out.count("y\\xc2\\x85@example.net") == 2
