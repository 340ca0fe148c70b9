"""gwsearch: find messages in log.db and print every event of each.

Self-contained: makes a state dir with `gwctl db init`, fills log.db with
Python's sqlite3 (event, event_rcpt, event_fts), and checks the table and
JSON-lines output against exact values.
"""
import json
import os
import sqlite3
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GW_BUILD", os.path.join(REPO, "build"))
GWCTL = os.path.join(BUILD, "gwctl")
GWSEARCH = os.path.join(BUILD, "gwsearch")

NOW = int(time.time())
T0 = NOW - 1800          # message A received


def us(t):
    return int(t * 1000000)


COLS = ("ts", "qid", "action", "subaccount", "client_ip", "sender",
        "recipient", "message_id", "subject", "from_addr", "size", "tls",
        "remote_host", "remote_ip", "reply_code", "reply_status",
        "reply_text", "duration_ms", "detail", "username")

TLS = "TLSv1.3 TLS_AES_256_GCM_SHA384"

# (seconds, fields); A: two recipients, one deferred then delivered.
EVENTS = [
    (T0, dict(qid="A1B2C3D4E5F6", action="received", subaccount="acme",
              client_ip="192.0.2.10", sender="alice@example.com",
              recipient="bob@example.net, carol@example.org",
              message_id="<m1@example.com>", subject="Quarterly report",
              from_addr="Alice <alice@example.com>", size=2048, tls=TLS)),
    (T0 + 1, dict(qid="A1B2C3D4E5F6", action="delivered",
                  recipient="bob@example.net", remote_host="mx.example.net",
                  remote_ip="198.51.100.10", tls=TLS, reply_code=250,
                  reply_status="2.0.0", reply_text="OK queued as 123",
                  duration_ms=850)),
    (T0 + 1, dict(qid="A1B2C3D4E5F6", action="deferred",
                  recipient="carol@example.org", remote_host="mx.example.org",
                  remote_ip="203.0.113.5", reply_code=451,
                  reply_status="4.7.1", reply_text="greylisted, try later",
                  duration_ms=120)),
    (T0 + 300, dict(qid="A1B2C3D4E5F6", action="delivered",
                    recipient="carol@example.org",
                    remote_host="mx.example.org", remote_ip="203.0.113.5",
                    reply_code=250, reply_status="2.0.0", reply_text="ok",
                    duration_ms=95)),
    # B bounces; its DSN is C.
    (NOW - 100, dict(qid="B0000000000B", action="received",
                     subaccount="acme", client_ip="192.0.2.10",
                     sender="alice@example.com", recipient="dave@example.net",
                     message_id="<m2@example.com>", subject="Invoice",
                     size=999)),
    (NOW - 99, dict(qid="B0000000000B", action="bounced",
                    recipient="dave@example.net",
                    remote_host="mx.example.net", remote_ip="198.51.100.10",
                    reply_code=550, reply_status="5.1.1",
                    reply_text="user unknown", duration_ms=40)),
    (NOW - 99, dict(qid="B0000000000B", action="dsn",
                    detail="dsn_qid=C00000000000C")),
    (NOW - 98, dict(qid="C00000000000C", action="received", sender="",
                    recipient="alice@example.com", subject="Undelivered Mail",
                    size=3000)),
    (NOW - 97, dict(qid="C00000000000C", action="delivered",
                    recipient="alice@example.com", remote_host="mx.example.com",
                    remote_ip="192.0.2.25", reply_code=250,
                    reply_status="2.0.0", reply_text="ok", duration_ms=10)),
    # Refused at RCPT: no queue id.
    (NOW - 50, dict(action="rejected", subaccount="acme",
                    client_ip="192.0.2.10", sender="alice@example.com",
                    recipient="nobody@example.net", reply_code=550,
                    reply_status="5.7.1", reply_text="relay denied")),
    # D: an older message to bob.
    (NOW - 7200, dict(qid="D0000000000D", action="received",
                      sender="eve@example.com", recipient="bob@example.net",
                      message_id="d@example.com", subject="Old", size=10)),
    (NOW - 7199, dict(qid="D0000000000D", action="delivered",
                      recipient="bob@example.net", remote_host="mx.example.net",
                      reply_code=250, reply_status="2.0.0", reply_text="ok")),
]

