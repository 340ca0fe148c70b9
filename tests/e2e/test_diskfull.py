"""A full state_dir (issue 21, item 1): deliveries made while queue.db
refuses commits are recorded once space is back, never made again after
a restart, and every event reaches log.db.  On a small tmpfs and on a
loop-mounted ext4 image (needs root, as mount does).

How the disk is made full for queue.db: a reader holds a snapshot of
queue.db from before the mail came (as gwsearch or gwtop may), so the
WAL is never reused from its start and every commit needs new space;
then a file takes the last free byte.  The sink holds the deliveries at
their final dot until the disk is full, so their outcomes are the
commits that fail.
"""
import contextlib
import errno
import gc
import os
import re
import smtplib
import sqlite3
import subprocess
import threading

import pytest

from conftest import client_tls_context, free_port, smarthost, wait_for
from test_metrics import prometheus, rejections, stats
from test_outbox import submit

NMSG = 12
INFLIGHT = 4        # relay.connections: deliveries held at the sink at once

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mount needs root")


@contextlib.contextmanager
def small_fs(kind, path, size_mb=48):
    """A fresh file system of size_mb mounted on path."""
    os.makedirs(path, exist_ok=True)
    img = path + ".img"
    if kind == "tmpfs":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dM" % size_mb,
                        "tmpfs", path], check=True)
    else:
        subprocess.run(["truncate", "-s", "%dM" % size_mb, img], check=True)
        # -m 0: no blocks kept for root (gwd and the filler both run as
        # root here; the reserve would only blur "full").
        subprocess.run(["mkfs.ext4", "-q", "-m", "0", "-F", img], check=True)
        subprocess.run(["mount", "-o", "loop", img, path], check=True)
    try:
        yield
    finally:
        gc.collect()            # sqlite3 connections not closed yet
        busy = subprocess.run(["umount", path]).returncode != 0
        if busy:                # never leave a mount behind
            subprocess.run(["umount", "-l", path], check=False)
        if os.path.exists(img):
            os.unlink(img)
        assert not busy, "%s still in use" % path


def fill(path):
    """Take every free byte of path's file system; returns the file."""
    name = os.path.join(path, "filler")
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            buf = b"\0" * size
            while True:
                try:
                    os.write(fd, buf)
                except OSError as e:
                    assert e.errno in (errno.ENOSPC, errno.EDQUOT), e
                    break
        os.fsync(fd)
    finally:
        os.close(fd)
    assert os.statvfs(path).f_bavail == 0
    return name


def mail_code(g):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        return s.mail("app@example.com")


def sink_counts(sink):
    counts = {}
    for m in sink.messages:
        mid = re.search(rb"(?m)^Message-ID: (<[^>]+>)", m.data).group(1)
        counts[mid.decode()] = counts.get(mid.decode(), 0) + 1
    return counts


@pytest.mark.parametrize("kind", ["tmpfs", "ext4"])
def test_full_disk_no_duplicates_no_lost_events(gw_factory, sink, kind):
    sink.gate = threading.Event()
    port = free_port()
    g = gw_factory(relay=smarthost(sink),
                   settings={"metrics.min_free": "1M",
                             "metrics.listen": "127.0.0.1:%d" % port,
                             "relay.connections": INFLIGHT,
                             "queue.retry_min": "1s", "queue.retry_max": "1s"})
    reader = None
    with small_fs(kind, g.state):
        try:
            g.start()
            g.add_subaccount("app", "example.com", "s3cret-pass")
            reader = sqlite3.connect("file:%s?mode=ro" %
                                     os.path.join(g.state, "queue.db"), uri=True)
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM message").fetchone()
            body = "".join("line %d of a message big enough to need "
                           "pages\r\n" % k for k in range(400))
            mids = submit(g, NMSG, kind, body)
            sink.wait_count(INFLIGHT)
            filler = fill(g.state)

            # New mail is refused at MAIL, not after the whole DATA.
            code, text = wait_for(lambda: (lambda r: r if r[0] != 250 else None)(
                mail_code(g)), what="MAIL refused")
            assert (code, text) == (452, b"4.3.1 Insufficient system storage")
            assert rejections(prometheus(port))["mail", "storage"] == 1
            # Even that refusal's event cannot be recorded: gwd knows.
            wait_for(lambda: stats(g)["store_blocked"] == 1, 30,
                     what="commits refused")

            # The deliveries end; their outcomes cannot be recorded.
            sink.gate.set()
            wait_for(lambda: stats(g)["queue_active"] == 0, 30,
                     what="the deliveries under way ended")
            first = stats(g)["store_commit_failures_total"]
            wait_for(lambda: stats(g)["store_commit_failures_total"] >= first + 3,
                     30, what="three more tries")
            # No delivery started meanwhile: it could not be recorded.
            assert len(sink.messages) == INFLIGHT
            assert stats(g)["queue_active"] == 0
            assert stats(g)["store_blocked"] == 1

            os.unlink(filler)
            reader.close()
            reader = None
            wait_for(lambda: stats(g)["store_blocked"] == 0, 30,
                     what="commits land again")
            wait_for(lambda: len(sink.messages) >= NMSG, 60,
                     what="the rest delivered")
            wait_for(lambda: stats(g)["queue_recipients"] == 0, 30,
                     what="queue empty in memory")
            assert g.stop() == 0
            # Memory and disk agree: nothing left to send again.
            assert g.queue_count() == 0
            g.start()
            assert re.findall(r"queue loaded: messages=(\d+)",
                              g.logtext())[-1] == "0"
            assert g.stop() == 0
        finally:
            if reader is not None:
                reader.close()
            g.stop()

            counts = sink_counts(sink)
            with contextlib.closing(g.db("log.db")) as c:
                ev = [dict(r) for r in c.execute(
                    "SELECT action, qid, message_id, reply_code FROM event")]
    assert counts == {m: 1 for m in mids}
    qid_of = {e["message_id"]: e["qid"] for e in ev if e["action"] == "received"}
    assert set(qid_of) == set(mids)
    delivered = [e["qid"] for e in ev if e["action"] == "delivered"]
    assert sorted(delivered) == sorted(qid_of.values())
    # The refusal at MAIL is an event too, recorded once space was back.
    assert [e for e in ev if e["action"] == "rejected" and e["reply_code"] == 452]


def test_mail_size_beyond_free_space(gw_factory):
    """SIZE= that would not fit (1.5 times itself beyond metrics.min_free,
    as Postfix's queue_minfree) is refused at MAIL; a small one passes."""
    g = gw_factory(settings={"metrics.min_free": "1M",
                             "limits.message_size": "64M"})
    with small_fs("tmpfs", g.state, 48):
        try:
            g.start()
            g.add_subaccount("app", "example.com", "s3cret-pass")
            free = os.statvfs(g.state).f_bavail * os.statvfs(g.state).f_frsize
            with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
                s.starttls(context=client_tls_context())
                s.login("app", "s3cret-pass")
                assert s.mail("app@example.com", ["SIZE=%d" % (free * 2 // 3)]) == \
                    (452, b"4.3.1 Insufficient system storage")
                assert s.mail("app@example.com", ["SIZE=%d" % (free // 3)])[0] == 250
        finally:
            g.stop()
