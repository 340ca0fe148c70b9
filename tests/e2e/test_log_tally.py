"""log.db schema 8 (issue 16): event_tally, the counts per minute and per
hour that gwtop reads instead of every event of the day, kept by gwd's
writers in the transactions that write the events (common/tally.h);
schema 9: event_latency, the deliveries' latencies (from the message's
received event, kept in event.latency_ms) per minute and hour in log
buckets, kept the same way.  Both must equal a count of the raw events
(and their receptions) after real gwd traffic (delivered, bounced),
after retention pruning, after gwd is killed (-9) while it logs, and
after a schema 7 log.db is migrated by gwd at start; gwtop --once then
counts the same as the raw events, minute and hour edges included, and
its latency percentiles are those of the raw latencies' buckets."""
import json
import os
import smtplib
import sqlite3
import subprocess
import threading
import time

from conftest import (BUILD, lat_bucket, smarthost, submit as send,
                      tally_rebuild, wait_for)
from test_retention import remaining

DAY_US = 86400 * 1000000
SPANS = ((60, 60000000), (3600, 3600000000))


def tally_mismatch(path):
    """The (span, bucket, action, subaccount) rows where event_tally and
    a count of the events disagree; [] when they agree."""
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30,
                         isolation_level=None)
    db.execute("BEGIN")     # one snapshot while gwd writes on
    bad = []
    for span, div in SPANS:
        raw = {r[:3]: r[3:] for r in db.execute(
            "SELECT ts / ?, action, coalesce(subaccount, ''), count(*), "
            "sum(class IS 'hard') FROM event GROUP BY 1, 2, 3", (div,))}
        tally = {r[:3]: r[3:] for r in db.execute(
            "SELECT bucket, action, subaccount, n, hard FROM event_tally "
            "WHERE span = ?", (span,))}
        bad += [(span,) + k for k in set(raw) | set(tally)
                if raw.get(k) != tally.get(k)]
    assert db.execute("SELECT count(*) FROM event_tally WHERE span NOT IN "
                      "(60, 3600) OR n <= 0").fetchone()[0] == 0
    bad += latency_mismatch(db)
    db.close()
    return bad


