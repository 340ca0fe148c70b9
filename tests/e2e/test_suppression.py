"""Bounce classes, the suppression list and per-subaccount quotas, end to
end: a real sink refuses, gwd classifies and suppresses, gwctl and
gwsearch show it as an admin sees it."""
import csv
import io
import json
import smtplib

import pytest

import os
import signal
import sqlite3
import subprocess

from conftest import (BUILD, Raw, client_tls_context, control_stats, login,
                      smarthost, wait_for)


def send(gw, rcpts, frm="app@example.com", user="app", password="s3cret-pass",
         subject="t"):
    """Submit one message; returns smtplib's refused-recipients dict."""
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nbody\r\n" %
           (frm or "<>", ", ".join(rcpts), subject)).encode()
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login(user, password)
        return s.sendmail(frm, rcpts, msg)


def field(row, dotted):
    """A field of gwsearch's JSON by its ECS dotted name."""
    for k in dotted.split("."):
        if not isinstance(row, dict) or k not in row:
            return None
        row = row[k]
    return row


def gwsearch_json(gw, *args):
    r = gw.tool("gwsearch", "--format", "jsonl", *args, check=False)
    assert r.returncode in (0, 1), r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


@pytest.fixture
def refusing(gw_factory, sink):
    """gwd relaying to a sink that refuses some recipients by local part."""
    replies = {
        "gone": "550 5.1.1 <{a}>: user unknown",
        "full": "552 5.2.2 <{a}>: mailbox full",
        "slow": "421 4.7.28 {a}: rate limit exceeded, too many messages",
    }

    def rcpt_reply(a):
        r = replies.get(a.split("@")[0])
        return r.format(a=a) if r else None
    sink.rcpt_reply = rcpt_reply
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.lifetime": "1h"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.add_subaccount("other", "other.example", "other-pass")
    return g


def test_classes_in_log_and_gwsearch(refusing, sink):
    g = refusing
    send(g, ["full@dest.test"], subject="to-full")
    send(g, ["slow@dest.test"], subject="to-slow")
    bounced = wait_for(lambda: g.events("action='bounced'"), what="bounce")
    assert bounced[0]["recipient"] == "full@dest.test"
    assert bounced[0]["class"] == "mailbox_full"
    deferred = wait_for(lambda: g.events(
        "action='deferred' AND recipient='slow@dest.test'"), what="deferral")
    assert deferred[0]["class"] == "throttled"
    # Delivered and received events carry no class.
    assert all(e["class"] is None for e in g.events("action='received'"))

    rows = gwsearch_json(g, "--class", "throttled")
    classes = {field(r, "event.action"): field(r, "gw.bounce_class")
               for r in rows}
    assert classes["deferred"] == "throttled"
    assert classes["received"] is None
    assert {a for r in rows for a in field(r, "email.to.address") or []} == \
        {"slow@dest.test"}
    full = gwsearch_json(g, "class:mailbox_full")
    assert [field(r, "gw.bounce_class") for r in full
            if field(r, "event.action") == "bounced"] == ["mailbox_full"]
    assert "to-slow" not in [field(r, "email.subject") for r in full]

    table = g.tool("gwsearch", "--no-pager", "class:mailbox_full").stdout
    assert "class=mailbox_full" in table
    r = g.tool("gwsearch", "--format", "csv", "--class", "mailbox_full")
    rows = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
    assert "mailbox_full" in [x["bounce_class"] for x in rows]
    qid = bounced[0]["qid"]
    assert "class=mailbox_full" in g.tool("gwsearch", "show", qid).stdout

    bad = g.tool("gwsearch", "--class", "nonsense", check=False)
    assert bad.returncode == 64 and "is not one of hard" in bad.stderr


def rcpt(gw, addr, user="app", password="s3cret-pass", frm=None):
    """MAIL then RCPT: the RCPT reply as (code, text)."""
    if frm is None:
        frm = "%s@%s" % (user, "example.com" if user == "app" else
                         "other.example")
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login(user, password)
        code, _ = s.mail(frm)
        assert code == 250
        code, text = s.rcpt(addr)
        s.rset()
        return code, text.decode()


