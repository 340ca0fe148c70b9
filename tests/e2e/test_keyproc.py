"""The key process: DKIM private keys live there and nowhere else.

gwd's processes are found under the started gwd; their memory is read
through /proc/PID/maps and /proc/PID/mem (the suite runs as root) and
searched for a key's PEM text, its PKCS#8 DER and its raw private
numbers (the RSA private exponent and primes, in both byte orders, since
OpenSSL keeps big numbers as little-endian words; the Ed25519 seed).  The
key process must hold them; the network process must not.  Then the key
process is killed: a message it was signing is refused with 451 (never
acknowledged, never sent unsigned), gwd logs the death and starts another,
and the next message is signed and verifies.
"""
import ctypes
import os
import re
import signal
import smtplib
import subprocess
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from conftest import smarthost, wait_for
from test_dkim import (activate, keygen, received, send, signatures,
                       verify_dkimpy)

REGION_MAX = 1 << 30        # ASan's shadow: huge, mapped, never a key
KEYPROC_SIGN_FD = 3         # gwd/keyproc.h
SYS_PIDFD_GETFD = 438       # x86_64


@pytest.fixture
def gw(gw_factory, dns, sink):
    g = gw_factory(relay=smarthost(sink), dns=dns).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def stat_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    comm = s[s.index("(") + 1:s.rindex(")")]
    ppid = int(s[s.rindex(")") + 2:].split()[1])
    return comm, ppid


def processes():
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                out.append((int(d),) + stat_of(int(d)))
            except (OSError, ValueError):
                pass
    return out


def gwd_pids(gw):
    """(network pid, key process pid or None) under the started gwd."""
    procs = processes()
    tree = {gw.proc.pid}
    for _ in range(3):          # gwd may run under a wrapper
        tree |= {p for p, _, pp in procs if pp in tree}
    # Not a child of gwd named gwd: a key process between fork and exec.
    gwds = {p for p, c, _ in procs if p in tree and c == "gwd"}
    net = [p for p, c, pp in procs if p in gwds and pp not in gwds]
    assert len(net) == 1, procs
    kps = [p for p, c, pp in procs if pp == net[0] and c == "gwd-keyproc"]
    assert len(kps) <= 1, kps
    return net[0], (kps[0] if kps else None)


def keyproc_pid(gw):
    return wait_for(lambda: gwd_pids(gw)[1], what="a key process")


