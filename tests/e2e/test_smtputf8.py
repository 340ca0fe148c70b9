"""SMTPUTF8 (RFC 6531): UTF-8 addresses in, to a real Postfix with
smtputf8_enable = yes (it relays to a sink that offers SMTPUTF8) and one
with it off, where gw bounces with 5.6.7 rather than mangle anything;
U-label domains looked up by their A-labels; the audit trail and
gwsearch carry the UTF-8 addresses as they are.
"""
import json
import os
import re
import smtplib
import subprocess

import pytest

from conftest import Raw, Sink, client_tls_context, login, wait_for
from postfix_instance import available, relay_mx

HERE = os.path.dirname(os.path.abspath(__file__))
needs_postfix = pytest.mark.skipif(not available(),
                                   reason="needs root and Debian's postfix")

RCPT = "jürgen.müller@dest.test"
MSG = ("From: App <app@example.com>\r\nTo: <%s>\r\nSubject: Grüße\r\n\r\n"
       "Hallo Jürgen\r\n" % RCPT).encode()


@pytest.fixture
def usink():
    s = Sink(smtputf8=True)
    yield s
    s.stop()


def submit(g, rcpts, msg=MSG, frm="app@example.com"):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        assert s.has_extn("smtputf8")
        s.sendmail(frm, rcpts, msg, mail_options=["SMTPUTF8"])


