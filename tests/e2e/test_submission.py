"""Messages through gwd with real clients, to a real sink, intact."""
import os
import re
import smtplib
import subprocess

import pytest

from conftest import client_tls_context, smarthost, wait_for

BODY = (b"Hello,\r\n"
        b"\r\n"
        b".a line that starts with a dot\r\n"
        b"..two dots\r\n"
        b"trailing spaces   \r\n"
        b"\ttab-indented\r\n"
        b"8-bit: \xc3\xa9t\xc3\xa9\r\n"
        b"." + b"x" * 900 + b"\r\n"
        b"last line\r\n")


def message(frm="app@example.com", to="user@dest.test", subject="hello",
            body=BODY, extra=b""):
    return (b"From: Sender <" + frm.encode() + b">\r\n"
            b"To: <" + to.encode() + b">\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <m1." + subject.encode() + b"@example.com>\r\n"
            b"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n"
            + extra + b"\r\n" + body)


@pytest.fixture
def gw(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def check_relayed(sink, msg, frm="app@example.com", to=("user@dest.test",)):
    got = sink.wait_count(1)[0]
    assert got.mail_from == frm
    assert got.rcpt_tos == list(to)
    # Our trace field goes on top; everything the client sent follows
    # unchanged, body byte for byte.
    assert got.data.startswith(b"Received: from ")
    assert got.data.endswith(msg), got.data[-300:]
    assert got.body == BODY
    return got


def test_smtplib_starttls_auth(gw, sink):
    msg = message()
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.ehlo("client.test")
        assert "starttls" in s.esmtp_features
        assert "auth" not in s.esmtp_features       # never before TLS
        s.starttls(context=client_tls_context())
        s.ehlo("client.test")
        assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["user@dest.test"], msg)
    got = check_relayed(sink, msg)
    hdr = got.headers.decode()
    assert re.search(r"by gw\.test \(gw\) with ESMTPSA id [0-9A-F]{16}", hdr)
    assert "version=TLSv1.3" in hdr or "version=TLSv1.2" in hdr


def test_smtplib_implicit_tls(gw, sink):
    msg = message(subject="implicit")
    with smtplib.SMTP_SSL("127.0.0.1", gw.ports["smtps"], timeout=10,
                          context=client_tls_context()) as s:
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["user@dest.test"], msg)
    got = sink.wait_count(1)[0]
    assert got.data.endswith(msg)


def test_auth_login_mechanism(gw, sink):
    msg = message(subject="login")
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.ehlo("client.test")
        s.user, s.password = "app", "s3cret-pass"
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
        s.sendmail("app@example.com", ["user@dest.test"], msg)
    assert sink.wait_count(1)[0].data.endswith(msg)


def test_swaks(gw, sink, tmp_path):
    msg = message(subject="swaks")
    f = tmp_path / "msg.eml"
    # swaks ends the DATA with CRLF "." CRLF after the file's text, so the
    # file leaves out the message's final CRLF.
    f.write_bytes(msg[:-2])
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % gw.ports["submission"],
                        "--tls", "--auth", "PLAIN", "--auth-user", "app",
                        "--auth-password", "s3cret-pass", "--from", "app@example.com",
                        "--to", "user@dest.test", "--data", "@" + str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"<~  250 2\.0\.0 Ok: queued as [0-9A-F]{16}", r.stdout)
    check_relayed(sink, msg)


def test_curl(gw, sink, tmp_path):
    msg = message(subject="curl")
    f = tmp_path / "msg.eml"
    f.write_bytes(msg)
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k",
                        "smtp://127.0.0.1:%d" % gw.ports["submission"],
                        "--user", "app:s3cret-pass", "--mail-from", "app@example.com",
                        "--mail-rcpt", "user@dest.test", "--upload-file", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    check_relayed(sink, msg)