def listing(gw, *args):
    r = gw.gwctl("suppression", "list", "--format", "json", *args)
    return [json.loads(line) for line in r.stdout.splitlines()]


def entry(gw, addr, sub="app"):
    return [e for e in listing(gw) if e["address"] == addr and
            e["subaccount"] == sub]


def test_hard_bounce_suppresses_recipient(refusing, sink):
    g = refusing
    send(g, ["gone@dest.test"], subject="first")
    dsn = wait_for(lambda: [m for m in sink.messages if m.mail_from == ""],
                   what="the DSN")
    assert "Status: 5.1.1" in dsn[0].data.decode()
    bounced = g.events("action='bounced'")
    assert bounced[0]["class"] == "hard"

    e = wait_for(lambda: entry(g, "gone@dest.test"), what="suppression entry")
    assert e[0]["source"] == "bounce"
    assert e[0]["reason"].startswith("hard bounce 20")
    assert "550 5.1.1" in e[0]["reason"] and "user unknown" in e[0]["reason"]
    table = g.gwctl("suppression", "list").stdout
    assert "gone@dest.test" in table and "bounce" in table

    # The next message is refused at RCPT, with the reason, and logged.
    code, text = rcpt(g, "Gone@Dest.test")
    assert code == 550
    assert text.startswith("5.1.1 ")
    assert "suppressed: hard bounce 20" in text and "user unknown" in text
    rej = wait_for(lambda: g.events(
        "action='rejected' AND recipient='Gone@dest.test'"), what="rejected")
    assert rej[0]["class"] == "hard" and rej[0]["reply_code"] == 550
    assert rej[0]["subaccount"] == "app"
    assert [r["event"]["action"] for r in gwsearch_json(
        g, "--class", "hard", "--status", "rejected")] == ["rejected"]
    # Nothing was queued for it.
    assert len(g.events("action='received'")) == 2      # message + DSN

    # Another subaccount is not affected.
    assert rcpt(g, "gone@dest.test", user="other",
                password="other-pass")[0] == 250

    # The entry survives a restart of gwd.
    g.stop()
    g.start()
    assert rcpt(g, "gone@dest.test")[0] == 550


def test_delete_bounce_entry_needs_gwd(refusing, sink):
    g = refusing
    send(g, ["gone@dest.test"])
    wait_for(lambda: entry(g, "gone@dest.test"), what="suppression entry")

    g.stop()
    r = g.gwctl("suppression", "delete", "gone@dest.test", "--subaccount",
                "app", check=False)
    assert r.returncode == 69
    assert "gwd is not running" in r.stderr
    assert "only gwd can delete" in r.stderr
    assert entry(g, "gone@dest.test")           # nothing changed

    g.start()
    assert rcpt(g, "gone@dest.test")[0] == 550
    r = g.gwctl("suppression", "delete", "gone@dest.test", "--subaccount",
                "app")
    assert "1 deleted" in r.stderr
    assert entry(g, "gone@dest.test") == []
    assert rcpt(g, "gone@dest.test")[0] == 250
    # Gone for good: not back after a restart.
    g.stop()
    g.start()
    assert entry(g, "gone@dest.test") == []
    assert rcpt(g, "gone@dest.test")[0] == 250

    r = g.gwctl("suppression", "delete", "gone@dest.test", check=False)
    assert r.returncode == 65 and "not on the suppression list" in r.stderr


