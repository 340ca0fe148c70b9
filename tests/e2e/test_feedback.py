"""The feedback loop, end to end (issue 12): gwd delivers with a VERP
return path to a real sink (and to a real Postfix that accepts, then
bounces and sends its DSN back); bounces and abuse reports built from
RFC 3464 and RFC 5965's examples (and one in the shape a large provider
sends) come back by smtplib or swaks to the feedback listener; gwd
records them as events, suppresses the recipient, counts the complaint
rate (gwtop, /metrics, gwsearch) and pauses a subaccount over the
threshold.  Forged and unmatched reports change nothing; the listener
relays nothing."""
import hashlib
import hmac
import json
import os
import re
import shutil
import smtplib
import sqlite3
import subprocess
import tempfile
import urllib.request

import pytest

import postfix_instance
from conftest import (Raw, client_tls_context, free_port, smarthost,
                      wait_for)

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "feedback")
BOUNCE_DOMAIN = "bounces.example.com"
OTHER_BOUNCE_DOMAIN = "bounces.other.example"


def send(gw, rcpts, frm="app@example.com", user="app", password="s3cret-pass",
         subject="t", message_id=None):
    hdr = "From: %s\r\nTo: %s\r\nSubject: %s\r\n" % (frm, ", ".join(rcpts),
                                                      subject)
    if message_id:
        hdr += "Message-ID: %s\r\n" % message_id
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login(user, password)
        return s.sendmail(frm, rcpts, (hdr + "\r\nbody\r\n").encode())


def report(gw, rcpt, data, mail_from=""):
    """One report to the feedback listener, as an MTA sends it."""
    with smtplib.SMTP("127.0.0.1", gw.ports["feedback"], timeout=10) as s:
        s.ehlo("mx.example.org")
        # A str: smtplib ends its lines in CRLF, as the wire wants.
        return s.sendmail(mail_from, [rcpt], data)


def swaks_report(gw, rcpt, data, mail_from=""):
    """One report through swaks (the issue's client for the feedback
    port): STARTTLS, the null sender by default."""
    with tempfile.NamedTemporaryFile("w", suffix=".eml") as f:
        # swaks ends DATA with CRLF "." CRLF after the text, and writes
        # each line ending as CRLF.
        f.write(data.rstrip("\r\n"))
        f.flush()
        r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" %
                            gw.ports["feedback"], "--tls", "--ehlo",
                            "mx.example.org", "--from", mail_from or "<>",
                            "--to", rcpt, "--data", "@" + f.name],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    # After STARTTLS ("~>"), the sender as given.
    assert re.search(r"(?m)^ ~> MAIL FROM:<%s>$" % re.escape(mail_from),
                     r.stdout), r.stdout
    return r.stdout


def template(name, **subst):
    with open(os.path.join(DATA, name), newline="") as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace(k, v)
    return text


def delivered_from(sink, n):
    """The envelope sender of the sink's n-th message."""
    sink.wait_count(n + 1)
    return sink.messages[n].mail_from


def verp_key(gw):
    with gw.db("gw.db") as c:
        return c.execute("SELECT key FROM hmac_key WHERE purpose = 'verp'"
                         ).fetchone()[0]


def verp(key, qid, idx, domain):
    """The token as common/verp.c makes it, from the key in gw.db."""
    mac = hmac.new(key, ("%s:%d:%s" % (qid.upper(), idx, domain.lower())
                         ).encode(), hashlib.sha256).hexdigest()[:16]
    return "b-%s-%x-%s@%s" % (qid, idx, mac, domain)


def dsn(final, verp_to, qid="0005E0A1B2C3D400", status="5.1.1",
        diag="550 5.1.1 <%s>: Recipient address rejected: User unknown"):
    """A Postfix DSN for final, sent back to verp_to."""
    text = template("dsn_postfix.eml")
    text = text.replace("nobody@example.org", final).replace(
        "Nobody@example.org", final)
    text = text.replace(
        "b-0005E0A1B2C3D400-1-fedcba9876543210@bounces.example.com", verp_to)
    text = text.replace("0005E0A1B2C3D400", qid)
    text = text.replace("Status: 5.1.1", "Status: " + status)
    return text


