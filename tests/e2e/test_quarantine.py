"""Content policy (issue 11), its next part: a client cannot forge the
X-GW-Policy: verdict; content-policy refusals counted under their own
metrics reason; the quarantine action (250, kept in the queue, never
delivered until `gwctl quarantine release`, deleted with a reason or
after policy.quarantine_days, surviving kill -9).  Real parts: smtplib
submissions through the real gwd to an aiosmtpd sink.
"""
import json
import os
import random
import smtplib
import sqlite3

from email.message import EmailMessage
from email.policy import SMTP

from conftest import (client_tls_context, control_stats, free_port,
                      smarthost, wait_for)

CARD = "4111 1111 1111 1111"


def message(subject, body="nothing to see\n", extra=()):
    m = EmailMessage()
    m["From"] = "app@example.com"
    m["To"] = "user@dest.test"
    m["Subject"] = subject
    for k, v in extra:
        m[k] = v
    m.set_content(body)
    return m.as_bytes(policy=SMTP)


def send(g, data, to="user@dest.test"):
    """Submit data: None on 250, else (code, text)."""
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=60) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        try:
            s.sendmail("app@example.com", [to], data)
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()
    return None


def start(gw_factory, sink, *policies, **kw):
    g = gw_factory(relay=smarthost(sink), **kw).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    for p in policies:
        g.gwctl("policy", "add", *p)
    wait_for(lambda: "content policies loaded: %d" % len(policies)
             in g.logtext(), what="the content policies loaded")
    return g


def by_subject(sink):
    out = {}
    for r in sink.messages:
        for line in r.data.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                out[line[9:].decode()] = r.data
                break
    return out


def policy_fields(data):
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return [l for l in head.split(b"\r\n") if l.startswith(b"x-gw-policy:")]


def test_client_cannot_forge_the_verdict(gw_factory, sink):
    """X-GW-Policy: fields the client wrote are removed, whether a policy
    then tags the message, scans it and lets it go, or none applies."""
    g = start(gw_factory, sink, ("pci", "--detector", "card", "--action",
                                 "tag", "--to-domain", "dest.test"))
    forged = [("X-GW-Policy", "none"), ("x-gw-policy", "clean, verified")]
    assert send(g, message("tagged", "card %s\n" % CARD, forged)) is None
    assert send(g, message("scanned", extra=forged)) is None
    assert send(g, message("unscanned", extra=forged),
                to="user@other.test") is None
    sink.wait_count(3)
    got = by_subject(sink)
    assert policy_fields(got["tagged"]) == [b"x-gw-policy: pci"]
    assert policy_fields(got["scanned"]) == []
    assert policy_fields(got["unscanned"]) == []


def test_refusals_counted_as_content_policy(gw_factory, sink):
    from test_metrics import prometheus, rejections
    port = free_port()
    g = start(gw_factory, sink, ("pci", "--detector", "card", "--action",
                                 "block"),
              extra='metrics = { listen = "127.0.0.1:%d"; };' % port)
    code, text = send(g, message("blocked", "card %s\n" % CARD))
    assert code == 550 and "content policy pci" in text
    rej = rejections(prometheus(port))
    assert rej["data", "content_policy"] == 1
    assert rej["data", "policy"] == 0 and rej["data", "storage"] == 0


def quarantined(g, *args):
    out = g.gwctl("quarantine", "list", "--format", "json", *args).stdout
    return [json.loads(l) for l in out.splitlines()]


def test_quarantine_release_and_delete(gw_factory, sink):
    g = start(gw_factory, sink, ("pci", "--detector", "card", "--action",
                                 "quarantine"),
              ("memo", "--detector", "regex:(?i)memo (a|b)", "--action",
               "quarantine"))
    assert send(g, message("memo", "see Memo b\n")) is None
    memo = quarantined(g)[0]
    assert memo["policy"] == "memo (regex:(?i)memo (a|b))"
    g.gwctl("quarantine", "delete", memo["queue_id"], "--reason", "x")
    assert send(g, message("q1", "card %s\n" % CARD)) is None
    assert send(g, message("q2", "card %s\n" % CARD)) is None
    assert send(g, message("clean")) is None
    sink.wait_count(1)
    rows = quarantined(g)
    assert [r["policy"] for r in rows] == ["pci (card)"] * 2
    assert quarantined(g, "--subaccount", "nobody") == []
    q1, q2 = rows[0]["queue_id"], rows[1]["queue_id"]
    table = g.gwctl("quarantine", "list").stdout
    assert q1 in table and "2 messages quarantined" in table
    ev = g.events("action = 'quarantined' AND qid = ?", (q1,))
    assert len(ev) == 1 and "content policy pci (card)" in ev[0]["detail"]
    # The verdict, masked; never the number.
    out = g.gwctl("quarantine", "show", q1).stdout
    assert "quarantined by a content policy" in out
    assert "fired=pci(quarantine)" in out and "4111 **** **** 1111" in out
    assert CARD not in out
    # Queue listing marks it held; a queue id not quarantined is refused.
    assert "quarantined" in g.gwctl("queue", "show", q1).stdout

    r = g.gwctl("quarantine", "release", q1)
    assert "released 1 message" in r.stderr
    sink.wait_count(2)
    assert "q1" in by_subject(sink)
    assert "released from quarantine" in \
        g.events("action = 'released'")[0]["detail"]
    r = g.gwctl("quarantine", "show", q1, check=False)
    assert r.returncode == 65 and "not quarantined" in r.stderr

    r = g.gwctl("quarantine", "delete", q2, check=False)
    assert r.returncode == 64 and "--reason" in r.stderr
    r = g.gwctl("quarantine", "delete", q2, "--reason", "a test card")
    assert "deleted 1 message" in r.stderr
    d = g.events("action = 'deleted' AND qid = ?", (q2,))
    assert len(d) == 1
    assert d[0]["detail"] == ("deleted from quarantine without delivery: "
                              "a test card")
    assert quarantined(g) == []
    assert g.queue_count() == 0
    assert "q2" not in by_subject(sink)


