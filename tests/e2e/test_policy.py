"""Content policy (issue 11): gwctl policy add/list/show/delete/test on a
MIME corpus made with Python's email package (base64 and quoted-printable
parts, ISO-8859-1, Shift_JIS and UTF-16 text, HTML-only mail, a nested
message/rfc822, an attachment whose extension lies), then the same
policies enforced by the real gwd: block (the client sees 550 5.7.1) and
tag (the sink gets X-GW-Policy: and DKIM still verifies).
"""
import json
import os
import smtplib
import sqlite3

import pytest
from email.message import EmailMessage
from email.policy import SMTP
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

from conftest import client_tls_context, control_stats, smarthost, wait_for
from test_dkim import activate, keygen, verify_dkimpy

CARD = "4111 1111 1111 1111"
CARD2 = "5555555555554444"
SSN = "123-45-6789"
PCI_BLOCK = ("pci", "--detector", "card", "--action", "block")


def headers(m, frm="app@example.com", to="user@dest.test", subject="t"):
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    return m


def corpus():
    """name -> (bytes, what the walk must find)."""
    c = {}
    m = MIMEText("caf\xe9, card %s\n" % CARD, "plain", "iso-8859-1")
    m.replace_header("Content-Transfer-Encoding", "quoted-printable")
    m.set_payload("caf=E9, card 4111=\n 1111 1111 1111\n")
    c["latin1-qp"] = headers(m, subject="latin1")
    c["shift-jis"] = headers(MIMEText("\u30ab\u30fc\u30c9 %s\n" % CARD2,
                                      "plain", "shift_jis"), subject="sjis")
    c["utf-16"] = headers(MIMEText("SSN %s\n" % SSN, "plain", "utf-16"),
                          subject="utf16")
    c["html-only"] = headers(MIMEText(
        "<html><body><p>card&#32;4111&nbsp;1111<b> 1111</b> 1111</p>"
        "</body></html>", "html", "utf-8"), subject="html")
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("forwarded: %s\n" % CARD)
    outer = MIMEMultipart()
    outer.attach(MIMEText("see attached\n"))
    outer.attach(MIMEMessage(inner))
    c["nested"] = headers(outer, subject="nested")
    lying = MIMEMultipart()
    lying.attach(MIMEText("the report\n"))
    att = MIMEApplication(("name,card\nbob,%s\n" % CARD2).encode(),
                          "octet-stream", Name="report.pdf")
    att["Content-Disposition"] = 'attachment; filename="report.pdf"'
    lying.attach(att)
    c["lying-attachment"] = headers(lying, subject="lying")
    c["clean"] = headers(MIMEText("nothing to see, order 2026-118\n"),
                         subject="clean")
    return {k: v.as_bytes(policy=SMTP) for k, v in c.items()}


@pytest.fixture
def gw(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink))
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def write(gw, name, data):
    p = os.path.join(gw.dir, name + ".eml")
    with open(p, "wb") as f:
        f.write(data)
    return p


def test_policy_admin(gw):
    gw.gwctl("policy", "add", *PCI_BLOCK)
    gw.gwctl("policy", "add", "hr", "--detector", "ssn", "--min", "2",
             "--action", "tag", "--subaccount", "app", "--to-domain",
             "*.test")
    gw.gwctl("policy", "add", "words", "--detector",
             "keywords:confidential,top secret", "--action", "tag")
    out = gw.gwctl("policy", "list").stdout
    assert out.splitlines()[0].split() == ["POS", "NAME", "DETECTOR", "MIN",
                                           "ACTION", "NOTIFY", "APPLIES",
                                           "TO"]
    assert "subaccount=app to=*.test" in out
    rows = [json.loads(l) for l in
            gw.gwctl("policy", "list", "--format", "json").stdout.splitlines()]
    assert [r["name"] for r in rows] == ["pci", "hr", "words"]
    assert rows[1]["min"] == 2 and rows[1]["action"] == "tag"
    assert "hr" in gw.gwctl("policy", "show", "hr").stdout
    # Refused: each says why, nothing is written.
    for args, why in (
            (["pci", "--detector", "card", "--action", "block"], "exists"),
            (["x", "--detector", "cards", "--action", "block"],
             "unknown detector"),
            (["x", "--detector", "regex:(", "--action", "block"], "regex:("),
            (["x", "--detector", "card", "--action", "discard"],
             "block, quarantine, redact, tag or notify"),
            (["x", "--detector", "attachment:exec", "--action", "redact"],
             "cannot be redacted"),
            (["x", "--detector", "uribl", "--action", "redact"],
             "blocklisted URL cannot be redacted"),
            (["x", "--detector", "card", "--action", "tag", "--min", "0"],
             "--min"),
            (["x y", "--detector", "card", "--action", "tag"], "NAME"),
            (["x", "--detector", "card", "--action", "tag", "--subaccount",
              "nobody"], "nobody")):
        r = gw.gwctl("policy", "add", *args, check=False)
        assert r.returncode != 0 and why in r.stderr, (args, r.stderr)
    assert len(gw.gwctl("policy", "list", "--format", "json")
               .stdout.splitlines()) == 3
    gw.gwctl("policy", "delete", "words")
    r = gw.gwctl("policy", "delete", "words", check=False)
    assert r.returncode == 67 and "no policy" in r.stderr
    r = gw.gwctl("policy", "show", "words", check=False)
    assert r.returncode == 67


