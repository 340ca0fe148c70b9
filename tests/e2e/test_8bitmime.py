"""8-bit messages to a real Postfix receiver, with and without 8BITMIME.

With it, gw says BODY=8BITMIME and the bytes go as they are.  Without it
(smtpd_discard_ehlo_keywords = 8bitmime), gw makes the 8-bit parts
quoted-printable and signs the 7-bit form again, so dkimpy verifies what
arrives; a message the client signed itself cannot be converted without
breaking that signature and bounces with 5.6.3.  Postfix relays to the
aiosmtpd sink, which keeps every byte.
"""
import email
import email.policy
import re
import smtplib

import pytest

from conftest import client_tls_context, wait_for
from postfix_instance import available, relay_mx
from test_dkim import activate, keygen, verify_dkimpy

pytestmark = pytest.mark.skipif(not available(), reason="needs root and Debian's postfix")

TEXT = "Grüße aus Köln — naïve café\nzweite Zeile: ½ € ✓\n"
HTML = "<p>Grüße — €</p>\n"

MULTIPART = (
    b"From: App <app@example.com>\r\n"
    b"To: <user@dest.test>\r\n"
    b"Subject: eightbit\r\n"
    b"Message-ID: <8bit-1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=\"=_b1\"\r\n"
    b"\r\n"
    b"--=_b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n" + TEXT.replace("\n", "\r\n").encode() +
    b"--=_b1\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n" + HTML.replace("\n", "\r\n").encode() +
    b"--=_b1--\r\n")


@pytest.fixture
def receiver(sink):
    """A Postfix MX for dest.test and example.com (where DSNs go) that
    relays to the sink; eightbit=False hides its 8BITMIME."""
    made = []

    def make(eightbit):
        made.append(relay_mx(sink.port, **({} if eightbit else {
            "smtpd_discard_ehlo_keywords": "8bitmime"})))
        return made[-1]
    yield make
    for pf in made:
        pf.remove()


def gw_to(gw_factory, dns, pf):
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                          "port": pf.port, "tls": "none"}, dns=dns).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def submit(g, msg, opts=()):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["user@dest.test"], msg, list(opts))


def mail_from_line(pf):
    """gw's MAIL command as Postfix's smtpd logged it."""
    m = wait_for(lambda: re.findall(r"< [^:]*: (MAIL FROM:<app@example\.com>.*)",
                                    pf.logtext()), what="MAIL in postfix's log")
    return m[0]


def parts(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    return [(p.get_content_type(), p.get_content().replace("\r\n", "\n"))
            for p in msg.walk() if not p.is_multipart()]


@pytest.mark.parametrize("body_param", [False, True], ids=["plain", "BODY=8BITMIME"])
def test_8bit_to_receiver_with_8bitmime(gw_factory, dns, sink, receiver, body_param):
    pf = receiver(eightbit=True)
    g = gw_to(gw_factory, dns, pf)
    keygen(g, dns, "example.com", "s1")
    activate(g, "example.com", "s1")
    submit(g, MULTIPART, ["BODY=8BITMIME"] if body_param else [])
    got = sink.wait_count(1, timeout=30)[0].data
    assert MULTIPART.split(b"\r\n\r\n", 1)[1] in got     # the bytes as sent
    assert "BODY=8BITMIME" in mail_from_line(pf)
    assert verify_dkimpy(got, dns) == [True]


@pytest.mark.parametrize("signed", [True, False], ids=["gw-signed", "unsigned"])
def test_8bit_converted_for_receiver_without_8bitmime(gw_factory, dns, sink,
                                                       receiver, signed):
    pf = receiver(eightbit=False)
    g = gw_to(gw_factory, dns, pf)
    if signed:
        keygen(g, dns, "example.com", "s1")
        activate(g, "example.com", "s1")
    submit(g, MULTIPART)
    got = sink.wait_count(1, timeout=30)[0].data
    assert all(b < 0x80 for b in got), "8-bit bytes reached the receiver"
    assert "BODY=8BITMIME" not in mail_from_line(pf)
    assert got.count(b"Content-Transfer-Encoding: quoted-printable") == 2
    # What a reader decodes is what the client wrote.
    assert parts(got) == parts(MULTIPART)
    assert parts(got)[0] == ("text/plain", TEXT.rstrip("\n"))
    assert verify_dkimpy(got, dns) == ([True] if signed else [])
    ev = wait_for(lambda: g.events("action='delivered'"), what="delivered")
    assert ev[0]["reply_code"] == 250


def test_client_signed_8bit_bounces_5_6_3(gw_factory, dns, sink, receiver):
    """The client's own signature would not survive the conversion."""
    pf = receiver(eightbit=False)
    g = gw_to(gw_factory, dns, pf)
    msg = (b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=client;\r\n"
           b" h=from:subject; bh=AAAA; b=AAAA\r\n") + MULTIPART
    submit(g, msg)
    ev = wait_for(lambda: g.events("action='bounced'"), timeout=30, what="bounce")
    assert (ev[0]["reply_code"], ev[0]["reply_status"]) == (554, "5.6.3")
    assert "8BITMIME" in ev[0]["reply_text"]
    # The one message at the sink is the DSN to the sender.
    dsn = sink.wait_count(1, timeout=30)[0]
    assert dsn.mail_from == "" and dsn.rcpt_tos == ["app@example.com"]
    assert b"5.6.3" in dsn.data
    assert not g.events("action='delivered' AND qid=?", (ev[0]["qid"],))