def test_quarantine_only_touches_quarantined(gw_factory, sink):
    """A message an admin holds is not the quarantine's to release or
    delete."""
    g = start(gw_factory, sink, ("pci", "--detector", "card", "--action",
                                 "quarantine"),
              settings={"relay.port": free_port()})      # nothing listens
    assert send(g, message("plain")) is None
    qid = g.events("action = 'received'")[0]["qid"]
    g.gwctl("queue", "hold", qid)
    r = g.gwctl("quarantine", "release", qid)
    assert "not quarantined" in r.stderr and "released 0" in r.stderr
    r = g.gwctl("quarantine", "delete", qid, "--reason", "x")
    assert "not quarantined" in r.stderr
    assert g.queue_count() == 1


def test_quarantine_survives_kill9(gw_factory, sink):
    g = start(gw_factory, sink, ("pci", "--detector", "card", "--action",
                                 "quarantine"))
    assert send(g, message("kept", "card %s\n" % CARD)) is None
    g.kill9()
    g.start()
    rows = quarantined(g)
    assert len(rows) == 1
    st = control_stats(g)
    assert st["queue_quarantined_messages"] == 1
    assert st["queue_held_messages"] == 1
    assert send(g, message("clean")) is None
    sink.wait_count(1)
    assert list(by_subject(sink)) == ["clean"]
    g.gwctl("quarantine", "release", rows[0]["queue_id"])
    sink.wait_count(2)
    assert "kept" in by_subject(sink)
    assert control_stats(g)["queue_quarantined_messages"] == 0


def test_quarantine_retention(gw_factory, sink):
    """Past policy.quarantine_days a quarantined message is deleted, with
    an event saying why; a younger one stays."""
    g = start(gw_factory, sink, ("pci", "--detector", "card", "--action",
                                 "quarantine"),
              settings={"policy.quarantine_days": 2})
    assert send(g, message("old", "card %s\n" % CARD)) is None
    assert send(g, message("young", "card %s\n" % CARD)) is None
    old, young = [r["queue_id"] for r in quarantined(g)]
    g.stop()
    # As if it had arrived three days ago.
    with sqlite3.connect(os.path.join(g.state, "queue.db")) as c:
        c.execute("UPDATE message SET received = received - ? WHERE qid = ?",
                  (3 * 86400 * 1000000, old))
    g.start()
    wait_for(lambda: g.events("action = 'deleted'"),
             what="the old quarantined message deleted")
    d = g.events("action = 'deleted'")
    assert [e["qid"] for e in d] == [old]
    assert "kept 2 days (policy.quarantine_days)" in d[0]["detail"]
    assert [r["queue_id"] for r in quarantined(g)] == [young]


# --------------------------------------------------------------------------
# Attachment rules: by type, double extension, macro-enabled Office type,
# size and encrypted archive, each as the policy's action says.

def with_attachment(subject, name, data, ctype="application/octet-stream"):
    m = EmailMessage()
    m["From"] = "app@example.com"
    m["To"] = "user@dest.test"
    m["Subject"] = subject
    m.set_content("see attached\n")
    main, sub = ctype.split("/")
    m.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return m.as_bytes(policy=SMTP)


def pe32():
    """The headers of a 32-bit Windows executable (MZ, then PE at 0x80),
    enough for libmagic to name it."""
    h = bytearray(0x200)
    h[0:2] = b"MZ"
    h[0x3c] = 0x80                      # e_lfanew
    h[0x80:0x84] = b"PE\0\0"
    h[0x84:0x86] = b"\x4c\x01"           # i386
    h[0x94:0x96] = b"\xe0\x00"           # optional header size
    h[0x96:0x98] = b"\x02\x01"           # executable image
    h[0x98:0x9a] = b"\x0b\x01"           # PE32
    return bytes(h)


PE = pe32()

# 200K of bytes that name no type: libmagic calls them
# application/octet-stream.  Not os.urandom: about one random buffer in
# a hundred starts like something (MZ is an executable to libmagic, and
# the attachment:exec policy then refuses the message), so the test
# flaked.  A fixed seed gives the same bytes on every run.
BLOB = random.Random(20261207).randbytes(200 * 1024)