@pytest.mark.parametrize("name,fires", [
    ("latin1-qp", "pci"), ("shift-jis", "pci"), ("utf-16", "ssn1"),
    ("html-only", "pci"), ("nested", "pci"), ("lying-attachment", "pci"),
    ("clean", None)])
def test_policy_test_corpus(gw, name, fires):
    gw.gwctl("policy", "add", *PCI_BLOCK)
    gw.gwctl("policy", "add", "ssn1", "--detector", "ssn", "--action", "tag")
    path = write(gw, name, corpus()[name])
    out = gw.gwctl("policy", "test", path, "--subaccount", "app").stdout
    assert "nothing was sent" in out
    for p in ("pci", "ssn1"):
        assert ("policy %s (" % p) in out
        line = [l for l in out.splitlines() if l.startswith("policy %s " % p)][0]
        assert ("fires" in line and "does not" not in line) == (p == fires), out
    # Matches are masked, never shown whole.
    assert CARD not in out and CARD2 not in out and SSN not in out
    if fires == "pci":
        assert "decision: block (550 5.7.1" in out
        assert ("4111 **** **** 1111" in out or "5555********4444" in out
                or "4111 **** **** 1111" in out)
    if fires == "ssn1":
        assert "***-**-6789" in out and "X-GW-Policy" in out
    if name == "lying-attachment":
        assert ('"report.pdf" declared application/octet-stream, content '
                'text/plain') in out
    if name == "nested":
        assert "part 2.1" in out


def test_policy_test_conditions(gw):
    gw.gwctl("policy", "add", "pci", "--detector", "card", "--min", "2",
             "--action", "block", "--to-domain", "partner.test")
    path = write(gw, "two", headers(MIMEText("%s and %s\n" % (CARD, CARD2)))
                 .as_bytes(policy=SMTP))
    out = gw.gwctl("policy", "test", path).stdout
    assert "does not apply" in out and "decision: deliver" in out
    out = gw.gwctl("policy", "test", path, "--to", "a@partner.test").stdout
    assert "fires, 2 found" in out and "decision: block" in out
    r = gw.gwctl("policy", "test", os.path.join(gw.dir, "none.eml"),
                 check=False)
    assert r.returncode == 66


# --------------------------------------------------------------------------
# The same policies in the real gwd, to the sink.

def send(g, data, frm="app@example.com", to="user@dest.test"):
    """Submit data; None on 250, else (code, reply text)."""
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=60) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        try:
            s.sendmail(frm, [to], data)
        except smtplib.SMTPDataError as e:
            # The refusal resets the transaction: the next message goes.
            s.sendmail(frm, [to], corpus()["clean"])
            return e.smtp_code, e.smtp_error.decode()
    return None


def policies(g, n):
    wait_for(lambda: "content policies loaded: %d" % n in g.logtext(),
             what="gwd to load %d content policies" % n)


def scanned(g):
    return g.events("action = 'scanned'")