def arf_provider(orig_mail_from, rcpt, qid, message_id):
    text = template("arf_provider.eml")
    text = text.replace(
        "b-0005E0A1B2C3D400-0-0123456789abcdef@bounces.example.com",
        orig_mail_from)
    text = text.replace("reader@example-provider.com", rcpt)
    text = text.replace("<0005E0A1B2C3D400.1a2b3c4d@out.example.com>",
                        message_id)
    return text.replace("0005E0A1B2C3D400", qid)


def gwtop_json(gw):
    r = gw.tool("gwtop", "--once", "--format", "json")
    return json.loads(r.stdout)


def metrics(gw):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" %
                                gw.metrics_port, timeout=10) as r:
        return r.read().decode()


def feedback_gw(gw_factory, sink, **more):
    mport = free_port()
    settings = {
        "feedback.domains": [BOUNCE_DOMAIN, OTHER_BOUNCE_DOMAIN],
        "feedback.addresses": ["fbl@example.com"],
        "feedback.bounce_domain": BOUNCE_DOMAIN,
        "feedback.rate": "1000/min",
        "metrics.listen": "127.0.0.1:%d" % mport,
        # High enough that one complaint does not pause in most tests.
        "limits.complaint_pause_minimum": 1000,
    }
    settings.update(more)
    g = gw_factory(relay=smarthost(sink), feedback=True, settings=settings)
    g.metrics_port = mport
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.add_subaccount("other", "other.example", "other-pass")
    return g


@pytest.fixture
def fb(gw_factory, sink):
    return feedback_gw(gw_factory, sink)


def qid_of(gw, rcpt):
    ev = wait_for(lambda: gw.events("action='delivered' AND recipient=?",
                                    (rcpt,)), what="delivery to " + rcpt)
    return ev[0]["qid"]


def refused(gw, rcpt):
    """What RCPT to rcpt gets from the submission port now."""
    try:
        send(gw, [rcpt])
    except smtplib.SMTPRecipientsRefused as e:
        return e.recipients[rcpt]
    return None


def test_verp_return_path_and_async_bounce(fb, sink):
    send(fb, ["gone@dest.test"], subject="to-gone")
    qid = qid_of(fb, "gone@dest.test")
    ret = delivered_from(sink, 0)
    # The return path is the VERP address; the sender is in the header.
    assert ret == verp(verp_key(fb), qid, 0, BOUNCE_DOMAIN)
    assert b"From: app@example.com" in sink.messages[0].data
    assert refused(fb, "gone@dest.test") is None

    report(fb, ret, dsn("gone@dest.test", ret, qid=qid))
    ev = wait_for(lambda: fb.events("action='bounced'"), what="async bounce")
    assert ev[0]["recipient"] == "gone@dest.test"
    assert ev[0]["qid"] == qid and ev[0]["subaccount"] == "app"
    assert ev[0]["class"] == "hard"
    assert ev[0]["detail"].startswith("async bounce (dsn) matched-by=verp")
    assert ev[0]["reply_status"] == "5.1.1"
    # Suppressed for its subaccount, like a bounce during delivery.
    code, text = refused(fb, "gone@dest.test")
    assert code == 550 and b"suppressed: hard bounce (async)" in text

    r = fb.tool("gwsearch", "--format", "jsonl", "status:bounced")
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    async_rows = [x for x in rows if x["event"]["action"] == "bounced"]
    assert async_rows and "async" in async_rows[0]["gw"]["detail"]


def test_delayed_dsn_changes_nothing(fb, sink):
    send(fb, ["slow@dest.test"])
    qid = qid_of(fb, "slow@dest.test")
    ret = delivered_from(sink, 0)
    text = dsn("slow@dest.test", ret, qid=qid, status="4.4.1").replace(
        "Action: failed", "Action: delayed", 1)
    report(fb, ret, text)
    wait_for(lambda: "no recipient failed" in fb.logtext(),
             what="the delayed report logged")
    assert fb.events("action IN ('bounced', 'complained')") == []
    assert refused(fb, "slow@dest.test") is None