def encrypted_zip(tmp_path):
    """A zip made by Info-ZIP's zip with a password (zip -e -P)."""
    import subprocess
    src = tmp_path / "secret.txt"
    src.write_text("the plans\n")
    out = tmp_path / "plans.zip"
    subprocess.run(["zip", "-q", "-j", "-P", "hunter2", str(out), str(src)],
                   check=True)
    plain = tmp_path / "open.zip"
    subprocess.run(["zip", "-q", "-j", str(plain), str(src)], check=True)
    return out.read_bytes(), plain.read_bytes()


def test_attachment_rules(gw_factory, sink, tmp_path):
    g = start(gw_factory, sink,
              ("exe", "--detector", "attachment:exec", "--action", "block"),
              ("disguised", "--detector", "attachment:double-ext",
               "--action", "block"),
              ("macros", "--detector", "attachment:macro", "--action",
               "quarantine"),
              ("locked", "--detector", "attachment:encrypted", "--action",
               "quarantine"),
              ("big", "--detector", "attachment:size>100K", "--action",
               "tag"))
    secret, plain = encrypted_zip(tmp_path)
    # An executable under any name: refused, naming the policy.
    code, text = send(g, with_attachment("pe", "tool.exe", PE))
    assert code == 550 and "content policy exe" in text
    code, text = send(g, with_attachment("renamed", "report.pdf", PE,
                                         "application/pdf"))
    assert code == 550 and "content policy exe" in text
    # A document extension in front of an executable one: both fire; the
    # first blocking policy is named.
    code, text = send(g, with_attachment("double", "invoice.pdf.exe", PE))
    assert code == 550 and "content policy exe" in text
    def disguised():
        return [e for e in g.events("action = 'scanned'")
                if "disguised(block)" in e["detail"]]
    wait_for(disguised, what="the refusal's scanned event")
    assert "attachment:double-ext@2:invoice.pdf.exe" in \
        disguised()[0]["detail"]
    # Quarantined: a macro-enabled workbook, an encrypted zip.
    assert send(g, with_attachment("macro", "budget.xlsm",
                                   b"PK\3\4" + b"\0" * 100)) is None
    assert send(g, with_attachment("locked", "plans.zip", secret,
                                   "application/zip")) is None
    # Delivered: an open zip; a big attachment, tagged.
    assert send(g, with_attachment("open", "open.zip", plain,
                                   "application/zip")) is None
    assert send(g, with_attachment("big", "data.bin",
                                   BLOB)) is None
    sink.wait_count(2)
    got = by_subject(sink)
    assert sorted(got) == ["big", "open"]
    assert policy_fields(got["big"]) == [b"x-gw-policy: big"]
    assert sorted(r["policy"] for r in quarantined(g)) == [
        "locked (attachment:encrypted)", "macros (attachment:macro)"]
    # gwctl policy test says the same, and why.
    path = tmp_path / "locked.eml"
    path.write_bytes(with_attachment("locked", "plans.zip", secret,
                                     "application/zip"))
    out = g.gwctl("policy", "test", str(path)).stdout
    assert "policy locked (attachment:encrypted" in out
    assert "decision: quarantine" in out and "plans.zip" in out
    r = g.gwctl("policy", "add", "x", "--detector", "attachment:exe",
                "--action", "block", check=False)
    assert r.returncode != 0 and "unknown attachment rule" in r.stderr


def test_gwsearch_by_policy(gw_factory, sink):
    """gwsearch policy:NAME finds the messages a policy fired on (each
    with its whole life), whatever it did; a policy whose name another's
    ends with is not confused with it; action: is status:."""
    g = start(gw_factory, sink,
              ("pci", "--detector", "card", "--action", "quarantine"),
              ("xpci", "--detector", "keywords:invoice", "--action", "tag"),
              ("hr", "--detector", "ssn", "--action", "block"))
    assert send(g, message("card", "card %s\n" % CARD)) is None
    assert send(g, message("invoice", "the invoice\n")) is None
    assert send(g, message("ssn", "ssn 123-45-6789\n"))[0] == 550
    assert send(g, message("clean")) is None
    sink.wait_count(2)
    wait_for(lambda: len(g.events("action = 'scanned'")) == 4,
             what="four scanned events")

    def found(*terms):
        r = g.tool("gwsearch", *terms, "--format", "jsonl", check=False)
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        return {(e["email"]["local_id"], e["event"]["action"])
                for e in rows}

    pci = found("policy:pci")
    qid = g.events("action = 'quarantined'")[0]["qid"]
    assert {a for q, a in pci} >= {"received", "scanned", "quarantined"}
    assert {q for q, a in pci} == {qid}
    assert {q for q, a in found("--policy", "xpci")} == \
        {e["qid"] for e in g.events("action = 'scanned'")
         if "xpci(tag)" in e["detail"]}
    assert ("scanned" in {a for q, a in found("policy:hr")})
    assert found("policy:nope") == set()
    assert {q for q, a in found("action:quarantined")} == {qid}
