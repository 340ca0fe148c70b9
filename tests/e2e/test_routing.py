"""Routing rules, IP pools and throttles: gwctl's commands (route,
pool, throttle) against gw.db, and what gwd does with them."""
import json
import threading

import pytest

from test_gwctl import Gw


@pytest.fixture
def gw(tmp_path):
    g = Gw(str(tmp_path))
    g.ok("db", "init")
    g.ok("subaccount", "add", "acme", "--domain", "acme.test")
    return g


def rules(gw):
    return [json.loads(x) for x in gw.ok("route", "list", "--format",
                                         "json").splitlines()]


def test_route_add_list_order(gw):
    gw.ok("pool", "add", "bulk", "127.0.0.2", "127.0.0.3", "--helo",
          "mta2.acme.test")
    assert gw.ok("route", "add", "--to-domain", "gmail.com", "--priority",
                 "bulk", "--pool", "bulk", "--smarthost", "127.0.0.1:2526",
                 "--tls", "required") == "route 1 added at position 1\n"
    gw.ok("route", "add", "--header", "X-GW-Stream: bulk", "--priority",
          "bulk")
    assert gw.ok("route", "add", "--subaccount", "acme", "--to-domain",
                 "*.blocked.test", "--reject", "550 5.7.1 not to them",
                 "--position", "1") == "route 3 added at position 1\n"
    gw.ok("route", "add", "--size-over", "10M", "--hold")
    r = rules(gw)
    assert [x["id"] for x in r] == [3, 1, 2, 4]
    assert [x["position"] for x in r] == [1, 2, 3, 4]
    assert r[1]["via"] == "127.0.0.1:2526" and r[1]["tls"] == "required"
    assert r[1]["pool"] == "bulk" and r[1]["priority"] == "bulk"
    assert r[2]["header"] == "X-GW-Stream" and r[2]["header_value"] == "bulk"
    assert r[3]["size_over"] == 10 * 1024 * 1024 and r[3]["action"] == "hold"
    assert r[0]["reply"] == "550 5.7.1 not to them"
    table = gw.ok("route", "list")
    assert "subaccount=acme to=*.blocked.test" in table
    assert "reject 550 5.7.1 not to them" in table

    gw.ok("route", "move", "3", "4")
    assert [x["id"] for x in rules(gw)] == [1, 2, 4, 3]
    gw.ok("route", "move", "3", "2")
    assert [x["id"] for x in rules(gw)] == [1, 3, 2, 4]
    gw.ok("route", "delete", "2")
    assert [(x["id"], x["position"]) for x in rules(gw)] == [
        (1, 1), (3, 2), (4, 3)]


def test_route_add_identical_rule_warns(gw):
    """The first matching rule decides: a rule with the same conditions
    as an earlier one can never match.  Said, the rule kept."""
    gw.ok("route", "add", "--to-domain", "gmail.com", "--hold")
    r = gw.run("route", "add", "--to-domain", "gmail.com", "--mx")
    assert r.returncode == 0 and r.stdout == "route 2 added at position 2\n"
    assert r.stderr == ("gwctl: route 2 (position 2) can never match: "
                        "route 1 (position 1) has the same conditions and "
                        "comes first (gwctl route move, or route delete)\n")
    # Other conditions, or a case-only difference in a header name (the
    # same header): only the latter warns.
    r = gw.run("route", "add", "--to-domain", "gmail.com", "--subaccount",
               "acme", "--hold")
    assert r.returncode == 0 and r.stderr == ""
    gw.ok("route", "add", "--header", "X-Stream: bulk", "--hold")
    r = gw.run("route", "add", "--header", "x-stream: bulk", "--hold")
    assert "route 5 (position 5) can never match: route 4" in r.stderr
    # Put first, it shadows the rules it now precedes.
    r = gw.run("route", "add", "--to-domain", "gmail.com", "--mx",
               "--position", "1")
    assert r.stdout == "route 6 added at position 1\n"
    assert r.stderr.splitlines() == [
        "gwctl: route 1 (position 2) can never match: route 6 (position 1) "
        "has the same conditions and comes first (gwctl route move, or "
        "route delete)",
        "gwctl: route 2 (position 3) can never match: route 6 (position 1) "
        "has the same conditions and comes first (gwctl route move, or "
        "route delete)"]
    assert [x["id"] for x in rules(gw)] == [6, 1, 2, 3, 4, 5]


