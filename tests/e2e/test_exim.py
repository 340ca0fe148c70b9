"""Exim 4.96 (Debian's) against gw: as a smarthost client and as an MX.

As a client, Exim runs the recipes of examples/postfix-relayhost.md as
written there (host, port and password substituted): the hand-written
configuration, and Debian's own made by its update-exim4.conf from the
lines the docs give.  STARTTLS and AUTH PLAIN to gw's submission port,
then gw relays to the sink.

As the receiving MX of gw (MX records on the test's DNS server), Exim
verifies gw's DKIM signatures itself: its acl_smtp_dkim logs and adds
$dkim_verify_status, read from the delivered mailbox and Exim's log.
Exim looks the keys up through the system resolver; exim_instance.py
runs it in a mount namespace whose resolv.conf leads to the test's DNS.
"""
import os
import re
import shutil
import smtplib
import subprocess

import pytest

from conftest import REPO, client_tls_context, free_port, smarthost, wait_for
from exim_instance import Exim, debian, unavailable
from test_dkim import activate, keygen

why = unavailable()
pytestmark = pytest.mark.skipif(why is not None, reason="Exim: %s" % why)


def doc_block(after):
    """The first indented block of examples/postfix-relayhost.md after
    the text `after`, as printed."""
    with open(os.path.join(REPO, "examples", "postfix-relayhost.md")) as f:
        text = f.read()
    rest = text.split(after, 1)[1]
    block = re.search(r"\n\n((?:    .*\n|\n)+)", rest).group(1)
    return "\n".join(l[4:] for l in block.splitlines()).strip("\n") + "\n"


def doc_recipe():
    """The hand-written Exim configuration of the docs."""
    return doc_block("With a hand-written configuration")


# A whole update-exim4.conf.conf of the kind `dpkg-reconfigure
# exim4-config` writes for "mail sent by smarthost; no local mail"; the
# docs' lines follow it and win (the script sources the file).  Only for
# the test: Exim listens on 127.0.0.2, since gw is on this host and Exim
# would not deliver to an address of its own.
DEBCONF_SMARTHOST = """\
dc_eximconfig_configtype='smarthost'
dc_other_hostnames=''
dc_local_interfaces='127.0.0.2'
dc_readhost=''
dc_relay_domains=''
dc_minimaldns='false'
dc_relay_nets=''
dc_smarthost=''
CFILEMODE='644'
dc_use_split_config='false'
dc_hide_mailname='false'
dc_mailname_in_oh='true'
dc_localdelivery='mail_spool'
"""


def relayed(ex, sink, sender, msg):
    """ex sends msg to someone@dest.test through gw (sender None: as
    root); what the sink got, and Exim's delivery line, which says the
    message went over TLS and gw took it."""
    rc, out = ex.send(sender, ["someone@dest.test"], msg)
    assert rc == 0, out + ex.log()
    wait_for(lambda: sink.messages or ex.failed(), timeout=30,
             what="the message at the sink")
    assert sink.messages, ex.log()
    got = sink.messages[0]
    assert got.rcpt_tos == ["someone@dest.test"]
    assert "by gw.test (gw) with ESMTPSA" in got.headers.decode()  # TLS, AUTH
    line = [l for l in ex.log().splitlines() if " => someone@dest.test" in l]
    assert line, ex.log()
    assert " X=TLS" in line[0] and ' C="250 ' in line[0], line[0]
    return got, line[0]


def debian_client(g, tmp_path, localmacros=True):
    """An Exim with Debian's configuration made from the docs' lines of
    update-exim4.conf.conf, passwd.client and (if localmacros)
    exim4.conf.localmacros, as printed (gw's host, port, certificate
    and password substituted), through Debian's update-exim4.conf.
    gw's host and port are put in what the script makes of the lines.
    g's certificate names 127.0.0.1, the host Exim knows it by."""
    g.add_subaccount("web01", "example.com", "exim-pass-1")
    macros = doc_block("Exim from ever sending without it:").replace(
        "/etc/exim4/gw.pem", "@ROOT@/etc/gw.pem")
    lines = doc_block("update-exim4.conf.conf`; the lines that matter:")
    passwd = doc_block("/etc/exim4/passwd.client` (mode 0640, group Debian-exim):")
    assert "gw.example.com::587" in lines and "gw.example.com:web01:" in passwd
    ex = debian(DEBCONF_SMARTHOST + lines,
                passwd.replace("gw.example.com", "127.0.0.1")
                .replace("THE-PASSWORD", "exim-pass-1"),
                "web01.example.net", macros if localmacros else "",
                [("=gw.example.com::587\n",
                  "=127.0.0.1::%d\n" % g.ports["submission"])])
    shutil.copy(tmp_path / "gw-cert.pem", os.path.join(ex.root, "etc", "gw.pem"))
    return ex


def gw_named_127(gw_factory, sink, tmp_path):
    """A gw whose certificate names 127.0.0.1 (and gw.test)."""
    cert = tmp_path / "gw-cert.pem"
    key = tmp_path / "gw-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-subj", "/CN=gw.test",
                    "-addext", "subjectAltName=DNS:gw.test,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return gw_factory(relay=smarthost(sink), settings={
        "tls.certificate": str(cert), "tls.key": str(key),
        "tls.self_signed": False}).start()


def test_exim_debian_smarthost_recipe(gw_factory, sink, tmp_path):
    """Debian's configuration as the docs have it delivers through gw,
    verifying its certificate; root's mail leaves as root@example.com
    (dc_readhost, dc_hide_mailname)."""
    g = gw_named_127(gw_factory, sink, tmp_path)
    ex = debian_client(g, tmp_path)
    try:
        got, line = relayed(ex, sink, None,
                            b"Subject: from root\n\nroot's mail.\n")
        assert got.mail_from == "root@example.com"
        assert re.search(rb"(?m)^From: root <root@example\.com>\r?$",
                         got.headers), got.headers
        for part in (" CV=yes ", " A=plain "):
            assert part in line, line
    finally:
        ex.remove()


def test_exim_debian_smarthost_without_localmacros_bounces(gw_factory, sink,
                                                           tmp_path):
    """What the docs warn of: without gw's certificate named, Debian's
    transport fails to verify it, goes on in clear text, and gw's 530
    bounces the mail."""
    g = gw_named_127(gw_factory, sink, tmp_path)
    ex = debian_client(g, tmp_path, localmacros=False)
    try:
        rc, out = ex.send(None, ["someone@dest.test"], b"Subject: x\n\nx\n")
        assert rc == 0, out + ex.log()
        wait_for(ex.failed, what="Exim's bounce")
        log = ex.log()
        assert "certificate verification failed" in log, log
        line = [l for l in log.splitlines() if " ** someone@dest.test" in l]
        assert line and "530 5.7.0 Must issue a STARTTLS command first" in line[0], log
        assert not sink.messages
    finally:
        ex.remove()


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
        got, line = relayed(ex, sink, "office@example.com", msg)
        assert got.mail_from == "office@example.com"
        assert got.body == body.replace(b"\n", b"\r\n")
        assert "by web01.example.com with local" in got.headers.decode()
        assert " A=gw_plain " in line, line     # the recipe's authenticator
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
    # Exim logs "=> PART <PART@dest.test> R=mailbox T=mbox" once
    # appendfile has written the whole message: a mailbox read before
    # that may hold only its first line.
    def done():
        return ex.failed() or any(
            ("=> %s " % local_part) in l and "T=mbox" in l
            for l in ex.log().splitlines())
    wait_for(done, timeout=30, what="Exim's delivery to %s" % local_part)
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
