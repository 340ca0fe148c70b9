"""The inbound session's own replies: what EHLO offers and HELP lists
come from one table of verbs (gwd/smtp_cmd.c), so they must read exactly
as before it, in every state that changes them."""
from conftest import Raw, auth_plain, smarthost


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
    base = ["PIPELINING", "SIZE 65536", "8BITMIME", "ENHANCEDSTATUSCODES"]
    assert ehlo_keywords(r) == base + ["STARTTLS"]
    r.starttls()
    assert ehlo_keywords(r) == base + ["AUTH PLAIN LOGIN"]
    assert r.cmd("AUTH PLAIN " + auth_plain("app", "s3cret-pass"))[0] == 235
    assert ehlo_keywords(r) == base
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
