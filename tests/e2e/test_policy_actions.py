"""Content policy actions (issue 11), their last part: redact (the values
replaced in base64 and quoted-printable text parts and in HTML, the MIME
valid, DKIM still verifying with dkimpy).  Real parts: smtplib submissions
through the real gwd to an aiosmtpd sink, messages made with Python's
email package, the delivered ones parsed by it again.
"""
import email
import json
import re
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP

from conftest import client_tls_context, free_port, wait_for
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


def test_redact_subject_encoded_word(gw_factory, dns, sink):
    """The Subject is redacted too: its encoded words (RFC 2047) decoded
    before the scan, the redacted subject encoded again; a value only in
    the subject is replaced as well (it counted for the policy), and
    DKIM, signing after the redaction, still verifies."""
    from email.header import Header, decode_header, make_header
    from test_dkim import activate, keygen, verify_dkimpy
    g = start(gw_factory, sink,
              ("pci", "--detector", "card", "--action", "redact"),
              dns=dns)
    keygen(g, dns, "example.com", "s1", "rsa")
    activate(g, "example.com", "s1")
    # Only the subject carries a card: before, the message went as it came.
    m = MIMEText("nothing to see here\n", "plain", "utf-8")
    m["From"] = "app@example.com"
    m["To"] = "user@dest.test"
    m["Subject"] = Header("Caf\xe9 card %s, ok" % CARD, "utf-8").encode()
    raw = m.as_bytes(policy=SMTP)
    assert b"=?utf-8?" in raw and CARD.encode() not in raw
    assert send(g, raw) is None
    # In a multipart message too, with a value in a part as well.
    assert send(g, card_message(
        Header("\u00fcber %s" % CARD2, "utf-8").encode())) is None
    sink.wait_count(2)
    want = ["Caf\xe9 card XXXX XXXX XXXX 1111, ok",
            "\u00fcber XXXX-XXXX-XXXX-4444"]
    for data, subject in zip((d.data for d in sink.messages), want):
        msg = email.message_from_bytes(data)
        got = str(make_header(decode_header(msg["Subject"])))
        assert got == subject, (got, data[:600])
        # Encoded again: no 8-bit byte in the header section.
        head = data.split(b"\r\n\r\n", 1)[0]
        assert all(b < 0x80 for b in head), head
        for secret in (CARD, CARD2):
            assert secret.encode() not in data
            assert digits(secret) not in digits(got)
        assert verify_dkimpy(data, dns) == [True]
    evs = g.events("action = 'scanned'")
    assert "redacted=1" in evs[-2]["detail"], evs[-2]["detail"]
    assert "redacted=4" in evs[-1]["detail"], evs[-1]["detail"]


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


# --------------------------------------------------------------------------
# notify, and the quarantine's admin notification

def plain(subject, body, to="user@dest.test"):
    m = MIMEText(body)
    m["From"] = "app@example.com"
    m["To"] = to
    m["Subject"] = subject
    return m.as_bytes(policy=SMTP)


def notices(sink, n):
    """The n notifications the sink got (null sender), by recipient."""
    wait_for(lambda: len([r for r in sink.messages if r.mail_from == ""])
             >= n, what="%d notifications" % n)
    return [r for r in sink.messages if r.mail_from == ""]


def assert_no_value(data, *values):
    """Not a value, not its digits, not its last four: nothing of it."""
    text = data.decode("utf-8", "replace")
    for v in values:
        assert v not in text
        assert digits(v) not in digits(text)
        assert digits(v)[-4:] not in text, (v, text)