def test_route_test(gw):
    gw.ok("route", "add", "--to-domain", "*.blocked.test", "--reject",
          "550 5.7.1 not to them")
    gw.ok("route", "add", "--header", "x-gw-stream: bulk*", "--priority",
          "bulk")
    gw.ok("route", "add", "--size-over", "1M", "--hold")
    out = gw.ok("route", "test", "--from", "a@acme.test", "--to",
                "b@x.blocked.test")
    assert out.startswith("rule 1 (position 1) matches")
    assert "reject 550 5.7.1 not to them" in out
    out = gw.ok("route", "test", "--from", "a@acme.test", "--to",
                "b@y.test", "--header", "X-GW-Stream: Bulk-Campaign")
    assert out.startswith("rule 2 (position 2)") and "priority=bulk" in out
    out = gw.ok("route", "test", "--from", "a@acme.test", "--to",
                "b@y.test")
    assert "needs the message size" in out
    out = gw.ok("route", "test", "--from", "a@acme.test", "--to",
                "b@y.test", "--size", "2M")
    assert out.startswith("rule 3") and "hold" in out
    out = gw.ok("route", "test", "--from", "", "--to", "b@y.test",
                "--size", "10")
    assert out.startswith("no rule matches")


@pytest.mark.parametrize("args,msg", [
    (["--reject", "250 ok"], "4xx or 5xx"),
    (["--reject", "550 4.7.1 x"], "class must match"),
    (["--hold", "--pool", "bulk"], "takes no"),
    (["--hold", "--reject", "550 x"], "not both"),
    (["--pool", "nope"], 'no pool "nope"'),
    (["--subaccount", "nobody"], 'no subaccount "nobody"'),
    (["--to-domain", "a b"], "domain pattern"),
    (["--header", "X-Stream"], "Name: value"),
    (["--header", "X: a\nb"], "control character"),
    (["--smarthost", "::1"], "brackets"),
    (["--smarthost", "h:99999"], "port"),
    (["--smarthost", "h", "--mx"], "not both"),
    (["--tls", "required"], "goes with"),
    (["--priority", "urgent"], "transactional or bulk"),
    (["--size-over", "lots"], "size"),
    (["--position", "5"], "position"),
])
def test_route_add_errors(gw, args, msg):
    r = gw.run("route", "add", *args)
    assert r.returncode != 0 and msg in r.stderr, (args, r.stderr)
    assert rules(gw) == []


def test_route_id_errors(gw):
    r = gw.run("route", "delete", "7")
    assert r.returncode == 67 and "no route 7" in r.stderr
    r = gw.run("route", "delete", "x")
    assert r.returncode == 64
    gw.ok("route", "add", "--hold")
    r = gw.run("route", "move", "1", "2")
    assert r.returncode == 64 and "1 to 1" in r.stderr


def test_pools(gw):
    gw.ok("pool", "add", "p1", "127.0.0.5", "::1")
    gw.ok("pool", "add", "p1", "127.0.0.6", "--helo", "Out6.Example.NET")
    rows = [json.loads(x) for x in gw.ok("pool", "list", "--format",
                                          "json").splitlines()]
    assert [(x["address"], x["helo"]) for x in rows] == [
        ("127.0.0.5", None), ("127.0.0.6", "out6.example.net"),
        ("::1", None)]
    r = gw.run("pool", "add", "p1", "192.0.2.77")
    assert r.returncode == 65 and "not an address of this machine" in \
        r.stderr
    r = gw.run("pool", "add", "bad name", "127.0.0.5")
    assert r.returncode == 64
    r = gw.run("pool", "add", "p1", "127.0.0.5:25")
    assert r.returncode == 64
    gw.ok("route", "add", "--pool", "p1")
    r = gw.run("pool", "delete", "p1")
    assert r.returncode == 65 and "used by route 1" in r.stderr
    gw.ok("pool", "delete", "p1", "127.0.0.5")
    assert len(gw.ok("pool", "list").splitlines()) == 3
    gw.ok("route", "delete", "1")
    gw.ok("pool", "delete", "p1")
    assert len(gw.ok("pool", "list").splitlines()) == 1      # the header
    assert gw.run("pool", "delete", "p1").returncode == 67


