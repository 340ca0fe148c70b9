"""bench/submitload.c, the load generator of bench/submit, against gwd.

Not a benchmark: a few messages each way, checking that the generator
speaks every mode it offers (STARTTLS, implicit TLS, AUTH PLAIN, several
messages per connection, PIPELINING, TLS resumption), that what it
counts as accepted is what arrived, and that it reports failures
instead of hiding them.
"""
import os
import subprocess

import pytest

from conftest import BUILD, control_stats, smarthost

USER, PASSWORD = "app", "s3cret-pass"


@pytest.fixture
def gw(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount(USER, "example.com", PASSWORD)
    return g


def submitload(port, *args, auth="%s:%s" % (USER, PASSWORD)):
    cmd = [os.path.join(BUILD, "submitload"), "-f", "app@example.com",
           "-t", "user@dest.test", "--timeout", "60"]
    if auth:
        cmd += ["-a", auth]
    r = subprocess.run(cmd + list(args) + ["127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=120)
    out = dict(kv.split("=", 1) for kv in r.stdout.split())
    return r.returncode, out, r.stderr


@pytest.mark.parametrize("mode,args", [
    ("submission", ["-s", "3", "-m", "6"]),
    ("submission", ["-s", "2", "-m", "7", "-M", "3", "--pipelining"]),
    ("smtps", ["-T", "implicit", "-s", "1", "-m", "4", "--resume"]),
])
def test_every_message_accepted_and_delivered(gw, sink, mode, args):
    n = int(args[args.index("-m") + 1])
    rc, out, err = submitload(gw.ports[mode], *args)
    assert rc == 0, err
    assert out["accepted"] == str(n) and out["failed"] == "0", out
    msgs = sink.wait_count(n)
    assert len(msgs) == n
    # Unique Message-IDs, the body as sent, about the size asked for.
    ids = {m.data.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0] for m in msgs}
    assert len(ids) == n
    assert all(4000 < len(m.data) < 6500 for m in msgs)
    assert float(out["p50_ms"]) > 0


def test_connections_and_resumption_counted(gw, sink):
    # One session at a time: each connection after the first can resume
    # the ticket the one before received.
    rc, out, err = submitload(gw.ports["smtps"], "-T", "implicit", "-s", "1",
                              "-m", "5", "-M", "2", "--resume")
    assert rc == 0, err
    assert out["connections"] == "3"
    assert out["resumed"] == "2", out
    rc, out, err = submitload(gw.ports["submission"], "-s", "1", "-m", "2")
    assert rc == 0 and out["resumed"] == "0", (out, err)


def test_failures_are_reported(gw, sink):
    rc, out, err = submitload(gw.ports["submission"], "-s", "1", "-m", "2",
                              auth="%s:wrong" % USER)
    assert rc == 1
    assert out["accepted"] == "0" and out["failed"] == "2", out
    assert "535" in err


def test_idle_sessions_held_until_stdin_closes(gw):
    p = subprocess.Popen([os.path.join(BUILD, "submitload"), "--idle", "20",
                          "-s", "5", "127.0.0.1:%d" % gw.ports["submission"]],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = dict(kv.split("=", 1) for kv in p.stdout.readline().split())
        assert ready["ready"] == "20" and ready["failed"] == "0", ready
        # They really are open: gwd counts them.
        assert control_stats(gw)["sessions"] == 20
        p.stdin.close()
        assert p.stdout.readline().strip() == "lost=0"
        assert p.wait(30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
