"""Content policy actions (issue 11), their last part: redact (the values
replaced in base64 and quoted-printable text parts and in HTML, the MIME
valid, DKIM still verifying with dkimpy).  Real parts: smtplib submissions
through the real gwd to an aiosmtpd sink, messages made with Python's
email package, the delivered ones parsed by it again.
"""
import email
import re
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP

from conftest import client_tls_context
from test_quarantine import start

CARD = "4111 1111 1111 1111"
CARD2 = "5555-5555-5555-4444"
SSN = "123-45-6789"


def send(g, data, frm="app@example.com", to=("user@dest.test",)):
    """Submit data: None on 250, else (code, text)."""
    import smtplib
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=60) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        try:
            s.sendmail(frm, list(to), data)
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()
    return None


def card_message(subject="redact"):
    m = MIMEMultipart()
    m["From"] = "app@example.com"
    m["To"] = "user@dest.test"
    m["Subject"] = subject
    b64 = MIMEText("card %s, thanks\n" % CARD, "plain", "utf-8")
    b64.replace_header("Content-Transfer-Encoding", "base64")
    b64.set_payload(email.base64mime.body_encode(
        ("card %s, thanks\r\n" % CARD).encode()))
    m.attach(b64)
    qp = MIMEText("", "plain", "iso-8859-1")
    qp.replace_header("Content-Transfer-Encoding", "quoted-printable")
    qp.set_payload("caf=E9: 5555-5555-=\n5555-4444 and SSN %s\n" % SSN)
    m.attach(qp)
    m.attach(MIMEText("<p>card &#52;111<b>1111</b>1111 1111</p>", "html",
                      "us-ascii"))
    return m.as_bytes(policy=SMTP)


def digits(s):
    return re.sub(r"[^0-9]", "", s)


def decoded_texts(data):
    msg = email.message_from_bytes(data)
    return [p.get_payload(decode=True).decode(
        p.get_content_charset() or "us-ascii")
        for p in msg.walk() if not p.is_multipart()]


def test_redact_base64_qp_html_dkim(gw_factory, dns, sink):
    from test_dkim import activate, keygen, verify_dkimpy
    g = start(gw_factory, sink,
              ("pci", "--detector", "card", "--action", "redact"),
              ("hr", "--detector", "ssn", "--action", "redact"),
              dns=dns)
    keygen(g, dns, "example.com", "s1", "rsa")
    activate(g, "example.com", "s1")
    assert send(g, card_message()) is None
    sink.wait_count(1)
    data = sink.messages[0].data
    texts = decoded_texts(data)
    assert "card XXXX XXXX XXXX 1111, thanks" in texts[0]
    assert "caf\xe9: XXXX-XXXX-XXXX-4444 and SSN XXX-XX-6789" in texts[1]
    assert "card XXXX<b>XXXX</b>XXXX 1111" in texts[2]
    # No original number anywhere: not in the bytes, not in any decoded
    # part, not even with its separators taken out.
    for secret in (CARD, CARD2, SSN):
        assert secret.encode() not in data
        for t in texts:
            assert digits(secret) not in digits(t), (secret, t)
    assert b"&#52;" not in data
    # The MIME is valid: each part declares what it is.
    msg = email.message_from_bytes(data)
    parts = [p for p in msg.walk() if not p.is_multipart()]
    assert [p["Content-Transfer-Encoding"] for p in parts] == \
        ["base64", "quoted-printable", "7bit"]
    assert parts[1].get_content_charset() == "utf-8"
    assert not msg.defects and all(not p.defects for p in parts)
    assert verify_dkimpy(data, dns) == [True]
    ev = g.events("action = 'scanned'")[-1]
    assert "redacted=4" in ev["detail"], ev["detail"]
    assert CARD not in ev["detail"] and SSN not in ev["detail"]


def test_redact_only_what_fired(gw_factory, sink):
    """A policy that does not fire (its threshold unmet, or not for this
    recipient) replaces nothing; a message with nothing found goes
    byte for byte as it came (but for the headers gwd adds)."""
    g = start(gw_factory, sink,
              ("pci", "--detector", "card", "--min", "5", "--action",
               "redact"),
              ("hr", "--detector", "ssn", "--action", "redact",
               "--to-domain", "other.test"))
    data = card_message("untouched")
    assert send(g, data) is None
    sink.wait_count(1)
    got = sink.messages[0].data
    assert got.endswith(data.split(b"\r\n\r\n", 1)[1])
    assert b"caf=E9: 5555-5555-=" in got and b"Subject: untouched" in got
    out = g.gwctl("policy", "test", "-", "--to", "a@other.test",
                  input=data.decode()).stdout
    assert "decision: deliver redacted" in out
    assert SSN not in out
