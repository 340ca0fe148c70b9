"""Alerts end to end, beyond test_alerts.py (issue 13): a rule deleted
while it fires is resolved like any other (mail, Slack, PagerDuty with
the firing's dedup_key, the audit event), and a domain-scoped rule
fires on its recipients' domain only."""
import email

from conftest import free_port, smarthost, wait_for
from test_alerts import Receiver, receiver, send  # noqa: F401


def alert_mails(sink, name, word):
    """The alert mails at the sink about alert name whose Subject says
    word (firing, resolved)."""
    return [m for m in sink.messages if m.rcpt_tos == ["ops@alerts.test"]
            and ("gw alert %s %s" % (name, word))
            in email.message_from_bytes(m.data)["Subject"]]


def alerting(gw_factory, sink, receiver):
    """A gwd relaying to sink, whose sink refuses nobody* and every
    address at bad.test, with alerts evaluated often."""
    sink.rcpt_reply = lambda a: ("550 5.1.1 no such user"
                                 if a.startswith("nobody")
                                 or a.endswith("@bad.test") else None)
    g = gw_factory(relay=smarthost(sink), settings={
        "alerts.interval": "100ms", "alerts.window": "10m",
        "alerts.min_outcomes": 5, "alerts.sender": "gw-alerts@example.com",
        "alerts.pagerduty_url": "http://127.0.0.1:%d/pd" % receiver.port,
        "metrics.listen": "127.0.0.1:%d" % free_port(),
    }).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def test_deleting_a_firing_alert_resolves_it(gw_factory, sink, receiver):
    g = alerting(gw_factory, sink, receiver)
    g.gwctl("alert", "add", "gone", "--metric", "bounce_rate",
            "--above", "30", "--for", "1s",
            "--notify", "mailto:ops@alerts.test",
            "--notify", "http://127.0.0.1:%d/slack" % receiver.port,
            "--notify", "pagerduty:R0UTINGKEY1")
    send(g, ["ok%d@dest.test" % i for i in range(2)])
    for i in range(6):
        send(g, ["nobody%d@dest.test" % i])
    wait_for(lambda: alert_mails(sink, "gone", "firing"), 30,
             what="firing mail")
    wait_for(lambda: receiver.on("/slack") and receiver.on("/pd"), 30,
             what="firing webhooks")
    dedup = receiver.on("/pd")[0]["dedup_key"]
    g.gwctl("alert", "delete", "gone")
    wait_for(lambda: alert_mails(sink, "gone", "resolved"), 30,
             what="resolved mail after the delete")
    wait_for(lambda: len(receiver.on("/slack")) == 2 and
             len(receiver.on("/pd")) == 2, 30, what="resolved webhooks")
    pd = receiver.on("/pd")[1]
    assert pd["event_action"] == "resolve" and pd["dedup_key"] == dedup
    slack = receiver.on("/slack")[1]["text"]
    assert "resolved" in slack and "the rule was deleted" in slack
    ev = wait_for(lambda: g.events("action = 'alert_resolved'"),
                  what="alert_resolved in log.db")
    assert len(ev) == 1 and ev[0]["detail"].startswith("alert=gone ")
    assert ev[0]["detail"].endswith(" deleted=1")
    # Only once, and not again after a restart (the firing is resolved
    # in log.db, so nothing is restored).
    g.stop()
    g.start()
    send(g, ["nobody-more@dest.test"])
    wait_for(lambda: len(g.events("action = 'bounced'")) == 7, 30,
             what="the seventh bounce")
    assert len(alert_mails(sink, "gone", "resolved")) == 1
    assert len(receiver.on("/pd")) == 2


def test_domain_alert_fires_on_its_domain(gw_factory, sink, receiver):
    """Every mail to bad.test bounces, none to good.test: the rule on
    bad.test fires, the one on good.test does not, and all mail's rate
    (50%) stays under the other's threshold of 60."""
    g = alerting(gw_factory, sink, receiver)
    for dom in ("bad.test", "good.test"):
        g.gwctl("alert", "add", dom.split(".")[0], "--metric",
                "bounce_rate", "--domain", dom, "--above", "60", "--for",
                "1s", "--notify", "mailto:ops@alerts.test", "--notify",
                "http://127.0.0.1:%d/slack-%s" % (receiver.port, dom))
    g.gwctl("alert", "add", "all", "--metric", "bounce_rate", "--above",
            "60", "--for", "1s", "--notify", "mailto:ops@alerts.test")
    # The good ones first: all mail's rate never passes 50%.
    send(g, ["u%d@good.test" % i for i in range(6)])
    wait_for(lambda: len(g.events("action = 'delivered'")) == 6, 30,
             what="six delivered")
    for i in range(6):
        send(g, ["u%d@bad.test" % i])
    wait_for(lambda: alert_mails(sink, "bad", "firing"), 30,
             what="the bad.test alert's mail")
    wait_for(lambda: receiver.on("/slack-bad.test"), 30,
             what="the bad.test alert's webhook")
    text = receiver.on("/slack-bad.test")[0]["text"]
    assert "domain bad.test" in text and "100%" in text
    ev = wait_for(lambda: g.events("action = 'alert_firing'"),
                  what="alert_firing in log.db")
    assert [e["detail"].split()[0] for e in ev] == ["alert=bad"]
    assert not alert_mails(sink, "good", "firing")
    assert not alert_mails(sink, "all", "firing")
    assert receiver.on("/slack-good.test") == []
