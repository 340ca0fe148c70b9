"""Exim 4.96 (Debian's) against gw: as a smarthost client and as an MX.

As a client, Exim runs the recipe of examples/postfix-relayhost.md as
written there (host, port and password substituted): STARTTLS and AUTH
PLAIN to gw's submission port, then gw relays to the sink.

As the receiving MX of gw (MX records on the test's DNS server), Exim
verifies gw's DKIM signatures itself: its acl_smtp_dkim logs and adds
$dkim_verify_status, read from the delivered mailbox and Exim's log.
Exim looks the keys up through the system resolver; exim_instance.py
runs it in a mount namespace whose resolv.conf leads to the test's DNS.
"""
import os
import re
import smtplib

import pytest

from conftest import REPO, client_tls_context, free_port, smarthost, wait_for
from exim_instance import Exim, unavailable
from test_dkim import activate, keygen

why = unavailable()
pytestmark = pytest.mark.skipif(why is not None, reason="Exim: %s" % why)


def doc_recipe():
    """The hand-written Exim configuration of the docs, as printed."""
    with open(os.path.join(REPO, "examples", "postfix-relayhost.md")) as f:
        text = f.read()
    after = text.split("With a hand-written configuration", 1)[1]
    block = re.search(r"\n\n((?:    .*\n|\n)+)", after).group(1)
    return "\n".join(l[4:] for l in block.splitlines()) + "\n"


def recipe_client(g, transport_extra=""):
    """An Exim configured by the docs' recipe to send through g, as
    subaccount web01 of example.com."""
    g.add_subaccount("web01", "example.com", "exim-pass-1")
    recipe = doc_recipe()
    assert "gw.example.com::587" in recipe and "THE-PASSWORD" in recipe
    recipe = (recipe.replace("gw.example.com::587",
                             "127.0.0.1::%d" % g.ports["submission"])
              .replace("THE-PASSWORD", "exim-pass-1")
              .replace("  hosts_require_auth = *\n",
                       "  hosts_require_auth = *\n" + transport_extra))
    # The main section a hand-written configuration has anyway (the
    # recipe's router sends what is not local), and what only a test
    # needs: gw is on this host, and Exim would not deliver to itself.
    return Exim(main="domainlist local_domains = @\n"
                "local_interfaces = 127.0.0.2\n", rest=recipe,
                hostname="web01.example.com", qualify="example.com")


def test_exim_smarthost_recipe(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink)).start()
    ex = recipe_client(g)
    try:
        body = b"Sent through Exim and gw.\n.leading dot\n"
        msg = (b"From: Office <office@example.com>\nTo: someone@dest.test\n"
               b"Subject: via exim\nMessage-ID: <ex-1@example.com>\n\n" + body)
        rc, out = ex.send("office@example.com", ["someone@dest.test"], msg)
        assert rc == 0, out + ex.log()
        wait_for(lambda: sink.messages or ex.failed(), timeout=30,
                 what="the message at the sink")
        assert sink.messages, ex.log()
        got = sink.messages[0]
        assert got.mail_from == "office@example.com"
        assert got.rcpt_tos == ["someone@dest.test"]
        assert got.body == body.replace(b"\n", b"\r\n")
        hdr = got.headers.decode()
        assert "by gw.test (gw) with ESMTPSA" in hdr          # TLS and AUTH
        assert "by web01.example.com with local" in hdr
        # Exim's delivery line: over TLS, authenticated by the recipe's
        # authenticator, accepted by gw.
        line = [l for l in ex.log().splitlines() if " => someone@dest.test" in l]
        assert line, ex.log()
        assert " X=TLS" in line[0] and " A=gw_plain" in line[0], line[0]
        assert " C=\"250 " in line[0], line[0]
        ev = wait_for(lambda: g.events("action='received'"), what="audit row")
        assert ev[0]["subaccount"] == "web01"
    finally:
        ex.remove()


def test_exim_recipe_verifying_refuses_a_self_signed_gw(gw_factory, sink):
    """The docs' advice for a CA-signed gw, tls_verify_hosts, does make
    Exim check the certificate: gw's self-signed one fails it."""
    g = gw_factory(relay=smarthost(sink)).start()
    ex = recipe_client(g, "  tls_verify_hosts = *\n")
    try:
        rc, out = ex.send("office@example.com", ["someone@dest.test"],
                          b"From: office@example.com\nSubject: v\n\nx\n")
        assert rc == 0, out + ex.log()
        wait_for(ex.failed, what="Exim's deferral")
        line = [l for l in ex.log().splitlines() if " == someone@dest.test" in l]
        assert line and "certificate" in line[0].lower(), ex.log()
        assert not sink.messages
        assert not g.events("action='received'")
    finally:
        ex.remove()


