"""DSN (RFC 3461): NOTIFY, RET, ENVID and ORCPT from the client, passed on
to a receiver that offers DSN (a real Postfix, its queue file read with
postcat), reported by gw itself ("relayed", "delayed") when the receiver
does not, NEVER honoured, RET=FULL returning the whole message.

Debian 12's swaks (20201014) has no DSN options (they came in 20240103),
so the client here is Python's smtplib, which users' scripts use, and a
raw socket for the refusals."""
import email
import smtplib

import pytest

from conftest import (Raw, client_tls_context, free_port, smarthost,
                      wait_for)
from postfix_instance import available, holding_receiver

FROM = "app@example.com"


def send(g, rcpts, mail_options=(), rcpt_options=(), body="body line\r\n"):
    msg = ("From: %s\r\nTo: %s\r\nSubject: dsn test\r\n\r\n%s" %
           (FROM, ", ".join(rcpts), body)).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.ehlo()
        assert s.has_extn("dsn")
        s.mail(FROM, list(mail_options))
        for r in rcpts:
            opts = rcpt_options.get(r, ()) if isinstance(rcpt_options, dict) \
                else rcpt_options
            code, text = s.rcpt(r, list(opts))
            assert code == 250, (r, code, text)
        code, text = s.data(msg)
        assert code == 250, text
    return msg


def gw(gw_factory, sink, **settings):
    g = gw_factory(relay=smarthost(sink), settings=settings).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def reports(sink):
    return [m for m in sink.messages if m.mail_from == ""]


def parts(m):
    """The report's parts: (notice text, delivery-status text, third)."""
    msg = email.message_from_bytes(m.data)
    assert msg.get_content_type() == "multipart/report"
    p = msg.get_payload()
    status = "".join(str(x) for x in p[1].get_payload())
    return p[0].get_payload(), status, p[2]


def test_parameters_checked(gw_factory, sink):
    g = gw(gw_factory, sink)
    raw = Raw(g.ports["submission"])
    raw.reply()
    assert raw.cmd("EHLO client.test")[1].split("\n").count("DSN") == 1
    raw.starttls()
    assert raw.cmd("EHLO client.test")[1].split("\n").count("DSN") == 1
    assert raw.cmd("AUTH PLAIN AGFwcABzM2NyZXQtcGFzcw==")[0] == 235
    bad_mail = {
        "RET=ALL": "501 5.5.4 Bad RET parameter (FULL or HDRS)",
        "RET=FULL RET=HDRS": "501 5.5.4 Duplicate RET parameter",
        "ENVID=a+0D+0AX": "501 5.5.4 Bad ENVID parameter (xtext of "
                          "printable characters, at most 100)",
        "ENVID=" + "x" * 101: "501 5.5.4 Bad ENVID parameter (xtext of "
                              "printable characters, at most 100)",
    }
    for p, want in bad_mail.items():
        code, text = raw.cmd("MAIL FROM:<%s> %s" % (FROM, p))
        assert "%d %s" % (code, text) == want, p
    assert raw.cmd("MAIL FROM:<%s> RET=HDRS ENVID=QQ+2B1" % FROM)[0] == 250
    bad_rcpt = {
        "NOTIFY=NEVER,FAILURE": "501 5.5.4 Bad NOTIFY parameter (NEVER, or "
                                "SUCCESS, FAILURE, DELAY separated by commas)",
        "NOTIFY=SOMETIMES": "501 5.5.4 Bad NOTIFY parameter (NEVER, or "
                            "SUCCESS, FAILURE, DELAY separated by commas)",
        # Exim CVE-2020-28026: an encoded CR LF never gets in.
        "ORCPT=rfc822;x+0D+0AX:+1": "501 5.5.4 Bad ORCPT parameter "
                                    "(address-type;xtext of printable "
                                    "characters, at most 500)",
        "ORCPT=x400;u": "555 5.5.4 Unsupported ORCPT address type (rfc822)",
        "FOO=1": "555 5.5.4 Unsupported RCPT parameter",
    }
    for p, want in bad_rcpt.items():
        code, text = raw.cmd("RCPT TO:<u@dest.test> %s" % p)
        assert "%d %s" % (code, text) == want, p
    assert raw.cmd("RCPT TO:<u@dest.test> NOTIFY=SUCCESS,FAILURE "
                   "ORCPT=rfc822;u@dest.test")[0] == 250
    raw.close()


