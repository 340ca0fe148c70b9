"""Content policy (issue 11), its next part: a client cannot forge the
X-GW-Policy: verdict; content-policy refusals counted under their own
metrics reason.  Real parts: smtplib submissions through the real gwd
to an aiosmtpd sink.
"""
import smtplib

from email.message import EmailMessage
from email.policy import SMTP

from conftest import client_tls_context, free_port, smarthost, wait_for

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