@pytest.mark.parametrize("shutdown_timeout", ["60s", "1s"])
def test_stop_while_a_delete_waits_for_its_commit(gw_factory, sink,
                                                   shutdown_timeout):
    """SIGTERM while `gwctl suppression delete` waits for its queue.db
    commit (each one slowed to 4 s by GW_TEST_COMMIT_DELAY).  With time
    enough (shutdown_timeout 60s) gwd commits, answers and exits; when
    the commit outlasts shutdown_timeout (1s) the loop ends first and
    the control connection is closed at once (control_close_all): gwctl
    says gwd closed without an answer while gwd is still finishing its
    commits (the rest of this one, the outbox's), not when the process
    goes.  That order is what shows the close: a connection left open
    is still on conn.c's list at exit, so LeakSanitizer would not see
    it.  Either way gwd exits 0 (build-san: no leak, no crash), and the
    delete, committed before gwd exits, is whole after a restart: gone
    from queue.db and from what gwd refuses."""
    sink.rcpt_reply = lambda a: ("550 5.1.1 <%s>: user unknown" % a
                                 if a.startswith("gone@") else None)
    g = gw_factory(relay=smarthost(sink), settings={"queue.lifetime": "1h"},
                   extra='shutdown_timeout = "%s";' % shutdown_timeout)
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["gone@dest.test"])
    wait_for(lambda: entry(g, "gone@dest.test"), what="suppression entry")
    assert g.stop() == 0

    g.start(env={"GW_TEST_COMMIT_DELAY": "4000"})
    wait_for(lambda: control_stats(g)["store_backlog"] == 0, 60,
             what="the start's commits done")
    mark = len(g.logtext())
    ctl = subprocess.Popen(
        [os.path.join(BUILD, "gwctl"), "-c", g.conf, "suppression", "delete",
         "gone@dest.test", "--subaccount", "app"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: "suppression: deleting gone@dest.test" in
             g.logtext()[mark:] or ctl.poll() is not None, 30,
             what="the delete handed to the store")
    assert ctl.poll() is None               # waiting for the commit
    g.proc.send_signal(signal.SIGTERM)
    out, err = ctl.communicate(timeout=60)
    if shutdown_timeout == "60s":
        assert ctl.returncode == 0 and "1 deleted" in err, err
    else:
        # Let go at the loop's end: gwd still has its commits to make.
        assert g.proc.poll() is None, "gwctl was answered only at exit"
        assert ctl.returncode == 69, (ctl.returncode, err)
        assert "without an answer (gwd stopping?); the request may " \
            "still have been carried out" in err, err
    assert g.proc.wait(60) == 0, g.logtext()[-4000:]
    g.stop()
    assert "LeakSanitizer" not in g.logtext()
    assert "suppression delete not stored" not in g.logtext()

    g.start()
    assert entry(g, "gone@dest.test") == []
    with g.db("queue.db") as c:
        assert c.execute("SELECT count(*) FROM suppression WHERE address = "
                         "'gone@dest.test'").fetchone()[0] == 0
    assert rcpt(g, "gone@dest.test")[0] == 250


def test_delete_bounce_entry_quoted_local_part(refusing, sink):
    g = refusing
    sink.rcpt_reply = lambda a: ("550 5.1.1 no such user"
                                 if a.startswith('"') else None)
    send(g, ['"q u"@dest.test'])
    e = wait_for(lambda: entry(g, '"q u"@dest.test'), what="entry")
    assert e[0]["source"] == "bounce"
    assert rcpt(g, '"q u"@dest.test')[0] == 550
    r = g.gwctl("suppression", "delete", '"Q U"@dest.test')
    assert "1 deleted" in r.stderr
    assert rcpt(g, '"q u"@dest.test')[0] == 250


def rcpt_raw(gw, addr, user="app", password="s3cret-pass"):
    """RCPT TO:<addr> exactly as written (smtplib re-spells quoted local
    parts): the reply (code, text)."""
    r = Raw(gw.ports["submission"])
    r.reply()
    assert login(r, user, password)[0] == 235
    assert r.cmd("MAIL FROM:<%s@example.com>" % user)[0] == 250
    got = r.cmd("RCPT TO:<%s>" % addr)
    r.cmd("QUIT")
    r.close()
    return got


def test_quoting_does_not_pass_suppression(refusing, sink):
    """"victim"@d, "vic\\tim"@d and "Victim"@D are victim@d (RFC 5321
    4.1.2): an entry for one refuses them all, whichever way either was
    spelt, in gw.db, in queue.db, and in rows older versions wrote."""
    g = refusing
    g.gwctl("suppression", "add", "victim@dest.test", "--subaccount", "app")
    for spelling in ['"victim"@dest.test', '"vic\\tim"@dest.test',
                     '"Victim"@Dest.Test', "VICTIM@dest.test"]:
        code, text = rcpt_raw(g, spelling)
        assert code == 550 and "suppressed" in text, spelling
    # An entry made in the quoted spelling is stored in the plain one.
    g.gwctl("suppression", "add", '"listed"@dest.test')
    assert [e["address"] for e in listing(g)
            if "listed" in e["address"]] == ["listed@dest.test"]
    assert rcpt_raw(g, "listed@dest.test")[0] == 550
    # A local part that needs its quotes keeps them, and still matches.
    g.gwctl("suppression", "add", '"a b"@dest.test')
    assert rcpt_raw(g, '"a\\ b"@dest.test')[0] == 550
    assert rcpt_raw(g, "ab@dest.test")[0] == 250

    # A hard bounce of a quoted spelling: the next hop is given the
    # plain one, and the entry refuses every spelling.
    send(g, ['"gone"@dest.test'])
    e = wait_for(lambda: entry(g, "gone@dest.test"), what="bounce entry")
    assert e[0]["source"] == "bounce"
    # The DSN is delivered after the bounce's commit made the entry.
    wait_for(lambda: [m for m in sink.messages if m.mail_from == ""],
             what="the DSN")
    assert rcpt_raw(g, "gone@dest.test")[0] == 550
    assert rcpt_raw(g, '"g\\one"@dest.test')[0] == 550

    # Rows written by an older gw in a quoted spelling: gwd refuses the
    # plain one, and gwctl deletes them by any spelling.
    g.stop()
    with sqlite3.connect(os.path.join(g.state, "gw.db")) as c:
        c.execute("INSERT INTO suppression (subaccount_id, address, source,"
                  " created) VALUES (NULL, '\"old\"@dest.test', 'admin', 0)")
    with sqlite3.connect(os.path.join(g.state, "queue.db")) as c:
        c.execute("INSERT INTO suppression (subaccount, address, reason,"
                  " created) VALUES ('app', '\"older\"@dest.test', 'x', 0)")
    g.start()
    assert rcpt_raw(g, "old@dest.test")[0] == 550
    assert rcpt_raw(g, "older@dest.test")[0] == 550
    assert "1 deleted" in g.gwctl("suppression", "delete",
                                  "old@dest.test").stderr
    assert "1 deleted" in g.gwctl("suppression", "delete", "older@dest.test",
                                  "--subaccount", "app").stderr
    assert rcpt_raw(g, "old@dest.test")[0] == 250
    assert rcpt_raw(g, "older@dest.test")[0] == 250
    g.stop()
    g.start()
    assert rcpt_raw(g, "older@dest.test")[0] == 250


def test_admin_entries_apply_at_once(refusing, tmp_path):
    g = refusing
    assert rcpt(g, "stop@dest.test")[0] == 250
    g.gwctl("suppression", "add", "Stop@Dest.Test", "--subaccount", "app",
            "--reason", "asked to stop on 2026-11-20")
    code, text = rcpt(g, "stop@dest.test")
    assert code == 550 and "suppressed: asked to stop on 2026-11-20" in text
    assert rcpt(g, "stop@dest.test", user="other",
                password="other-pass")[0] == 250
    e = entry(g, "stop@dest.test")
    assert e[0]["source"] == "admin"

    # A global entry refuses every subaccount.
    g.gwctl("suppression", "add", "all@dest.test")
    assert rcpt(g, "all@dest.test")[0] == 550
    assert rcpt(g, "all@dest.test", user="other",
                password="other-pass")[0] == 550
    assert entry(g, "all@dest.test", sub=None)[0]["source"] == "admin"
    r = g.gwctl("suppression", "add", "all@dest.test")
    assert "0 added, 1 already listed" in r.stderr

    g.gwctl("suppression", "delete", "stop@dest.test")
    assert rcpt(g, "stop@dest.test")[0] == 250
    g.gwctl("suppression", "delete", "all@dest.test")
    assert rcpt(g, "all@dest.test", user="other",
                password="other-pass")[0] == 250

    # Import: plain lines and CSV with a header, from a file and stdin.
    f = tmp_path / "list.csv"
    f.write_text('address,reason\n'
                 'one@dest.test\n'
                 '\n'
                 '# a comment\n'
                 'two@dest.test,"complained, twice"\n'
                 '<three@dest.test>, unsubscribed\n')
    r = g.gwctl("suppression", "import", str(f), "--subaccount", "other")
    assert "3 added, 0 already listed" in r.stderr
    code, text = rcpt(g, "two@dest.test", user="other",
                      password="other-pass")
    assert code == 550 and "complained, twice" in text
    assert rcpt(g, "three@dest.test", user="other",
                password="other-pass")[0] == 550
    assert rcpt(g, "one@dest.test")[0] == 250        # app is not affected
    assert {e["address"]: e["source"] for e in listing(
        g, "--subaccount", "other")} == {
        "one@dest.test": "import", "two@dest.test": "import",
        "three@dest.test": "import"}
    g.gwctl("suppression", "import", "-", input="four@dest.test\n")
    assert rcpt(g, "four@dest.test")[0] == 550

    # One bad line: nothing is imported, and the line is named.
    f.write_text("five@dest.test\nnot an address\n")
    r = g.gwctl("suppression", "import", str(f), check=False)
    assert r.returncode == 65
    assert "list.csv:2" in r.stderr and "not an email address" in r.stderr
    assert rcpt(g, "five@dest.test")[0] == 250
    r = g.gwctl("suppression", "add", "x@dest.test", "--subaccount", "nope",
                check=False)
    assert r.returncode == 67 and "no subaccount" in r.stderr


def mail_reply(gw, frm, user="app", password="s3cret-pass"):
    """Send one message; the reply to MAIL (code, text), and whether the
    message was accepted."""
    msg = ("From: %s\r\nTo: x@dest.test\r\nSubject: q\r\n\r\n"
           "body\r\n" % (frm or "app@example.com")).encode()
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login(user, password)
        code, text = s.mail(frm)
        if code != 250:
            return code, text.decode()
        assert s.rcpt("x@dest.test")[0] == 250
        code, text = s.data(msg)
        return code, text.decode()


def test_quota_per_hour(refusing, sink):
    g = refusing
    g.gwctl("subaccount", "set", "app", "--quota-hour", "3")
    sub = [json.loads(x) for x in g.gwctl(
        "subaccount", "list", "--format", "json").stdout.splitlines()]
    assert {s["name"]: (s["quota_hour"], s["quota_day"]) for s in sub} == \
        {"app": (3, 0), "other": (0, 0)}
    assert "3/0" in g.gwctl("subaccount", "list").stdout

    for _ in range(2):
        assert mail_reply(g, "app@example.com")[0] == 250
    # Mail with the null sender (the subaccount's DSNs) counts too.
    assert mail_reply(g, "")[0] == 250
    code, text = mail_reply(g, "app@example.com")
    assert code == 451 and text.startswith("4.7.1 ")
    assert "quota is 3" in text and "last hour" in text
    # The refusal's event is committed by the store thread after the reply.
    rej = wait_for(lambda: g.events("action='rejected'"),
                   what="the rejected event")
    assert len(rej) == 1 and rej[0]["reply_code"] == 451
    assert rej[0]["reply_status"] == "4.7.1"
    assert rej[0]["class"] == "throttled"
    assert rej[0]["sender"] == "app@example.com"
    assert rej[0]["subaccount"] == "app"
    # Other subaccounts are not affected.
    assert mail_reply(g, "other@other.example", user="other",
                      password="other-pass")[0] == 250

    # The count survives a restart; lifting the quota applies at once.
    g.stop()
    g.start()
    assert mail_reply(g, "app@example.com")[0] == 451
    assert mail_reply(g, "")[0] == 451
    g.gwctl("subaccount", "set", "app", "--quota-hour", "0")
    assert mail_reply(g, "app@example.com")[0] == 250
    sink.wait_count(5)
    wait_for(lambda: g.queue_count() == 0, what="queue empty")


def test_quota_restart_keeps_count(refusing):
    g = refusing
    g.gwctl("subaccount", "set", "app", "--quota-hour", "3",
            "--quota-day", "100")
    for _ in range(2):
        assert mail_reply(g, "app@example.com")[0] == 250
    g.stop()
    g.start()
    assert mail_reply(g, "app@example.com")[0] == 250
    code, text = mail_reply(g, "app@example.com")
    assert code == 451 and "3 messages in the last hour" in text
    # A day quota, the same way.
    g.gwctl("subaccount", "set", "app", "--quota-hour", "0",
            "--quota-day", "3")
    code, text = mail_reply(g, "app@example.com")
    assert code == 451 and "last 24 hours, its quota is 3" in text


def test_quota_bad_values(refusing):
    g = refusing
    for bad in ("-1", "x", "1e3", "1000000001"):
        r = g.gwctl("subaccount", "set", "app", "--quota-hour", bad,
                    check=False)
        assert r.returncode == 64 and "--quota-hour" in r.stderr
    r = g.gwctl("subaccount", "set", "app", check=False)
    assert r.returncode == 64 and "nothing to set" in r.stderr
    r = g.gwctl("subaccount", "set", "nobody", "--quota-day", "5",
                check=False)
    assert r.returncode == 67


def pausing_gw(gw_factory, sink):
    """gwd with subaccount app, paused from 10 recipients when over 5%
    bounce; the sink refuses gone*@ as unknown users."""
    sink.rcpt_reply = lambda a: ("550 5.1.1 <%s>: user unknown" % a
                                 if a.startswith("gone") else None)
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.bounce_pause_minimum": 10,
                             "limits.bounce_pause_percent": 5}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def test_bounce_rate_pauses_subaccount(gw_factory, sink):
    g = pausing_gw(gw_factory, sink)
    g.add_subaccount("other", "other.example", "other-pass")
    good = ["u%d@dest.test" % i for i in range(9)]
    send(g, good)
    wait_for(lambda: len(g.events("action='delivered'")) == 9,
             what="9 deliveries")
    assert mail_reply(g, "app@example.com")[0] == 250      # 10 done, 0 bounced
    wait_for(lambda: len(g.events("action='delivered'")) == 10,
             what="10 deliveries")
    # One bounce in 11: 9% > 5%, and at least 10 recipients: paused.
    send(g, ["gone@dest.test"])
    ev = wait_for(lambda: g.events("action='paused'"), what="paused event")
    assert ev[0]["subaccount"] == "app"
    assert "bounce rate 9.0% (1 of 11 recipients)" in ev[0]["detail"]
    assert "subaccount app paused" in g.logtext()
    code, text = mail_reply(g, "app@example.com")
    assert code == 451 and text.startswith("4.7.1 ")
    assert "subaccount app is paused: bounce rate 9.0%" in text
    # gwtop's source: the control socket's `subaccounts` says it too.
    from test_metrics import control
    sub = [x for x in control(g, "subaccounts").splitlines()
           if x.startswith("sub app ")][0]
    assert " paused=1 reason=" in sub and "9.0%" in sub
    # Logged beside the reply, not before it.
    rej = wait_for(lambda: g.events("action='rejected'"), what="rejected event")
    assert rej[-1]["class"] == "policy" and rej[-1]["subaccount"] == "app"
    # The DSN for the bounce still went out; other subaccounts send.
    wait_for(lambda: [m for m in sink.messages if m.mail_from == ""],
             what="the DSN")
    assert mail_reply(g, "other@other.example", user="other",
                      password="other-pass")[0] == 250

    # Paused across a restart; resuming needs gwd.
    g.stop()
    r = g.gwctl("subaccount", "resume", "app", check=False)
    assert r.returncode == 69 and "gwd is not running" in r.stderr
    g.start()
    assert mail_reply(g, "app@example.com")[0] == 451
    r = g.gwctl("subaccount", "resume", "app")
    assert "subaccount app resumed" in r.stderr
    assert mail_reply(g, "app@example.com")[0] == 250
    assert [e["subaccount"] for e in g.events("action='resumed'")] == ["app"]
    r = g.gwctl("subaccount", "resume", "app")
    assert "was not paused" in r.stderr
    # A fresh start: the old bounce no longer counts, also after a
    # restart (the rate is counted from the resume on).
    g.stop()
    g.start()
    send(g, ["gone2@dest.test"])
    wait_for(lambda: g.events("action='bounced' AND "
                              "recipient='gone2@dest.test'"), what="bounce")
    wait_for(lambda: len([m for m in sink.messages if m.mail_from == ""])
             == 2, what="the second DSN")
    assert len(g.events("action='paused'")) == 1
    assert mail_reply(g, "app@example.com")[0] == 250
    r = g.gwctl("subaccount", "resume", "nobody", check=False)
    assert r.returncode == 67