# -- Exim as the receiving MX, verifying gw's signatures ---------------------

MX_MAIN = """\
local_interfaces = 127.0.0.1
domainlist local_domains = dest.test
acl_smtp_rcpt = acl_rcpt
acl_smtp_dkim = acl_dkim
tls_advertise_hosts =
"""

MX_REST = """\
begin acl
acl_rcpt:
  accept domains = +local_domains
  deny message = relay not permitted

acl_dkim:
  warn logwrite = gw-dkim d=$dkim_cur_signer s=$dkim_selector \\
         c=$dkim_canon_body status=$dkim_verify_status \\
         reason=$dkim_verify_reason
       add_header = X-Exim-DKIM: d=$dkim_cur_signer status=$dkim_verify_status
  accept

begin routers
mailbox:
  driver = accept
  domains = +local_domains
  local_parts = text : empty
  transport = mbox

begin transports
mbox:
  driver = appendfile
  file = @ROOT@/mail/$local_part_data
  user = Debian-exim
"""


@pytest.fixture
def exim_mx(dns):
    ex = Exim(main=MX_MAIN, rest=MX_REST, hostname="mx.dest.test",
              resolver=dns.resolver)
    try:
        ex.start(free_port())
    except Exception:
        ex.remove()
        raise
    dns.add("dest.test", "MX", (10, "mx.dest.test"))
    dns.add("mx.dest.test", "A", "127.0.0.1")
    yield ex
    ex.remove()


@pytest.fixture
def gw_mx(gw_factory, dns, exim_mx):
    g = gw_factory(relay={"mode": "mx"}, dns=dns,
                   settings={"relay.mx_port": exim_mx.port,
                             "relay.tls": "opportunistic"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def send(g, to, body):
    msg = (b"From: App <app@example.com>\r\nTo: <" + to.encode() + b">\r\n"
           b"Subject: to exim\r\n\r\n" + body)
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", [to], msg)


def delivered(ex, local_part):
    """The message Exim delivered to local_part@dest.test, with what its
    acl_smtp_dkim said of it."""
    wait_for(lambda: ex.mailbox(local_part) or ex.failed(), timeout=30,
             what="Exim's delivery to %s" % local_part)
    box = ex.mailbox(local_part)
    assert box, ex.log()
    return box


def verdict(box):
    return re.findall(r"^X-Exim-DKIM: (.*)$", box, re.M)


@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple"])
def test_exim_verifies_signatures(gw_mx, dns, exim_mx, canon):
    """A message and an empty one (sent as one CRLF: Exim 4.96 fails its
    own simple verification of a zero-length body; the simple case
    failed here before gw's 8855e13) both pass."""
    keygen(gw_mx, dns, "example.com", "s1")
    activate(gw_mx, "example.com", "s1")
    gw_mx.gwctl("dkim", "canon", "example.com", canon)
    send(gw_mx, "text@dest.test", b"Hello  Exim.\r\n\r\n")
    box = delivered(exim_mx, "text")
    assert verdict(box) == ["d=example.com status=pass"], box
    send(gw_mx, "empty@dest.test", b"")
    box = delivered(exim_mx, "empty")
    assert verdict(box) == ["d=example.com status=pass"], box
    body = canon.split("/")[1]
    logged = re.findall(r"gw-dkim d=example.com s=s1 c=(\S+) status=(\S+)",
                        exim_mx.log())
    assert logged == [(body, "pass"), (body, "pass")], exim_mx.log()
    assert ("s1._domainkey.example.com", "TXT") in dns.queries


def test_exim_fails_a_wrong_key(gw_mx, dns, exim_mx):
    """The same check can fail: s1's DNS record holds another key."""
    keygen(gw_mx, dns, "example.com", "s1", "rsa", False)
    other = keygen(gw_mx, dns, "example.com", "s2", "rsa", False)
    dns.add("s1._domainkey.example.com", "TXT", other)
    # gwctl checks the record too, and knows it is wrong.
    gw_mx.gwctl("dkim", "activate", "example.com", "s1", "--force")
    send(gw_mx, "text@dest.test", b"Hello Exim.\r\n")
    box = delivered(exim_mx, "text")
    assert verdict(box) == ["d=example.com status=fail"], box
    assert re.search(r"gw-dkim d=example.com s=s1 c=\S+ status=fail "
                     r"reason=signature_incorrect", exim_mx.log()), exim_mx.log()