def test_arf_provider_complaint(fb, sink):
    send(fb, ["reader@dest.test", "other@dest.test"], subject="offers")
    qid = qid_of(fb, "reader@dest.test")
    ret = delivered_from(sink, 0)
    mid = fb.events("action='received'")[0]["message_id"]
    swaks_report(fb, "fbl@example.com",
                 arf_provider(ret, "reader@dest.test", qid, mid))
    ev = wait_for(lambda: fb.events("action='complained'"), what="complaint")
    assert len(ev) == 1
    assert ev[0]["recipient"] == "reader@dest.test"
    assert ev[0]["subaccount"] == "app" and ev[0]["qid"] == qid
    assert "feedback-type=abuse matched-by=verp" in ev[0]["detail"]

    # 1 complaint of 2 delivered: 50%, in gwtop, /metrics, gwsearch.
    rates = gwtop_json(fb)["rates"]["1h"]
    assert rates["complaint"] == pytest.approx(50.0)
    m = metrics(fb)
    assert re.search(r"^gw_complaints_total 1$", m, re.M), m
    assert re.search(r'^gw_subaccount_messages_total\{subaccount="app",'
                     r'outcome="complained"\} 1$', m, re.M)
    assert re.search(r'^gw_feedback_reports_total\{result="matched"\} 1$',
                     m, re.M)
    # The 24 h ratio the pause weighs: 1 of 2 final outcomes.
    assert re.search(r'^gw_subaccount_complaint_ratio\{subaccount="app"\} '
                     r'0\.5$', m, re.M), m
    r = fb.tool("gwsearch", "stats", "--format", "jsonl")
    stats = [json.loads(x) for x in r.stdout.splitlines()]
    assert stats[0]["complained"] == 1
    assert stats[0]["complaint_rate"] == pytest.approx(50.0)

    code, text = refused(fb, "reader@dest.test")
    assert code == 550 and b"suppressed: complaint" in text
    # As gwctl lists it: gwd's own entry for the subaccount (queue.db).
    rows = [json.loads(x) for x in fb.gwctl(
        "suppression", "list", "--format", "json").stdout.splitlines()]
    (row,) = [r for r in rows if r["address"] == "reader@dest.test"]
    assert row["subaccount"] == "app"
    assert row["reason"].startswith("complaint ")
    assert row["reason"].endswith(": abuse")
    # The other recipient was not complained of.
    assert refused(fb, "other@dest.test") is None


def test_arf_rfc5965_matched_by_message_id(fb, sink):
    """RFC 5965's example report, its returned message being gw's (no
    VERP: a subaccount sending before the bounce domain was set), sent
    with swaks over STARTTLS."""
    send(fb, ["user@dest.test"], message_id="<rfc5965.1@example.com>")
    qid_of(fb, "user@dest.test")
    text = template("arf_rfc5965.eml").replace(
        "user@example.com", "user@dest.test").replace(
        "8787KJKJ3K4J3K4J3K4J3.mail@example.net", "<rfc5965.1@example.com>")
    swaks_report(fb, "fbl@example.com", text)
    ev = wait_for(lambda: fb.events("action='complained'"), what="complaint")
    assert ev[0]["recipient"] == "user@dest.test"
    assert "matched-by=message-id" in ev[0]["detail"]


