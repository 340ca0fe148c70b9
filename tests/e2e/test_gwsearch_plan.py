"""gwsearch's planner against a reference: a log of a few thousand
events with skewed words, senders and recipients; every query's matches
must be exactly those a plain reading of the rules gives (for each
filter, some event of the message inside the time range has it; an
event without a queue id must have them all), whichever filter the
planner lets drive.  With --limit, the matches are some of those, the
most recent in log order, and the truncation is reported."""
import random
import sqlite3
import subprocess

import pytest

from test_gwsearch import GWSEARCH, NOW, insert_event, jsonl, make_log, us

WORDS = ["invoice"] * 8 + ["shipped"] * 8 + ["refund"] * 3 + ["password",
         "reset", "quarterly", "zebra"]
SENDERS = ["app%d@s%d.test" % (i, i % 3) for i in range(6)]
RCPTS = ["u%d@d%d.test" % (i, i % 4) for i in range(25)]
REPLIES = [(250, "2.0.0", "ok queued"), (451, "4.7.1", "greylisted later"),
           (550, "5.1.1", "user unknown"), (421, "4.7.0", "rate limited")]
SPAN = 36000


def build(tmp_path_factory):
    conf, state, db, _ = make_log(tmp_path_factory, "plan")
    db.execute("DELETE FROM event")
    db.execute("DELETE FROM event_rcpt")
    db.execute("INSERT INTO event_fts (event_fts) VALUES ('delete-all')")
    rnd = random.Random(4242)
    t0 = NOW - SPAN
    events, rcpts = [], {}
    for n in range(1500):
        t = t0 + n * (SPAN // 1600)
        qid = "%016X" % (t * 1000 + n)
        to = rnd.sample(RCPTS, rnd.choice([1, 1, 2, 3]))
        rcpts[qid] = to
        subject = " ".join(rnd.choice(WORDS) for _ in range(2))
        events.append((t, dict(qid=qid, action="received",
                               subaccount=rnd.choice(["acme", "beta"]),
                               client_ip="192.0.2.%d" % rnd.randint(1, 3),
                               sender=rnd.choice(SENDERS),
                               recipient=", ".join(to), subject=subject,
                               message_id="<m%d@plan.test>" % n)))
        for k, r in enumerate(to):
            code, st, text = rnd.choice(REPLIES)
            action = {2: "delivered", 4: "deferred", 5: "bounced"}[code // 100]
            events.append((t + 1 + k * rnd.choice([1, 400]), dict(
                qid=qid, action=action, recipient=r, reply_code=code,
                reply_status=st, reply_text=text + " " + rnd.choice(WORDS))))
        if n % 37 == 0:
            events.append((t + 2, dict(action="rejected",
                                       sender=rnd.choice(SENDERS),
                                       recipient=rnd.choice(RCPTS),
                                       reply_code=550, reply_status="5.7.1",
                                       reply_text="relay denied invoice")))
    events.sort(key=lambda e: e[0])
    for t, f in events:
        insert_event(db, t, f)
    db.executemany("INSERT INTO event_rcpt (qid, address) VALUES (?, ?)",
                   [(q, a) for q, to in rcpts.items() for a in to])
    db.commit()
    db.close()
    return str(conf), str(state / "log.db"), rcpts


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return build(tmp_path_factory)


def reference(dbpath, rcpts, filters, since=None, until=None, newest=None):
    """Matches as {qid} | {("event", id)}, by the rules, in Python;
    newest, if given, gets per message the id of the newest event having
    each filter."""
    db = sqlite3.connect(dbpath)
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT * FROM event").fetchall()
    fts = {}
    for kind, v in filters:
        if kind == "text":
            fts[v] = {r[0] for r in db.execute(
                "SELECT rowid FROM event_fts WHERE event_fts MATCH ?", (v,))}
    db.close()

    def has(kind, v, e):
        if kind == "recipient":
            return (e["recipient"] or "").lower() == v.lower() or (
                e["action"] == "received" and v in rcpts.get(e["qid"], []))
        if kind == "sender":
            return e["sender"] == v
        if kind == "status":
            return e["action"] == v
        if kind == "subaccount":
            return e["subaccount"] == v
        if kind == "client-ip":
            return e["client_ip"] == v
        if kind == "domain":
            addrs = [e["sender"] or ""] + (e["recipient"] or "").split(", ")
            if e["action"] == "received":
                addrs += rcpts.get(e["qid"], [])
            return any(a.lower().endswith("@" + v) for a in addrs)
        if kind == "response":
            s = "%s %s %s" % (e["reply_code"], e["reply_status"],
                              e["reply_text"])
            return e["reply_code"] is not None and v in s
        if kind == "text":
            return e["id"] in fts[v]
        raise AssertionError(kind)

    def inside(e):
        return ((since is None or e["ts"] >= us(since)) and
                (until is None or e["ts"] < us(until)))

    out, byqid = set(), {}
    for e in rows:
        if not inside(e):
            continue
        if e["qid"] is None:
            if all(has(k, v, e) for k, v in filters):
                out.add(("event", e["id"]))
                if newest is not None:
                    newest[("event", e["id"])] = [e["id"]] * len(filters)
        else:
            byqid.setdefault(e["qid"], []).append(e)
    for qid, evs in byqid.items():
        if all(any(has(k, v, e) for e in evs) for k, v in filters):
            out.add(qid)
            if newest is not None:
                newest[qid] = [max(e["id"] for e in evs if has(k, v, e))
                               for k, v in filters]
    return out


def run(conf, filters, since=None, until=None, limit=100000):
    args = [GWSEARCH, "-c", conf, "--format", "jsonl", "--limit",
            str(limit)]
    for kind, v in filters:
        if kind != "text":
            args += ["--" + kind, v]
    if since is not None:
        args += ["--since", "@%d" % since]
    if until is not None:
        args += ["--until", "@%d" % until]
    args += [v for kind, v in filters if kind == "text"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 1), r.stderr
    got, order = set(), []
    for e in jsonl(r.stdout):
        q = e["email"].get("local_id")
        key = q if q else ("event", e["gw"]["event_id"])
        if key not in got:
            order.append((key, e["gw"]["event_id"]))
        got.add(key)
    return got, order, r


QUERIES = [
    [("text", "invoice"), ("text", "shipped")],
    [("text", "zebra"), ("text", "invoice")],
    [("text", "zebra"), ("sender", "app1@s1.test")],
    [("sender", "app1@s1.test"), ("text", "invoice")],
    [("recipient", "u3@d3.test")],
    [("recipient", "u3@d3.test"), ("status", "bounced")],
    [("recipient", "u7@d3.test"), ("text", "refund*")],
    [("text", '"password reset"')],
    [("text", "quarterly"), ("status", "deferred"), ("subaccount", "beta")],
    [("status", "bounced"), ("domain", "d2.test")],
    [("response", "550 5.1.1"), ("sender", "app2@s2.test")],
    [("response", "4.7.0 rate")],
    [("client-ip", "192.0.2.3"), ("text", "refund")],
    [("sender", "app4@s1.test"), ("recipient", "u9@d1.test")],
    [("text", "relay"), ("sender", "app0@s0.test")],
]


@pytest.mark.parametrize("filters", QUERIES, ids=lambda f: repr(f))
def test_matches_the_rules(plan, filters):
    conf, dbpath, rcpts = plan
    want = reference(dbpath, rcpts, filters)
    got, _, _ = run(conf, filters)
    assert got == want
    assert want, "the query should match something"


@pytest.mark.parametrize("filters", [QUERIES[0], QUERIES[4], QUERIES[9],
                                     [("text", "zebra")]],
                         ids=lambda f: repr(f))
@pytest.mark.parametrize("window", [(0.9, None), (None, 0.1), (0.3, 0.35),
                                    (0.5, 0.5005)])
def test_time_range_applies_to_each_filter(plan, filters, window):
    conf, dbpath, rcpts = plan
    since = NOW - SPAN + int(SPAN * window[0]) if window[0] else None
    until = NOW - SPAN + int(SPAN * window[1]) if window[1] else None
    want = reference(dbpath, rcpts, filters, since, until)
    got, _, _ = run(conf, filters, since, until)
    assert got == want


def test_time_range_alone(plan):
    conf, dbpath, rcpts = plan
    since, until = NOW - SPAN // 2, NOW - SPAN // 2 + 600
    want = reference(dbpath, rcpts, [], since, until)
    got, _, _ = run(conf, [], since, until)
    assert got == want and want


@pytest.mark.parametrize("filters", [QUERIES[0], QUERIES[3],
                                     [("status", "delivered")]],
                         ids=lambda f: repr(f))
def test_limit_keeps_recent_matches(plan, filters):
    """One filter drives, newest first: every message left out has an
    older newest event for that filter than every message kept."""
    conf, dbpath, rcpts = plan
    newest = {}
    want = reference(dbpath, rcpts, filters, newest=newest)
    got, order, r = run(conf, filters, limit=20)
    assert len(got) == 20 and got <= want
    assert "--limit" in r.stderr
    # Printed oldest first.
    first = [eid for _, eid in order]
    assert first == sorted(first)
    left = want - got
    assert any(max(newest[q][f] for q in left) <
               min(newest[q][f] for q in got) for f in range(len(filters)))