def test_throttles(gw):
    gw.ok("throttle", "set", "Gmail.com", "--connections", "5",
          "--per-minute", "600")
    gw.ok("throttle", "set", "*.yahoo.com", "--per-connection", "50")
    gw.ok("throttle", "set", "gmail.com", "--connections", "default")
    rows = [json.loads(x) for x in gw.ok("throttle", "list", "--format",
                                          "json").splitlines()]
    assert rows == [
        {"domain": "*.yahoo.com", "connections": None, "per_connection": 50,
         "per_minute": None},
        {"domain": "gmail.com", "connections": None, "per_connection": None,
         "per_minute": 600}]
    assert gw.run("throttle", "set", "x.test").returncode == 64
    assert gw.run("throttle", "set", "x.test", "--per-minute",
                  "0").returncode == 64
    gw.ok("throttle", "delete", "gmail.com")
    assert gw.run("throttle", "delete", "gmail.com").returncode == 67


# --------------------------------------------------------------------------
# gwd applies them.

import smtplib                                                # noqa: E402
import time                                                   # noqa: E402

from conftest import (Raw, Sink, client_tls_context, login,   # noqa: E402
                      smarthost, wait_for)


def submit(g, rcpts, frm="app@example.com", headers="", subject="t",
           body="body\r\n"):
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n%s\r\n%s" %
           (frm, ", ".join(rcpts), subject, headers, body)).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=20) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail(frm, rcpts, msg)


def submit_many(g, n, rcpt, headers="", tag="m"):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        for i in range(n):
            s.sendmail("app@example.com", [rcpt], (
                "From: app@example.com\r\nTo: %s\r\nSubject: %s%d\r\n%s"
                "\r\nbody\r\n" % (rcpt, tag, i, headers)).encode())


def gw_with(gw_factory, sink, **settings):
    g = gw_factory(relay=smarthost(sink), settings=settings).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def subjects(msgs):
    out = []
    for m in msgs:
        for line in m.headers.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                out.append(line[9:].decode())
    return out


def test_pool_source_addresses_and_helo(gw_factory, sink):
    g = gw_with(gw_factory, sink)
    g.gwctl("pool", "add", "out", "127.0.0.2", "127.0.0.3", "--helo",
            "mta2.example.com")
    g.gwctl("route", "add", "--to-domain", "pooled.test", "--pool", "out")
    # One message per connection, so the pool's addresses take turns.
    g.gwctl("throttle", "set", "127.0.0.1", "--per-connection", "1")
    submit_many(g, 4, "u@pooled.test")
    submit(g, ["v@plain.test"])
    msgs = sink.wait_count(5)
    pooled = [m for m in msgs if m.rcpt_tos == ["u@pooled.test"]]
    plain = [m for m in msgs if m.rcpt_tos == ["v@plain.test"]]
    assert {m.peer[0] for m in pooled} == {"127.0.0.2", "127.0.0.3"}
    assert {m.helo for m in pooled} == {"mta2.example.com"}
    assert plain[0].peer[0] == "127.0.0.1" and plain[0].helo == "gw.test"
    ev = wait_for(lambda: len(g.events("action = 'routed'")) == 4 and
                  g.events("action = 'routed'"), what="4 routed events")
    assert "pool=out" in ev[0]["detail"]


@pytest.fixture
def other():
    s = Sink()
    yield s
    s.stop()


def test_smarthost_rule(gw_factory, sink, other):
    g = gw_with(gw_factory, sink)
    g.gwctl("route", "add", "--to-domain", "*.partner.test",
            "--smarthost", "127.0.0.1:%d" % other.port, "--tls", "none")
    submit(g, ["a@x.partner.test", "b@elsewhere.test"])
    assert other.wait_count(1)[0].rcpt_tos == ["a@x.partner.test"]
    assert sink.wait_count(1)[0].rcpt_tos == ["b@elsewhere.test"]


def test_reject_rules(gw_factory, sink):
    g = gw_with(gw_factory, sink)
    g.gwctl("route", "add", "--to-domain", "blocked.test", "--reject",
            "550 5.7.1 we do not send there")
    g.gwctl("route", "add", "--header", "X-Secret: *", "--reject",
            "554 5.7.1 secrets stay inside")
    r = Raw(g.ports["submission"])
    assert r.reply()[0] == 220
    assert login(r, "app", "s3cret-pass")[0] == 235
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    code, text = r.cmd("RCPT TO:<x@blocked.test>")
    assert (code, text) == (550, "5.7.1 we do not send there")
    assert r.cmd("RCPT TO:<y@fine.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send("From: app@example.com\r\nX-Secret: plans\r\nSubject: s\r\n\r\n"
           "x\r\n.\r\n")
    assert r.reply() == (554, "5.7.1 secrets stay inside")
    r.cmd("QUIT")
    ev = wait_for(lambda: len(g.events("action = 'rejected'")) == 2 and
                  g.events("action = 'rejected'"), what="two rejections")
    assert [(e["recipient"], e["reply_code"]) for e in ev] == [
        ("x@blocked.test", 550), ("y@fine.test", 554)]
    submit(g, ["z@fine.test"])
    assert sink.wait_count(1)[0].rcpt_tos == ["z@fine.test"]


