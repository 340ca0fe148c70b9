"""Nothing acknowledged is ever lost: kill -9 under load, restart, drain."""
import random
import re
import smtplib
import sqlite3
import threading
import time

from conftest import client_tls_context, smarthost, wait_for


def sender(gw_ref, tid, acked, stop, errors):
    """Send messages until told to stop; remember every 250."""
    n = 0
    while not stop.is_set():
        try:
            g = gw_ref[0]
            with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
                s.starttls(context=client_tls_context())
                s.login("app", "s3cret-pass")
                while not stop.is_set():
                    mid = "<t%d.%d@example.com>" % (tid, n)
                    n += 1
                    msg = ("From: app@example.com\r\nTo: u@dest.test\r\n"
                           "Message-ID: %s\r\nSubject: load\r\n\r\n%s\r\n"
                           % (mid, "x" * random.randint(10, 5000))).encode()
                    s.mail("app@example.com")
                    s.rcpt("u%d@dest.test" % (n % 3))
                    code, text = s.data(msg)
                    if code == 250:
                        assert re.search(rb"queued as [0-9A-F]{16}", text)
                        acked.append(mid)
        except (OSError, smtplib.SMTPException) as e:
            errors.append(repr(e))
            time.sleep(0.05)


def test_kill9_under_load_loses_nothing(gw_factory, sink):
    held = {"on": True}
    # The sink first refuses (4xx) so that mail piles up in the queue.
    sink.data_reply = lambda m: "451 4.3.0 busy" if held["on"] else None
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "1s", "queue.retry_max": "1s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    ref = [g]
    acked, errors = [], []
    stop = threading.Event()
    threads = [threading.Thread(target=sender, args=(ref, i, acked, stop, errors))
               for i in range(6)]
    for t in threads:
        t.start()
    for round_ in range(3):
        wait_for(lambda: len(acked) >= 60 * (round_ + 1), 60, what="acknowledged mail")
        if round_ == 1:
            held["on"] = False       # deliveries flow during the last kills
        time.sleep(random.uniform(0.05, 0.3))
        g.kill9()
        time.sleep(0.2)
        g.start()
    stop.set()
    for t in threads:
        t.join(30)
    held["on"] = False
    ids = set(acked)

    def all_arrived():
        seen = set()
        for m in sink.messages:
            r = re.search(rb"(?m)^Message-ID: (<[^>]+>)", m.data)
            if r:
                seen.add(r.group(1).decode())
        return ids <= seen
    wait_for(all_arrived, 60, 0.2, "every acknowledged message at the sink")
    wait_for(lambda: g.queue_count() == 0, 30, what="queue drained")
    counts = {}
    for m in sink.messages:
        mid = re.search(rb"(?m)^Message-ID: (<[^>]+>)", m.data).group(1)
        counts[mid] = counts.get(mid, 0) + 1
    dups = sum(c - 1 for c in counts.values())
    # Duplicates only for messages in flight at a kill (3 kills).
    assert dups <= 3 * 20, dups
    with g.db("queue.db") as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with g.db("log.db") as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        received = {r[0] for r in c.execute(
            "SELECT message_id FROM event WHERE action='received'")}
    # Every 250 has its audit row.
    assert ids <= received


def test_restart_resumes_deferred_mail(gw_factory, sink):
    sink.data_reply = lambda m: "451 4.3.0 later"
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.retry_min": "1s", "queue.retry_max": "1s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        for i in range(10):
            s.sendmail("app@example.com", ["u%d@dest.test" % i],
                       b"From: app@example.com\r\nSubject: r\r\n\r\nhi\r\n")
    # Every recipient deferred at least once (with retries every second,
    # one may be deferred twice before the last is tried at all).
    wait_for(lambda: len({e["recipient"] for e in g.events("action='deferred'")}) == 10,
             what="deferrals")
    assert g.stop() == 0
    with g.db("queue.db") as c:
        assert c.execute("SELECT count(*) FROM recipient WHERE attempts > 0"
                         ).fetchone()[0] == 10
    sink.data_reply = None
    g.start()
    sink.wait_count(10, timeout=30)
    wait_for(lambda: g.queue_count() == 0, what="queue drained")
