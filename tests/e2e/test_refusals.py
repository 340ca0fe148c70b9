"""What gwd refuses, with which reply, and that nothing slips through."""
import smtplib
import socket
import time

import pytest

from conftest import Raw, auth_plain, client_tls_context, login, smarthost, wait_for

MSG = b"From: app@example.com\r\nTo: u@dest.test\r\nSubject: t\r\n\r\nbody\r\n"


@pytest.fixture
def gw(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.message_size": "64k",
                             "limits.recipients": 100,
                             "limits.auth_failures": 5,
                             "limits.auth_block": "3s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.add_subaccount("other", "other.test", "other-pass")
    return g


def authed(gw):
    r = Raw(gw.ports["submission"])
    assert r.reply()[0] == 220
    code, _ = login(r, "app", "s3cret-pass")
    assert code == 235
    return r


def test_no_auth_is_530(gw, sink):
    r = Raw(gw.ports["submission"])
    r.reply()
    r.cmd("EHLO c")
    r.starttls()
    r.cmd("EHLO c")
    assert r.cmd("MAIL FROM:<app@example.com>") == (530, "5.7.0 Authentication required")
    # Never an open relay: not even with relay-test address forms.
    for rcpt in ["<relaytest%example.org@[127.0.0.1]>", '<"relaytest@example.org">',
                 "<@[127.0.0.1]:relaytest@example.org>", "<example.org!relaytest>"]:
        assert r.cmd("MAIL FROM:<x@example.org>")[0] == 530
        assert r.cmd("RCPT TO:" + rcpt)[0] == 503
    assert sink.messages == []


def test_mail_before_starttls_is_530(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    code, text = r.cmd("EHLO c")
    assert "STARTTLS" in text and "AUTH" not in text
    assert r.cmd("MAIL FROM:<app@example.com>") == (
        530, "5.7.0 Must issue a STARTTLS command first")
    assert r.cmd("AUTH PLAIN " + auth_plain("app", "s3cret-pass"))[0] == 530


def test_wrong_password_is_535_and_unknown_user_looks_the_same(gw):
    replies = []
    for user, pw in [("app", "wrong"), ("nosuchuser", "wrong")]:
        r = Raw(gw.ports["submission"])
        r.reply()
        replies.append(login(r, user, pw))
        r.close()
    assert replies[0] == replies[1] == (535, "5.7.8 Error: authentication failed")
    ev = wait_for(lambda: (lambda e: e if len(e) >= 2 else None)(
        gw.events("action='auth'")), what="auth events")
    assert len(ev) == 2 and ev[0]["client_ip"] == "127.0.0.1"


def test_repeated_failures_cut_off(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    r.cmd("EHLO c")
    r.starttls()
    r.cmd("EHLO c")
    for i in range(4):
        assert r.cmd("AUTH PLAIN " + auth_plain("app", "bad%d" % i))[0] == 535
    code, _ = r.cmd("AUTH PLAIN " + auth_plain("app", "bad4"))
    assert code == 535
    assert r.reply()[0] == 421
    assert r.closed()
    # Blocked now: that name from this address, even with the right
    # password (limits.auth_failures counts per address and name) ...
    r2 = Raw(gw.ports["submission"])
    assert r2.reply()[0] == 220
    assert login(r2, "app", "s3cret-pass")[0] == 421
    assert r2.closed()
    # ... while another subaccount behind the same address logs in.
    r2 = Raw(gw.ports["submission"])
    r2.reply()
    assert login(r2, "other", "other-pass")[0] == 235
    # ... until the block ends.
    time.sleep(3.2)
    r3 = Raw(gw.ports["submission"])
    r3.reply()
    assert login(r3, "app", "s3cret-pass")[0] == 235


def test_sasl_edge_cases(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    r.cmd("EHLO c")
    r.starttls()
    r.cmd("EHLO c")
    assert r.cmd("AUTH PLAIN ====")[0] == 501           # bad base64
    assert r.cmd("AUTH PLAIN QQ")[0] == 501              # length 4n+2
    assert r.cmd("AUTH PLAIN QUJD RA==")[0] == 501       # space inside
    assert r.cmd("AUTH CRAM-MD5")[0] == 504
    assert r.cmd("AUTH PLAIN")[0] == 334
    assert r.cmd("*")[0] == 501                          # aborted
    # Three NULs: malformed.
    import base64
    assert r.cmd("AUTH PLAIN " + base64.b64encode(b"\0app\0pw\0x").decode())[0] == 501
    # authzid different from authcid: a failed login.
    assert r.cmd("AUTH PLAIN " + base64.b64encode(b"other\0app\0s3cret-pass").decode())[0] == 535
    # AUTH LOGIN answered with an SMTP command: decoded, refused, not run.
    assert r.cmd("AUTH LOGIN")[0] == 334
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 501
    # An overlong SASL response: 500 5.5.6, session still in step.
    assert r.cmd("AUTH PLAIN")[0] == 334
    code, text = r.cmd("A" * 12400)
    assert code == 500 and text.startswith("5.5.6")
    assert r.cmd("NOOP")[0] == 250
    # And a correct login still works afterwards.
    assert r.cmd("AUTH PLAIN " + auth_plain("app", "s3cret-pass"))[0] == 235
    assert r.cmd("AUTH PLAIN " + auth_plain("app", "s3cret-pass"))[0] == 503


def test_foreign_sender_domain(gw, sink):
    r = authed(gw)
    code, text = r.cmd("MAIL FROM:<ceo@other.test>")
    assert code == 550 and text.startswith("5.7.1")
    # A subdomain of one's own domain is one's own; a look-alike is not.
    assert r.cmd("MAIL FROM:<bounce@mail.example.com>")[0] == 250
    r.cmd("RSET")
    assert r.cmd("MAIL FROM:<x@evilexample.com>")[0] == 550
    # The From: header is held to the same rule.
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    code, text = r.cmd("From: ceo@other.test\r\nSubject: x\r\n\r\nhi\r\n.")
    assert code == 550 and "other.test" in text
    rej = wait_for(lambda: gw.events("action='rejected' AND reply_code=550"), what="rejects")
    assert rej[0]["subaccount"] == "app"
    assert sink.messages == []


def test_size_limits(gw, sink):
    r = authed(gw)
    code, text = r.cmd("MAIL FROM:<app@example.com> SIZE=70000")
    assert (code, text[:5]) == (552, "5.3.4")
    for bad in ["abc", "-1", "18446744073709551616"]:
        assert r.cmd("MAIL FROM:<app@example.com> SIZE=" + bad) == (
            501, "5.5.4 Bad SIZE parameter")
    # No SIZE given, oversize data: read to the end, then 552.
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 80 + b".\r\n")
    code, text = r.reply()
    assert (code, text[:5]) == (552, "5.3.4")
    # The session is still in step afterwards and the envelope is gone.
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 503
    assert r.cmd("NOOP")[0] == 250
    assert sink.messages == []


def test_too_many_recipients(gw, sink):
    r = authed(gw)
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    for i in range(100):
        assert r.cmd("RCPT TO:<u%d@dest.test>" % i)[0] == 250
    assert r.cmd("RCPT TO:<u100@dest.test>") == (452, "4.5.3 Error: too many recipients")
    assert r.cmd("DATA")[0] == 354
    assert r.cmd(MSG.decode() + ".")[0] == 250
    got = sink.wait_count(1)[0]
    assert len(got.rcpt_tos) == 100 and "u100@dest.test" not in got.rcpt_tos


def test_long_command_line_stays_in_sync(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    assert r.cmd("NOOP " + "x" * 505)[0] == 250          # 512 with CRLF
    assert r.cmd("NOOP " + "x" * 506)[0] == 500          # 513
    r.send(b"X" * (1 << 20))                              # 1 MB, no CRLF yet
    r.send(b"\r\n")
    assert r.reply()[0] == 500
    assert r.cmd("NOOP")[0] == 250


def test_bare_lf_in_command_closes(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    r.send(b"EHLO c\n")
    code, text = r.reply()
    assert code == 500 and text.startswith("5.5.2")
    assert r.closed()


def test_state_machine(gw):
    r = authed(gw)
    assert r.cmd("DATA")[0] == 503
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 503
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 503
    assert r.cmd("DATA")[0] == 503                        # no RCPT yet
    assert r.cmd("RCPT TO:<u@dest.test> XFOO=1")[0] == 555
    assert r.cmd("RCPT TO:<postmaster>")[0] == 501
    assert r.cmd("RCPT TO:<u@[127.0.0.1]>")[0] == 553
    assert r.cmd("RCPT TO:<\xe9@dest.test>")[0] == 553
    assert r.cmd("STARTTLS")[0] == 554                    # TLS already on
    assert r.cmd("STARTTLS foo")[0] == 501
    assert r.cmd("FOO")[0] == 500
    assert r.cmd("VRFY app")[0] == 502
    assert r.cmd("BDAT 10 LAST LAST")[0] == 501            # out of step
    assert r.closed()


def test_http_request_closes(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    assert r.cmd("GET / HTTP/1.1")[0] == 221
    assert r.closed()


def test_too_many_errors(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    for _ in range(19):
        assert r.cmd("XYZZY")[0] == 500
    assert r.cmd("XYZZY")[0] == 500
    assert r.reply()[0] == 421
    assert r.closed()


def test_pipelining_sync_violation(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    r.send(b"EHLO c\r\nNOOP\r\n")
    code, text = r.reply()
    assert code == 554 and text.startswith("5.5.0")
    assert r.closed()


def test_pipelined_envelope_one_write(gw, sink):
    """MAIL, RCPT, RCPT, DATA in one segment: answered in one go."""
    r = authed(gw)
    r.send(b"MAIL FROM:<app@example.com>\r\nRCPT TO:<a@dest.test>\r\n"
           b"RCPT TO:<b@dest.test>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    r.send(MSG + b".\r\nQUIT\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    assert sorted(sink.wait_count(1)[0].rcpt_tos) == ["a@dest.test", "b@dest.test"]


def test_starttls_injection_discarded(gw):
    """CVE-2011-0411: plaintext after STARTTLS is never executed."""
    r = Raw(gw.ports["submission"])
    r.reply()
    r.cmd("EHLO c")
    r.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<x@example.com>\r\n")
    assert r.reply()[0] == 220
    r.sock = client_tls_context().wrap_socket(r.sock)
    # The server says nothing until the client speaks.
    assert r.pending(0.5) == b""
    # And state from before TLS is gone.
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 503
    assert r.cmd("EHLO c")[0] == 250


def test_disabled_subaccount_and_live_changes(gw, sink):
    gw.gwctl("subaccount", "disable", "app")

    def refused():
        r = Raw(gw.ports["submission"])
        r.reply()
        code, _ = login(r, "app", "s3cret-pass")
        r.close()
        return code == 535
    wait_for(refused, 2, 0.1, "disabled subaccount refused")
    gw.gwctl("subaccount", "enable", "app")
    gw.gwctl("subaccount", "passwd", "app", "--password-stdin", input="n3w-pass\n")

    def new_password_works():
        r = Raw(gw.ports["submission"])
        r.reply()
        code, _ = login(r, "app", "n3w-pass")
        r.close()
        return code == 235
    wait_for(new_password_works, 2, 0.1, "new password accepted")


def test_allowlist_restricts_credentials(gw):
    gw.gwctl("subaccount", "allow-ip", "app", "192.0.2.0/24")
    time.sleep(1.1)
    r = Raw(gw.ports["submission"])
    r.reply()
    assert login(r, "app", "s3cret-pass")[0] == 535      # not from here
    gw.gwctl("subaccount", "allow-ip", "app", "127.0.0.1")
    time.sleep(1.1)
    r = Raw(gw.ports["submission"])
    r.reply()
    assert login(r, "app", "s3cret-pass")[0] == 235


def test_too_many_received_headers(gw, sink):
    r = authed(gw)
    r.cmd("MAIL FROM:<app@example.com>")
    r.cmd("RCPT TO:<u@dest.test>")
    r.cmd("DATA")
    hops = "".join("Received: from h%d by h%d; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
                   % (i, i) for i in range(101))
    code, text = r.cmd(hops + "From: app@example.com\r\n\r\nloop\r\n.")
    assert (code, text[:5]) == (554, "5.4.6")


def test_idle_timeout(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.idle_timeout": "1s"}).start()
    r = Raw(g.ports["submission"])
    r.reply()
    # One byte at a time, never a whole command: cut off anyway.
    t0 = time.monotonic()
    for ch in b"NOOP":
        r.send(bytes([ch]))
        time.sleep(0.3)
    code, text = r.reply()
    assert (code, text[:5]) == (421, "4.4.2")
    assert time.monotonic() - t0 < 5


def test_connection_limit_per_ip(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.connections_per_ip": 3}).start()
    conns = []

    def one_more():
        # start()'s probe connections may not be reaped yet: retry.
        c = Raw(g.ports["submission"])
        if c.reply()[0] == 220:
            conns.append(c)
            return True
        c.close()
        return False
    for _ in range(3):
        wait_for(one_more, 3, 0.05, "a connection slot")
    extra = Raw(g.ports["submission"])
    code, text = extra.reply()
    assert code == 421 and "too many connections" in text
    conns[0].cmd("QUIT")
    conns[0].close()

    def admitted():
        c = Raw(g.ports["submission"])
        ok = c.reply()[0] == 220
        c.close()
        return ok
    wait_for(admitted, 3, 0.1, "a slot again")


# SMTP smuggling: an end-of-data that some receivers honour and others do
# not, followed by a second, forged transaction.  gwd honours only
# CRLF "." CRLF, refuses the whole message for the bare CR or LF, and the
# forged commands never run: exactly one reply, nothing at the sink.
SMUGGLED = (b"MAIL FROM:<app@example.com>\r\n"
            b"RCPT TO:<victim@dest.test>\r\n"
            b"DATA\r\n"
            b"From: app@example.com\r\nSubject: forged\r\n\r\nsmuggled\r\n")


def smuggle(gw, fake_end):
    """One message ended by fake_end, a forged transaction, the real end:
    the one reply, after checking that no other followed (the forged
    MAIL, RCPT and DATA were message data) and quitting."""
    r = authed(gw)
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(MSG[:-2] + fake_end + SMUGGLED + b".\r\n")
    reply = r.reply()
    assert r.pending(0.5) == b""
    assert r.cmd("QUIT")[0] == 221
    return reply


@pytest.mark.parametrize("fake_end", [
    b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r",
    b"\n.\r", b".\n", b"\r\n.\x00\r\n",
], ids=["LF.LF", "CR.CR", "LF.CRLF", "CRLF.LF", "CR.CRLF", "CRLF.CR",
        "LF.CR", "dotLF", "CRLF.NUL"])
def test_smuggling_variants_refused(gw, sink, fake_end):
    code, text = smuggle(gw, fake_end)
    assert code in (550, 554) and text.startswith("5."), (code, text)
    time.sleep(0.5)
    assert sink.messages == []
    assert not gw.events("action='received'")


def test_data_timeout(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.data_timeout": "1s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    r = authed(g)
    r.cmd("MAIL FROM:<app@example.com>")
    r.cmd("RCPT TO:<u@dest.test>")
    assert r.cmd("DATA")[0] == 354
    r.send(b"Subject: stalls\r\n\r\nhalf a mess")
    code, text = r.reply()
    assert (code, text[:5]) == (421, "4.4.2")
    assert r.closed()
    assert sink.messages == []
