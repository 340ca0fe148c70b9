"""The compliance archive (issue 11): journal reports through the queue,
the local store of day files chained by SHA-256, gwctl archive verify /
list / get, and durability: a message acknowledged with 250 is archived,
also after kill -9."""
import email
import email.policy
import os
import re
import smtplib
import struct
import subprocess
import threading
import time

from conftest import (BUILD, client_tls_context, free_port, smarthost,
                      wait_for)

HEAD_LEN = 56


def send(g, rcpts, body=b"hello\r\n", frm="app@example.com", headers=b""):
    """One message; the queue id of its 250."""
    msg = (b"From: " + frm.encode() + b"\r\nTo: u@dest.test\r\n"
           b"Subject: archive test\r\n" + headers + b"\r\n" + body)
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.mail(frm)
        for r in rcpts:
            s.rcpt(r)
        code, text = s.data(msg)
    assert code == 250, text
    return re.search(rb"queued as ([0-9A-F]{16})", text).group(1).decode()


def gwctl_raw(g, *args):
    """gwctl's exit status, stdout as bytes, stderr as text."""
    r = subprocess.run([os.path.join(BUILD, "gwctl"), "-c", g.conf] +
                       list(args), capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def archive_dir(g):
    return os.path.join(g.state, "archive")


def day_files(g):
    d = archive_dir(g)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if re.fullmatch(r"\d{8}\.gwa", f))


def records(path):
    """[(offset, length, seq, qid)] of a day file, read from the format
    as gwd.conf(5) documents it (a reader independent of gw's)."""
    data = open(path, "rb").read()
    out, off = [], HEAD_LEN
    while off < len(data):
        assert data[off:off + 4] == b"GWAR"
        length, seq = struct.unpack(">IQ", data[off + 4:off + 16])
        qidlen = struct.unpack(">H", data[off + 36:off + 38])[0]
        qid = data[off + 72:off + 72 + qidlen].decode()
        out.append((off, length, seq, qid))
        off += length
    return out


def listed(g):
    """{qid: seq} from gwctl archive list."""
    r = g.gwctl("archive", "list")
    out = {}
    for line in r.stdout.splitlines():
        seq, qid = line.split()[:2]
        assert qid not in out, "%s archived twice" % qid
        out[qid] = int(seq)
    return out


def archived_gw(gw_factory, sink, **settings):
    s = {"archive.store": True}
    s.update(settings)
    g = gw_factory(relay=smarthost(sink), settings=s).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def test_store_holds_message_byte_exact(gw_factory, sink):
    g = archived_gw(gw_factory, sink)
    body = b"".join(b"line %d \xc3\xa9 of the message\r\n" % i
                    for i in range(300))
    qid = send(g, ["to@dest.test", "hidden-bcc@dest.test"], body,
               headers=b"Content-Type: text/plain; charset=utf-8\r\n")
    sink.wait_count(1)
    wait_for(lambda: qid in listed(g), what="the message archived")
    rc, out, err = gwctl_raw(g, "archive", "get", qid)
    assert rc == 0, err
    # What was delivered (signed, with gwd's Received:) is what is kept.
    assert out == sink.messages[0].data
    rc, env, err = gwctl_raw(g, "archive", "get", qid, "--envelope")
    assert rc == 0, err
    assert b"Queue-ID: %s\r\n" % qid.encode() in env
    assert b"Sender: <app@example.com>\r\n" in env
    assert b"Recipient: <to@dest.test>\r\n" in env
    assert b"Recipient: <hidden-bcc@dest.test>\r\n" in env
    assert b"Subaccount: app\r\n" in env
    assert b"Client-IP: 127.0.0.1\r\n" in env
    v = g.gwctl("archive", "verify")
    assert "archive ok: 1 records in 1 day files" in v.stdout
    rc, _, err = gwctl_raw(g, "archive", "get", "0000000000000000")
    assert rc == 66 and "not in the archive" in err


