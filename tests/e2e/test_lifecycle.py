"""gwd's life as an operator sees it: one daemon per spool, and SIGHUP
re-reading gwd.conf (live settings take effect, the others are named as
needing a restart)."""
import os
import re
import signal
import smtplib
import subprocess

from conftest import BUILD, Gwd, client_tls_context, wait_for


def test_second_gwd_on_one_state_dir_exits(gw_factory, tmp_path):
    a = gw_factory()
    a.start()
    # Another daemon: its own ports and control socket, the same spool.
    b = Gwd(tmp_path / "b")
    with open(b.conf) as f:
        text = f.read()
    text = text.replace('state_dir = "state";', 'state_dir = "%s";' % a.state)
    text = text.replace('control_socket = "state/control";',
                        'control_socket = "%s/control";' % b.dir)
    text = text.replace('certificate = "state/cert.pem"',
                        'certificate = "%s/cert.pem"' % a.state)
    text = text.replace('key = "state/key.pem"', 'key = "%s/key.pem"' % a.state)
    with open(b.conf, "w") as f:
        f.write(text)
    r = subprocess.run([os.path.join(BUILD, "gwd"), "-v", "-c", b.conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 75, r.stderr
    assert "gwd: another gwd (pid %d) uses %s" % (a.proc.pid, a.state) in r.stderr, r.stderr
    assert "listening" not in r.stderr
    for p in b.ports.values():
        assert not Gwd._can_connect(p)
    # The first one is untouched, and once it stops the spool is free.
    assert a.gwctl("queue", "list").returncode == 0
    assert a.stop() == 0
    b.start()
    b.stop()


# --------------------------------------------------------------------------
# SIGHUP re-reads gwd.conf.

def edit_conf(g, old, new):
    with open(g.conf) as f:
        text = f.read()
    assert old in text, (old, text)
    with open(g.conf, "w") as f:
        f.write(text.replace(old, new))


def reload(g, n):
    """Send SIGHUP and wait for the n-th reload to be logged."""
    g.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: g.logtext().count(" re-read: ") >= n or
             g.logtext().count("the running configuration stays") >= n,
             what="reload %d" % n)


def ehlo_size(g):
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.ehlo("client.test")
        return int(s.esmtp_features["size"])


def test_sighup_applies_live_settings(gw_factory):
    g = gw_factory(settings={"limits.message_size": "1M"})
    g.start()
    assert ehlo_size(g) == 1 << 20
    edit_conf(g, 'message_size = "1M";', 'message_size = "2M";')
    reload(g, 1)
    assert ehlo_size(g) == 2 << 20
    log = g.logtext()
    assert 'SIGHUP: limits.message_size: "1M" -> "2M"' in log, log
    assert "1 setting changed, 0 of them need a restart" in log, log


def test_sighup_names_what_needs_a_restart(gw_factory):
    g = gw_factory(settings={"limits.recipients": 100})
    g.start()
    edit_conf(g, "recipients = 100;", "recipients = 50;")
    edit_conf(g, 'control_socket = "state/control";',
              'control_socket = "state/control2";')
    reload(g, 1)
    log = g.logtext()
    assert ("SIGHUP: limits.recipients needs a restart: 100 -> 50 "
            "(keeping 100)") in log, log
    assert re.search(r'SIGHUP: control_socket needs a restart: "[^"]*/state/control" '
                     r'-> "[^"]*/state/control2"', log), log
    assert "2 settings changed, 2 of them need a restart" in log, log
    # The old socket still answers; gwctl reads the file, so point it back.
    edit_conf(g, 'control_socket = "state/control2";',
              'control_socket = "state/control";')
    assert g.gwctl("queue", "list").returncode == 0
    # -n -v of the running gwd's file names the same classes.
    r = subprocess.run([os.path.join(BUILD, "gwd"), "-n", "-v", "-c", g.conf],
                       capture_output=True, text=True)
    assert re.search(r"^limits.recipients = 50; +# line \d+, restart$", r.stdout, re.M), r.stdout


def test_sighup_with_errors_keeps_running_configuration(gw_factory):
    g = gw_factory(settings={"limits.message_size": "1M"})
    g.start()
    edit_conf(g, 'message_size = "1M";', 'message_size = "2M"; bogus = 1;')
    reload(g, 1)
    log = g.logtext()
    assert 'unknown setting "limits.bogus"' in log, log
    assert "has errors (above); the running configuration stays" in log
    assert ehlo_size(g) == 1 << 20
    assert g.proc.poll() is None


def test_sighup_new_resolver_used(gw_factory, dns, sink):
    dns.add("dest.test", "MX", (10, "mx.dest.test"))
    dns.add("mx.dest.test", "A", "127.0.0.1")
    g = gw_factory(relay={"mode": "mx", "mx_port": sink.port, "tls": "none"})
    g.start()                       # its resolver: 127.0.0.1:1, nobody
    g.add_subaccount()
    from conftest import submit
    submit(g, ["user@dest.test"])
    wait_for(lambda: g.events("action = 'deferred'"), what="a deferral")
    edit_conf(g, 'resolver = "127.0.0.1:1";', 'resolver = "%s";' % dns.resolver)
    reload(g, 1)
    assert 'SIGHUP: dns.resolver: [ "127.0.0.1:1" ] -> [ "%s" ]' % dns.resolver in g.logtext()
    g.gwctl("queue", "flush")
    assert sink.wait_count(1)[0].rcpt_tos == ["user@dest.test"]


def test_sighup_under_traffic(gw_factory, sink):
    """Reloads while sessions, deliveries and commits run: nothing lost
    (under SAN=1 this is also a race check of the published pointer)."""
    from conftest import smarthost, submit
    g = gw_factory(relay=smarthost(sink), settings={"limits.message_size": "1M"})
    g.start()
    g.add_subaccount()
    n = 20
    for i in range(n):
        size = "1M" if i % 2 else "2M"
        edit_conf(g, 'message_size = "%s";' % ("2M" if i % 2 else "1M"),
                  'message_size = "%s";' % size)
        g.proc.send_signal(signal.SIGHUP)
        submit(g, ["user%d@dest.test" % i], subject="hup%d" % i)
    wait_for(lambda: g.logtext().count(" re-read: ") >= n, what="all reloads")
    got = sink.wait_count(n)
    assert sorted(m.rcpt_tos[0] for m in got) == sorted(
        "user%d@dest.test" % i for i in range(n))


def test_threads_named_for_ps_and_top(gw_factory):
    # ps -L, top -H and bench/submitcg --cpu tell gwd's threads apart by
    # name (/proc/PID/task/TID/comm); the event loop keeps "gwd".  Each
    # thread names itself as it starts: wait for them all.
    g = gw_factory()
    g.start()
    tasks = "/proc/%d/task" % g.proc.pid
    want = {"gwd", "gwd-store", "gwd-checkpoint", "gwd-worker"}

    def names():
        seen = set()
        for tid in os.listdir(tasks):
            try:
                with open(os.path.join(tasks, tid, "comm")) as f:
                    seen.add(f.read().strip())
            except FileNotFoundError:
                pass            # a thread that ended meanwhile
        return seen if want <= seen else None

    wait_for(names, what="threads named %s" % sorted(want))