def test_utf8_address_needs_the_parameter(gw_factory, usink):
    g = gw_factory(relay={"mode": "smarthost", "host": usink.host,
                          "port": usink.port, "tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    r = Raw(g.ports["submission"])
    assert r.reply()[0] == 220
    assert login(r, "app", "s3cret-pass")[0] == 235
    assert "SMTPUTF8" in r.cmd("EHLO c")[1]
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    code, text = r.cmd("RCPT TO:<%s>" % RCPT)
    assert (code, text[:5]) == (553, "5.6.7")
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("MAIL FROM:<app@example.com> SMTPUTF8")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % RCPT)[0] == 250
    # Not UTF-8 at all (Latin-1 ü), or an overlong '/': bad syntax.
    for bad in (b"RCPT TO:<j\xfcrgen@dest.test>", b"RCPT TO:<a\xc0\xafb@dest.test>"):
        r.send(bad + b"\r\n")
        code, text = r.reply()
        assert (code, text[:5]) == (501, "5.1.3"), (bad, code, text)
    assert r.cmd("QUIT")[0] == 221


@pytest.fixture
def receiver(usink):
    """A Postfix MX (DSNs to example.com too) relaying to the sink."""
    made = []

    def make(utf8):
        made.append(relay_mx(usink.port,
                             smtputf8_enable="yes" if utf8 else "no"))
        return made[-1]
    yield make
    for pf in made:
        pf.remove()


def gw_to(gw_factory, pf):
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                          "port": pf.port, "tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


@needs_postfix
def test_smtplib_utf8_to_postfix_with_smtputf8(gw_factory, usink, receiver):
    pf = receiver(utf8=True)
    g = gw_to(gw_factory, pf)
    submit(g, [RCPT])
    got = usink.wait_count(1, timeout=30)[0]
    assert got.rcpt_tos == [RCPT]
    assert b"Hallo J\xc3\xbcrgen" in got.data
    mail = wait_for(lambda: re.findall(r"< [^:]*: (MAIL FROM:<app@example\.com>.*)",
                                       pf.logtext()), what="MAIL in postfix's log")
    assert "SMTPUTF8" in mail[0]
    ev = wait_for(lambda: g.events("action='delivered'"), what="delivered")
    assert ev[0]["recipient"] == RCPT
    # gwsearch: the address as it is, in every format.
    out = g.tool("gwsearch", "--format", "jsonl", "to:" + RCPT).stdout
    rows = [json.loads(l) for l in out.splitlines()]
    to = [r["email"]["to"]["address"] for r in rows if "to" in r.get("email", {})]
    assert to and all(RCPT in a for a in to), rows
    assert {r["event"]["action"] for r in rows} >= {"received", "delivered"}
    csv = g.tool("gwsearch", "--format", "csv", "to:" + RCPT).stdout
    assert RCPT in csv
    # The SIEM export: JSON lines and CEF, the address in UTF-8.
    cursor = os.path.join(g.dir, "export.cursor")
    out = g.tool("gwsearch", "export", "--cursor", cursor, "--format", "jsonl",
                 "--output", "-").stdout
    assert RCPT in json.dumps([json.loads(l) for l in out.splitlines()],
                              ensure_ascii=False)
    os.unlink(cursor)
    cef = g.tool("gwsearch", "export", "--cursor", cursor, "--format", "cef",
                 "--output", "-").stdout
    assert "duser=" + RCPT in cef


@needs_postfix
def test_utf8_to_postfix_without_smtputf8_bounces_5_6_7(gw_factory, usink, receiver):
    pf = receiver(utf8=False)
    g = gw_to(gw_factory, pf)
    submit(g, [RCPT, "plain@dest.test"])
    ev = wait_for(lambda: g.events("action='bounced'"), timeout=30, what="bounce")
    assert [(e["recipient"], e["reply_code"], e["reply_status"]) for e in ev] == \
        [(RCPT, 550, "5.6.7"), ("plain@dest.test", 550, "5.6.7")]
    assert "SMTPUTF8" in ev[0]["reply_text"]
    # Nothing went on mangled: the only message is the DSN to the sender.
    dsn = usink.wait_count(1, timeout=30)[0]
    assert dsn.mail_from == "" and dsn.rcpt_tos == ["app@example.com"]
    assert b"5.6.7" in dsn.data
    assert "SMTPUTF8" not in "".join(re.findall(r"< [^:]*: (MAIL FROM:<app@.*)",
                                                pf.logtext()))


@needs_postfix
def test_ascii_message_with_smtputf8_still_goes(gw_factory, usink, receiver):
    """SMTPUTF8 given but nothing in the envelope or header needs it: a
    server without it takes the message (RFC 6531 3.2)."""
    pf = receiver(utf8=False)
    g = gw_to(gw_factory, pf)
    submit(g, ["plain@dest.test"],
           b"From: app@example.com\r\nSubject: ascii\r\n\r\nbody \xc3\xa9\r\n")
    got = usink.wait_count(1, timeout=30)[0]
    assert got.rcpt_tos == ["plain@dest.test"]


def test_ulabel_domain_looked_up_by_alabel(gw_factory, dns, usink):
    """MX lookup of bücher.test asks for xn--bcher-kva.test."""
    dns.add("xn--bcher-kva.test", "MX", (10, "mx.xn--bcher-kva.test"))
    dns.add("mx.xn--bcher-kva.test", "A", "127.0.0.1")
    g = gw_factory(relay={"mode": "mx"}, dns=dns,
                   settings={"relay.mx_port": usink.port,
                             "relay.tls": "opportunistic",
                             "relay.allow_loopback_mx": True}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    submit(g, ["kunde@Bücher.test"])
    got = usink.wait_count(1, timeout=30)[0]
    assert got.rcpt_tos == ["kunde@bücher.test"]      # one spelling: lower case
    assert ("xn--bcher-kva.test", "MX") in dns.queries



NODE_PATH = "/usr/share/nodejs"      # Debian's node-nodemailer


@pytest.mark.skipif(not os.path.isdir(os.path.join(NODE_PATH, "nodemailer")),
                    reason="needs Debian's node-nodemailer")
def test_nodemailer_utf8_address(gw_factory, usink):
    """Nodemailer says SMTPUTF8 by itself for a UTF-8 address."""
    g = gw_factory(relay={"mode": "smarthost", "host": usink.host,
                          "port": usink.port, "tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    r = subprocess.run(["node", os.path.join(HERE, "nodemailer_send.js"),
                        str(g.ports["submission"]), "app", "s3cret-pass",
                        "app@example.com", RCPT, "Grüße", "Hallo Jürgen"],
                       env=dict(os.environ, NODE_PATH=NODE_PATH),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("250 ")
    got = usink.wait_count(1, timeout=30)[0]
    assert got.rcpt_tos == [RCPT]
    assert "Hallo Jürgen" in got.data.decode("utf-8", "replace") or \
        b"Hallo J=C3=BCrgen" in got.data


def test_dsn_to_utf8_sender_goes_with_smtputf8(gw_factory, usink):
    """The DSN to a UTF-8 envelope sender is itself an SMTPUTF8 message
    (Postfix happens to take a UTF-8 RCPT without it; RFC 6531 does not
    let a client count on that)."""
    usink.rcpt_reply = lambda a: "550 5.1.1 no such user" \
        if a in ("gone@dest.test", "görge@dest.test") else None
    g = gw_factory(relay={"mode": "smarthost", "host": usink.host,
                          "port": usink.port, "tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    submit(g, ["gone@dest.test", "görge@dest.test"], frm="jörg@example.com",
           msg="From: app@example.com\r\nSubject: Grüße\r\n\r\nbody\r\n"
           .encode())
    dsn = usink.wait_count(1, timeout=30)[0]
    assert dsn.mail_from == "" and dsn.rcpt_tos == ["jörg@example.com"]
    assert "SMTPUTF8" in dsn.mail_options
    # RFC 6533: a global DSN, its UTF-8 kept, not turned into '?'.
    assert b"report-type=global-delivery-status" in dsn.data
    assert b"Content-Type: message/global-delivery-status" in dsn.data
    assert b"Final-Recipient: rfc822; gone@dest.test" in dsn.data
    assert "Final-Recipient: utf-8; görge@dest.test".encode() in dsn.data
    assert b"Content-Type: message/global-headers" in dsn.data
    assert "Subject: Grüße".encode() in dsn.data


def test_suppression_of_a_utf8_address(gw_factory, usink):
    """gwctl and gwd spell a UTF-8 address the same way: a suppressed
    one is refused however its ASCII letters and U-labels are cased."""
    g = gw_factory(relay={"mode": "smarthost", "host": usink.host,
                          "port": usink.port, "tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("suppression", "add", "Jürgen@Bücher.test", "--subaccount", "app")
    r = Raw(g.ports["submission"])
    assert r.reply()[0] == 220
    assert login(r, "app", "s3cret-pass")[0] == 235
    assert r.cmd("MAIL FROM:<app@example.com> SMTPUTF8")[0] == 250
    code, text = r.cmd("RCPT TO:<jürgen@BÜCHER.test>")
    assert (code, text[:5]) == (550, "5.1.1"), text
    assert r.cmd("RCPT TO:<other@bücher.test>")[0] == 250
    assert r.cmd("QUIT")[0] == 221


def test_utf8_author_in_from_and_sender(gw_factory, usink):
    """RFC 6532: a From: or Sender: with a UTF-8 address is read, its
    domain checked in A-labels against the subaccount's domains, and the
    message goes when the transaction is SMTPUTF8; without it the reply
    says why (550 5.6.7) instead of calling the header unreadable."""
    g = gw_factory(relay={"mode": "smarthost", "host": usink.host,
                          "port": usink.port, "tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass", "xn--bcher-kva.test")
    msg = ("From: Jörg <jörg@example.com>\r\nSender: büro@BÜCHER.test\r\n"
           "To: <%s>\r\nSubject: x\r\n\r\nHallo\r\n" % RCPT).encode()
    submit(g, [RCPT], msg=msg)
    got = usink.wait_count(1, timeout=30)[0]
    assert "From: Jörg <jörg@example.com>".encode() in got.data
    out = g.tool("gwsearch", "--format", "jsonl", "status:received").stdout
    ev = [json.loads(x) for x in out.splitlines() if x.strip()]
    assert any("jörg@example.com" in json.dumps(e, ensure_ascii=False)
               for e in ev), out

    # A U-label domain the subaccount does not own is still refused.
    bad = msg.replace("büro@BÜCHER.test".encode(), "büro@bücher.example".encode())
    with pytest.raises(smtplib.SMTPDataError) as e:
        submit(g, [RCPT], msg=bad)
    assert e.value.smtp_code == 550 and b"not owned" in e.value.smtp_error

    # Without SMTPUTF8 the header cannot travel: 550 5.6.7.
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("app@example.com", ["a@dest.test"],
                       msg.replace(RCPT.encode(), b"a@dest.test"))
    assert e.value.smtp_code == 550
    assert e.value.smtp_error.startswith(b"5.6.7"), e.value.smtp_error