# Recipients of each received message.
RCPTS = [("A1B2C3D4E5F6", "bob@example.net"),
         ("A1B2C3D4E5F6", "carol@example.org"),
         ("B0000000000B", "dave@example.net"),
         ("C00000000000C", "alice@example.com"),
         ("D0000000000D", "bob@example.net")]


UGLY = (b"ok \xc3\xa9 \xe2\x80\xa8 \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 "
        b"\xf0\x9f\x93\xa7 \x7f\"\\\t\n\x01 \xe2\x82")
UGLY_JSON = ('ok \u00e9 \u2028 \ufffd\ufffd\ufffd \ufffd\ufffd '
             '\ufffd\ufffd\ufffd\ufffd \U0001f4e7 \x7f"\\\t\n\x01 '
             '\ufffd\ufffd')


def insert_event(db, t, f):
    row = dict(f, ts=us(t))
    names = [c for c in COLS if c in row]
    cur = db.execute("INSERT INTO event (%s) VALUES (%s)" %
                     (", ".join(names), ", ".join("?" * len(names))),
                     [row[c] for c in names])
    db.execute("INSERT INTO event_fts (rowid, sender, recipient, subject, "
               "message_id, from_addr, reply_text) "
               "SELECT id, sender, recipient, subject, message_id, "
               "from_addr, reply_text FROM event WHERE id = ?",
               (cur.lastrowid,))
    return cur.lastrowid


