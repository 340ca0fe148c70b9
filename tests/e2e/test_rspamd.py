"""rspamd as gwd's spam scanner (issue 11): a real rspamd, started here
with its own minimal configuration on a loopback port
(rspamd_instance.py), checks every message over /checkv2 from gwd's
content worker.  GTUBE is refused with 550 5.7.1, a clean message goes
through, and the decision (rspamd's action and score) is in the
"scanned" event that gwsearch finds.  rspamd killed: fail = "open"
delivers, fail = "closed" answers 451 4.7.1, both logged.  An rspamd
that accepts and never answers holds the scan, not gwd's loop.
"""
import smtplib
import socket
import threading

import pytest

import rspamd_instance
from conftest import submit_refused, free_port, smarthost, wait_for

pytestmark = pytest.mark.skipif(not rspamd_instance.available(),
                                reason="rspamd is not installed "
                                       "(scripts/deps.sh test)")

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def message(subject, body):
    return ("From: app@example.com\r\nTo: user@dest.test\r\n"
            "Subject: %s\r\nMessage-ID: <%s@example.com>\r\n\r\n%s\r\n"
            % (subject, subject, body)).encode()


send = submit_refused


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory):
    r = rspamd_instance.Rspamd(tmp_path_factory.mktemp("rspamd"),
                               free_port()).start()
    yield r
    r.stop()