def test_forged_and_unmatched_change_nothing(fb, sink):
    send(fb, ["victim@dest.test"])
    qid = qid_of(fb, "victim@dest.test")
    ret = delivered_from(sink, 0)
    key = verp_key(fb)
    local, _ = ret.split("@")
    # A digit of the MAC changed.
    bad = local[:-1] + ("0" if local[-1] != "0" else "1") + "@" + BOUNCE_DOMAIN
    # The right token replayed at another bounce domain (another
    # subaccount's): its HMAC binds the domain.
    replay = local + "@" + OTHER_BOUNCE_DOMAIN
    # A token with a good HMAC for a queue id gw never had.
    unknown = verp(key, "0000000000000001", 0, BOUNCE_DOMAIN)
    for to, what in ((bad, "forged"), (replay, "forged"),
                     (unknown, "unmatched")):
        report(fb, to, dsn("victim@dest.test", to, qid=qid))
        wait_for(lambda: re.search(r"feedback: .* %s dsn report" % what,
                                   fb.logtext()), what=what + " logged")
    # A complaint naming a recipient the message never had.
    report(fb, "fbl@example.com",
           arf_provider(ret, "stranger@dest.test", qid, "<x@y>"))
    wait_for(lambda: "names no recipient" in fb.logtext(),
             what="unmatched complaint logged")
    assert fb.events("action IN ('bounced', 'complained')") == []
    assert refused(fb, "victim@dest.test") is None
    assert refused(fb, "stranger@dest.test") is None
    m = metrics(fb)
    assert re.search(r'result="forged"\} 2$', m, re.M), m
    assert re.search(r'result="unmatched"\} 2$', m, re.M), m


def test_listener_takes_only_feedback_addresses(fb):
    with smtplib.SMTP("127.0.0.1", fb.ports["feedback"], timeout=10) as s:
        s.ehlo("mx.example.org")
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")
        s.starttls(context=client_tls_context())
        s.ehlo("mx.example.org")
        assert not s.has_extn("auth")
        assert s.mail("<>")[0] == 250
        for rcpt in ("postmaster@example.com", "someone@dest.test",
                     "fbl@example.org", "x@sub." + BOUNCE_DOMAIN):
            code, text = s.rcpt(rcpt)
            assert code == 550 and text.startswith(b"5.7.1"), (rcpt, text)
        assert s.rcpt("FBL@Example.com")[0] == 250
        assert s.rcpt("anything@" + BOUNCE_DOMAIN.upper())[0] == 250
    # nmap smtp-open-relay's address forms: none is taken.
    forms = ["relaytest%dest.test@[127.0.0.1]", '"relaytest@dest.test"',
             "@[127.0.0.1]:relaytest@dest.test", "dest.test!relaytest",
             "relaytest%dest.test", "relaytest@dest.test@" + BOUNCE_DOMAIN,
             '"relaytest@dest.test"@[127.0.0.1]']
    with smtplib.SMTP("127.0.0.1", fb.ports["feedback"], timeout=10) as s:
        s.ehlo("relay.test")
        s.mail("relaytest@relay.test")
        for f in forms:
            code, _ = s.rcpt("<%s>" % f)
            assert code >= 500, f
    assert fb.events("action='received'") == []