def started(gw_factory, sink, *adds, dns=None):
    """A running gwd relaying to sink, with subaccount app, the content
    policies adds (each the arguments of a `gwctl policy add`) loaded,
    and, given dns, an active DKIM key for example.com."""
    g = gw_factory(relay=smarthost(sink), dns=dns).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    if dns is not None:
        keygen(g, dns, "example.com", "s1", "rsa")
        activate(g, "example.com", "s1")
    for args in adds:
        g.gwctl("policy", "add", *args)
    policies(g, len(adds))
    return g


def by_subject(sink):
    """The messages the sink got, by their Subject."""
    by = {}
    for r in sink.messages:
        subj = [l for l in r.data.split(b"\r\n") if l.startswith(b"Subject:")]
        by[subj[0].split(b": ", 1)[1].decode()] = r.data
    return by


def test_block_refuses_with_550(gw_factory, sink):
    g = started(gw_factory, sink, PCI_BLOCK)
    c = corpus()
    for name in ("lying-attachment", "html-only", "nested", "shift-jis"):
        code, text = send(g, c[name])
        assert code == 550 and text.startswith("5.7.1 "), text
        assert "content policy pci" in text
        assert CARD not in text and "4111" not in text
    sink.wait_count(4)               # the clean ones sent after each refusal
    assert all(b"Subject: clean" in m.data for m in sink.messages)
    ev = scanned(g)
    blocked = [e for e in ev if "fired=pci(block)" in e["detail"]]
    assert len(blocked) == 4
    assert any("4111 **** **** 1111" in e["detail"] for e in blocked)
    for e in ev:
        assert CARD not in e["detail"] and CARD2 not in e["detail"]
    rej = g.events("action = 'rejected'")
    assert len(rej) == 4 and all(e["reply_code"] == 550 and
                                 e["reply_status"] == "5.7.1" for e in rej)
    # Nothing of a refused message is queued or logged as received.
    assert len(g.events("action = 'received'")) == 4
    # gwsearch finds the decisions (with the rest of each message's life).
    r = g.tool("gwsearch", "status:scanned", "--format", "jsonl")
    acts = [json.loads(l)["event"]["action"] for l in r.stdout.splitlines()]
    assert acts.count("scanned") == 8 and acts.count("rejected") == 4


def test_tag_header_and_dkim(gw_factory, dns, sink, tmp_path):
    g = started(gw_factory, sink,
                ("hr", "--detector", "ssn", "--action", "tag"),
                ("pci", "--detector", "card", "--action", "tag",
                 "--to-domain", "dest.test"),
                ("other", "--detector", "card", "--action", "block",
                 "--to-domain", "elsewhere.test"), dns=dns)
    c = corpus()
    assert send(g, c["utf-16"]) is None
    assert send(g, c["latin1-qp"]) is None
    assert send(g, c["clean"]) is None
    sink.wait_count(3)
    by = by_subject(sink)
    assert b"\r\nX-GW-Policy: hr\r\n" in b"\r\n" + by["utf16"]
    assert b"\r\nX-GW-Policy: pci\r\n" in b"\r\n" + by["latin1"]
    assert b"X-GW-Policy" not in by["clean"]
    for subj in ("utf16", "latin1", "clean"):
        assert verify_dkimpy(by[subj], dns) == [True], subj
    ev = scanned(g)
    assert any("fired=hr(tag)" in e["detail"] and "***-**-6789" in e["detail"]
               for e in ev)
    assert all(SSN not in e["detail"] for e in ev)


def hostile():
    """name -> (message bytes, what the scanned event says was unread)."""
    top = b"From: app@example.com\r\nTo: user@dest.test\r\n"
    many = [top + b"Subject: many\r\nContent-Type: multipart/mixed; "
            b"boundary=b\r\n\r\n"]
    many += [b"--b\r\nContent-Type: text/plain\r\n\r\n%d\r\n" % i
             for i in range(10000)]
    many.append(b"--b--\r\n")
    deep = top + b"Subject: deep\r\n"
    for i in range(100):
        deep += (b"Content-Type: multipart/mixed; boundary=d%d\r\n\r\n"
                 b"--d%d\r\n" % (i, i))
    deep += b"Content-Type: text/plain\r\n\r\n" + CARD.encode() + b"\r\n"
    nested = top + b"Subject: nested-deep\r\n" + \
        b"Content-Type: message/rfc822\r\n\r\n" * 100 + b"\r\nx\r\n"
    return {
        "many-parts": (b"".join(many), "unread=parts"),
        "deep-multipart": (deep, None),
        "deep-rfc822": (nested, "unread=deep"),
        "broken-base64": (top + b"Subject: b64\r\nContent-Type: text/plain"
                          b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                          b"NDExM=S*!!AxMT\r\n====\r\nZ\r\n", None),
        "long-header": (top + b"Subject: long\r\nX-Long: " + b"a" * 900 +
                        b"\r\n" + b"\tb\r\n" * 50000 + b"\r\nbody\r\n", None),
        "bad-charset": (top + b"Subject: cs\r\nContent-Type: text/plain; "
                        b"charset=x-no-such\r\n\r\n\xff\xfe card " +
                        CARD.encode() + b"\r\n", "unread=charset"),
    }