def latency_mismatch(db):
    """Where a delivery's latency_ms is not its time since its message's
    first received event, or event_latency not a count of them by log
    bucket (written again here: conftest.lat_bucket); [] when none."""
    bad = [("latency_ms",) + r for r in db.execute(
        "SELECT d.id, d.latency_ms, (d.ts - (SELECT min(r.ts) FROM event r "
        "WHERE r.qid = d.qid AND r.action = 'received')) / 1000 FROM event d "
        "WHERE d.action = 'delivered'") if r[1] != r[2]]
    bad += [("latency_ms on",) + r for r in db.execute(
        "SELECT id, action FROM event WHERE latency_ms IS NOT NULL AND "
        "action != 'delivered'")]
    for span, div in SPANS:
        raw = {}
        for ts, ms in db.execute("SELECT ts, latency_ms FROM event WHERE "
                                 "latency_ms IS NOT NULL"):
            k = (ts // div, lat_bucket(ms))
            raw[k] = raw.get(k, 0) + 1
        tally = {r[:2]: r[2] for r in db.execute(
            "SELECT bucket, lb, n FROM event_latency WHERE span = ?",
            (span,))}
        bad += [("latency", span) + k for k in set(raw) | set(tally)
                if raw.get(k) != tally.get(k)]
    return bad


def add_old(g, n):
    """n events three days old (past log.retention_days = 2), some hard
    bounces, a subaccount on half, as test_retention adds them; counted
    into the tally as gwd's writer would have."""
    now = int(time.time() * 1000000)
    db = sqlite3.connect(os.path.join(g.state, "log.db"), timeout=30)
    with db:
        for i in range(n):
            cur = db.execute(
                "INSERT INTO event (ts, qid, action, subaccount, sender, "
                "recipient, subject, class) VALUES (?, ?, ?, ?, "
                "'old@example.com', ?, 'old mail', ?)",
                (now - 3 * DAY_US + i * 7000000, "OLD%05d" % (i // 3),
                 "received" if i % 3 == 0 else
                 "bounced" if i % 4 == 0 else "delivered",
                 "app" if i % 2 else None, "r%d@dest.test" % i,
                 "hard" if i % 8 == 0 else None))
            db.execute("INSERT INTO event_fts (rowid, sender, recipient, "
                       "subject) VALUES (?, 'old@example.com', ?, "
                       "'old mail')", (cur.lastrowid, "r%d@dest.test" % i))
        tally_rebuild(db)
    db.close()


def test_tally_follows_gwd_and_retention(gw_factory, sink):
    sink.rcpt_reply = lambda a: ("550 5.1.1 no such user"
                                 if a.startswith("gone") else None)
    g = gw_factory(relay=smarthost(sink),
                   settings={"log.retention_days": 2}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    for i in range(3):
        send(g, ["u%d@dest.test" % i, "gone%d@dest.test" % i], "m%d" % i)
    # The bounce notices to app@ are delivered too, maybe while the
    # tally is compared: tally_mismatch reads one snapshot.
    wait_for(lambda: len(g.events("action = 'bounced' OR action = "
                                  "'delivered' AND recipient LIKE 'u%'"))
             == 6, what="three delivered, three bounced")
    log = os.path.join(g.state, "log.db")
    assert tally_mismatch(log) == []
    with g.db("log.db") as c:
        # The writer found each delivery's reception: a latency each.
        assert c.execute("SELECT count(*) FROM event WHERE action = "
                         "'delivered' AND recipient LIKE 'u%' AND "
                         "latency_ms >= 0").fetchone()[0] == 3
        assert c.execute("SELECT sum(n) FROM event_latency WHERE span = 60"
                         ).fetchone()[0] >= 3
    with g.db("log.db") as c:
        hard = c.execute("SELECT count(*) FROM event WHERE action = "
                         "'bounced' AND class = 'hard'").fetchone()[0]
        assert hard > 0
        assert c.execute("SELECT sum(hard) FROM event_tally WHERE span = 60 "
                         "AND action = 'bounced'").fetchone()[0] == hard
    # 500 old events spread over an hour: pruned one by one, the
    # tally's minutes and hours go down with them, and away when empty.
    add_old(g, 500)
    wait_for(lambda: remaining(g) == 0, 60, what="old events pruned")
    assert tally_mismatch(log) == []
    with g.db("log.db") as c:
        assert c.execute("SELECT count(*) FROM event_tally WHERE bucket * "
                         "span * 1000000 < ?", (int(time.time() * 1000000)
                                                - 2 * DAY_US,)
                         ).fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM event_latency WHERE bucket "
                         "* span * 1000000 < ?", (int(time.time() * 1000000)
                                                  - 2 * DAY_US,)
                         ).fetchone()[0] == 0


def test_tally_survives_kill9(gw_factory, sink):
    """gwd killed (-9) twice while it logs mail: the tally commits with
    the events, and the events moved again at the next start (moved
    before the crash, the outbox not told) are not counted twice."""
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    ref, sent, stop = [g], [], threading.Event()

    def sender():
        while not stop.is_set():
            try:
                send(ref[0], ["k%d@dest.test" % len(sent)], "kill")
                sent.append(1)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)
    t = threading.Thread(target=sender)
    t.start()
    try:
        for round_ in range(2):
            wait_for(lambda: len(sent) >= 10 * (round_ + 1), 60,
                     what="mail sent")
            g.kill9()
            g.start()
        wait_for(lambda: len(sent) >= 30, 60, what="mail after restarts")
    finally:
        stop.set()
        t.join(30)
    wait_for(lambda: len(g.events("action = 'delivered'")) >= len(sent), 60,
             what="every message delivered")
    assert tally_mismatch(os.path.join(g.state, "log.db")) == []


def test_v7_log_migrates(gw_factory, sink):
    """A log.db as schema 7 left it, with events, is brought to 9 by gwd
    at start: the tally counts the events already there, the reception
    index exists, the deliveries already there get their latency, and
    gwd goes on logging into all of them."""
    g = gw_factory(relay=smarthost(sink))
    os.makedirs(g.state, exist_ok=True)
    r = subprocess.run([os.path.join(BUILD, "gwctl"), "-c", g.conf, "db",
                        "init"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "log.db: schema version 9" in r.stdout
    log = os.path.join(g.state, "log.db")
    db = sqlite3.connect(log)
    db.executescript("DROP TABLE event_latency;"
                     "ALTER TABLE event DROP COLUMN latency_ms;"
                     "DROP TABLE event_tally;"
                     "DROP INDEX event_received;"
                     "PRAGMA user_version = 7;")
    now = int(time.time() * 1000000)
    with db:
        for i in range(300):
            db.execute("INSERT INTO event (ts, qid, action, subaccount, "
                       "class) VALUES (?, ?, ?, ?, ?)",
                       (now - i * 20000000, "Q%d" % (i // 2),
                        ("received", "bounced", "delivered")[i % 3],
                        ("a", None, "b")[i % 3],
                        "hard" if i % 5 == 1 else None))
    db.close()
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["u@dest.test"], "after the migration")
    wait_for(lambda: g.events("action = 'delivered' AND recipient = "
                              "'u@dest.test'"), what="delivered")
    assert "migration" not in g.logtext()
    with g.db("log.db") as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 9
        assert c.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                         "'event_received'").fetchone()[0] == 1
        assert c.execute("SELECT sum(n) FROM event_tally WHERE span = 3600"
                         ).fetchone()[0] == c.execute(
                             "SELECT count(*) FROM event").fetchone()[0]
        # Q1 received 60 s ago (i 3), delivered 40 s ago (i 2); every
        # sixth event is such a delivery (the others bounced or NULL).
        assert c.execute("SELECT latency_ms FROM event WHERE qid = 'Q1' "
                         "AND action = 'delivered'").fetchone()[0] == 20000
        assert c.execute("SELECT sum(n) FROM event_latency WHERE span = 60"
                         ).fetchone()[0] == 51
    assert tally_mismatch(log) == []


def test_gwtop_counts_equal_raw(gw_factory):
    """Events every 7 s over two hours (some in the minute and hour that
    a window starts in): gwtop --once, which adds whole hours and minutes
    of the tally and the raw events of the partial minute, counts what a
    count of the events in each window gives; each delivery has its
    reception 0 to 6 minutes before, and gwtop's latency percentiles
    are the raw latencies', through the same buckets."""
    g = gw_factory()
    os.makedirs(g.state, exist_ok=True)
    subprocess.run([os.path.join(BUILD, "gwctl"), "-c", g.conf, "db",
                    "init"], check=True, capture_output=True)
    log = os.path.join(g.state, "log.db")
    db = sqlite3.connect(log)
    # gwtop's now is a moment after ours: every event is 5 s or more
    # from a window's edge, so both sides see the same events as long as
    # gwtop starts within 4 s.
    t0 = time.time()
    now = int(t0)
    acts = ("received", "delivered", "deferred", "bounced", "expired",
            "rejected")

    def near_edge(ago):
        return any(abs(ago - w) < 5 for w in (60, 300, 3600, 86400))
    with db:
        for k in range(1030):
            ago = 1 + k * 7
            if near_edge(ago):
                continue
            db.execute("INSERT INTO event (ts, qid, action, subaccount, "
                       "class) VALUES (?, ?, ?, ?, ?)",
                       ((now - ago) * 1000000 + 123, "Q%d" % k,
                        acts[k % 6], "s%d" % (k % 3),
                        "hard" if k % 12 == 3 else None))
            # Its reception, if a delivery: 12 ms to 6 minutes before.
            lat = (k * 7919) % 360000 + 12
            if acts[k % 6] == "delivered" and not near_edge(ago + lat / 1000):
                db.execute("INSERT INTO event (ts, qid, action) VALUES "
                           "(?, ?, 'received')", ((now - ago) * 1000000 + 123
                                                  - lat * 1000, "Q%d" % k))
        tally_rebuild(db)
    db.close()
    r = subprocess.run([os.path.join(BUILD, "gwtop"), "-c", g.conf,
                        "--once", "--format", "json"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    top = json.loads(r.stdout)
    assert time.time() - t0 < 4, "gwtop started too late to be exact"
    db = sqlite3.connect("file:%s?mode=ro" % log, uri=True)
    for w, secs in (("1m", 60), ("5m", 300), ("1h", 3600)):
        for a in acts:
            n = db.execute("SELECT count(*) FROM event WHERE action = ? AND "
                           "ts >= ?", (a, (now - secs) * 1000000)
                           ).fetchone()[0]
            assert top["events"][w][a] == n, (w, a)
        lats = [r[0] for r in db.execute(
            "SELECT latency_ms FROM event WHERE action = 'delivered' AND "
            "latency_ms IS NOT NULL AND ts >= ?", ((now - secs) * 1000000,))]
        assert lats or w == "1m"
        for p in (50, 95):
            assert top["rates"][w]["latency_p%d_s" % p] == bucket_pct(
                lats, p), (w, p)


def bucket_pct(lats, p):
    """gwtop's latency percentile, written again: the nearest rank's log
    bucket's middle (tally_lat_pct), in seconds to 0.1 as it prints."""
    if not lats:
        return None
    lbs = sorted(lat_bucket(v) for v in lats)
    lb = lbs[max((len(lbs) * p + 99) // 100, 1) - 1]
    if lb < 16:
        return round(lb / 1000, 1)
    shift = lb // 16 - 1
    low = (16 + lb % 16) << shift
    return float("%.1f" % ((low + ((1 << shift) - 1) // 2) / 1000))
