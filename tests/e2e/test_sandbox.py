"""The sandbox (`sandbox = true`, gwd/sandbox.h): once started, gwd can
neither exec a program nor open a file outside the paths it needs, and
the key process, which it can no longer exec itself, is still restarted
(by the spawner forked at start-up) and signs again.

GWD_SANDBOX_SELFTEST makes gwd try the forbidden thing once it is ready;
the test reads what gwd logged and whether it lived.  Needs root to have
a file only the sandbox keeps gwd from (/etc/shadow is root's, 0640).
"""
import os
import re
import signal

import pytest

from conftest import Gwd, smarthost, wait_for
from test_dkim import activate, keygen, received, send, signatures
from test_keyproc import gwd_pids, keyproc_pid, processes

EXECVE = 59                 # x86_64

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def sandboxed(gw_factory, sink, dns=None, env=None):
    g = gw_factory(relay=smarthost(sink), dns=dns, extra="sandbox = true;")
    return g.start(env=env)


def test_open_outside_the_sandbox_is_refused(gw_factory, sink):
    g = sandboxed(gw_factory, sink, env={"GWD_SANDBOX_SELFTEST": "open"})
    wait_for(lambda: "sandbox self-test: open /etc/shadow" in g.logtext(),
             what="the self-test's line")
    assert "open /etc/shadow refused: Permission denied" in g.logtext()
    assert g.proc.poll() is None


def test_exec_is_refused(tmp_path, sink):
    """seccomp traps execve before Landlock sees it: gwd says which
    system call, and ends (128 + SIGSYS).  Not from gw_factory, which
    takes any other exit status for a crash."""
    g = Gwd(tmp_path / "gw", relay=smarthost(sink), extra="sandbox = true;")
    g.start(wait=False, env={"GWD_SANDBOX_SELFTEST": "exec"})
    assert g.proc.wait(30) == 128 + signal.SIGSYS
    g.stop()
    assert ("gwd: sandbox: system call execve (%d) refused; exiting"
            % EXECVE in g.logtext())


def test_key_process_restarted_and_signing(gw_factory, sink, dns):
    g = sandboxed(gw_factory, sink, dns=dns)
    g.add_subaccount("app", "example.com", "s3cret-pass")
    keygen(g, dns, "example.com", "s1", "ed25519")
    activate(g, "example.com", "s1")
    old = keyproc_pid(g)
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: re.search(r"key process \(pid %d\) died: killed by "
                               r"signal 9" % old, g.logtext()),
             what="the death logged")
    new = wait_for(lambda: (gwd_pids(g)[1] or 0) not in (0, old) and
                   gwd_pids(g)[1], what="a new key process")
    wait_for(lambda: "key process restarted (pid %d)" % new in g.logtext(),
             what="the restart logged")
    send(g, subject="after")
    assert [s["s"] for s in signatures(received(sink, "after"))] == ["s1"]


def status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def test_spawner_is_confined(gw_factory, sink, dns):
    """The spawner (gwd-spawner, the network process's child) has no new
    privileges, is not dumpable by its user and runs under its own
    seccomp filter and Landlock domain: it reads a system file the key
    process needs (/etc/passwd) but not one outside (/etc/debian_version,
    world-readable, so only Landlock refuses it; this kernel shows no
    Landlock field in /proc/PID/status).  The key processes it starts
    still confine themselves (their filter and domain are stacked on
    its own), and test_key_process_restarted_and_signing shows one it
    restarted still signs."""
    outside = "/etc/debian_version"
    assert os.stat(outside).st_mode & 0o004
    g = sandboxed(gw_factory, sink, dns=dns, env={
        "GW_TEST_SPAWNER_OPEN": "/etc/passwd:" + outside})
    wait_for(lambda: "spawner: test open %s" % outside in g.logtext(),
             what="the spawner's test line")
    assert "spawner: test open /etc/passwd: allowed" in g.logtext()
    assert ("spawner: test open %s: refused: Permission denied" % outside
            in g.logtext())
    net, kp = gwd_pids(g)
    spawner = [p for p, c, pp in processes()
               if pp == net and c == "gwd-spawner"]
    assert len(spawner) == 1, processes()
    st = status(spawner[0])
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
    # Its own filter is installed before it says it started; until then
    # it has only the spawner's.
    kp = keyproc_pid(g)
    wait_for(lambda: "gwd-keyproc: key process started (pid %d)" % kp
             in g.logtext(), what="the key process confined")
    assert status(kp)["Seccomp_filters"] == "2"
