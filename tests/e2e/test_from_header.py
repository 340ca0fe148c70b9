"""From: and Sender: are read whole or refused (issue 19, item 2).

alice owns example.com and has an active DKIM key for it; bob owns
other.org and has one too.  A From: or Sender: that gwd cannot read
completely and unambiguously, or that names a domain alice does not own
anywhere in it, gets 550 5.7.1 at the end of DATA: nothing is signed,
stored or delivered.
"""
import pytest

from conftest import Raw, login, smarthost, wait_for
from test_dkim import activate, keygen, signatures

OWN8 = ", ".join("a%d@example.com" % i for i in range(1, 9))


@pytest.fixture
def gw(gw_factory, dns, sink):
    g = gw_factory(relay=smarthost(sink), dns=dns).start()
    g.add_subaccount("alice", "example.com", "alice-pass")
    g.add_subaccount("bob", "other.org", "bob-pass")
    for dom in ("example.com", "other.org"):
        keygen(g, dns, dom, "s1")
        activate(g, dom, "s1")
    return g


def submit(gw, headers):
    """One message as alice, header lines as given: the reply to DATA."""
    r = Raw(gw.ports["submission"])
    r.reply()
    assert login(r, "alice", "alice-pass")[0] == 235
    assert r.cmd("MAIL FROM:<a@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    got = r.cmd(headers + "\r\nTo: u@dest.test\r\nSubject: t\r\n\r\nhi\r\n.")
    # The session goes on, and the refusal dropped the envelope.
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 503
    r.cmd("QUIT")
    r.close()
    return got


ATTACKS = {
    # (a) eight owned addresses, then one alice does not own: the old
    # parser kept eight and never looked at the ninth.
    "ninth-address": "From: %s, ceo@other.org" % OWN8,
    # (b) "(x\()" is a comment by RFC 5322 3.2.2; the old parser ignored
    # the quoted-pair and took <ceo@other.org> for part of a comment.
    "comment-quoted-pair": "From: (x\\() <ceo@other.org> ) <a@example.com>",
    "sender-foreign": "From: a@example.com\r\nSender: ceo@other.org",
    "sender-comment": "From: a@example.com\r\nSender: (x\\() <ceo@other.org> )"
                      " <a@example.com>",
    "sender-two": "From: a@example.com\r\nSender: a@example.com, ceo@other.org",
    "folded-ninth": "From: %s,\r\n ceo@other.org" % OWN8.replace(", ", ",\r\n "),
    "group": "From: Staff: a@example.com, ceo@other.org;",
    "too-many": "From: " + ", ".join("a%d@example.com" % i for i in range(33)),
    "obsolete-domain": "From: a@example.com, ceo@other . org",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_foreign_or_unreadable_author_refused(gw, sink, name):
    code, text = submit(gw, ATTACKS[name])
    assert code == 550 and text.startswith("5.7.1 "), (code, text)
    rej = wait_for(lambda: gw.events("action='rejected'"), what="rejected")
    assert rej[0]["reply_code"] == 550 and rej[0]["subaccount"] == "alice"
    # Nothing signed, stored or delivered.
    assert gw.events("action IN ('signed', 'unsigned', 'received')") == []
    assert gw.queue_count() == 0
    assert sink.messages == []


def test_readable_authors_signed(gw, sink):
    """The same shapes with only alice's domain go, and are signed by
    example.com (so the refusals above are not a setup that never signs)."""
    code, _ = submit(gw, "From: %s\r\nSender: (x\\() <s@example.com>" % OWN8)
    assert code == 250
    got = sink.wait_count(1)[0]
    assert [s["d"] for s in signatures(got.data)] == ["example.com"]
    code, _ = submit(gw, "From: Staff (our \\) team): a@example.com,\r\n"
                         " \"b\" <b@mail.example.com>;")
    assert code == 250
    sink.wait_count(2)