def test_notify_summary_without_values(gw_factory, dns, sink):
    """notify sends the policy's address a summary: policies, detector
    counts, queue id, sender, recipients, subject (its card masked whole,
    also when written as an encoded word); the message itself goes on.
    The summary is signed with dsn_from's domain and verifies."""
    from test_dkim import activate, keygen, verify_dkimpy
    g = start(gw_factory, sink,
              ("watch", "--detector", "card", "--action", "notify",
               "--notify", "sec@corp.test"),
              ("hr", "--detector", "ssn", "--action", "tag", "--notify",
               "SEC@corp.test"),
              ("iban", "--detector", "iban", "--action", "notify",
               "--notify", "other@corp.test"),
              dns=dns, extra='dsn_from = "gw@example.com";')
    keygen(g, dns, "example.com", "s1", "rsa")
    activate(g, "example.com", "s1")
    subject = "=?utf-8?b?%s?=" % email.base64mime.body_encode(
        ("order %s" % CARD2).encode()).strip()
    assert send(g, plain(subject, "card %s and SSN %s\n" % (CARD, SSN)),
                to=("user@dest.test", "boss@dest.test")) is None
    n = notices(sink, 1)
    assert len(n) == 1 and n[0].rcpt_tos == ["sec@corp.test"]
    data = n[0].data
    qid = g.events("action = 'scanned'")[-1]["qid"]
    body = email.message_from_bytes(data).get_payload(decode=True).decode()
    assert b"From: Mail gateway <gw@example.com>" in data
    assert b"Auto-Submitted: auto-generated" in data
    assert ("Content policy: message %s tagged" % qid).encode() in data
    for want in ("Queue ID:    " + qid, "Sender:      app@example.com",
                 "Recipients:  user@dest.test\r\n             boss@dest.test",
                 "Subaccount:  app", "Subject:     order XXXX-XXXX-XXXX-XXXX",
                 "watch: card, at least 1, notify", "hr: ssn, at least 1, tag",
                 "card: 2", "ssn: 1", "iban: 0"):
        assert want in body, (want, body)
    assert "other@corp.test" not in body
    assert_no_value(data, CARD, CARD2, SSN)
    assert verify_dkimpy(data, dns) == [True]
    # The message itself went, tagged.
    sink.wait_count(2)
    orig = [r for r in sink.messages if r.mail_from][0]
    assert b"X-GW-Policy: hr" in orig.data
    rx = g.events("action = 'received' AND sender = ''")
    assert rx and ("notification about %s" % qid) in rx[0]["detail"]


def test_quarantine_tells_the_admin(gw_factory, sink):
    """A quarantine by a policy without --notify tells
    policy.admin_address; the message stays held (nothing else at the
    sink); the notification names the queue id and how to release it."""
    g = start(gw_factory, sink,
              ("pci", "--detector", "card", "--action", "quarantine"),
              settings={"policy.admin_address": "dlp-admin@corp.test"})
    assert send(g, plain("held", "card %s\n" % CARD)) is None
    n = notices(sink, 1)
    assert n[0].rcpt_tos == ["dlp-admin@corp.test"]
    qid = g.events("action = 'quarantined'")[0]["qid"]
    body = n[0].data.decode()
    assert "Decision:    quarantined" in body
    assert "gwctl quarantine release %s" % qid in body
    assert "pci: card, at least 1, quarantine" in body
    assert_no_value(n[0].data, CARD)
    assert len(sink.messages) == 1
    # Both in the same commit: the notification's received event and the
    # message's quarantined one are there together.
    assert g.events("action = 'received' AND sender = ''")
    # Released, the message goes as usual.
    g.gwctl("quarantine", "release", qid)
    sink.wait_count(2)


def test_quarantine_policy_address_and_block(gw_factory, sink):
    """The quarantining policy's own --notify wins over the admin
    address; a refused message's notification goes on its own; with no
    address anywhere, nothing is sent and the log says why."""
    g = start(gw_factory, sink,
              ("pci", "--detector", "card", "--action", "quarantine",
               "--notify", "pci-team@corp.test"),
              ("ssn", "--detector", "ssn", "--action", "block", "--notify",
               "hr@corp.test"),
              ("words", "--detector", "keywords:secret", "--action",
               "quarantine"),
              settings={"policy.admin_address": "dlp-admin@corp.test"})
    assert send(g, plain("q", "card %s\n" % CARD)) is None
    got = send(g, plain("b", "SSN %s\n" % SSN))
    assert got and got[0] == 550
    n = notices(sink, 2)
    by = {r.rcpt_tos[0]: r.data.decode() for r in n}
    assert set(by) == {"pci-team@corp.test", "hr@corp.test"}
    assert "Decision:    refused" in by["hr@corp.test"]
    assert_no_value(n[0].data + n[1].data, CARD, SSN)
    # no policy address, admin address unset: nobody is told.
    g.stop()
    g2 = start(gw_factory, sink, ("w", "--detector", "keywords:secret",
                                  "--action", "quarantine"))
    assert send(g2, plain("w", "top secret\n")) is None
    wait_for(lambda: "no one to notify" in g2.logtext(),
             what="the log saying nobody was told")
    assert len(notices(sink, 2)) == 2


