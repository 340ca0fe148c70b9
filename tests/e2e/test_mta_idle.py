"""Outbound connections close when they have been idle relay.idle_time,
when they are older than relay.connection_lifetime, and after
relay.messages_per_connection messages, each with QUIT; so a receiver's
new configuration (a Postfix reload) is seen on the next attempt, not
hidden behind an old smtpd process that keeps its old answers."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import client_tls_context, free_port, wait_for
from postfix_instance import Postfix, available

pytestmark = pytest.mark.skipif(not available(), reason="needs root and Debian's postfix")


def send(g, rcpt, subject):
    import smtplib
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", [rcpt],
                   ("From: app@example.com\r\nTo: %s\r\nSubject: %s\r\n\r\n"
                    "body\r\n" % (rcpt, subject)).encode())


def established(port):
    """gwd's connections to the receiver on port, as ss sees them."""
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          "dst", "127.0.0.1:%d" % port],
                         capture_output=True, text=True, check=True).stdout
    return [l for l in out.splitlines() if l.strip()]


def disconnects(pf):
    """Postfix's smtpd "disconnect" lines: one per closed session (but
    the probe of Postfix's start, which said nothing)."""
    return [d for d in re.findall(r"disconnect from \S+ (.*)", pf.logtext())
            if d != "commands=0/0"]


@pytest.fixture
def receiver():
    # Postfix's daemons run as user postfix and must reach their spool:
    # pytest's tmp_path is private to root, so the instance lives apart.
    root = tempfile.mkdtemp(prefix="gw-postfix-")
    os.chmod(root, 0o755)
    port = free_port()
    access = os.path.join(root, "conf", "access")
    pf = Postfix(root, port, {
        "smtpd_recipient_restrictions":
            "check_recipient_access texthash:%s, permit_mynetworks, reject"
            % access,
        "default_transport": "discard:",
        "relay_transport": "discard:",
    })
    pf.access = lambda text: pf.write_file("access", text, 0o644)
    pf.access("")
    pf.start()
    yield pf
    pf.stop()
    shutil.rmtree(root, ignore_errors=True)


def postfix_reload(pf):
    subprocess.run(["postfix", "-c", pf.conf, "reload"], check=True,
                   capture_output=True)


def test_idle_connection_quits_and_new_answer_is_seen(gw_factory, receiver):
    """The receiver says 450; gwd's connection then closes with QUIT
    after idle_time; the receiver is reloaded to accept, and the flush
    that follows is answered by the new configuration.  Before the fix
    the idle connection stayed open until the receiver's own timeout,
    and the flush went to the old smtpd and got the old 450."""
    pf = receiver
    pf.access("later@dest.test 450 4.2.0 come back later\n")
    postfix_reload(pf)
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                          "port": pf.port, "tls": "none"},
                   settings={"relay.idle_time": "500ms",
                             "queue.retry_min": "1h",
                             "queue.retry_max": "1h"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, "later@dest.test", "first")
    ev = wait_for(lambda: g.events("action='deferred'"), what="deferred")
    assert ev[0]["reply_code"] == 450 and "come back later" in ev[0]["reply_text"]
    # Gone after idle_time, and with QUIT (Postfix counts it).
    wait_for(lambda: not established(pf.port), what="connection closed")
    d = wait_for(lambda: disconnects(pf), what="smtpd disconnect line")
    assert "quit=1" in d[-1], d
    pf.access("")
    postfix_reload(pf)
    g.gwctl("queue", "flush", "ALL")
    ev = wait_for(lambda: g.events("action='delivered'"), what="delivered")
    assert ev[0]["recipient"] == "later@dest.test"
    assert len(g.events("action='deferred'")) == 1


def test_connection_reused_while_busy(gw_factory, receiver):
    """Closing idle connections does not stop reuse: messages that come
    one after the other within idle_time share one connection."""
    pf = receiver
    g = gw_to(gw_factory, pf)
    deliver(g, 3, "u")
    assert len(established(pf.port)) == 1
    assert disconnects(pf) == []


def reload_relay(g, name, value):
    """Change one relay setting in gwd.conf and SIGHUP gwd."""
    import signal
    with open(g.conf) as f:
        text = f.read()
    text, n = re.subn(r"(?m)^  %s = .*$" % name, '  %s = "%s";' % (name, value), text)
    assert n == 1
    with open(g.conf, "w") as f:
        f.write(text)
    mark = g.logtext().count("re-read")
    g.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: g.logtext().count("re-read") > mark, what="reload")


def gw_to(gw_factory, pf, **settings):
    s = {"relay.idle_time": "60s", "relay.connections": 1}
    s.update(("relay." + k, v) for k, v in settings.items())
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                          "port": pf.port, "tls": "none"},
                   settings=s).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def deliver(g, n, tag):
    """Send n messages one after the other, each delivered before the
    next (so each may reuse the connection of the one before)."""
    done = len(g.events("action='delivered'"))
    for i in range(n):
        send(g, "%s%d@dest.test" % (tag, i), "%s%d" % (tag, i))
        wait_for(lambda: len(g.events("action='delivered'")) == done + i + 1,
                 what="delivered %s%d" % (tag, i))


def test_message_count_cap(gw_factory, receiver):
    """messages_per_connection = 2: three messages need two sessions,
    the first ended with QUIT after two messages."""
    pf = receiver
    g = gw_to(gw_factory, pf, messages_per_connection=2)
    deliver(g, 3, "u")
    d = wait_for(lambda: disconnects(pf), what="the first session's end")
    assert len(d) == 1 and "quit=1" in d[0] and "mail=2" in d[0], d
    assert len(established(pf.port)) == 1      # the third, idle


def test_lifetime_cap(gw_factory, receiver):
    """A connection older than connection_lifetime takes no further
    message and closes, idle or not, whatever idle_time says."""
    pf = receiver
    g = gw_to(gw_factory, pf, connection_lifetime="1s")
    deliver(g, 1, "u")
    wait_for(lambda: not established(pf.port), what="connection closed")
    d = disconnects(pf)
    assert len(d) == 1 and "quit=1" in d[0] and "mail=1" in d[0], d


def test_idle_time_reloads(gw_factory, receiver):
    """idle_time is read anew on SIGHUP: the connection kept for 60 s
    takes the next message, then closes after the new idle_time."""
    pf = receiver
    g = gw_to(gw_factory, pf)
    deliver(g, 1, "a")
    assert len(established(pf.port)) == 1
    reload_relay(g, "idle_time", "300ms")
    deliver(g, 1, "b")
    wait_for(lambda: not established(pf.port), what="connection closed")
    d = disconnects(pf)
    assert len(d) == 1 and "quit=1" in d[0] and "mail=2" in d[0], d