def test_journal_report_carries_the_whole_envelope(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"archive.journal": "journal@archive.test"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    qid = send(g, ["to@dest.test", "secret-bcc@other.test"],
               b"the body\r\n")
    sink.wait_count(2)
    orig = [m for m in sink.messages if "to@dest.test" in m.rcpt_tos]
    jr = [m for m in sink.messages if m.rcpt_tos == ["journal@archive.test"]]
    assert len(orig) == 1 and len(jr) == 1
    # The journal report goes to the archive address alone: the
    # recipients never see it, and it never goes to them.
    assert all("journal@archive.test" not in m.rcpt_tos or len(m.rcpt_tos) == 1
               for m in sink.messages)
    raw = jr[0].data
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert msg["X-GW-Journal"] == qid
    assert msg.get_content_type() == "multipart/mixed"
    env_part, orig_part = msg.get_payload()
    assert env_part.get_content_type() == "text/plain"
    env = env_part.get_payload(decode=True)
    for line in (b"Queue-ID: " + qid.encode(), b"Sender: <app@example.com>",
                 b"Recipient: <to@dest.test>",
                 b"Recipient: <secret-bcc@other.test>",
                 b"Subaccount: app", b"Client-IP: 127.0.0.1"):
        assert line + b"\r\n" in env, (line, env)
    assert orig_part.get_content_type() == "message/rfc822"
    # The second part is the delivered message byte for byte.
    boundary = msg.get_boundary().encode()
    parts = raw.split(b"\r\n--" + boundary)
    inner = parts[2].split(b"\r\n\r\n", 1)[1]
    assert inner == orig[0].data
    # Its own events say what it is; nothing was stored locally.
    ev = g.events("detail = ?", ("journal report for %s" % qid,))
    assert len(ev) == 1 and ev[0]["action"] == "received"
    assert day_files(g) == []


def test_journal_report_is_dkim_signed(gw_factory, dns, sink):
    """The journal report is DKIM-signed like every message gwd makes
    (a DSN, a notice): by the domain of dsn_from, through the key
    process, and the signature verifies at the sink (dkimpy); its
    "signed" event names the report's queue id."""
    from test_dkim import activate, keygen, verify_dkimpy
    g = gw_factory(relay=smarthost(sink), dns=dns,
                   settings={"archive.journal": "journal@archive.test"},
                   extra='dsn_from = "journal-bot@example.com";').start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    keygen(g, dns, "example.com", "s1", "rsa")
    activate(g, "example.com", "s1")
    qid = send(g, ["to@dest.test"], b"the body\r\n")
    sink.wait_count(2)
    jr = [m for m in sink.messages if m.rcpt_tos == ["journal@archive.test"]]
    orig = [m for m in sink.messages if m.rcpt_tos == ["to@dest.test"]]
    assert len(jr) == 1 and len(orig) == 1
    raw = jr[0].data
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"DKIM-Signature:"), head
    assert b"d=example.com" in head and b"From: <journal-bot@example.com>" \
        in head
    assert verify_dkimpy(raw, dns) == [True]
    # The message inside is the delivered one, its own signature intact.
    assert verify_dkimpy(orig[0].data, dns) == [True]
    assert orig[0].data in raw
    jqid = email.message_from_bytes(raw)["Message-ID"].strip("<>").split(
        ".journal@")[0]
    ev = g.events("qid = ? AND action = 'signed'", (jqid,))
    assert len(ev) == 1 and "example.com" in ev[0]["detail"], ev


def test_rule_overrides(gw_factory, sink):
    g = archived_gw(gw_factory, sink, **{"archive.all": False})
    g.gwctl("route", "add", "--to-domain", "keep.test", "--archive", "yes")
    assert "archive=yes" in g.gwctl("route", "list").stdout
    skipped = send(g, ["a@dest.test"])
    kept = send(g, ["a@dest.test", "b@keep.test"])
    sink.wait_count(2)
    wait_for(lambda: kept in listed(g), what="kept archived")
    assert skipped not in listed(g)
    r = g.gwctl("route", "add", "--archive", "maybe", check=False)
    assert r.returncode == 64 and "yes or no" in r.stderr

    h = archived_gw(gw_factory, sink)
    h.gwctl("route", "add", "--to-domain", "private.test", "--archive", "no")
    private = send(h, ["p@private.test"])
    normal = send(h, ["n@dest.test"])
    sink.wait_count(4)
    wait_for(lambda: normal in listed(h), what="normal archived")
    assert private not in listed(h)


def sender(g, tid, acked, stop, errors):
    n = 0
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
                s.starttls(context=client_tls_context())
                s.login("app", "s3cret-pass")
                while not stop.is_set():
                    n += 1
                    s.mail("app@example.com")
                    s.rcpt("u%d@dest.test" % (n % 3))
                    code, text = s.data(b"From: app@example.com\r\nSubject: "
                                        b"load %d %d\r\n\r\n" % (tid, n) +
                                        b"x" * (n * 37 % 3000) + b"\r\n")
                    if code == 250:
                        acked.append(re.search(rb"queued as ([0-9A-F]{16})",
                                               text).group(1).decode())
        except (OSError, smtplib.SMTPException) as e:
            errors.append(repr(e))
            time.sleep(0.05)