def test_notify_needs_an_address(gw_factory, sink):
    g = gw_factory(relay=None)
    for args, why in (
            (["n", "--detector", "card", "--action", "notify"],
             "required with --action notify"),
            (["n", "--detector", "card", "--action", "tag", "--notify",
              "not an address"], "--notify"),):
        r = g.gwctl("policy", "add", *args, check=False)
        assert r.returncode == 64 and why in r.stderr, r.stderr
    g.gwctl("policy", "add", "n", "--detector", "card", "--action",
            "notify", "--notify", "A@Corp.test")
    row = __import__("json").loads(g.gwctl("policy", "list", "--format",
                                           "json").stdout)
    assert row["notify"] == "A@corp.test" and row["action"] == "notify"
    r = g.tool("gwd", "-n", check=False)
    assert r.returncode == 0
    bad = gw_factory(relay=None, settings={"policy.admin_address": "x y"})
    r = bad.tool("gwd", "-n", check=False)
    assert r.returncode == 78 and "policy.admin_address" in r.stderr


# --------------------------------------------------------------------------
# gwctl policy move

def names(g):
    return [json.loads(l)["name"] for l in
            g.gwctl("policy", "list", "--format", "json").stdout.splitlines()]


def test_policy_move_order(gw_factory):
    g = gw_factory(relay=None)
    for n in ("a", "b", "c", "d"):
        g.gwctl("policy", "add", n, "--detector", "card", "--action", "tag")
    assert names(g) == ["a", "b", "c", "d"]
    for args, want in ((["d", "--before", "a"], "dabc"),
                       (["d", "--after", "c"], "abcd"),
                       (["a", "--after", "b"], "bacd"),
                       (["a", "--before", "b"], "abcd"),
                       (["b", "--position", "4"], "acdb"),
                       (["b", "--position", "1"], "bacd"),
                       (["c", "--after", "c2"], None),
                       (["c", "--before", "c"], None),
                       (["c", "--position", "5"], None),
                       (["c", "--position", "0"], None),
                       (["c"], None),
                       (["c", "--position", "1", "--after", "a"], None),
                       (["zz", "--position", "1"], None)):
        r = g.gwctl("policy", "move", *args, check=False)
        if want is None:
            assert r.returncode != 0 and r.stderr, args
            assert names(g) == list("bacd"), args   # nothing changed
        else:
            assert r.returncode == 0, (args, r.stderr)
            assert names(g) == list(want), args
    rows = [json.loads(l) for l in g.gwctl("policy", "list", "--format",
                                           "json").stdout.splitlines()]
    assert [r["position"] for r in rows] == [1, 2, 3, 4]
    assert g.gwctl("policy", "list").stdout.splitlines()[1].split()[:2] == \
        ["1", "b"]
    # A delete closes the gap: positions stay dense.
    g.gwctl("policy", "delete", "a")
    g.gwctl("policy", "add", "e", "--detector", "ssn", "--action", "tag")
    rows = [json.loads(l) for l in g.gwctl("policy", "list", "--format",
                                           "json").stdout.splitlines()]
    assert [(r["position"], r["name"]) for r in rows] == \
        [(1, "b"), (2, "c"), (3, "d"), (4, "e")]


def test_policy_move_reloads_gwd(gw_factory, sink):
    """Two blocking policies: the first in order names the refusal; after
    a move gwd (reloading like the routing rules) names the other."""
    g = start(gw_factory, sink,
              ("first", "--detector", "card", "--action", "block"),
              ("second", "--detector", "card", "--action", "block"))
    got = send(g, plain("m", "card %s\n" % CARD))
    assert got[0] == 550 and "content policy first" in got[1]
    g.gwctl("policy", "move", "second", "--before", "first")
    wait_for(lambda: "content policy second" in
             (send(g, plain("m", "card %s\n" % CARD)) or (0, ""))[1],
             what="gwd to apply the new order")


def test_notification_in_the_messages_commit(gw_factory):
    """The 250 of a quarantined message follows the commit that holds its
    admin notification too: killed -9 right after the 250 (nothing is
    delivered: the smarthost is down), gwd has both in queue.db, and
    after a restart the notification is still queued."""
    from test_quarantine import send as send1
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                          "port": free_port(), "tls": "none"},
                   settings={"policy.admin_address": "dlp-admin@corp.test"})
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("policy", "add", "pci", "--detector", "card", "--action",
            "quarantine")
    wait_for(lambda: "content policies loaded: 1" in g.logtext(),
             what="the policy loaded")
    assert send1(g, plain("held", "card %s\n" % CARD)) is None
    g.kill9()
    with g.db("queue.db") as db:
        rows = db.execute("SELECT m.sender, m.held, r.address FROM message m "
                          "JOIN recipient r ON r.message = m.id "
                          "ORDER BY m.id").fetchall()
    assert [tuple(r) for r in rows] == [
        ("app@example.com", 3, "user@dest.test"),
        ("", 0, "dlp-admin@corp.test")], rows
    g.start()
    out = g.gwctl("queue", "list", "--format", "json").stdout
    assert "dlp-admin@corp.test" in out