def make_log(tmp_path_factory, name):
    """A state directory made by gwctl, log.db filled with EVENTS."""
    d = tmp_path_factory.mktemp(name)
    state = d / "state"
    conf = d / "gwd.conf"
    conf.write_text('state_dir = "%s";\ndns = { resolver = "127.0.0.1"; };\n'
                    % state)
    r = subprocess.run([GWCTL, "-c", str(conf), "db", "init"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    db = sqlite3.connect(str(state / "log.db"))
    # In time order, as gwd logs them: log order is what "most recent"
    # means to a search.  ids stay in EVENTS order.
    order = sorted(range(len(EVENTS)), key=lambda i: EVENTS[i][0])
    ids = [None] * len(EVENTS)
    for i in order:
        ids[i] = insert_event(db, *EVENTS[i])
    db.executemany("INSERT INTO event_rcpt (qid, address) VALUES (?, ?)",
                   RCPTS)
    return conf, state, db, ids


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    conf, state, db, ids = make_log(tmp_path_factory, "gwsearch")
    # A subject with an escape sequence and a byte that is not UTF-8.
    eid = db.execute(
        "INSERT INTO event (ts, qid, action, sender, recipient, subject) "
        "VALUES (?, 'E0000000000E', 'received', 'mallory@example.com', "
        "'victim@example.net', CAST(x'48691b5b33316dff21' AS TEXT))",
        (us(NOW - 10),)).lastrowid
    db.execute("INSERT INTO event_rcpt VALUES ('E0000000000E', "
               "'victim@example.net')")
    # Every kind of UTF-8 trouble, for the JSON escaper.
    db.execute("INSERT INTO event (ts, qid, action, recipient, subject) "
               "VALUES (?, 'F0000000000F', 'received', 'utf8@example.net', "
               "CAST(? AS TEXT))", (us(NOW - 9), UGLY))
    db.commit()
    db.close()
    return dict(conf=str(conf), state=state, ids=ids + [eid])


def search(env, *args):
    return subprocess.run([GWSEARCH, "-c", env["conf"]] + list(args),
                          capture_output=True, text=True)


def jsonl(out):
    return [json.loads(line) for line in out.splitlines()]


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def test_help_and_version():
    r = subprocess.run([GWSEARCH, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: gwsearch")
    r = subprocess.run([GWSEARCH, "--version"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.startswith("gwsearch ")


def test_help_and_usage_fit_80_columns():
    """--help and a usage error wrap before an 80-column terminal does."""
    for args in (["--help"], ["--bogus"]):
        r = subprocess.run([GWSEARCH] + args, capture_output=True, text=True)
        lines = (r.stdout + r.stderr).splitlines()
        assert lines and max(len(l) for l in lines) <= 79, lines
    assert "[--by domain|subaccount|hour|class] [--format table|jsonl|csv]" \
        in subprocess.run([GWSEARCH, "--help"], capture_output=True,
                          text=True).stdout


def test_filter_required(env):
    r = search(env)
    assert r.returncode == 64
    assert "at least one" in r.stderr
    assert "usage:" in r.stderr


def test_bad_options(env):
    assert search(env, "--recipient", "a@b", "--format", "xml").returncode == 64
    assert search(env, "--recipient", "a@b", "--limit", "x").returncode == 64
    assert search(env, "--recipient", "").returncode == 64
    assert search(env, "stray").returncode == 1      # free text now
    assert search(env, "bogus:x").returncode == 64


def test_recipient_json_all_events_of_message(env):
    r = search(env, "--recipient", "carol@example.org", "--format", "json")
    assert r.returncode == 0, r.stderr
    ev = jsonl(r.stdout)
    # Every event of A, even the ones about bob, in (ts, id) order.
    assert [e["event"]["action"] for e in ev] == [
        "received", "delivered", "deferred", "delivered"]
    assert {e["email"]["local_id"] for e in ev} == {"A1B2C3D4E5F6"}
    assert [e["gw"]["event_id"] for e in ev] == env["ids"][0:4]
    # ECS's event.id: the same id, as a string (webhooks' de-dup key).
    assert [e["event"]["id"] for e in ev] == [str(i) for i in env["ids"][0:4]]
    rec, dlv, dfr = ev[0], ev[1], ev[2]
    assert rec["@timestamp"] == rfc3339(T0) + ".000000Z"
    assert rec["event"]["outcome"] == "success"
    # ECS: the envelope sender is email.sender, From: is email.from.
    assert rec["email"]["sender"]["address"] == "alice@example.com"
    assert rec["email"]["from"]["address"] == ["alice@example.com"]
    assert rec["email"]["to"]["address"] == ["bob@example.net",
                                             "carol@example.org"]
    assert rec["email"]["subject"] == "Quarterly report"
    assert rec["email"]["message_id"] == "<m1@example.com>"
    assert rec["source"]["ip"] == "192.0.2.10"
    assert rec["gw"]["subaccount"] == "acme"
    assert rec["gw"]["size"] == 2048
    assert rec["gw"]["header_from"] == "Alice <alice@example.com>"
    assert rec["tls"] == {"version": "1.3", "version_protocol": "tls",
                          "cipher": "TLS_AES_256_GCM_SHA384"}
    assert dlv["email"]["to"]["address"] == ["bob@example.net"]
    assert dlv["destination"] == {"domain": "mx.example.net",
                                  "ip": "198.51.100.10"}
    assert dlv["event"]["duration"] == 850 * 1000000
    assert dlv["gw"]["smtp"] == {"code": 250, "status": "2.0.0",
                                 "text": "OK queued as 123"}
    assert dfr["event"]["outcome"] == "unknown"
    assert dfr["gw"]["smtp"]["code"] == 451
    assert "tls" not in dfr


def test_recipient_is_case_insensitive_and_brackets(env):
    r = search(env, "--recipient", "<Carol@Example.ORG>", "--format", "json")
    assert r.returncode == 0
    assert len(jsonl(r.stdout)) == 4


def test_recipient_table(env):
    r = search(env, "--recipient", "carol@example.org")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ('A1B2C3D4E5F6  from <alice@example.com>  '
                        'subject "Quarterly report"')
    assert len(lines) == 6 and lines[5] == ""
    t = rfc3339(T0 + 1) + "Z"
    assert lines[2].split() == [
        t, "delivered", "bob@example.net", "mx.example.net", "250", "2.0.0",
        "OK", "queued", "as", "123", "TLSv1.3", "TLS_AES_256_GCM_SHA384"]
    assert lines[3].split()[:8] == [
        t, "deferred", "carol@example.org", "mx.example.org", "451",
        "4.7.1", "greylisted,", "try"]
    assert lines[3].endswith("  -")          # no TLS
    assert lines[1].split()[1:4] == ["received",
                                     "bob@example.net,", "carol@example.org"]


def test_sender_groups_messages_oldest_first(env):
    r = search(env, "--sender", "alice@example.com", "--format", "json")
    assert r.returncode == 0
    ev = jsonl(r.stdout)
    # A, B, then the rejected event (no queue id) on its own.
    ids = [e["email"].get("local_id") for e in ev]
    assert ids == ["A1B2C3D4E5F6"] * 4 + ["B0000000000B"] * 3 + [None]
    rej = ev[-1]
    assert rej["event"]["action"] == "rejected"
    assert rej["event"]["outcome"] == "failure"
    assert rej["email"]["to"]["address"] == ["nobody@example.net"]
    assert rej["gw"]["smtp"] == {"code": 550, "status": "5.7.1",
                                 "text": "relay denied"}
    assert ev[6]["event"]["action"] == "dsn"
    assert ev[6]["gw"]["detail"] == "dsn_qid=C00000000000C"


def test_null_sender(env):
    for s in ("<>", ""):
        r = search(env, "--sender", s, "--format", "json")
        assert r.returncode == 0
        ev = jsonl(r.stdout)
        assert [e["email"]["local_id"] for e in ev] == ["C00000000000C"] * 2
        assert ev[0]["email"]["sender"]["address"] == ""


def test_message_id_with_or_without_brackets(env):
    for mid in ("m2@example.com", "<m2@example.com>"):
        r = search(env, "--message-id", mid, "--format", "json")
        assert r.returncode == 0
        assert [e["event"]["action"] for e in jsonl(r.stdout)] == [
            "received", "bounced", "dsn"]
    # Stored without brackets, found with them.
    r = search(env, "--message-id", "<d@example.com>", "--format", "json")
    assert [e["email"]["local_id"] for e in jsonl(r.stdout)] == [
        "D0000000000D"] * 2


def test_filters_combine_with_and(env):
    r = search(env, "--recipient", "bob@example.net", "--sender",
               "eve@example.com", "--format", "json")
    assert {e["email"]["local_id"] for e in jsonl(r.stdout)} == {
        "D0000000000D"}
    r = search(env, "--recipient", "dave@example.net", "--sender",
               "eve@example.com")
    assert r.returncode == 1 and r.stdout == ""


def test_limit_keeps_most_recent(env):
    r = search(env, "--recipient", "bob@example.net", "--format", "json")
    assert [e["email"]["local_id"] for e in jsonl(r.stdout)] == (
        ["D0000000000D"] * 2 + ["A1B2C3D4E5F6"] * 4)
    r = search(env, "--recipient", "bob@example.net", "--format", "json",
               "--limit", "1")
    assert r.returncode == 0
    assert {e["email"]["local_id"] for e in jsonl(r.stdout)} == {
        "A1B2C3D4E5F6"}
    assert "--limit" in r.stderr


def test_options_after_terms(env):
    r = search(env, "from:eve@example.com", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert {e["email"]["local_id"] for e in jsonl(r.stdout)} == {
        "D0000000000D"}
    # After --, a word that starts with - is a term, not an option.
    r = search(env, "--format", "json", "--", "-old")
    assert r.returncode in (0, 1), r.stderr


def test_no_match_exit_1(env):
    # As grep: 1, and said on stderr (test_gwsearch_output.py).
    r = search(env, "--recipient", "nobody-at-all@example.com")
    assert r.returncode == 1
    assert r.stdout == "" and r.stderr == "gwsearch: no matching messages\n"


def test_untrusted_bytes_escaped(env):
    r = subprocess.run([GWSEARCH, "-c", env["conf"], "--recipient",
                        "victim@example.net", "--format", "json"],
                       capture_output=True)
    assert r.returncode == 0
    line = r.stdout.decode("utf-8")        # valid UTF-8 whatever was stored
    assert "\\u001b[31m" in line and "\\ufffd" in line
    assert json.loads(line)["email"]["subject"] == "Hi\x1b[31m\ufffd!"
    r = subprocess.run([GWSEARCH, "-c", env["conf"], "--recipient",
                        "victim@example.net"], capture_output=True)
    assert b"\x1b" not in r.stdout
    assert b'subject "Hi\\x1b[31m\\xff!"' in r.stdout


def test_json_escaping_of_bad_utf8(env):
    r = subprocess.run([GWSEARCH, "-c", env["conf"], "--recipient",
                        "utf8@example.net", "--format", "json"],
                       capture_output=True)
    assert r.returncode == 0
    raw = r.stdout.decode("utf-8")
    assert json.loads(raw)["email"]["subject"] == UGLY_JSON
    # Valid UTF-8 is kept as is; U+2028 and controls are escaped.
    assert "\u00e9" in raw and "\U0001f4e7" in raw
    assert "\\u2028" in raw and "\\u007f" in raw and "\\u0001" in raw
    assert '\\t\\n' in raw and '\\"\\\\' in raw


def test_sql_metacharacters_are_data(env):
    r = search(env, "--recipient", "x' OR '1'='1")
    assert r.returncode == 1 and r.stdout == ""


def test_missing_log_db(tmp_path):
    conf = tmp_path / "gwd.conf"
    conf.write_text('state_dir = "%s";\ndns = { resolver = "127.0.0.1"; };\n'
                    % (tmp_path / "none"))
    r = subprocess.run([GWSEARCH, "-c", str(conf), "--sender", "a@b"],
                       capture_output=True, text=True)
    assert r.returncode == 66
    assert r.stderr.startswith("gwsearch: ") and "log.db" in r.stderr


def test_bad_config(tmp_path):
    conf = tmp_path / "gwd.conf"
    conf.write_text("bogus_setting = 1;\n")
    r = subprocess.run([GWSEARCH, "-c", str(conf), "--sender", "a@b"],
                       capture_output=True, text=True)
    assert r.returncode == 78
    assert 'unknown setting "bogus_setting"' in r.stderr


def test_log_db_not_modified(env):
    path = env["state"] / "log.db"
    before = path.read_bytes()
    search(env, "--sender", "alice@example.com")
    assert path.read_bytes() == before


def named_after(text, marker):
    """The words listed after marker: "a, b, c or d" -> [a, b, c, d]."""
    listed = text.split(marker, 1)[1].splitlines()[0]
    return listed.replace(" or ", ", ").split(", ")


def test_status_error_names_every_word_it_accepts(env):
    # The message once named 7 of the 13 words status: took.
    r = search(env, "status:lost")
    assert r.returncode == 64
    words = named_after(r.stderr, "is not one of ")
    for w in ("received", "delivered", "deferred", "bounced", "expired",
              "rejected", "quarantined", "signed", "unsigned", "dsn",
              "auth", "paused", "resumed", "held", "deleted"):
        assert w in words, (w, r.stderr)
    for w in words:
        r = search(env, "status:" + w)
        assert r.returncode in (0, 1), (w, r.stderr)
    # --help lists the same words.
    h = subprocess.run([GWSEARCH, "--help"], capture_output=True,
                       text=True).stdout
    assert " ".join(h.split()).count(", ".join(words[:-1]) + " or " +
                                     words[-1]) == 1


def test_format_error_names_every_format_it_accepts(env):
    # The message once left out json and syslog5424.
    r = search(env, "--recipient", "a@b", "--format", "xml")
    assert r.returncode == 64
    names = named_after(r.stderr, "--format: expected ")
    assert {"table", "json", "jsonl", "csv", "cef", "syslog5424"} <= \
        set(names), r.stderr
    for f in names:
        r = search(env, "--recipient", "nobody@example.org", "--format", f)
        # syslog5424 is taken, and then said to be for export only.
        assert r.returncode == 1 or "is for export" in r.stderr, (f, r)
