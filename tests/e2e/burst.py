"""The 451 burst of issue 21, as a scenario that a test and a bench run.

A receiver that answers "451 4.3.0 try again later" to everything for a
while (a fault on its side), then 250 again.  The replies come in a
burst, one per open connection; they used to throttle the destination
down to one connection and a message a minute, so a backlog took
minutes to drain after a fault of seconds.

run() measures, with one gwd and one sink in the same run:
 1. the fault-free drain: a backlog of n messages appears at once (held
    by a routing rule, then released), the time until the queue is
    empty;
 2. the same backlog with the fault for fault_s seconds from the
    release: the time from the end of the fault until the queue is
    empty.
The sink answers each message after sink_delay seconds (serially: a
slow receiver), so the fault-free drain takes long enough to compare.
The result counts what gwd acknowledged (250 to the submitter), what
arrived, what is still queued, what was lost and what arrived twice,
and the ratio of the two drain times (the issue asks for at most 2).
"""
import collections
import smtplib
import threading
import time

from conftest import client_tls_context, wait_for

FAULT_REPLY = "451 4.3.0 try again later"


class FaultySink:
    """Wraps a conftest.Sink: each DATA waits sink_delay seconds, then is
    answered reply while self.fault is set, 250 otherwise."""

    def __init__(self, sink, sink_delay, reply=FAULT_REPLY):
        self.sink = sink
        self.reply = reply
        self.fault = False
        self.faulted = 0          # replies 451 so far
        self.delay = sink_delay
        sink.data_reply = self._reply

    def _reply(self, msg):
        time.sleep(self.delay)
        if self.fault:
            self.faulted += 1
            return self.reply
        return None


def subject_of(msg):
    for line in msg.headers.split(b"\r\n"):
        if line.startswith(b"Subject: "):
            return line[9:].decode()
    return None


def submit_backlog(g, n, rcpt, tag, password="s3cret-pass"):
    """n messages over one session; how many got their 250."""
    acked = 0
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=60) as s:
        s.starttls(context=client_tls_context())
        s.login("app", password)
        for i in range(n):
            s.sendmail("app@example.com", [rcpt], (
                "From: app@example.com\r\nTo: %s\r\nSubject: %s-%d\r\n\r\n"
                "body %d\r\n" % (rcpt, tag, i, i)).encode())
            acked += 1
    return acked


def backlog(g, n, domain, tag):
    """n messages to domain, held by a rule until all are queued; the
    rule goes.  Returns how many were acknowledged."""
    out = g.gwctl("route", "add", "--to-domain", domain, "--hold").stdout
    rule = out.split()[1]                 # "route N added at position P"
    acked = submit_backlog(g, n, "user@" + domain, tag)
    wait_for(lambda: g.queue_count() == acked, timeout=60,
             what="%d held recipients" % acked)
    g.gwctl("route", "delete", rule)
    return acked


def drained(g, timeout):
    """Wait until queue.db holds no recipient; the time it happened, or
    None after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if g.queue_count() == 0:
            return time.monotonic()
        time.sleep(0.05)
    return None


def run(g, sink, n=300, fault_s=25.0, sink_delay=0.015, max_wait=None,
        reply=FAULT_REPLY):
    """The two phases on a started gwd relaying to sink (a conftest.Sink,
    smarthost mode) with subaccount "app"; the counts and times.  reply:
    the fault's (a 421 shows the backoff and its recovery instead)."""
    fs = FaultySink(sink, sink_delay, reply)
    r = {"acked": 0}

    r["acked"] += backlog(g, n, "clean.test", "clean")
    t0 = time.monotonic()
    g.gwctl("queue", "release", "ALL")
    t1 = drained(g, max_wait or 600)
    assert t1 is not None, "the fault-free backlog did not drain"
    r["clean_s"] = t1 - t0

    r["acked"] += backlog(g, n, "burst.test", "burst")
    ended = {}

    def heal():
        fs.fault = False
        ended["at"] = time.monotonic()
    fs.fault = True
    timer = threading.Timer(fault_s, heal)
    timer.start()
    g.gwctl("queue", "release", "ALL")
    timer.join()
    t2 = drained(g, max_wait or max(60.0, 10 * r["clean_s"]))
    r["fault_s"] = fault_s
    r["faulted"] = fs.faulted
    r["after_s"] = (t2 - ended["at"]) if t2 is not None else None
    r["ratio"] = (r["after_s"] / r["clean_s"]
                  if r["after_s"] is not None else None)

    seen = collections.Counter(subject_of(m) for m in list(sink.messages))
    r["delivered"] = len(seen)
    r["duplicated"] = sum(c - 1 for c in seen.values())
    r["queued"] = g.queue_count()         # not drained (yet): not lost
    r["lost"] = r["acked"] - r["delivered"] - r["queued"]
    return r
