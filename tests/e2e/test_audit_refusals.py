"""The audit trail has every refusal, with its stage and reply, and for
every message the credential that let it in.  Before, 553 5.6.7 (a
non-ASCII address), 555 5.5.4 (an unknown parameter) and 452 4.5.3
(too many recipients) were answered and never logged, and "received"
said only "auth=sasl"."""
import re
import smtplib

import pytest

from conftest import Raw, client_tls_context, login, smarthost, wait_for


@pytest.fixture
def gw(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.recipients": 2}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def rejected(gw, code):
    return wait_for(lambda: gw.events("action='rejected' AND reply_code=?", (code,)),
                    what="a rejected event with %d" % code)


def test_every_refusal_is_an_event(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    assert login(r, "app", "s3cret-pass")[0] == 235
    assert r.cmd("MAIL FROM:<app@example.com> FOO=bar")[0] == 555
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<us\u00e9r@dest.test>")[0] == 553
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250
    assert r.cmd("RCPT TO:<b@dest.test>")[0] == 250
    assert r.cmd("RCPT TO:<c@dest.test>")[0] == 452
    r.cmd("QUIT")
    ev = rejected(gw, 555)[0]
    assert ev["reply_status"] == "5.5.4" and ev["detail"] == "stage=mail"
    assert ev["subaccount"] == "app" and ev["client_ip"] == "127.0.0.1"
    ev = rejected(gw, 553)[0]
    assert ev["reply_status"] == "5.6.7" and ev["detail"] == "stage=rcpt"
    assert ev["sender"] == "app@example.com"
    ev = rejected(gw, 452)[0]
    assert ev["reply_status"] == "4.5.3" and ev["detail"] == "stage=rcpt"
    assert ev["recipient"] == "c@dest.test"
    assert "too many recipients" in ev["reply_text"]


def test_refusals_already_logged_say_their_stage(gw):
    r = Raw(gw.ports["submission"])
    r.reply()
    assert login(r, "app", "s3cret-pass")[0] == 235
    assert r.cmd("MAIL FROM:<ceo@other.test>")[0] == 550
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<a@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    assert r.cmd("From: ceo@other.test\r\nSubject: x\r\n\r\nhi\r\n.")[0] == 550
    ev = wait_for(lambda: len(gw.events("action='rejected'")) == 2 and
                  gw.events("action='rejected'"), what="two refusals")
    assert [e["detail"] for e in ev] == ["stage=mail", "stage=data"]


def send(gw, port, user=None, password=None, subject="s"):
    msg = ("From: app@example.com\r\nTo: u@dest.test\r\nSubject: %s\r\n\r\n"
           "hi\r\n" % subject).encode()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        if user:
            s.starttls(context=client_tls_context())
            s.login(user, password)
        s.sendmail("app@example.com", ["u@dest.test"], msg)


def test_received_names_the_credential(gw, sink):
    key = re.search(r"gwk_[0-9a-f]{12}_[0-9a-f]{40}",
                    gw.gwctl("apikey", "add", "app", "--label", "ci").stdout).group(0)
    send(gw, gw.ports["submission"], "app", "s3cret-pass", "by-password")
    send(gw, gw.ports["submission"], "app", key, "by-key")
    gw.gwctl("subaccount", "allow-ip", "app", "127.0.0.0/8")
    send(gw, gw.ports["plain"], subject="by-ip")
    ev = wait_for(lambda: len(gw.events("action='received'")) == 3 and
                  gw.events("action='received'"), what="three received")
    by = {e["subject"]: e["detail"] for e in ev}
    assert by["by-password"].endswith(" auth=password")
    assert by["by-key"].endswith(" auth=apikey key_id=%s" % key[:16])
    assert key not in by["by-key"]
    assert by["by-ip"].endswith(" auth=ip")