def test_kill9_under_load_archives_every_acknowledged(gw_factory, sink):
    """Five submitters, gwd killed -9 three times while the archive lags
    (GW_TEST_ARCHIVE_DELAY: a slow archive disk, so acknowledged rows
    wait in queue.db at each kill): every queue id a client got 250 for
    is in the archive once, and verify passes."""
    g = archived_gw(gw_factory, sink)
    acked, errors = [], []
    slow = {"GW_TEST_ARCHIVE_DELAY": "300"}
    for round_ in range(3):
        g.stop()
        g.start(env=slow)
        stop = threading.Event()
        threads = [threading.Thread(target=sender,
                                    args=(g, i, acked, stop, errors))
                   for i in range(5)]
        for t in threads:
            t.start()
        want = len(acked) + 40
        wait_for(lambda: len(acked) >= want, 60, what="acknowledged mail")
        pending = g.db("queue.db").execute(
            "SELECT count(*) FROM archive_pending").fetchone()[0]
        g.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        assert pending > 0     # the kill found rows on their way
    g.start()
    wait_for(lambda: set(acked) <= set(listed(g)), 60, 0.2,
             "every acknowledged message in the archive")
    v = g.gwctl("archive", "verify")
    assert re.search(r"archive ok: (\d+) records", v.stdout)
    lst = listed(g)   # (no duplicates: listed() checks)
    seqs = sorted(lst.values())
    assert seqs == sorted(set(seqs))
    with g.db("queue.db") as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def tampered(g, change):
    """Stop gwd, change the day file's bytes, run verify: (rc, stderr)."""
    g.stop()
    path = day_files(g)[-1]
    os.chmod(path, 0o640)
    data = bytearray(open(path, "rb").read())
    data = change(data, records(path))
    with open(path, "wb") as f:
        f.write(data)
    rc, _, err = gwctl_raw(g, "archive", "verify")
    return rc, err


def five_archived(gw_factory, sink):
    g = archived_gw(gw_factory, sink)
    qids = [send(g, ["u@dest.test"], b"message %d\r\n" % i) for i in range(5)]
    wait_for(lambda: set(qids) <= set(listed(g)), what="five archived")
    assert g.gwctl("archive", "verify").returncode == 0
    return g, qids


def test_verify_names_a_changed_byte(gw_factory, sink):
    g, qids = five_archived(gw_factory, sink)

    def flip(data, recs):
        off, length, seq, qid = recs[2]
        data[off + length - 40] ^= 0x01      # in its compressed message
        return data
    rc, err = tampered(g, flip)
    assert rc == 65
    assert "record 3 " in err and qids[2] in err and "changed" in err, err


def test_verify_names_a_removed_record(gw_factory, sink):
    g, qids = five_archived(gw_factory, sink)

    def remove(data, recs):
        off, length, _, _ = recs[1]
        return data[:off] + data[off + length:]
    rc, err = tampered(g, remove)
    assert rc == 65
    # The record now second (the third sent) no longer follows the first.
    assert "record 2 " in err and qids[2] in err and "removed" in err, err


def test_verify_names_reordered_records(gw_factory, sink):
    g, qids = five_archived(gw_factory, sink)

    def swap(data, recs):
        (o1, l1, _, _), (o2, l2, _, _) = recs[1], recs[2]
        return data[:o1] + data[o2:o2 + l2] + data[o1:o1 + l1] + data[o2 + l2:]
    rc, err = tampered(g, swap)
    assert rc == 65
    assert "record 2 " in err and qids[2] in err and "reordered" in err, err


