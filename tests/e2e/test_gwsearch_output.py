"""gwsearch as a first-time admin typed it: `show ID --format jsonl`
(options after the id), a queue id in lower case, a search that finds
nothing, `stats` for a script (JSON lines, CSV) and by bounce class,
its rows in order, the class: error naming every class.

A log.db made by `gwctl db init` and filled here, as gwd fills it.
"""
import csv
import io
import json
import subprocess

import pytest

from test_gwsearch import GWSEARCH, NOW, insert_event, make_log, named_after

QID = "0A1B2C3D4E5F6789"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    conf, state, db, _ = make_log(tmp_path_factory, "gwsearch_output")
    # A message with a queue id as gwd makes them, and failures of
    # several classes at other domains.
    insert_event(db, NOW - 40, dict(qid=QID, action="received",
                                    sender="app@example.com",
                                    recipient="x@full.test, y@gone.test, "
                                    "z@gone.test", subject="classes"))
    rows = [("deferred", "x@full.test", 452, "4.2.2", "mailbox_full"),
            ("bounced", "x@full.test", 552, "5.2.2", "mailbox_full"),
            ("bounced", "y@gone.test", 550, "5.1.1", "hard"),
            ("bounced", "z@gone.test", 550, "5.1.1", "hard"),
            ("deferred", "z@gone.test", 421, "4.7.0", "throttled")]
    for i, (action, rcpt, code, status, cls) in enumerate(rows):
        eid = insert_event(db, NOW - 30 + i, dict(
            qid=QID, action=action, recipient=rcpt, reply_code=code,
            reply_status=status, reply_text="mx said: no"))
        db.execute("UPDATE event SET class = ? WHERE id = ?", (cls, eid))
    db.execute("INSERT INTO event_rcpt (qid, address) VALUES (?, ?)",
               (QID, "x@full.test"))
    db.commit()
    db.close()
    return dict(conf=str(conf))


def gs(env, *args):
    return subprocess.run([GWSEARCH, "-c", env["conf"]] + list(args),
                          capture_output=True, text=True, timeout=60)


def test_show_takes_options_after_the_id(env):
    r = gs(env, "show", QID, "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert {e["email"]["local_id"] for e in lines} == {QID}
    assert len(lines) == 6
    r = gs(env, "show", "--format", "jsonl", QID)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 6


def test_show_lower_case_queue_id(env):
    r = gs(env, "show", QID.lower())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Message " + QID + "\n")
    # Not a queue id (a Message-ID, say): taken as typed.
    r = gs(env, "show", "m1@EXAMPLE.com")
    assert r.returncode == 1


def test_no_match_is_said_on_stderr(env):
    for fmt in ("table", "jsonl", "csv"):
        r = gs(env, "to:nobody-at-all@example.com", "--format", fmt)
        assert r.returncode == 1, (fmt, r.stderr)
        assert r.stdout == "" and \
            r.stderr == "gwsearch: no matching messages\n", (fmt, r.stderr)


def test_stats_by_class(env):
    r = gs(env, "stats", "--by", "class")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Failures by class (")
    assert lines[1].split() == ["class", "deferred", "bounced", "expired",
                                "rejected", "total"]
    # The most failures first; ties by name.
    assert [l.split() for l in lines[2:]] == [
        ["hard", "0", "2", "0", "0", "2"],
        ["mailbox_full", "1", "1", "0", "0", "2"],
        ["throttled", "1", "0", "0", "0", "1"]]


def test_stats_json_lines(env):
    r = gs(env, "stats", "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    (total,) = [json.loads(l) for l in r.stdout.splitlines()]
    assert total["received"] == 5 and total["bounced"] == 4
    assert set(total) == {"received", "delivered", "deferred", "bounced",
                          "expired", "rejected", "complained",
                          "delivery_rate", "complaint_rate",
                          "delay_avg_s", "delay_p95_s"}
    assert total["complained"] == 0 and total["complaint_rate"] == 0
    assert total["delivery_rate"] == pytest.approx(50.0)
    assert total["delay_p95_s"] == pytest.approx(300.0)
    r = gs(env, "stats", "--by", "class", "--format", "json")
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert rows[0] == {"class": "hard", "deferred": 0, "bounced": 2,
                       "expired": 0, "rejected": 0, "total": 2}
    r = gs(env, "stats", "--by", "domain", "--format", "json")
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    gone = [x for x in rows if x["domain"] == "gone.test"][0]
    assert gone["delivery_rate"] == 0 and gone["delay_avg_s"] is None


def test_stats_csv(env):
    r = subprocess.run([GWSEARCH, "-c", env["conf"], "stats", "--by",
                        "domain", "--format", "csv"], capture_output=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.endswith("\r\n") and out.count("\r\n") == out.count("\n")
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0] == ["domain", "received", "delivered", "deferred",
                       "bounced", "expired", "rejected", "complained",
                       "delivery_rate", "complaint_rate", "delay_avg_s",
                       "delay_p95_s"]
    by = {x[0]: x for x in rows[1:]}
    assert by["example.net"][1:3] == ["3", "2"]
    assert by["gone.test"][7:] == ["0", "0.0", "", "", ""]


def test_stats_rows_most_first(env):
    """Every grouping but hour: the most events first, ties by name;
    hours in time order."""
    for by in ("domain", "subaccount", "class"):
        r = gs(env, "stats", "--by", by, "--format", "json")
        rows = [json.loads(l) for l in r.stdout.splitlines()]

        def total(x):
            return sum(v for k, v in x.items() if k in (
                "received", "delivered", "deferred", "bounced", "expired",
                "rejected"))
        keys = [(-total(x), x[by]) for x in rows]
        assert keys == sorted(keys), (by, keys)
    r = gs(env, "stats", "--by", "hour", "--format", "json")
    hours = [json.loads(l)["hour"] for l in r.stdout.splitlines()]
    assert hours == sorted(hours) and len(hours) >= 2


def test_stats_usage(env):
    r = gs(env, "stats", "--by", "moon")
    assert r.returncode == 64
    assert "stats: --by domain, subaccount, hour or class" in r.stderr
    r = gs(env, "stats", "--format", "cef")
    assert r.returncode == 64 and "table, jsonl or csv" in r.stderr


def test_class_error_names_every_class(env):
    r = gs(env, "class:lost")
    assert r.returncode == 64
    words = named_after(r.stderr, "is not one of ")
    assert {"hard", "mailbox_full", "soft", "policy", "reputation",
            "throttled", "auth", "content", "routing", "tls", "expired",
            "other"} <= set(words), r.stderr
    for w in words:
        assert gs(env, "class:" + w).returncode in (0, 1), w