def test_relayed_report_when_the_receiver_has_no_dsn(gw_factory, sink):
    # The sink (aiosmtpd) offers no DSN: gw reports the success itself.
    g = gw(gw_factory, sink)
    send(g, ["u@dest.test", "quiet@dest.test"],
         mail_options=["RET=HDRS", "ENVID=QQ+2B314"],
         rcpt_options={"u@dest.test": ["NOTIFY=SUCCESS,FAILURE",
                                       "ORCPT=rfc822;orig+2Bu@dest.test"]})
    wait_for(lambda: len(sink.messages) == 2, what="the message and report")
    (m,) = [m for m in sink.messages if m.mail_from == FROM]
    assert sorted(m.rcpt_tos) == ["quiet@dest.test", "u@dest.test"]
    (r,) = reports(sink)
    assert r.rcpt_tos == [FROM]
    assert b"Subject: Successful Mail Delivery Report\r\n" in r.data
    notice, status, third = parts(r)
    assert "Original-Envelope-Id: QQ+314" in status
    assert "Original-Recipient: rfc822;orig+u@dest.test" in status
    assert "Final-Recipient: rfc822; u@dest.test" in status
    assert "Action: relayed" in status
    assert "quiet@dest.test" not in status     # it did not ask
    assert third.get_content_type() == "text/rfc822-headers"
    assert len(g.events("action = 'dsn'")) == 1


def test_never_and_failure_reports(gw_factory, sink):
    sink.rcpt_reply = lambda a: "550 5.1.1 no such user" if a.startswith(
        "gone") else None
    g = gw(gw_factory, sink)
    send(g, ["ok@dest.test", "gone-never@dest.test", "gone-success@dest.test",
             "gone-default@dest.test"],
         rcpt_options={"gone-never@dest.test": ["NOTIFY=NEVER"],
                       "gone-success@dest.test": ["NOTIFY=SUCCESS"],
                       "gone-default@dest.test": ["ORCPT=rfc822;alias@x"]})
    wait_for(lambda: len(g.events("action = 'bounced'")) == 3,
             what="three bounces")
    wait_for(lambda: reports(sink), what="the report")
    (r,) = reports(sink)
    _, status, _ = parts(r)
    # NEVER: no report; SUCCESS without FAILURE: none for a failure.
    assert "gone-never" not in status and "gone-success" not in status
    assert "Final-Recipient: rfc822; gone-default@dest.test" in status
    assert "Original-Recipient: rfc822;alias@x" in status


@pytest.mark.parametrize("ret", ["FULL", None])
def test_ret_full_returns_the_message(gw_factory, sink, ret):
    sink.rcpt_reply = lambda a: "550 5.1.1 no such user" if a.startswith(
        "gone") else None
    g = gw(gw_factory, sink)
    send(g, ["gone@dest.test"], mail_options=["RET=" + ret] if ret else [],
         body="the secret body\r\n")
    wait_for(lambda: reports(sink), what="the report")
    (r,) = reports(sink)
    _, _, third = parts(r)
    if ret == "FULL":
        assert third.get_content_type() == "message/rfc822"
        inner = third.get_payload()[0]
        assert inner["Subject"] == "dsn test"
        assert inner.get_payload() == "the secret body\r\n" or \
            inner.get_payload() == "the secret body\n"
    else:
        assert third.get_content_type() == "text/rfc822-headers"
        assert b"the secret body" not in r.data


def test_delay_notice_once(gw_factory, sink):
    state = {"defer": True}
    sink.rcpt_reply = lambda a: "451 4.3.0 try later" if state["defer"] \
        and a != FROM else None
    g = gw(gw_factory, sink, **{"queue.delay_warning": "1s"})
    send(g, ["slow@dest.test", "plain@dest.test"],
         rcpt_options={"slow@dest.test": ["NOTIFY=DELAY,FAILURE"]})
    wait_for(lambda: reports(sink), timeout=30, what="the delay notice")
    (r,) = reports(sink)
    assert b"Subject: Delayed Mail (still being retried)\r\n" in r.data
    _, status, _ = parts(r)
    assert "Action: delayed" in status and "slow@dest.test" in status
    assert "plain@dest.test" not in status      # no NOTIFY: failures only
    with g.db("queue.db") as c:
        flags = c.execute("SELECT dsn_notify FROM recipient WHERE "
                          "address = 'slow@dest.test'").fetchone()[0]
    assert flags & 0x100                        # marked: never again
    n = len(g.events("action = 'deferred'"))
    wait_for(lambda: len(g.events("action = 'deferred'")) >= n + 4,
             timeout=30, what="more deferrals")
    state["defer"] = False
    wait_for(lambda: len(g.events("action = 'delivered' AND recipient "
                                  "LIKE '%@dest.test'")) == 2,
             timeout=30, what="the delivery")
    assert len(reports(sink)) == 1


