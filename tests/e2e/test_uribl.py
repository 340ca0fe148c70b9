"""URL checks of the content policy (issue 11): the "uribl" detector.
A dnslib server on loopback is the DNS URI blocklist
(content.uribl = [ "multi.uribl.example" ]) that gwd asks through its
own resolver from the content worker; content.url_blocklist is a local
file of domains.  A message with a listed domain (in plain text, or
only in an HTML link) is refused by the policy, an unlisted one goes,
and the "scanned" event names the flagged domains (never the URLs).
"""
import os

import pytest
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP

from conftest import submit_refused, smarthost, wait_for

ZONE = "multi.uribl.example"


def message(subject, body, html=None):
    if html is None:
        m = MIMEText(body)
    else:
        m = MIMEMultipart("alternative")
        m.attach(MIMEText(body))
        m.attach(MIMEText(html, "html"))
    m["From"] = "app@example.com"
    m["To"] = "user@dest.test"
    m["Subject"] = subject
    return m.as_bytes(policy=SMTP)


send = submit_refused


def make_gw(gw_factory, sink, dns, tmp_path, **settings):
    dns.add("evil.example." + ZONE, "A", "127.0.0.2")
    dns.add("shop.co.uk." + ZONE, "A", "127.0.0.4")
    # 127.0.0.1 is a list's "query refused", not a listing.
    dns.add("refused.example." + ZONE, "A", "127.0.0.1")
    bl = tmp_path / "url_blocklist"
    bl.write_text("# phishing kits\nblocked.test\n*.kit.example\n")
    settings.update({"content.uribl": [ZONE], "content.uribl_timeout": "3s",
                     "content.url_blocklist": str(bl)})
    g = gw_factory(relay=smarthost(sink), dns=dns, settings=settings).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("policy", "add", "bad-urls", "--detector", "uribl", "--min", "1",
            "--action", "block")
    wait_for(lambda: "content policies loaded: 1" in g.logtext(),
             what="the policy loaded")
    g.blocklist = bl
    return g


@pytest.fixture
def gw(gw_factory, sink, dns, tmp_path):
    return make_gw(gw_factory, sink, dns, tmp_path)


def scanned(g, n):
    wait_for(lambda: len(g.events("action = 'scanned'")) >= n,
             what="%d scanned events" % n)
    return g.events("action = 'scanned'")


def test_listed_domain_blocked_unlisted_passes(gw, sink, dns):
    code, text = send(gw, message("text", "log in at http://www.evil.example"
                                  "/login?u=bob now"))
    assert code == 550 and text.startswith("5.7.1 ") and "bad-urls" in text
    # Only in an HTML link (the text part says nothing of it).
    code, _ = send(gw, message("html", "see the link", html=(
        '<p><a href="https://Login.EVIL.example:8443/x?y=1">click</a></p>')))
    assert code == 550
    # Reduced to the registered domain under a public suffix.
    assert send(gw, message("couk", "http://deals.shop.co.uk/a"))[0] == 550
    assert send(gw, message("clean", "see https://good.example/page and "
                            "www.fine.example, mail bob@evil.example")) is None
    assert send(gw, message("refused", "http://refused.example/")) is None
    sink.wait_count(2)
    asked = {q for q, t in dns.queries if q.endswith(ZONE)}
    assert {"evil.example." + ZONE, "shop.co.uk." + ZONE,
            "good.example." + ZONE, "fine.example." + ZONE} <= asked
    assert "login.evil.example." + ZONE not in asked
    ev = scanned(gw, 5)
    flagged = [e["detail"] for e in ev if "fired=bad-urls(block)" in e["detail"]]
    assert len(flagged) == 3
    assert "urls=evil.example(%s)" % ZONE in flagged[0]
    assert "urls=evil.example(%s)" % ZONE in flagged[1]
    assert "urls=shop.co.uk(%s)" % ZONE in flagged[2]
    for d in flagged:
        assert "login" not in d.lower() and "/x" not in d
    r = gw.tool("gwsearch", "policy:bad-urls", "--format", "jsonl")
    assert r.stdout.count('"scanned"') == 3


def test_local_blocklist(gw, sink, dns):
    assert send(gw, message("bl", "http://a.blocked.test/x"))[0] == 550
    assert send(gw, message("kit", "http://www.kit.example/"))[0] == 550
    ev = scanned(gw, 2)
    assert "urls=a.blocked.test(blocklist)" in ev[0]["detail"]
    assert "urls=www.kit.example(blocklist)" in ev[1]["detail"]
    # The list is re-read when the file changes.
    gw.blocklist.write_text("other.test\n")
    os.utime(gw.blocklist, (1, 1))
    wait_for(lambda: send(gw, message("again", "http://a.blocked.test/"))
             is None, what="the new blocklist")
    sink.wait_count(1)


@pytest.mark.parametrize("resolver_timeout", ["1s", "30s"])
def test_dns_silent_is_bounded(gw_factory, sink, dns, tmp_path,
                               resolver_timeout):
    """A blocklist that never answers: the message waits at most
    content.uribl_timeout (3s; or the resolver's own timeout when that
    is shorter), goes, and the scan says how many lookups went
    unanswered."""
    gw = make_gw(gw_factory, sink, dns, tmp_path,
                 **{"dns.timeout": resolver_timeout})
    dns.drop.add("slow.example." + ZONE)
    assert send(gw, message("slow", "http://slow.example/")) is None
    sink.wait_count(1)
    d = scanned(gw, 1)[0]["detail"]
    assert "uribl_unanswered=1" in d, d
    assert "fired= " in d