def test_days_chain_and_retention(gw_factory, sink):
    """Three days under faketime, then today with retention: the old days
    go, the anchor keeps the chain verifiable; a day file removed by hand
    is named."""
    import shutil
    g = archived_gw(gw_factory, sink, **{"archive.retention_days": 30})
    # libfaketime preloaded into gwd itself (the faketime wrapper would
    # be the process SIGTERM reaches); the wall clock only.
    env = {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
           ":verify_asan_link_order=0"}
    qids = []
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        g.stop()
        g.start(env=dict(env, FAKETIME="@%s 12:00:00" % day))
        qids += [send(g, ["u@dest.test"]), send(g, ["v@dest.test"])]
        wait_for(lambda: set(qids) <= set(listed(g)), what="archived")
    g.stop()
    names = [os.path.basename(p) for p in day_files(g)]
    assert names == ["20261101.gwa", "20261102.gwa", "20261103.gwa"]
    v = g.gwctl("archive", "verify")
    assert "archive ok: 6 records in 3 day files" in v.stdout, v.stdout
    one = g.gwctl("archive", "verify", "20261102")
    assert "20261102 ok: 2 records" in one.stdout
    assert "20261101 ok" not in one.stdout
    # Its records are found from the day its queue id names.
    rc, out, err = gwctl_raw(g, "archive", "get", qids[3])
    assert rc == 0 and b"Subject: archive test" in out, err

    # A day file removed by hand: the day after it no longer follows.
    aside = os.path.join(g.dir, "aside.gwa")
    shutil.copy2(os.path.join(archive_dir(g), "20261102.gwa"), aside)
    os.unlink(os.path.join(archive_dir(g), "20261102.gwa"))
    rc, _, err = gwctl_raw(g, "archive", "verify")
    assert rc == 65
    assert "20261103.gwa: does not follow 20261101" in err, err
    shutil.copy2(aside, os.path.join(archive_dir(g), "20261102.gwa"))

    # Today, retention_days 30: the November days go but the newest.
    g.start()
    wait_for(lambda: len(day_files(g)) == 1, what="retention")
    assert os.path.basename(day_files(g)[0]) == "20261103.gwa"
    anchor = open(os.path.join(archive_dir(g), "anchor")).read()
    assert anchor.startswith("first 20261103 prev ")
    qids.append(send(g, ["w@dest.test"]))
    wait_for(lambda: qids[-1] in listed(g), what="today archived")
    v = g.gwctl("archive", "verify")
    assert "archive ok: 3 records in 2 day files" in v.stdout, v.stdout
    # The anchor is part of the chain: a wrong one is found.
    with open(os.path.join(archive_dir(g), "anchor"), "w") as f:
        f.write("first 20261103 prev " + "0" * 64 + "\n")
    rc, _, err = gwctl_raw(g, "archive", "verify")
    assert rc == 65 and "20261103.gwa: does not follow anchor" in err, err


def test_kill_between_archive_sync_and_ack(gw_factory, sink):
    """Killed right after the day file is synced, before queue.db forgets
    the rows: the restart appends nothing twice and nothing is missing."""
    g = archived_gw(gw_factory, sink)
    g.stop()
    g.start(env={"GW_TEST_ARCHIVE_KILL": "1", "GW_TEST_ARCHIVE_DELAY": "300"})
    qids = []
    try:
        for i in range(3):
            qids.append(send(g, ["u@dest.test"], b"m %d\r\n" % i))
    except (OSError, smtplib.SMTPException, AssertionError):
        pass
    wait_for(lambda: g.proc.poll() is not None, what="gwd killed itself")
    g.kill9()
    with g.db("queue.db") as c:
        left = c.execute("SELECT count(*) FROM archive_pending").fetchone()[0]
    assert left > 0        # synced and not acknowledged
    g.start()
    qids.append(send(g, ["u@dest.test"], b"after\r\n"))
    wait_for(lambda: set(qids) <= set(listed(g)), what="all archived")
    assert g.gwctl("archive", "verify").returncode == 0
    # What the day file holds goes from queue.db (at the latest when
    # gwd starts again).
    g.stop()
    g.start()
    with g.db("queue.db") as c:
        assert c.execute("SELECT count(*) FROM archive_pending"
                         ).fetchone()[0] == 0


def test_delivered_before_archived_keeps_its_body(gw_factory, sink):
    """The archive lags (a slow disk): the message is delivered and its
    row deleted first; the body its pending row kept is what is archived."""
    g = archived_gw(gw_factory, sink)
    g.stop()
    # Each round waits 5 s: the first (at start-up) comes well after the
    # delivery, even under ASan.
    g.start(env={"GW_TEST_ARCHIVE_DELAY": "5000"})
    qid = send(g, ["u@dest.test"], b"delivered first\r\n" * 50)
    sink.wait_count(1)
    wait_for(lambda: g.db("queue.db").execute(
        "SELECT count(*) FROM message").fetchone()[0] == 0,
        what="the message row deleted")
    with g.db("queue.db") as c:
        kept = c.execute("SELECT body FROM archive_pending WHERE qid = ?",
                         (qid,)).fetchall()
    assert qid not in listed(g) and len(kept) == 1 and kept[0][0]
    wait_for(lambda: qid in listed(g), 30, what="archived")
    rc, out, err = gwctl_raw(g, "archive", "get", qid)
    assert rc == 0 and out == sink.messages[0].data, err


