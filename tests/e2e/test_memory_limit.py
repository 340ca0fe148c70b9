"""limits.memory while DATA arrives (issue 19 item 3).

The attack of the red-team pass: 40 authenticated sessions, all past 354,
then each sends a 5 MB message in one go.  gwd counts what every session
holds (its message so far, its input and output buffers) and what is on
its way to the queue, and closes the largest DATA sessions with 421 4.3.1
as soon as the total passes the limit.  RSS is read from /proc (VmRSS
sampled, VmHWM after resetting it through clear_refs) and compared with
the limit plus a stated overhead; another client keeps being served.
"""
import os
import ssl
import threading

import pytest

from conftest import (BUILD, Raw, client_tls_context, control, free_port, login,
                      wait_for)
from test_metrics import prometheus, rejections

MB = 1 << 20
LIMIT = 64 * MB
SESSIONS = 40
# What gwd holds beyond limits.memory, measured from the RSS just before
# the burst: OpenSSL's buffers of 40 TLS sessions (~2 MB), SQLite page
# caches and the store thread's copy of the messages it commits (each
# message is a 5 MB blob in one INSERT), and pages the allocator has not
# returned yet.  Before the fix the same burst reached 300 MB over.
OVERHEAD = 32 * MB

SAN = BUILD.rstrip("/").endswith("-san")


def body(size):
    line = b"x" * 76 + b"\r\n"
    head = (b"From: app@example.com\r\nTo: u@dest.test\r\n"
            b"Subject: big\r\n\r\n")
    return head + line * (size // len(line)) + b".\r\n"


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith(key + ":"):
                return int(l.split()[1]) * 1024
    raise AssertionError(key)


def stat(g, name):
    return int(dict(l.split() for l in control(g, "stats").splitlines())[name])


def in_data(g):
    r = Raw(g.ports["submission"], timeout=60)
    assert r.reply()[0] == 220
    assert login(r, "app", "s3cret-pass")[0] == 235
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    return r


def send_and_answer(r, data, out, i):
    try:
        r.send(data)
        out[i] = r.reply()
    except (OSError, EOFError, ssl.SSLError) as e:
        out[i] = ("closed", str(e))


class Bystander(threading.Thread):
    """Another client: small messages, one after another, until told."""

    def __init__(self, g):
        super().__init__()
        self.g = g
        self.stop = threading.Event()
        self.replies = []
        self.r = Raw(g.ports["submission"], timeout=60)
        assert self.r.reply()[0] == 220
        assert login(self.r, "app", "s3cret-pass")[0] == 235

    def run(self):
        msg = (b"From: app@example.com\r\nTo: v@dest.test\r\nSubject: small"
               b"\r\n\r\nhello\r\n.\r\n")
        while not self.stop.is_set():
            assert self.r.cmd("MAIL FROM:<app@example.com>")[0] == 250
            assert self.r.cmd("RCPT TO:<v@dest.test>")[0] == 250
            code, text = self.r.cmd("DATA")
            if code == 354:
                self.r.send(msg)
                code, text = self.r.reply()
            else:
                self.r.cmd("RSET")
            self.replies.append((code, text))


def test_memory_limit_holds_while_data_arrives(gw_factory):
    # Deliveries would hold bodies in the queue's cache, which is not
    # what is measured here: every message is held by a routing rule.
    port = free_port()
    g = gw_factory(settings={"limits.memory": "64M",
                             "limits.data_timeout": "60s",
                             "metrics.listen": "127.0.0.1:%d" % port}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.gwctl("route", "add", "--hold")
    sessions = [in_data(g) for _ in range(SESSIONS)]
    by = Bystander(g)
    pid = g.proc.pid
    base = status_kb(pid, "VmRSS")
    with open("/proc/%d/clear_refs" % pid, "w") as f:
        f.write("5")            # VmHWM := VmRSS from here on
    data = body(5 * MB)
    out = [None] * SESSIONS
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], status_kb(pid, "VmRSS"))
            done.wait(0.01)

    mon = threading.Thread(target=sample)
    mon.start()
    by.start()
    ts = [threading.Thread(target=send_and_answer, args=(r, data, out, i))
          for i, r in enumerate(sessions)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    by.stop.set()
    by.join(120)
    done.set()
    mon.join()
    hwm = status_kb(pid, "VmHWM")

    codes = [o[0] for o in out]
    assert all(c in (250, 421, "closed") for c in codes), out
    refused = [o for o in out if o[0] == 421]
    assert refused and all(o[1].startswith("4.3.1") for o in refused), out
    assert 250 in codes, out
    # The other client was served meanwhile: only 250s, or a 452 at DATA
    # while the limit was reached, never a closed session.
    assert by.replies and all(c in (250, 452) for c, _ in by.replies), \
        by.replies
    assert any(c == 250 for c, _ in by.replies), by.replies
    # Each 452 counted by its stage and reason.
    assert rejections(prometheus(port))["data", "memory"] == \
        sum(c == 452 for c, _ in by.replies)
    assert "limits.memory reached" in g.logtext()
    if not SAN:     # ASan keeps freed memory in quarantine
        grown = max(peak[0], hwm) - base
        assert grown <= LIMIT + OVERHEAD, \
            "RSS grew %.1f MB (limit 64 MB + %d MB)" % (grown / MB,
                                                       OVERHEAD // MB)
    # Everything counted was given back.
    for r in sessions:
        r.close()
    by.r.close()
    wait_for(lambda: stat(g, "memory_bytes") == 0, what="memory_bytes 0")
    assert stat(g, "memory_closed_total") == len(refused) + \
        sum(1 for c in codes if c == "closed")