def queue_json(g):
    r = g.gwctl("queue", "list", "--format", "json")
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_hold_rule_quarantines_until_released(gw_factory, sink):
    g = gw_with(gw_factory, sink)
    g.gwctl("route", "add", "--header", "X-Review: yes", "--hold")
    submit(g, ["a@x.test"], headers="X-Review: yes\r\n", subject="review")
    submit(g, ["b@x.test"], subject="normal")
    sink.wait_count(1)
    q = wait_for(lambda: queue_json(g), what="held message in the queue")
    assert len(q) == 1 and q[0]["held"] is True
    qid = q[0]["queue_id"]
    ev = wait_for(lambda: g.events("action = 'quarantined'"),
                  what="quarantined event")
    assert ev[0]["qid"] == qid and "routing rule 1" in ev[0]["detail"]
    # Held across a restart, and the rule does not hold it again once
    # an admin released it.
    g.stop()
    g.start()
    assert queue_json(g)[0]["held"] is True
    g.gwctl("queue", "release", qid)
    msgs = sink.wait_count(2)
    assert subjects(msgs) == ["normal", "review"]


def test_one_routing_decision_at_the_end_of_data(gw_factory, sink):
    """The rules decide once per recipient, at the end of DATA, from the
    message as its client sent it, and the queue follows that decision.
    A rule on a field gwd adds itself (the Message-ID it makes up when
    the client sent none) matched neither there nor, later, in the
    queue, where it used to refuse the recipient after the 250."""
    g = gw_with(gw_factory, sink)
    g.gwctl("route", "add", "--header", "Message-ID: <*@gw.test>",
            "--reject", "550 5.7.1 not that one")
    submit(g, ["a@x.test"], subject="no message-id")
    msgs = sink.wait_count(1)
    assert subjects(msgs) == ["no message-id"]
    assert msgs[0].rcpt_tos == ["a@x.test"]
    wait_for(lambda: g.events("action = 'delivered'"), what="delivered")
    assert g.events("action IN ('bounced', 'routed', 'rejected')") == []
    # A client's own Message-ID is what the rule looks at.
    with pytest.raises(smtplib.SMTPDataError) as e:
        submit(g, ["b@x.test"], headers="Message-ID: <1@gw.test>\r\n")
    assert e.value.smtp_code == 550


def test_rule_change_reroutes_queued_mail(gw_factory, sink, other):
    sink.rcpt_reply = lambda a: "451 4.3.0 not now"
    g = gw_with(gw_factory, sink)
    submit(g, ["a@moved.test"])
    wait_for(lambda: g.events("action = 'deferred'"), what="deferred")
    g.gwctl("route", "add", "--to-domain", "moved.test", "--smarthost",
            "127.0.0.1:%d" % other.port, "--tls", "none")
    g.gwctl("queue", "flush", "ALL")
    assert other.wait_count(1)[0].rcpt_tos == ["a@moved.test"]
    ev = wait_for(lambda: g.events("action = 'routed'"), what="routed")
    assert len(ev) == 1 and "rule=1" in ev[0]["detail"]


def test_transactional_overtakes_bulk_backlog(gw_factory, sink):
    g = gw_with(gw_factory, sink)
    g.gwctl("route", "add", "--header", "X-GW-Stream: bulk", "--priority",
            "bulk")
    # One connection, ten messages a second, and the sink holds the
    # first message's reply until all are queued: a backlog, however
    # slowly they are submitted (a sanitizer build under load).
    g.gwctl("throttle", "set", "127.0.0.1", "--connections", "1",
            "--per-minute", "600")
    sink.gate = threading.Event()
    submit_many(g, 40, "list@bulk.test", headers="X-GW-Stream: bulk\r\n",
                tag="bulk")
    submit(g, ["ceo@x.test"], subject="invoice")
    sink.gate.set()
    msgs = sink.wait_count(41, timeout=60)
    order = subjects(msgs)
    # In arrival order it would be last; weighted sharing lets it
    # through after at most a few bulk messages.
    pos = order.index("invoice")
    assert pos < 20, order
    assert sink.max_open == 1