@pytest.mark.skipif(shutil.which("nmap") is None, reason="needs nmap")
def test_nmap_smtp_open_relay(fb):
    """nmap's own smtp-open-relay script against the feedback listener:
    none of its 16 address forms is relayed ("+": run whatever the
    port, which nmap would not name smtp)."""
    r = subprocess.run(["nmap", "-Pn", "-n", "-p", str(fb.ports["feedback"]),
                        "--script", "+smtp-open-relay", "--script-args",
                        "smtp-open-relay.domain=relay.test,"
                        "smtp-open-relay.ip=127.0.0.1", "127.0.0.1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    # The script ran (it reports either verdict) and found no relay.
    assert "smtp-open-relay:" in out, out
    assert "Server doesn't seem to be an open relay" in out, out
    assert "Server is an open relay" not in out, out
    assert fb.events("action='received'") == []

def test_size_and_rate_limits(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink), feedback=True, settings={
        "feedback.domains": [BOUNCE_DOMAIN], "feedback.max_size": "4k",
        "feedback.rate": "3/min"}).start()
    with smtplib.SMTP("127.0.0.1", g.ports["feedback"], timeout=10) as s:
        s.ehlo("mx.example.org")
        assert s.esmtp_features["size"] == "4096"
        code, _ = s.mail("<>", ["SIZE=5000"])
        assert code == 552
        s.rset()
        # No SIZE=: read to the dot, then refused.
        assert s.mail("<>")[0] == 250
        assert s.rcpt("b@" + BOUNCE_DOMAIN)[0] == 250
        assert s.data(b"Subject: big\r\n\r\n" +
                      (b"x" * 70 + b"\r\n") * 90)[0] == 552
    # The refused one counted: two more, then 450.
    for i in range(2):
        report(g, "b@" + BOUNCE_DOMAIN, "Subject: not a report\r\n\r\nhi\r\n")
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        report(g, "b@" + BOUNCE_DOMAIN, "Subject: x\r\n\r\nhi\r\n")
    assert e.value.smtp_code == 450
    wait_for(lambda: "unreadable unknown report" in g.logtext(),
             what="the non-report logged")


def test_complaint_pause(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink), feedback=True, settings={
        "feedback.domains": [BOUNCE_DOMAIN],
        "feedback.bounce_domain": BOUNCE_DOMAIN,
        "limits.complaint_pause_percent": 10,
        "limits.complaint_pause_minimum": 3}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["a@dest.test", "b@dest.test", "c@dest.test", "d@dest.test"])
    qid = qid_of(g, "a@dest.test")
    wait_for(lambda: len(g.events("action='delivered'")) == 4,
             what="4 deliveries")
    ret = delivered_from(sink, 0)
    mid = g.events("action='received'")[0]["message_id"]
    report(g, ret, arf_provider(ret, "a@dest.test", qid, mid))
    ev = wait_for(lambda: g.events("action='paused'"), what="pause")
    assert "complaint rate 25.000% (1 of 4 recipients)" in ev[0]["detail"]
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        send(g, ["new@dest.test"])
    assert e.value.smtp_code == 451 and b"complaint rate" in e.value.smtp_error
    g.gwctl("subaccount", "resume", "app")
    assert send(g, ["new@dest.test"]) == {}


def test_subaccount_bounce_domain(fb, sink):
    """gwctl subaccount set --bounce-domain: that subaccount's mail has
    its own VERP domain, which the feedback listener takes too."""
    mine = "bounces.third.example"
    with smtplib.SMTP("127.0.0.1", fb.ports["feedback"], timeout=10) as s:
        s.ehlo("mx.example.org")
        s.mail("<>")
        assert s.rcpt("x@" + mine)[0] == 550
    fb.gwctl("subaccount", "set", "other", "--bounce-domain", mine.upper())
    rows = [json.loads(x) for x in fb.gwctl(
        "subaccount", "list", "--format", "json").stdout.splitlines()]
    assert {r["name"]: r["bounce_domain"] for r in rows} == {
        "app": None, "other": mine}
    send(fb, ["gone@dest.test"], frm="news@other.example", user="other",
         password="other-pass")
    qid = qid_of(fb, "gone@dest.test")
    ret = delivered_from(sink, 0)
    assert ret == verp(verp_key(fb), qid, 0, mine)
    report(fb, ret, dsn("gone@dest.test", ret, qid=qid))
    ev = wait_for(lambda: fb.events("action='bounced'"), what="async bounce")
    assert ev[0]["subaccount"] == "other"
    # Only other's list: app may still send there.
    assert refused(fb, "gone@dest.test") is None
    # Back to the global bounce domain.
    fb.gwctl("subaccount", "set", "other", "--bounce-domain", "none")
    send(fb, ["later@dest.test"], frm="news@other.example", user="other",
         password="other-pass")
    assert delivered_from(sink, 2).endswith("@" + BOUNCE_DOMAIN)


@pytest.mark.skipif(not postfix_instance.available(),
                    reason="needs root and Debian's postfix")
