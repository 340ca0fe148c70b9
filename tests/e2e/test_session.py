"""The inbound session's own replies: what EHLO offers and HELP lists
come from one table of verbs (gwd/smtp_cmd.c), so they must read exactly
as before it, in every state that changes them.  And the session when
gwd itself runs short: faults injected with libfiu (fiu-run/fiu-ctrl from
Debian's fiu-utils) into the real binary."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, Raw, auth_plain, control, smarthost

# libfiu's malloc wrappers and ASan's do not mix.
needs_fiu = pytest.mark.skipif(
    shutil.which("fiu-run") is None or BUILD.rstrip("/").endswith("-san"),
    reason="needs fiu-utils, and a build without ASan")


def ehlo_keywords(r):
    code, text = r.cmd("EHLO client.test")
    assert code == 250
    return text.split("\n")[1:]


def test_ehlo_keywords_follow_the_session(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.message_size": "64k"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    r = Raw(g.ports["submission"])
    r.reply()
    base = ["PIPELINING", "SIZE 65536", "8BITMIME", "ENHANCEDSTATUSCODES",
            "DSN", "CHUNKING", "SMTPUTF8"]
    assert ehlo_keywords(r) == base + ["STARTTLS"]
    r.starttls()
    # REQUIRETLS (RFC 8689) only where TLS protects the session.
    assert ehlo_keywords(r) == base + ["REQUIRETLS", "AUTH PLAIN LOGIN"]
    assert r.cmd("AUTH PLAIN " + auth_plain("app", "s3cret-pass"))[0] == 235
    assert ehlo_keywords(r) == base + ["REQUIRETLS"]
    code, text = r.cmd("HELO client.test")
    assert (code, text) == (250, "gw.test")


def test_help_lists_the_commands(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink)).start()
    r = Raw(g.ports["submission"])
    r.reply()
    assert r.cmd("HELP") == (214, "2.0.0 Commands: EHLO HELO STARTTLS AUTH "
                                  "MAIL RCPT DATA RSET NOOP QUIT")
    # Verbs are matched whole and in any case; the rest is unknown.
    assert r.cmd("noop")[0] == 250
    assert r.cmd("NOOPX")[0] == 500
    assert r.cmd("VRFY postmaster")[0] == 502
    assert r.cmd("EHLO")[:2] == (501, "5.5.4 Syntax: EHLO hostname")
    assert r.cmd("helo")[:2] == (501, "5.5.4 Syntax: HELO hostname")
    assert r.cmd("RSET x") == (501, "5.5.4 Syntax: RSET")
    assert r.cmd("STARTTLS x") == (501, "5.5.4 Syntax: STARTTLS")
    assert r.cmd("DATA") == (503, "5.5.1 Error: need MAIL command")


def fiu(g, command):
    subprocess.run(["fiu-ctrl", "-f", g.fiu_prefix, "-c", command,
                    str(g.proc.pid)], check=True, timeout=30)


@pytest.fixture
def fiu_gw(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.idle_timeout": "2s"})
    g.fiu_prefix = os.path.join(g.dir, "fiu")
    g.wrap = ["fiu-run", "-x", "-f", g.fiu_prefix]
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    # The ip_auth listener: no TLS, so nothing but the session allocates
    # while the fault is on.
    g.gwctl("subaccount", "allow-ip", "app", "127.0.0.0/8")
    yield g
    # libfiu's control thread does not block SIGTERM as gwd's threads do,
    # so a graceful stop would end in the signal's default action.
    g.kill9()


def stat(g, name):
    """One counter from the control socket's `stats`."""
    return int(dict(l.split() for l in control(g, "stats").splitlines())[name])


def past_354(gw, rcpt="u@dest.test"):
    """A session on the ip_auth listener, inside DATA."""
    r = Raw(gw.ports["plain"])
    assert r.reply()[0] == 220
    assert r.cmd("EHLO client.test")[0] == 250
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<%s>" % rcpt)[0] == 250
    assert r.cmd("DATA")[0] == 354
    return r


def end_without_memory(gw, r, how):
    """End DATA with realloc failing (once, with how=",onetime")."""
    fiu(gw, "enable name=libc/mm/realloc" + how)
    try:
        return r.cmd(".")
    finally:
        fiu(gw, "disable name=libc/mm/realloc")


@needs_fiu
def test_out_of_memory_at_end_of_data(fiu_gw, sink):
    """No memory for the stored form: a 451, the refusal counted, and the
    session keeps its idle deadline (it used to wait forever)."""
    gw = fiu_gw
    rejected = stat(gw, "messages_rejected_total")
    r = past_354(gw)
    # An empty message: reading the end of data grows no buffer, so the
    # first realloc to fail is one building the stored form.
    code, text = end_without_memory(gw, r, "")
    assert (code, text[:5]) == (451, "4.3.0")
    # Silence from here: the idle timeout must still cut the session.
    code, text = r.reply()
    assert (code, text[:5]) == (421, "4.4.2")
    assert r.closed()
    assert stat(gw, "messages_rejected_total") == rejected + 1
    assert sink.messages == []


@needs_fiu
def test_no_memory_for_the_received_field(fiu_gw, sink):
    """The first allocation of the stored form is our Received: field's.
    When it fails the message is refused; it used to be queued (250)
    without its trace field.  gwd's other threads allocate too, and one
    of them may take the single failure first: then that message goes
    through, and the next try (another recipient) tells."""
    gw = fiu_gw
    for i in range(5):
        rcpt = "u%d@dest.test" % i
        r = past_354(gw, rcpt)
        code, text = end_without_memory(gw, r, ",onetime")
        assert r.cmd("QUIT")[0] == 221
        if code != 250:
            break
    assert (code, text[:5]) == (451, "4.3.0")
    assert not [e for e in gw.events("action='received'")
                if rcpt in (e["recipient"] or "")]
    assert not [m for m in sink.messages if rcpt in m.rcpt_tos]
