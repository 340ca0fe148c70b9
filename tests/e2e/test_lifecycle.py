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