def test_postfix_bounces_after_accepting(gw_factory, dns):
    """A real Postfix as the receiving MX (dest.test's MX, served by the
    tests' DNS server): it accepts every recipient, then bounces the
    unknown one (its error transport, as after a local delivery to a
    missing user); its DSN goes to the VERP return path, which Postfix
    delivers to gw's feedback listener."""
    pf_port = free_port()
    dns.add("dest.test", "MX", (10, "mx.dest.test"))
    dns.add("mx.dest.test", "A", "127.0.0.1")
    g = gw_factory(relay={"mode": "mx", "tls": "none"}, dns=dns,
                   feedback=True,
                   settings={"relay.mx_port": pf_port,
                             "feedback.domains": [BOUNCE_DOMAIN],
                             "feedback.bounce_domain": BOUNCE_DOMAIN})
    root = tempfile.mkdtemp(prefix="gw-postfix-")
    os.chmod(root, 0o755)       # its daemons run as postfix
    pf = postfix_instance.Postfix(root, pf_port, {
        "relay_domains": "dest.test",
        # Accept at RCPT whatever the transport will do afterwards.
        "smtpd_reject_unlisted_recipient": "no",
        "transport_maps": "texthash:%s/conf/transport" % root,
        "smtp_tls_security_level": "none",
        "delay_warning_time": "0"}, procs=4)
    pf.owns_root = True
    pf.write_file("transport", "dest.test error:5.1.1 User unknown in local "
                  "recipient table\n%s smtp:[127.0.0.1]:%d\n" %
                  (BOUNCE_DOMAIN, g.ports["feedback"]), mode=0o644)
    try:
        pf.start()
        g.start()
        g.add_subaccount("app", "example.com", "s3cret-pass")
        send(g, ["nosuchuser@dest.test"], subject="to nobody")
        try:
            ev = wait_for(lambda: g.events("action='bounced'"), timeout=60,
                          what="Postfix's DSN back as an async bounce")
        except AssertionError:
            raise AssertionError(pf.logtext() + g.logtext()[-3000:])
        assert ev[0]["recipient"] == "nosuchuser@dest.test"
        assert ev[0]["class"] == "hard"
        assert "matched-by=verp" in ev[0]["detail"]
        # Postfix saw gw's VERP return path, and delivered to it.
        assert re.search(r"from=<b-[0-9A-F]{16}-0-[0-9a-f]{16}@%s>" %
                         re.escape(BOUNCE_DOMAIN), pf.logtext())
        (dl,) = g.events("action='delivered' AND recipient="
                         "'nosuchuser@dest.test'")
        assert "mx.dest.test" in repr(dl), dl      # by its MX
        code, text = refused(g, "nosuchuser@dest.test")
        assert code == 550 and b"hard bounce (async)" in text
        # As an admin finds it: gwsearch says it came back later.
        r = g.tool("gwsearch", "--format", "jsonl", "status:bounced")
        rows = [x for x in map(json.loads, r.stdout.splitlines())
                if x["event"]["action"] == "bounced"]
        assert len(rows) == 1 and "async" in rows[0]["gw"]["detail"], rows
    finally:
        pf.stop()


