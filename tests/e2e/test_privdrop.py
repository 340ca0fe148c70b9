"""gwd started as root with `user` set: the directories it has to make
(state_dir's missing parents, the control socket's directory, /run/gw
after a boot) are made for that user, so gwd keeps working once it has
become the user, and the user's group reaches the control socket.
Issue 19 item 9.  Needs root (skipped otherwise); `nobody` plays gw.
"""
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

import pytest

from conftest import Gwd, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

USER = "nobody"


@pytest.fixture
def base():
    # Not under pytest's tmp_path: that is root's, mode 0700, and nobody
    # could not reach anything below it whatever gwd did.
    d = tempfile.mkdtemp(prefix="gw-privdrop-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_gwd(base, extra=""):
    g = Gwd(os.path.join(base, "gw"), extra='user = "%s";\n%s' % (USER, extra))
    os.chmod(g.dir, 0o755)
    with open(g.conf) as f:
        conf = f.read()
    # state_dir two levels below a directory that does not exist, the
    # control socket in a directory of its own (like /run/gw).
    conf = conf.replace('state_dir = "state";', 'state_dir = "var/lib/gw";')
    conf = conf.replace('control_socket = "state/control";',
                        'control_socket = "run/gw/control";')
    conf = conf.replace('"state/cert.pem"', '"var/lib/gw/cert.pem"')
    conf = conf.replace('"state/key.pem"', '"var/lib/gw/key.pem"')
    with open(g.conf, "w") as f:
        f.write(conf)
    g.state = os.path.join(g.dir, "var", "lib", "gw")
    return g


def ready(g):
    wait_for(lambda: "ready:" in g.logtext() or g.proc.poll() is not None,
             what="gwd ready or gone")
    assert g.proc.poll() is None, g.logtext()


def as_user(code):
    return subprocess.run([sys.executable, "-c", code], user=USER,
                          capture_output=True, text=True, timeout=30)


def test_missing_parents_belong_to_user(base):
    nobody = pwd.getpwnam(USER)
    g = make_gwd(base)
    try:
        g.start()
        ready(g)
        for rel in ("var", "var/lib", "var/lib/gw", "run", "run/gw"):
            st = os.stat(os.path.join(g.dir, rel))
            assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid), rel
            assert stat.S_IMODE(st.st_mode) == 0o750, rel
        # gwd, now nobody, made its databases there.
        assert os.stat(os.path.join(g.state, "queue.db")).st_uid == \
            nobody.pw_uid
        # The user (and its group) reach the control socket.
        sock = os.path.join(g.dir, "run", "gw", "control")
        r = as_user("import socket; s = socket.socket(socket.AF_UNIX); "
                    "s.connect(%r); s.sendall(b'ping\\n'); "
                    "print(s.recv(100).decode())" % sock)
        assert r.returncode == 0 and r.stdout.strip() == "pong", r.stderr
    finally:
        rc = g.stop()
    assert rc == 0, g.logtext()
    # Stopping as nobody, gwd could remove its socket from its directory.
    assert not os.path.exists(sock)


def test_unreachable_state_dir_named(base):
    # A parent that exists but shuts the user out: gwd leaves it as it
    # is and refuses to start, naming the path.
    g = make_gwd(base)
    os.makedirs(os.path.join(g.dir, "var"), mode=0o700)
    g.start(wait=False)
    assert g.proc.wait(30) == 73
    g.logf.close()
    text = g.logtext()
    assert "state_dir %s: Permission denied for user \"%s\"" % (
        g.state, USER) in text, text