def test_hostile_input_gets_a_decision(gw_factory, sink):
    """Each hostile message is decided (250 or 550), the scan notes what
    it did not read, and the loop keeps serving another client."""
    from conftest import Raw
    g = started(gw_factory, sink, PCI_BLOCK)
    for name, (data, unread) in hostile().items():
        other = Raw(g.ports["submission"])
        try:
            got = send(g, data)
            # Served while (or after) the scan ran on its worker.
            assert other.reply()[0] == 220
            assert other.cmd("EHLO other.test")[0] == 250
        finally:
            other.close()
        assert got is None or got[0] == 550, (name, got)
        if name in ("deep-multipart", "bad-charset"):
            assert got and got[0] == 550, name    # the card was read
        ev = scanned(g)[-1 if got is None else -2]
        if unread:
            assert unread in ev["detail"], (name, ev["detail"])


def test_client_gone_during_scan(gw_factory, sink):
    """The client hangs up right after the final dot: a blocked message is
    still logged as refused, a clean one is still queued and delivered,
    and gwd carries on."""
    from conftest import Raw, login
    g = started(gw_factory, sink, PCI_BLOCK)
    big = hostile()["many-parts"][0]
    for data in (big.replace(b"\r\n9999\r\n", b"\r\n%s\r\n" % CARD.encode())
                 .replace(b"Subject: many", b"Subject: gone-clean"),
                 corpus()["html-only"]):
        raw = Raw(g.ports["submission"])
        raw.reply()
        assert login(raw, "app", "s3cret-pass")[0] == 235
        assert raw.cmd("MAIL FROM:<app@example.com>")[0] == 250
        assert raw.cmd("RCPT TO:<user@dest.test>")[0] == 250
        assert raw.cmd("DATA")[0] == 354
        raw.send(data + b".\r\n")
        raw.close()
    # The card in part 10 000 is past the parts read: that one goes.
    wait_for(lambda: len(g.events("action = 'rejected'")) == 1,
             what="the refusal logged")
    sink.wait_count(1)
    assert b"Subject: gone-clean" in sink.messages[0].data
    assert send(g, corpus()["clean"]) is None


def test_scan_and_sign_in_one_hop(gw_factory, dns, sink):
    """With a DKIM key, a message the policies leave as it came is
    hashed for signing by the content scan's own worker: the signatures
    still verify, for a multipart message, a small plain one, and a
    quarantined one after its release; a tagged one is signed after
    its header."""
    g = started(gw_factory, sink,
                ("pci", "--detector", "card", "--action", "quarantine"),
                ("hr", "--detector", "ssn", "--action", "tag"), dns=dns)
    mixed = MIMEMultipart()
    mixed.attach(MIMEText("the minutes\n"))
    mixed.attach(MIMEText("<p>and the agenda</p>", "html", "utf-8"))
    c = corpus()
    assert send(g, headers(mixed, subject="multipart")
                .as_bytes(policy=SMTP)) is None
    assert send(g, c["clean"]) is None
    assert send(g, c["utf-16"]) is None                     # tagged
    assert send(g, c["lying-attachment"]) is None           # quarantined
    sink.wait_count(3)
    qid = g.events("action = 'quarantined'")[0]["qid"]
    g.gwctl("quarantine", "release", qid)
    sink.wait_count(4)
    by = by_subject(sink)
    assert b"\r\nX-GW-Policy: hr\r\n" in b"\r\n" + by["utf16"]
    for subj in ("multipart", "clean", "utf16", "lying"):
        assert verify_dkimpy(by[subj], dns) == [True], subj