def test_verp_key_rotation(fb, sink):
    """gwctl key rotate verp while a message waits in the queue: gwd
    takes the new key without a restart, the bounces of mail sent with
    either key are matched (the old one within its grace), and a key
    past its grace, or rotated out twice, makes a token forged."""
    k1 = verp_key(fb)
    send(fb, ["early@dest.test"], subject="early")
    qid1 = qid_of(fb, "early@dest.test")
    ret1 = delivered_from(sink, 0)
    assert ret1 == verp(k1, qid1, 0, BOUNCE_DOMAIN)
    # Queued across the rotation: the sink defers it until it comes
    # with a return path under the new key.
    want = {}
    sink.data_reply = lambda m: (None if m.mail_from == want.get("ret")
                                 else "451 4.3.0 later")
    send(fb, ["queued@dest.test"], subject="queued")
    qid2 = wait_for(lambda: fb.events(
        "action='deferred' AND recipient='queued@dest.test'"),
        what="the queued message deferred")[0]["qid"]
    r = fb.gwctl("key", "rotate", "verp")
    assert "work for 90 more days" in r.stderr
    k2 = verp_key(fb)
    assert k2 != k1
    with fb.db("gw.db") as c:
        assert c.execute("SELECT key FROM hmac_key WHERE purpose = "
                         "'verp.previous'").fetchone()[0] == k1
    want["ret"] = verp(k2, qid2, 0, BOUNCE_DOMAIN)
    assert delivered_from(sink, 1) == want["ret"]
    # Both bounces are matched: one under the replaced key.
    report(fb, ret1, dsn("early@dest.test", ret1, qid=qid1))
    report(fb, want["ret"], dsn("queued@dest.test", want["ret"], qid=qid2))
    ev = wait_for(lambda: (lambda e: e if len(e) == 2 else None)(
        fb.events("action='bounced'")), what="both async bounces")
    assert sorted(e["recipient"] for e in ev) == ["early@dest.test",
                                                  "queued@dest.test"]
    # The replaced key once its grace is over (its rotation dated 91
    # days back, as time would): the old token is forged now.
    c = sqlite3.connect(os.path.join(fb.state, "gw.db"), timeout=10)
    with c:
        c.execute("UPDATE hmac_key SET created = created - 91 * 86400 "
                  "WHERE purpose = 'verp.previous'")
    c.close()
    report(fb, ret1, dsn("early@dest.test", ret1, qid=qid1))
    wait_for(lambda: len(re.findall(r"feedback: .* forged dsn report",
                                    fb.logtext())) == 1,
             what="the expired key's token forged")
    # A second rotation forgets k1 and keeps k2 for the grace.
    fb.gwctl("key", "rotate", "verp")
    report(fb, want["ret"], dsn("queued@dest.test", want["ret"], qid=qid2))
    wait_for(lambda: re.search(r'result="matched"\} 3$', metrics(fb), re.M),
             what="the k2 token still matched")
    assert re.search(r'result="forged"\} 1$', metrics(fb), re.M)



def test_verp_key_rotated_out_twice(fb, sink):
    """Two rotations within the grace: the first key is gone at once (only
    the one the last rotation replaced is kept), so a bounce under it is
    forged, logged and changes nothing; the middle key still matches."""
    k1 = verp_key(fb)
    send(fb, ["first@dest.test"], subject="first")
    qid1 = qid_of(fb, "first@dest.test")
    ret1 = delivered_from(sink, 0)
    assert ret1 == verp(k1, qid1, 0, BOUNCE_DOMAIN)
    fb.gwctl("key", "rotate", "verp")
    send(fb, ["second@dest.test"], subject="second")
    qid2 = qid_of(fb, "second@dest.test")
    ret2 = delivered_from(sink, 1)
    fb.gwctl("key", "rotate", "verp")
    report(fb, ret1, dsn("first@dest.test", ret1, qid=qid1))
    wait_for(lambda: re.search(r"feedback: .* forged dsn report",
                               fb.logtext()), what="the first key's forged")
    report(fb, ret2, dsn("second@dest.test", ret2, qid=qid2))
    ev = wait_for(lambda: fb.events("action='bounced'"), what="the bounce")
    assert [e["recipient"] for e in ev] == ["second@dest.test"]
    assert re.search(r'result="forged"\} 1$', metrics(fb), re.M)
    assert refused(fb, "first@dest.test") is None

def test_verp_one_recipient_per_transaction(gw_factory, sink):
    """With a VERP return path each recipient is its own transaction (as
    Postfix does VERP), so each token names exactly its recipient; with
    one connection allowed they follow each other on it (RSET, MAIL)."""
    fb = feedback_gw(gw_factory, sink, **{"relay.connections": 1})
    rcpts = ["r0@dest.test", "r1@dest.test", "r2@dest.test"]
    send(fb, rcpts, subject="three")
    sink.wait_count(3)
    qid = qid_of(fb, "r2@dest.test")
    key = verp_key(fb)
    got = {m.rcpt_tos[0]: m.mail_from for m in sink.messages}
    assert all(len(m.rcpt_tos) == 1 for m in sink.messages)
    assert sorted(got) == rcpts
    assert got == {r: verp(key, qid, i, BOUNCE_DOMAIN)
                   for i, r in enumerate(rcpts)}
    assert len(set(got.values())) == 3
    assert len({m.conn for m in sink.messages}) == 1
    assert len(fb.events("action='delivered' AND qid=?", (qid,))) == 3
    # A later bounce to the second copy's return path: the second
    # recipient only.
    ret = got["r1@dest.test"]
    report(fb, ret, dsn("r1@dest.test", ret, qid=qid))
    ev = wait_for(lambda: fb.events("action='bounced'"), what="the bounce")
    assert [e["recipient"] for e in ev] == ["r1@dest.test"]
    code, text = refused(fb, "r1@dest.test")
    assert code == 550 and b"suppressed" in text
    assert refused(fb, "r0@dest.test") is None
    assert refused(fb, "r2@dest.test") is None