def test_curl_implicit_tls(gw, sink, tmp_path):
    msg = message(subject="curl-smtps")
    f = tmp_path / "msg.eml"
    f.write_bytes(msg)
    r = subprocess.run(["curl", "-sS", "-k", "smtps://127.0.0.1:%d" % gw.ports["smtps"],
                        "--user", "app:s3cret-pass", "--mail-from", "app@example.com",
                        "--mail-rcpt", "user@dest.test", "--upload-file", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    check_relayed(sink, msg)


def test_api_key_as_password(gw, sink):
    out = gw.gwctl("apikey", "add", "app", "--label", "ci").stdout
    key = re.search(r"gwk_[0-9a-f]{12}_[0-9a-f]{40}", out).group(0)
    msg = message(subject="apikey")
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", key)
        s.sendmail("app@example.com", ["user@dest.test"], msg)
    assert sink.wait_count(1)[0].data.endswith(msg)
    # A revoked key stops working within a second.
    keyid = key[:16]
    gw.gwctl("apikey", "revoke", keyid)

    def refused():
        with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
            s.starttls(context=client_tls_context())
            try:
                s.login("app", key)
            except smtplib.SMTPAuthenticationError as e:
                return e.smtp_code == 535
            return False
    wait_for(refused, 3, 0.2, "revoked API key refused")


def test_multiple_recipients_one_transaction(gw, sink):
    msg = message(subject="many")
    rcpts = ["a%d@dest.test" % i for i in range(5)]
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", rcpts, msg)
    got = sink.wait_count(1)[0]
    assert sorted(got.rcpt_tos) == sorted(rcpts)
    assert len(sink.messages) == 1


def test_headers_added_when_missing(gw, sink):
    raw = (b"From: app@example.com\r\nTo: user@dest.test\r\nSubject: bare\r\n"
           b"Bcc: secret@dest.test\r\n\r\nbody\r\n")
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["user@dest.test"], raw)
    got = sink.wait_count(1)[0]
    hdr = got.headers.decode()
    assert re.search(r"(?m)^Message-ID: <[0-9A-F]{16}\.[0-9a-f]{8}@gw\.test>\r?$", hdr)
    assert re.search(r"(?m)^Date: \w{3}, \d+ \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r?$", hdr)
    assert "Bcc" not in hdr and "secret@dest.test" not in hdr   # RFC 6409 8.1
    assert got.body == b"body\r\n"


def test_resent_bcc_removed(gw, sink):
    """Resent-Bcc: names blind recipients of a resent message, as Bcc: does
    of the original (RFC 5322 3.6.6): neither reaches anyone."""
    raw = (b"Resent-From: app@example.com\r\nResent-Bcc: hidden@dest.test\r\n"
           b"From: app@example.com\r\nTo: user@dest.test\r\nSubject: again\r\n"
           b"RESENT-BCC:\r\n\tfolded@dest.test\r\n\r\nbody\r\n")
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["user@dest.test", "hidden@dest.test",
                                       "folded@dest.test"], raw)
    got = sink.wait_count(1)[0]
    hdr = got.headers.decode()
    assert "Resent-From: app@example.com" in hdr
    assert "bcc" not in hdr.lower()
    assert "hidden@" not in hdr and "folded@" not in hdr


def test_ip_allowlist_admits_server_without_auth(gw, sink):
    gw.gwctl("subaccount", "allow-ip", "app", "127.0.0.0/8")
    msg = message(subject="by-ip")
    # The ip_auth listener: no TLS, no AUTH, like a legacy app server.
    with smtplib.SMTP("127.0.0.1", gw.ports["plain"], timeout=10) as s:
        s.sendmail("app@example.com", ["user@dest.test"], msg)
    got = sink.wait_count(1)[0]
    assert got.data.endswith(msg)
    assert b"with ESMTP id" in got.headers
    ev = wait_for(lambda: gw.events("action='received'"), what="received event")
    assert ev[0]["subaccount"] == "app" and "auth=ip" in ev[0]["detail"]