def test_throttle_connections_and_per_connection(gw_factory, sink):
    g = gw_with(gw_factory, sink)
    g.gwctl("throttle", "set", "127.0.0.1", "--connections", "2",
            "--per-connection", "3")
    ts = [threading.Thread(target=submit_many, args=(g, 6, "r@t.test"),
                           kwargs={"tag": "t%d-" % i}) for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    msgs = sink.wait_count(18, timeout=60)
    assert sink.max_open <= 2
    per = {}
    for m in msgs:
        per[m.conn] = per.get(m.conn, 0) + 1
    assert max(per.values()) <= 3 and len(per) >= 6


def test_throttle_per_minute(gw_factory, sink):
    g = gw_with(gw_factory, sink)
    g.gwctl("throttle", "set", "127.0.0.1", "--per-minute", "30")
    submit_many(g, 3, "r@slow.test")
    msgs = sink.wait_count(3, timeout=30)
    # 30 a minute: one every 2 s, never two closer (counted at the sink).
    gaps = [b.at - a.at for a, b in zip(msgs, msgs[1:])]
    assert min(gaps) >= 1.9, gaps


def test_adaptive_backoff_slows_then_recovers(gw_factory, sink):
    seen = []

    def rcpt(addr):
        seen.append(time.monotonic())
        return "421 4.7.0 rate limited, slow down" if len(seen) <= 2 \
            else None
    sink.rcpt_reply = rcpt
    g = gw_with(gw_factory, sink, **{"relay.backoff_recovery": "1s"})
    submit_many(g, 12, "r@busy.test")
    sink.wait_count(12, timeout=90)
    log = g.logtext()
    assert "throttled by the remote side (421 4.7.0" in log
    assert "recovering" in log
    # After the 421s, attempts were spaced out by the backoff (the next
    # a second after the last; deliveries then shorten it by half) ...
    gaps = [b - a for a, b in zip(seen, seen[1:])]
    assert max(gaps) >= 0.9, gaps
    # ... and the spacing went away again.
    wait_for(lambda: "no wait" in g.logtext(), timeout=30,
             what="full recovery")


def test_reject_rule_added_later_bounces_queued_mail(gw_factory, sink):
    sink.rcpt_reply = lambda a: ("451 4.3.0 not now"
                                 if a.endswith("@later.test") else None)
    g = gw_with(gw_factory, sink)
    submit(g, ["a@later.test"])
    wait_for(lambda: g.events("action = 'deferred'"), what="deferred")
    g.gwctl("route", "add", "--to-domain", "later.test", "--reject",
            "550 5.7.1 no longer allowed")
    g.gwctl("queue", "flush", "ALL")
    ev = wait_for(lambda: g.events("action = 'bounced'"), what="bounced")
    assert ev[0]["recipient"] == "a@later.test"
    assert (ev[0]["reply_code"], ev[0]["reply_status"],
            ev[0]["reply_text"]) == (550, "5.7.1", "no longer allowed")
    assert ev[0]["remote_host"] == "routing rule"
    dsn = sink.wait_count(1)[0]
    assert dsn.mail_from == "" and dsn.rcpt_tos == ["app@example.com"]
    assert b"no longer allowed" in dsn.data
    wait_for(lambda: g.queue_count() == 0, what="queue empty")


def test_throttle_on_a_shared_mx_host(gw_factory, dns, sink):
    """Two domains served by one MX host: a throttle on the host's name
    is one budget for both (connections counted at the sink)."""
    for dom in ("one.test", "two.test"):
        dns.add(dom, "MX", (10, "mx.shared.test"))
    dns.add("mx.shared.test", "A", "127.0.0.1")
    g = gw_factory(relay={"mode": "mx"}, dns=dns,
                   settings={"relay.mx_port": sink.port,
                             "relay.tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("throttle", "set", "mx.shared.test", "--connections", "1",
            "--per-connection", "2")
    ts = [threading.Thread(target=submit_many, args=(g, 5, "u@%s" % dom),
                           kwargs={"tag": dom}) for dom in
          ("one.test", "two.test", "one.test", "two.test")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    msgs = sink.wait_count(20, timeout=60)
    assert sink.max_open == 1
    per = {}
    for m in msgs:
        per[m.conn] = per.get(m.conn, 0) + 1
    assert max(per.values()) <= 2