def gw_with(gw_factory, sink, url, **rs):
    conf = {"url": url, "timeout": "30s"}
    conf.update(rs)
    g = gw_factory(relay=smarthost(sink),
                   settings={"content.rspamd": conf}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def scanned(g):
    return g.events("action = 'scanned'")


def test_gtube_blocked_clean_passes(gw_factory, sink, rspamd):
    g = gw_with(gw_factory, sink, rspamd.url)
    code, text = send(g, message("gtube", "spam\r\n" + GTUBE))
    assert code == 550 and text.startswith("5.7.1 "), text
    assert "rspamd" in text
    assert send(g, message("clean", "the minutes of today's meeting")) is None
    sink.wait_count(1)
    assert b"Subject: clean" in sink.messages[0].data
    ev = scanned(g)
    assert len(ev) == 2
    blocked, clean = ev
    assert "fired=rspamd(block)" in blocked["detail"], blocked["detail"]
    assert "rspamd=reject" in blocked["detail"]
    assert "GTUBE" in blocked["detail"]
    assert "rspamd=no-action score=" in clean["detail"], clean["detail"]
    assert "rspamd(" not in clean["detail"].split(" counts=")[0]
    rej = g.events("action = 'rejected'")
    assert len(rej) == 1 and rej[0]["reply_code"] == 550
    # gwsearch finds rspamd's decision as a policy's.
    r = g.tool("gwsearch", "policy:rspamd", "--format", "jsonl")
    assert blocked["qid"] in r.stdout and clean["qid"] not in r.stdout
    # rspamd saw the envelope gwd sent with the message.
    seen = [l for l in rspamd.log().splitlines()
            if "qid: <%s>" % blocked["qid"] in l]
    assert len(seen) == 1, rspamd.log()[-2000:]
    assert "ip: 127.0.0.1, user: app, from: <app@example.com>" in seen[0]
    assert "rcpts: <user@dest.test>" in seen[0]


def test_action_mapping_configurable(gw_factory, sink, rspamd):
    """content.rspamd.reject = "tag": GTUBE goes, with X-GW-Policy."""
    g = gw_with(gw_factory, sink, rspamd.url, reject="tag")
    assert send(g, message("gtube-tagged", GTUBE)) is None
    sink.wait_count(1)
    assert b"X-GW-Policy: rspamd" in sink.messages[0].data
    assert "fired=rspamd(tag)" in scanned(g)[0]["detail"]


def test_rspamd_killed_fail_open_and_closed(gw_factory, sink, tmp_path):
    r = rspamd_instance.Rspamd(tmp_path / "rspamd", free_port()).start()
    try:
        g_open = gw_with(gw_factory, sink, r.url, fail="open")
        g_closed = gw_with(gw_factory, sink, r.url, fail="closed")
        for g in (g_open, g_closed):
            assert send(g, message("gtube", GTUBE))[0] == 550
    finally:
        r.stop(rspamd_instance.signal.SIGKILL)
    # Open: delivered, as if no scanner were configured.
    assert send(g_open, message("open", "hello")) is None
    sink.wait_count(1)
    assert b"Subject: open" in sink.messages[0].data
    # Closed: 451 4.7.1, nothing queued.
    code, text = send(g_closed, message("closed", "hello"))
    assert code == 451 and text.startswith("4.7.1 "), text
    assert "spam scanner unavailable" in text
    assert g_closed.queue_count() == 0
    for g, how in ((g_open, "open"), (g_closed, "closed")):
        wait_for(lambda: "rspamd %s" % r.url in g.logtext(),
                 what="the failure logged")
        line = [l for l in g.logtext().splitlines() if "rspamd http" in l][-1]
        assert "failing " + how in line, line
        wait_for(lambda: len(scanned(g)) == 2, what="the scanned events")
        assert "rspamd=unavailable(fail-%s)" % how in scanned(g)[-1]["detail"]
    wait_for(lambda: len(g_closed.events("action = 'rejected'")) == 2,
             what="the 451 logged")
    rej = g_closed.events("action = 'rejected'")
    assert [e["reply_code"] for e in rej] == [550, 451]
    # A second failure within the minute is not logged again.
    assert send(g_open, message("open2", "hello")) is None
    sink.wait_count(2)
    assert g_open.logtext().count("rspamd %s" % r.url) == 1


def test_silent_rspamd_holds_only_the_scan(gw_factory, sink):
    """An rspamd that accepts and never answers: the message waits for
    content.rspamd.timeout (here: until the test lets go), other
    clients are served meanwhile."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    release = threading.Event()
    conns = []

    def hold():
        while not release.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append(c)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    g = gw_with(gw_factory, sink, "http://127.0.0.1:%d" % port,
                timeout="60s", fail="open")
    result = {}
    sender = threading.Thread(
        target=lambda: result.setdefault("r", send(g, message("slow", "x"))))
    sender.start()
    wait_for(lambda: conns, what="gwd to connect to the silent rspamd")
    # The scan is stuck in rspamd; the loop still answers a new client.
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        assert s.ehlo()[0] == 250
        assert s.noop()[0] == 250
    assert sender.is_alive() and "r" not in result
    # rspamd goes away: fail open, the message is delivered.
    release.set()
    for c in conns:
        c.close()
    srv.close()
    sender.join(60)
    assert result.get("r") is None and not sender.is_alive()
    sink.wait_count(1)
    assert "rspamd=unavailable(fail-open)" in scanned(g)[0]["detail"]


def test_failed_rspamd_rests(gw_factory, sink):
    """After a failure rspamd is not asked for content.rspamd.retry: the
    messages meanwhile fail (here closed: 451) without waiting for a
    timeout of their own."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []

    def hold():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            conns.append(c)

    threading.Thread(target=hold, daemon=True).start()
    g = gw_with(gw_factory, sink, "http://127.0.0.1:%d" % srv.getsockname()[1],
                timeout="1s", retry="1h", fail="closed")
    try:
        for i in range(3):
            code, text = send(g, message("m%d" % i, "x"))
            assert code == 451 and "spam scanner unavailable" in text
        assert len(conns) == 1
        wait_for(lambda: len(scanned(g)) == 3, what="3 scanned events")
        assert all("rspamd=unavailable(fail-closed)" in e["detail"]
                   for e in scanned(g))
        assert "timed out" in g.logtext() or "Timeout" in g.logtext()
    finally:
        srv.close()
        for c in conns:
            c.close()