def scan(g, n, source="127.0.0.1"):
    """A scanner at the feedback port: n RCPTs it may not have, sent in
    one write (pipelined), each refused; then QUIT."""
    r = Raw(g.ports["feedback"], source=source)
    assert r.reply()[0] == 220
    assert r.cmd("EHLO scanner.test")[0] == 250
    assert r.cmd("MAIL FROM:<probe@scanner.test>")[0] == 250
    r.send("".join("RCPT TO:<victim%d@dest.test>\r\n" % i for i in range(n)))
    assert [r.reply()[0] for _ in range(n)] == [550] * n
    r.cmd("QUIT")
    r.close()


def test_refusals_logged_per_ip_rate(gw_factory, sink):
    """A client refused again and again at the feedback listener (a
    scanner at port 25) gets feedback.reject_log "rejected" events one by
    one per window; the rest are counted and told in one "rejected"
    event (the last reply, detail unlogged=N) and one log line once the
    window has ended, even when the client has gone.  Another address
    has its own count; the next window logs one by one again."""
    g = gw_factory(relay=smarthost(sink), feedback=True, settings={
        "feedback.domains": [BOUNCE_DOMAIN],
        "feedback.reject_log": "3/s"}).start()

    def rejected(ip):
        return g.events("action='rejected' AND client_ip=?", (ip,))

    def unlogged(ip):
        return [int(re.search(r"unlogged=(\d+)", e["detail"]).group(1))
                for e in rejected(ip) if "unlogged=" in e["detail"]]

    scan(g, 20)
    scan(g, 5, source="127.0.0.2")
    wait_for(lambda: unlogged("127.0.0.1") and unlogged("127.0.0.2"),
             what="the summaries")
    for ip, n in (("127.0.0.1", 20), ("127.0.0.2", 5)):
        evs = rejected(ip)
        one = [e for e in evs if "unlogged=" not in e["detail"]]
        # Every refusal is either an event of its own or counted in a
        # summary, and the summary stands for most of a fast burst.
        assert len(one) + sum(unlogged(ip)) == n, evs
        assert len(one) < n and len(evs) < n, evs
        for e in evs:
            assert e["reply_code"] == 550 and e["reply_status"] == "5.7.1"
            assert e["detail"].startswith("stage=rcpt")
    # The line is written after the summary's event is handed to the
    # store thread, which may have committed it already.
    wait_for(lambda: re.search(r"feedback: ip=127\.0\.0\.1 \d+ more "
                               r"refusals in 1s not logged one by one",
                               g.logtext()), what="the summary logged")
    # Another window: one by one again, up to the limit.
    before = len(rejected("127.0.0.1"))
    scan(g, 2)
    wait_for(lambda: len(rejected("127.0.0.1")) == before + 2,
             what="two more events")
    assert "unlogged=" not in rejected("127.0.0.1")[-1]["detail"]
    # Not a rate: gwd -n says so.
    bad = gw_factory(feedback=True, settings={
        "feedback.domains": [BOUNCE_DOMAIN], "feedback.reject_log": "lots"})
    r = subprocess.run([os.path.join(os.environ["GW_BUILD"], "gwd"), "-n",
                        "-c", bad.conf], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 78 and "feedback.reject_log: \"lots\" is not a " \
        "rate" in r.stderr, r.stderr