def memory(pid):
    """Every readable mapping of pid, concatenated with separators."""
    chunks = []
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            f = line.split()
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if f[1][0] != "r" or hi - lo > REGION_MAX or \
                    (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
                continue
            try:
                mem.seek(lo)
                chunks.append(mem.read(hi - lo))
            except OSError:
                continue
    return b"\0--\0".join(chunks)


def int_bytes(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def secrets(gw, selector):
    """name -> bytes of the private key of selector, as gw.db holds it."""
    with gw.db("gw.db") as c:
        pem = c.execute("SELECT private_key FROM dkim_key WHERE selector = ?",
                        (selector,)).fetchone()[0]
    key = serialization.load_pem_private_key(pem.encode(), None)
    der = key.private_bytes(serialization.Encoding.DER,
                            serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    lines = pem.splitlines()[1:-1]
    out = {"PEM line 1": lines[0].encode(), "PEM line 2": lines[1].encode()
           if len(lines) > 1 else lines[0].encode(), "DER": der}
    if isinstance(key, rsa.RSAPrivateKey):
        nums = key.private_numbers()
        for name, v in (("d", nums.d), ("p", nums.p), ("q", nums.q)):
            out[name] = int_bytes(v)
            out[name + " (little-endian)"] = int_bytes(v)[::-1]
    else:
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        out["seed"] = key.private_bytes(serialization.Encoding.Raw,
                                        serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    return out


def found(mem, wanted):
    return sorted(name for name, b in wanted.items() if b in mem)


def test_private_keys_only_in_the_key_process(gw, dns, sink):
    keygen(gw, dns, "example.com", "r1", "rsa")
    keygen(gw, dns, "example.com", "e1", "ed25519")
    activate(gw, "example.com", "r1")
    activate(gw, "example.com", "e1")
    send(gw, subject="both")
    data = received(sink, "both")
    assert sorted(s["s"] for s in signatures(data)) == ["e1", "r1"]
    assert all(verify_dkimpy(data, dns))

    net, kp = gwd_pids(gw)
    assert kp is not None, "no key process under gwd"
    # A key activated after start reaches the key process too (reload).
    for sel in ("r1", "e1"):
        s = secrets(gw, sel)
        in_kp = found(memory(kp), s)
        in_net = found(memory(net), s)
        # The scan works: the key process holds the key's numbers.
        assert ("d (little-endian)" in in_kp or "d" in in_kp) \
            if sel == "r1" else "seed" in in_kp, (sel, in_kp)
        assert in_net == [], "network process holds %s's %s" % (sel, in_net)


def keyproc_queue(pid):
    """Bytes waiting in the key process's sockets (ss -x Recv-Q)."""
    r = subprocess.run(["ss", "-xpn"], capture_output=True, text=True)
    total = 0
    for line in r.stdout.splitlines():
        if "pid=%d," % pid in line:
            total += int(line.split()[2])
    return total


def test_key_process_killed_defers_then_signs_again(gw, dns, sink):
    keygen(gw, dns, "example.com", "s1", "rsa")
    activate(gw, "example.com", "s1")
    send(gw, subject="before")
    assert signatures(received(sink, "before"))
    kp = keyproc_pid(gw)

    # A message whose signature is under way when the key process dies.
    os.kill(kp, signal.SIGSTOP)
    result = {}

    def submit():
        try:
            send(gw, subject="in-flight")
            result["code"] = 250
        except smtplib.SMTPDataError as e:
            result["code"], result["text"] = e.smtp_code, e.smtp_error
    t = threading.Thread(target=submit)
    t.start()
    try:
        wait_for(lambda: keyproc_queue(kp) > 0,
                 what="a sign request waiting in the stopped key process")
    finally:
        os.kill(kp, signal.SIGKILL)
    t.join(30)
    assert result.get("code") == 451, result
    assert b"4.3.0" in result["text"]
    rej = wait_for(lambda: gw.events("action = 'rejected'"), what="the refusal")
    assert rej and rej[-1]["reply_code"] == 451
    assert "key process unavailable" in rej[-1]["reply_text"]

    # Logged, restarted, and the next message is signed.
    wait_for(lambda: re.search(r"key process \(pid %d\) died: killed by "
                               r"signal 9" % kp, gw.logtext()),
             what="the death logged")
    new = wait_for(lambda: (gwd_pids(gw)[1] or kp) != kp and gwd_pids(gw)[1],
                   what="a new key process")
    wait_for(lambda: "key process restarted (pid %d)" % new in gw.logtext(),
             what="the restart logged")
    send(gw, subject="after")
    data = received(sink, "after")
    assert signatures(data)[0]["s"] == "s1"
    assert all(verify_dkimpy(data, dns))
    assert not [m for m in sink.messages if b"Subject: in-flight" in m.data]


def test_reload_after_restart_and_rotation(gw, dns, sink):
    """A key process started after a kill reads the keys of now; rotation
    still reaches it."""
    keygen(gw, dns, "example.com", "a1", "ed25519")
    activate(gw, "example.com", "a1")
    kp = keyproc_pid(gw)
    os.kill(kp, signal.SIGKILL)
    wait_for(lambda: (gwd_pids(gw)[1] or kp) != kp, what="a new key process")
    keygen(gw, dns, "example.com", "a2", "ed25519")
    activate(gw, "example.com", "a2")
    send(gw, subject="rotated")
    data = received(sink, "rotated")
    assert [s["s"] for s in signatures(data)] == ["a2"]
    assert all(verify_dkimpy(data, dns))
    net, kp2 = gwd_pids(gw)
    assert found(memory(net), secrets(gw, "a2")) == []
    assert "seed" in found(memory(kp2), secrets(gw, "a2"))


def test_hung_key_process_is_replaced(gw, dns, sink):
    """A key process that stops answering is killed after KP_TIMEOUT_MS
    (10 s): the message waiting on it gets 451, the next one is signed."""
    keygen(gw, dns, "example.com", "h1", "ed25519")
    activate(gw, "example.com", "h1")
    send(gw, subject="warm")
    received(sink, "warm")
    kp = keyproc_pid(gw)
    os.kill(kp, signal.SIGSTOP)
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(gw, subject="hung")
    assert e.value.smtp_code == 451
    wait_for(lambda: "key process (pid %d) did not answer in time: killed "
             "by signal 9" % kp in gw.logtext(), what="the kill logged")
    wait_for(lambda: (gwd_pids(gw)[1] or kp) != kp, what="a new key process")
    send(gw, subject="unhung")
    assert [s["s"] for s in signatures(received(sink, "unhung"))] == ["h1"]


def main_thread_syscall(pid):
    """The system call gwd's main thread is in ("7": poll)."""
    with open("/proc/%d/syscall" % pid) as f:
        return f.read().split()[0]


def pidfd_getfd(pid, fd):
    """A duplicate of descriptor fd of process pid (pidfd_getfd(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        r = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if r < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return r
    finally:
        os.close(pidfd)


def test_key_process_dead_during_a_reload(gw, dns, sink):
    """The key process dies while gwd waits for its answer to a reload
    of gw.db.  The kernel releases a dead process's descriptors in no
    order gwd may count on (the control channel's end was seen first in
    CI, and gwd took it for a reload left unanswered): here the test
    holds a copy of the key process's end of the sign channel, so only
    the control channel ends.  The death is logged as a death, and
    another key process signs."""
    keygen(gw, dns, "example.com", "r1", "ed25519")
    activate(gw, "example.com", "r1")
    kp = keyproc_pid(gw)
    net = gwd_pids(gw)[0]
    os.kill(kp, signal.SIGSTOP)
    sign_end = pidfd_getfd(kp, KEYPROC_SIGN_FD)
    try:
        gw.add_subaccount("other", "other.test", "0ther-pass")
        # The reload asks the stopped process and waits in poll(2) (the
        # loop's own wait is epoll_wait).
        wait_for(lambda: main_thread_syscall(net) == "7",
                 what="gwd waiting for the reload's answer")
        os.kill(kp, signal.SIGKILL)
        wait_for(lambda: re.search(r"key process \(pid %d\) (died|did not "
                                   r"answer a reload): killed by signal 9"
                                   % kp, gw.logtext()),
                 what="the death logged")
    finally:
        os.close(sign_end)
    assert "did not answer a reload" not in gw.logtext()
    wait_for(lambda: (gwd_pids(gw)[1] or kp) != kp, what="a new key process")
    send(gw, subject="after the reload")
    assert [s["s"] for s in signatures(received(sink, "after the reload"))] \
        == ["r1"]