def test_start_after_a_cut_or_damaged_tail(gw_factory, sink):
    """A power cut may leave a part of a record, or zeros, at the end of
    the newest day file: gwd cuts them (never acknowledged) and goes on.
    Other bytes there are not gwd's to remove: it does not start."""
    g, qids = five_archived(gw_factory, sink)
    g.stop()
    path = day_files(g)[-1]
    whole = open(path, "rb").read()
    os.chmod(path, 0o640)
    off, length, _, _ = records(path)[-1]
    for tail in (whole[off:off + length - 50], b"\0" * 4096):
        with open(path, "ab") as f:
            f.write(tail)
        g.start()
        wait_for(lambda: os.path.getsize(path) == len(whole),
                 what="the tail cut off")
        qids.append(send(g, ["u@dest.test"]))
        wait_for(lambda: qids[-1] in listed(g), what="archived after")
        assert g.gwctl("archive", "verify").returncode == 0
        g.stop()
        whole = open(path, "rb").read()
    with open(path, "ab") as f:
        f.write(b"not a record, and not zeros")
    g.proc = None
    import subprocess as sp
    r = sp.run([os.path.join(BUILD, "gwd"), "-c", g.conf], capture_output=True,
               text=True, timeout=60)
    assert r.returncode == 69
    assert "archive: " in r.stderr and "gwctl archive verify" in r.stderr


def test_verify_finds_records_removed_from_the_end(gw_factory, sink):
    """The last records of the newest day break no link; the head gwd
    recorded in queue.db (the last record synced when it let rows go)
    shows them missing."""
    g, qids = five_archived(gw_factory, sink)
    last = listed(g)[qids[-1]]

    def head():
        with g.db("queue.db") as c:
            r = c.execute("SELECT seq FROM archive_head").fetchone()
            return r and r[0] >= last
    # Each commit lets go of what is synced: send until one has.
    for i in range(50):
        if head():
            break
        send(g, ["u@dest.test"], b"more %d\r\n" % i)
        time.sleep(0.2)
    assert head()

    def cut_two(data, recs):
        return data[:recs[-2][0]]
    rc, err = tampered(g, cut_two)
    assert rc == 65
    assert "records were removed from the end" in err, err


def test_http_api_message_is_archived_and_journaled(gw_factory, sink):
    """A message sent with POST /v1/messages takes the path SMTP's take
    (submit_message()): it is in the local archive byte for byte as
    delivered, with its API key as the credential, and has its journal
    report."""
    from test_send_api import apikey, call
    port = free_port()
    g = gw_factory(relay=smarthost(sink),
                   settings={"archive.store": True,
                             "archive.journal": "journal@archive.test"},
                   extra='http = { listen = "127.0.0.1:%d"; };' % port).start()
    g.http_port = port
    g.add_subaccount("app", "example.com", "s3cret-pass")
    g.key = apikey(g, "app")
    st, _, b = call(g, "/v1/messages", {"from": "app@example.com",
                                        "to": ["to@dest.test"],
                                        "bcc": ["api-bcc@other.test"],
                                        "subject": "via the API",
                                        "text": "sent over HTTPS"})
    assert st == 202, b
    qid = b["id"]
    sink.wait_count(2)
    orig = [m for m in sink.messages if "to@dest.test" in m.rcpt_tos]
    jr = [m for m in sink.messages if m.rcpt_tos == ["journal@archive.test"]]
    assert len(orig) == 1 and len(jr) == 1
    assert b"X-GW-Journal: " + qid.encode() in jr[0].data
    wait_for(lambda: qid in listed(g), what="the API's message archived")
    rc, out, err = gwctl_raw(g, "archive", "get", qid)
    assert rc == 0, err
    assert out == orig[0].data
    rc, env, err = gwctl_raw(g, "archive", "get", qid, "--envelope")
    assert rc == 0, err
    for line in (b"Queue-ID: " + qid.encode(), b"Sender: <app@example.com>",
                 b"Recipient: <to@dest.test>",
                 b"Recipient: <api-bcc@other.test>",
                 b"Subaccount: app", b"Client-IP: 127.0.0.1"):
        assert line + b"\r\n" in env, (line, env)
    auth = re.search(rb"Auth: (.*)\r\n", env).group(1).decode()
    assert auth.startswith("apikey "), auth
    assert auth.split()[1] in g.gwctl("apikey", "list", "app").stdout
    assert "archive ok: 1 records" in g.gwctl("archive", "verify").stdout
