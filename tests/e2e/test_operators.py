"""Non-root operators: root and gwd's user manage; the members of the
control socket's group observe (gwctl queue list, gwtop, gwsearch);
anyone else is told the rule, not "Connection reset by peer".

gwd runs as "nobody" (group "nogroup", 65534); the observer is an
account-less uid 4242 whose supplementary groups hold 65534, as a
member of group gw would be; the outsider has no such group."""
import os
import pwd
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import BUILD, Gwd, smarthost, submit, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

NOGROUP = 65534
OBSERVER = dict(user=4242, group=4242, extra_groups=[NOGROUP])
OUTSIDER = dict(user=4243, group=4243, extra_groups=[])


@pytest.fixture
def gwn(sink):
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    assert nobody.pw_gid == NOGROUP
    d = tempfile.mkdtemp(prefix="gw-operators-")
    os.chmod(d, 0o755)
    g = Gwd(d, relay=smarthost(sink), extra='user = "nobody";')
    # As /run/gw/control: a directory gwd makes, which all may reach.
    with open(g.conf) as f:
        text = f.read()
    with open(g.conf, "w") as f:
        f.write(text.replace('control_socket = "state/control";',
                             'control_socket = "run/gw/control";'))
    g.start()
    g.add_subaccount()
    yield g
    g.stop()
    text = g.logtext()
    shutil.rmtree(d)
    assert "runtime error:" not in text and "AddressSanitizer" not in text, text


def run_as(who, g, prog, *args):
    return subprocess.run([os.path.join(BUILD, prog), "-c", g.conf] + list(args),
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/"}, **who)


def test_database_modes(gwn, sink):
    submit(gwn, ["user@dest.test"])
    sink.wait_count(1)
    mode = lambda f: stat.S_IMODE(os.stat(os.path.join(gwn.state, f)).st_mode)
    assert mode("gw.db") == 0o600
    for f in ("queue.db", "log.db", "queue.db-wal", "log.db-wal",
              "queue.db-shm", "log.db-shm"):
        assert mode(f) == 0o640, f
    st = os.stat(gwn.state)
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (NOGROUP, 0o750)


def test_group_member_observes(gwn, sink):
    submit(gwn, ["user@dest.test"], subject="seen-by-observer")
    sink.wait_count(1)
    wait_for(lambda: gwn.events("action = 'delivered'"), what="delivered")
    r = run_as(OBSERVER, gwn, "gwctl", "queue", "list")
    assert r.returncode == 0, r.stderr
    r = run_as(OBSERVER, gwn, "gwtop", "--once")
    assert r.returncode == 0, r.stderr
    assert "gwd.state=running" in r.stdout, r.stdout
    assert "refused" not in r.stdout + r.stderr
    r = run_as(OBSERVER, gwn, "gwsearch", "--no-pager", "subject:seen-by-observer")
    assert r.returncode == 0, r.stderr
    assert "delivered" in r.stdout
    # Observing only: what changes gwd's state is refused, with the rule.
    r = run_as(OBSERVER, gwn, "gwctl", "queue", "flush")
    assert r.returncode == 77, r.stderr
    assert ("gwctl: gwd: permission denied: only root and user nobody may "
            "change gwd's state; members of group nogroup observe") in r.stderr, r.stderr
    # gw.db (password hashes, keys) is not theirs.
    r = run_as(OBSERVER, gwn, "gwctl", "subaccount", "list")
    assert r.returncode != 0
    # With gwd stopped, the audit trail still reads.
    gwn.stop()
    r = run_as(OBSERVER, gwn, "gwsearch", "--no-pager", "subject:seen-by-observer")
    assert r.returncode == 0, r.stderr


def test_outsider_is_told_the_rule(gwn):
    # The modes of the socket and of its directory (0660, 0750, both the
    # user's and its group's) keep them out: gwctl says who may enter.
    r = run_as(OUTSIDER, gwn, "gwctl", "queue", "list")
    assert r.returncode == 77, r.stderr
    assert ("permission denied: the control socket admits root and user "
            "nobody (to manage) and members of group nogroup (to observe)") in r.stderr, r.stderr
    # Past a looser mode, gwd itself refuses, and says why.
    sock = os.path.join(gwn.dir, "run", "gw", "control")
    st = os.stat(os.path.dirname(sock))
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (NOGROUP, 0o750)
    st = os.stat(sock)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, NOGROUP, 0o660)
    os.chmod(os.path.join(gwn.dir, "run"), 0o755)
    os.chmod(os.path.dirname(sock), 0o755)
    os.chmod(sock, 0o666)
    r = run_as(OUTSIDER, gwn, "gwctl", "queue", "list")
    assert r.returncode == 77, r.stderr
    assert ("gwctl: gwd: permission denied: the control socket admits root "
            "and user nobody (to manage) and members of group nogroup (to "
            "observe)") in r.stderr, r.stderr
    assert "reset by peer" not in r.stderr
    r = run_as(OUTSIDER, gwn, "gwtop", "--once")
    assert "gwtop: gwd: permission denied: the control socket admits" in r.stderr, r.stderr
    assert "control: refused uid 4243" in gwn.logtext()
