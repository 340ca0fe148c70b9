"""bench/benchlib.py - the parts bench/relay and bench/submit share.

Free ports, waiting for a listener, CPU time per process tree (a cgroup
each), one smtp-sink counting what the gateways relay, OpenDKIM as
Postfix's signing milter, and this machine's signing ceiling from
`openssl speed`.
"""
import os
import shutil
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("process exited before listening on %d" % port)
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on %d" % port)


class CpuGroup:
    """CPU time of a process tree: a cgroup v1 cpuacct group, or failing
    that the tree's /proc times (exited children via the parent).  The
    group's name carries our pid: two benchmarks at once keep apart."""

    def __init__(self, name):
        self.path = None
        base = "/sys/fs/cgroup/cpuacct"
        if not os.path.isdir(base):
            base = "/sys/fs/cgroup/unified"
        p = os.path.join(base, "gwbench-%d-%s" % (os.getpid(), name))
        try:
            os.makedirs(p, exist_ok=True)
            if os.path.exists(os.path.join(p, "cpuacct.usage")) or \
                    os.path.exists(os.path.join(p, "cpu.stat")):
                self.path = p
        except OSError:
            pass
        self.root_pid = None

    def enter(self):
        """preexec_fn: move the child into the group before exec."""
        if self.path:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    def seconds(self):
        if self.path:
            u = os.path.join(self.path, "cpuacct.usage")
            if os.path.exists(u):
                with open(u) as f:
                    return int(f.read()) / 1e9
            with open(os.path.join(self.path, "cpu.stat")) as f:
                for line in f:
                    k, v = line.split()
                    if k == "usage_usec":
                        return int(v) / 1e6
        return self._proc_seconds()

    def _proc_seconds(self):
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.root_pid)],
                             capture_output=True, text=True).stdout.split()
        for i, pid in enumerate([self.root_pid] + [int(p) for p in out]):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
            if i == 0:
                total += int(fields[13]) + int(fields[14])
        return total / tick

    def remove(self):
        """Remove the group once its last process has left (a stopped
        Postfix's daemons take a moment)."""
        if not self.path:
            return
        end = time.monotonic() + 5
        while True:
            try:
                os.rmdir(self.path)
                return
            except OSError:
                if time.monotonic() > end:
                    return
                time.sleep(0.1)


class Sink:
    """One smtp-sink for the whole run; its -c counter says how many
    messages it has taken."""

    def __init__(self, work, port=None):
        self.port = port or free_port()
        self.out = os.path.join(work, "sink.out")
        self.f = open(self.out, "wb")
        self.proc = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c",
                                      "127.0.0.1:%d" % self.port, "1000"],
                                     stdout=self.f, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)

    def count(self):
        with open(self.out, "rb") as f:
            f.seek(0, 2)
            n = f.tell()
            f.seek(max(0, n - 80))
            tail = f.read().split(b"\r")
        for rec in reversed(tail):
            if b"mesg=" in rec:
                try:
                    return int(rec.rsplit(b"mesg=", 1)[1].split()[0])
                except (ValueError, IndexError):
                    continue
        return 0

    def wait_for(self, n, timeout, poll=0.002):
        end = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > end:
                raise RuntimeError("sink has %d of %d messages" % (self.count(), n))
            time.sleep(poll)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.f.close()


OPENDKIM_CONF = """Mode s
Domain example.com
Selector bench
KeyFile {key}
Socket local:{sock}
UMask 000
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
OversignHeaders From
Syslog no
Background no
PidFile {pid}
RequireSafeKeys no
"""


def start_opendkim(work, cpu):
    """OpenDKIM signing for example.com with a new RSA-2048 key, in the
    cgroup `cpu`; returns (process, "unix:SOCKET") for smtpd_milters."""
    odir = os.path.join(work, "opendkim")
    os.makedirs(odir)
    os.chmod(odir, 0o755)
    key = os.path.join(odir, "bench.private")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key], check=True,
                   capture_output=True)
    sock = os.path.join(odir, "opendkim.sock")
    conf = os.path.join(odir, "opendkim.conf")
    with open(conf, "w") as f:
        f.write(OPENDKIM_CONF.format(key=key, sock=sock,
                                     pid=os.path.join(odir, "pid")))
    proc = subprocess.Popen(["opendkim", "-f", "-x", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=cpu.enter)
    end = time.monotonic() + 10
    while not os.path.exists(sock):
        if time.monotonic() > end or proc.poll() is not None:
            raise RuntimeError("opendkim did not start")
        time.sleep(0.05)
    return proc, "unix:" + sock


def check_signed(work, makers, send):
    """Each peer made by makers(work_dir, sink_port), set up as for the run
    but relaying to a sink that dumps what it gets, must deliver the
    message send(peer) sends with a DKIM-Signature."""
    port = free_port()
    ddir = os.path.join(work, "check-dump")
    os.makedirs(ddir)
    os.chmod(ddir, 0o777)            # smtp-sink writes it as nobody
    dump = os.path.join(ddir, "dump")
    d = subprocess.Popen(["smtp-sink", "-u", "nobody", "-D", dump,
                          "127.0.0.1:%d" % port, "10"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cwork = os.path.join(work, "check")
    os.makedirs(cwork)
    os.chmod(cwork, 0o755)
    try:
        wait_port(port, d)
        for i, make in enumerate(makers):
            p = make(cwork, port)
            try:
                send(p)
                end = time.monotonic() + 30
                while True:
                    text = open(dump, errors="replace").read() \
                        if os.path.exists(dump) else ""
                    if text.count("X-Mail-Args:") >= i + 1:
                        break
                    if time.monotonic() > end:
                        log = p.pf.logtext()[-3000:] if hasattr(p, "pf") else ""
                        raise RuntimeError("%s relayed nothing\n%s" % (p.name, log))
                    time.sleep(0.05)
            finally:
                p.stop()
            shutil.rmtree(cwork)
            os.makedirs(cwork)
            os.chmod(cwork, 0o755)
    finally:
        d.terminate()
        d.wait()
    n = open(dump, errors="replace").read().count("DKIM-Signature:")
    if n != len(makers):
        raise RuntimeError("expected every peer to sign; %d signatures seen" % n)


def openssl_speed():
    """RSA-2048 and Ed25519 signatures per second on one core (floats,
    None when not found)."""
    r = subprocess.run(["openssl", "speed", "-seconds", "2", "rsa2048", "ed25519"],
                       capture_output=True, text=True)
    rsa = ed = None
    for line in r.stdout.splitlines():
        f = line.split()
        # "rsa 2048 bits 0.000351s 0.000022s   2847.0  46259.0"
        if line.startswith("rsa 2048 bits") and len(f) >= 7:
            rsa = float(f[5])
        # " 253 bits EdDSA (Ed25519)   0.0001s   0.0001s  19358.0   7470.0"
        if "(Ed25519)" in line and len(f) >= 8:
            ed = float(f[6])
    return rsa, ed


def openssl_ceiling():
    rsa, ed = openssl_speed()
    fmt = lambda v: "%.0f" % v if v else "?"  # noqa: E731
    return "RSA-2048 %s signs/s, Ed25519 %s signs/s" % (fmt(rsa), fmt(ed))


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])