@pytest.mark.skipif(not available(), reason="needs root and postfix")
@pytest.mark.parametrize("offers_dsn", [True, False])
def test_postfix_receiver(gw_factory, sink, offers_dsn):
    port = free_port()
    pf = holding_receiver(port, {} if offers_dsn else
                          {"smtpd_discard_ehlo_keywords": "dsn"})
    try:
        g = gw(gw_factory, sink)
        g.gwctl("route", "add", "--to-domain", "dest.test", "--smarthost",
                "127.0.0.1:%d" % port, "--tls", "none")
        send(g, ["u@dest.test"], mail_options=["RET=HDRS", "ENVID=QQ+2B1"],
             rcpt_options=["NOTIFY=SUCCESS,DELAY",
                           "ORCPT=rfc822;orig+2Bu@dest.test"])
        wait_for(lambda: g.events("action = 'delivered'"), timeout=30,
                 what="the delivery to Postfix")
        held = wait_for(pf.held, what="Postfix's queue file")
        (q,) = held
        if offers_dsn:
            # Postfix decodes the xtext; its flags: SUCCESS 2, DELAY 8;
            # RET=HDRS 2.
            assert "named_attribute: envelope_id=QQ+1\n" in q
            assert "named_attribute: ret_flags=2\n" in q
            assert "named_attribute: notify_flags=10\n" in q
            assert "named_attribute: dsn_orig_rcpt=rfc822;orig+u@" \
                   "dest.test\n" in q
            # Postfix reports from now on: no report from gw (it would
            # be in the delivery's own commit).
            assert g.events("action = 'dsn'") == []
            assert reports(sink) == []
        else:
            assert "notify_flags" not in q and "envelope_id" not in q
            wait_for(lambda: reports(sink), what="gw's relayed report")
            (r,) = reports(sink)
            _, status, _ = parts(r)
            assert "Action: relayed" in status
            assert "Remote-MTA: dns; 127.0.0.1" in status
            assert "Original-Envelope-Id: QQ+1" in status
            assert "Original-Recipient: rfc822;orig+u@dest.test" in status
    finally:
        pf.stop()


def test_requests_survive_a_restart(gw_factory, sink):
    # Kept in queue.db: after a restart the success report still carries
    # ENVID and ORCPT, and RET=FULL still holds for the other recipient.
    state = {"defer": True}
    sink.rcpt_reply = lambda a: None if a == FROM else \
        "451 4.3.0 later" if state["defer"] else \
        "550 5.1.1 gone" if a.startswith("gone") else None
    g = gw(gw_factory, sink)
    send(g, ["u@dest.test", "gone@dest.test"],
         mail_options=["RET=FULL", "ENVID=QQ+2B7"],
         rcpt_options={"u@dest.test": ["NOTIFY=SUCCESS",
                                       "ORCPT=rfc822;o+2Bu@dest.test"],
                       "gone@dest.test": ["NOTIFY=FAILURE"]},
         body="kept body\r\n")
    wait_for(lambda: len(g.events("action = 'deferred'")) >= 2,
             what="the first attempt")
    assert g.stop() == 0
    state["defer"] = False
    g.start()
    wait_for(lambda: reports(sink), what="the report")
    (r,) = reports(sink)
    _, status, third = parts(r)
    assert "Original-Envelope-Id: QQ+7" in status
    assert "Original-Recipient: rfc822;o+u@dest.test" in status
    assert "Action: relayed" in status and "Action: failed" in status
    assert third.get_content_type() == "message/rfc822"
    assert b"kept body" in r.data


@pytest.mark.parametrize("notify,dsn", [("NEVER", False), ("DELAY", False),
                                        (None, True)])
def test_admin_bounce_follows_notify(gw_factory, sink, notify, dsn):
    sink.rcpt_reply = lambda a: None if a == FROM else "451 4.3.0 later"
    g = gw(gw_factory, sink, **{"queue.retry_min": "1h",
                                "queue.retry_max": "1h"})
    send(g, ["u@dest.test"],
         rcpt_options=["NOTIFY=" + notify] if notify else [])
    (ev,) = wait_for(lambda: g.events("action = 'deferred'"),
                     what="the first attempt")
    r = g.gwctl("queue", "bounce", ev["qid"])
    assert "bounced 1 message" in r.stderr
    assert ("no DSN: its client asked for none (NOTIFY)" in r.stderr) == \
        (not dsn), r.stderr
    # The report would be in the bounce's own commit.
    wait_for(lambda: g.events("action = 'bounced'"), what="the bounce")
    assert bool(g.events("action = 'dsn'")) == dsn
