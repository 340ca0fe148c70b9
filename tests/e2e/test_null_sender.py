"""Mail with the null sender (MAIL FROM:<>) from a subaccount (issue 19
item 6): one recipient, as a DSN or MDN has, and counted against the
subaccount's quotas and in its bounce rate like any other message,
across a restart too."""
import pytest

from conftest import Raw, login, smarthost, wait_for

DSN = (b"From: MAILER-DAEMON@example.com\r\nTo: a@dest.test\r\n"
       b"Subject: Undelivered Mail Returned to Sender\r\n\r\nsorry\r\n.\r\n")


@pytest.fixture
def gw(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def session(g):
    r = Raw(g.ports["submission"])
    assert r.reply()[0] == 220
    assert login(r, "app", "s3cret-pass")[0] == 235
    return r


def null_sender_message(r, rcpt="a@dest.test"):
    """MAIL FROM:<> to one recipient: the reply to MAIL, or to the dot."""
    code, text = r.cmd("MAIL FROM:<>")
    if code != 250:
        return code, text
    assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(DSN)
    return r.reply()


def test_null_sender_has_one_recipient(gw, sink):
    r = session(gw)
    assert r.cmd("MAIL FROM:<>")[0] == 250
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250     # the same again
    assert r.cmd("RCPT TO:<b@dest.test>") == (
        452, "4.5.3 Error: a message with the null sender has one recipient")
    assert r.cmd("DATA")[0] == 354
    r.send(DSN)
    assert r.reply()[0] == 250
    m = sink.wait_count(1)[0]
    assert m.mail_from == "" and m.rcpt_tos == ["a@dest.test"]
    # Another sender in the same session may have many again.
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250
    assert r.cmd("RCPT TO:<b@dest.test>")[0] == 250


def test_null_sender_counts_against_the_quota(gw):
    gw.gwctl("subaccount", "set", "app", "--quota-hour", "2")
    r = session(gw)
    assert null_sender_message(r)[0] == 250
    assert null_sender_message(r)[0] == 250
    code, text = null_sender_message(r)
    assert code == 451 and "quota is 2" in text, text
    # ... and counts for the other mail of the subaccount.
    code, _ = r.cmd("MAIL FROM:<app@example.com>")
    assert code == 451
    # A restart counts them again from log.db.
    gw.stop()
    gw.start()
    r = session(gw)
    code, text = null_sender_message(r)
    assert code == 451 and "has sent 2 messages" in text, text


def test_null_sender_outcomes_count_toward_the_bounce_pause(gw_factory, sink):
    """The subaccount's null-sender mail is its mail for the bounce rate
    too, live and as counted again from log.db after a restart; the DSNs
    gwd makes itself are not."""
    from test_suppression import send
    sink.rcpt_reply = lambda a: ("550 5.1.1 <%s>: user unknown" % a
                                 if a.startswith("gone") else None)
    g = gw_factory(relay=smarthost(sink), settings={
        "limits.bounce_pause_minimum": 6,
        "limits.bounce_pause_percent": 50}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["gone0@dest.test"])              # bounced: gwd's DSN to app@
    r = session(g)
    for i in (1, 2):
        assert null_sender_message(r, "gone%d@dest.test" % i)[0] == 250
    wait_for(lambda: len(g.events("action='bounced'")) == 3,
             what="3 bounces")
    wait_for(lambda: [m for m in sink.messages if m.mail_from == ""],
             what="gwd's DSN delivered")
    wait_for(lambda: g.queue_count() == 0, what="queue empty")
    # 3 done, 3 bounced: the null sender's two in, gwd's DSN out.
    g.stop()
    g.start()
    seeded = wait_for(lambda: [ln for ln in g.logtext().splitlines()
                               if "last 24 hours" in ln][1:],
                      what="the counts read again")
    assert "3 recipients done, 3 bounced" in seeded[0], seeded
    r = session(g)
    for i in (3, 4, 5):
        assert null_sender_message(r, "gone%d@dest.test" % i)[0] == 250
    ev = wait_for(lambda: g.events("action='paused'"), what="paused event")
    assert ev[0]["subaccount"] == "app"
    assert "(6 of 6 recipients)" in ev[0]["detail"], ev[0]["detail"]
