"""Mail with the null sender (MAIL FROM:<>) from a subaccount (issue 19
item 6): one recipient, as a DSN or MDN has, and counted against the
subaccount's quotas like any other message, across a restart too."""
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


def null_sender_message(r):
    """MAIL FROM:<> to one recipient: the reply to MAIL, or to the dot."""
    code, text = r.cmd("MAIL FROM:<>")
    if code != 250:
        return code, text
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250
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
