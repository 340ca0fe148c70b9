"""Bounce classes, the suppression list and per-subaccount quotas, end to
end: a real sink refuses, gwd classifies and suppresses, gwctl and
gwsearch show it as an admin sees it."""
import csv
import io
import json
import smtplib

import pytest

from conftest import client_tls_context, smarthost, wait_for


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
