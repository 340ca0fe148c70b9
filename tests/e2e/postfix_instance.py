"""A throwaway Postfix instance (needs root), for tests and benchmarks.

Debian's postfix package, configured in a temporary directory: its own
main.cf, a minimal master.cf, its own spool, log to a file.  The master
runs in the foreground as a child of the caller, so stopping it (or the
caller dying) leaves nothing behind.
"""
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from conftest import free_port

MASTER = "/usr/lib/postfix/sbin/master"

MASTER_CF = """\
{listen} inet n - n - {procs} smtpd {smtpd_opts}
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

SPOOL_DIRS = ["active", "bounce", "corrupt", "defer", "deferred", "flush", "hold",
              "incoming", "private", "saved", "trace"]


def available():
    return os.path.exists(MASTER) and os.geteuid() == 0


class Postfix:
    def __init__(self, root, listen_port, main_cf, procs=100, smtpd_opts=""):
        self.root = str(root)
        self.conf = os.path.join(self.root, "conf")
        self.spool = os.path.join(self.root, "spool")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "maillog")
        self.port = listen_port
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)
        for d in (self.conf, self.spool, self.data):
            os.makedirs(d)
        shutil.chown(self.data, "postfix")
        for d in SPOOL_DIRS:
            p = os.path.join(self.spool, d)
            os.makedirs(p, mode=0o700)
            shutil.chown(p, "postfix")
        for d, mode in (("maildrop", 0o730), ("public", 0o710)):
            p = os.path.join(self.spool, d)
            os.makedirs(p)
            os.chmod(p, mode)
            shutil.chown(p, "postfix", "postdrop")
        os.makedirs(os.path.join(self.spool, "pid"))
        base = {
            "compatibility_level": "3.6",
            "queue_directory": self.spool,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "pf.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "local_transport": "error:local delivery disabled",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "maillog_file": self.log,
            "maillog_file_prefixes": self.root,
            "smtputf8_enable": "no",
        }
        base.update(main_cf)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in base.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen="127.0.0.1:%d" % listen_port, procs=procs,
                                     smtpd_opts=smtpd_opts))

    def write_file(self, name, text, mode=0o600):
        p = os.path.join(self.conf, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def start(self, timeout=15, preexec_fn=None):
        """preexec_fn runs in the master before exec (benchmarks put it
        in a cgroup: every daemon it starts inherits the group)."""
        self.errf = open(os.path.join(self.root, "master.err"), "wb")
        self.proc = subprocess.Popen([MASTER, "-c", self.conf, "-d"],
                                     stdout=self.errf, stderr=self.errf,
                                     start_new_session=True,
                                     preexec_fn=preexec_fn)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                with open(os.path.join(self.root, "master.err"), errors="replace") as f:
                    err = f.read()
                raise RuntimeError("postfix master exited:\n" + err + self.logtext())
            if "daemon started" in self.logtext():
                import socket
                try:
                    socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                    return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("postfix did not start:\n" + self.logtext())

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def pids(self):
        """The master and all its children (for CPU accounting)."""
        if not self.proc:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout.split()
        return [self.proc.pid] + [int(p) for p in out]

    def held(self):
        """The queue files on hold, as postcat prints them: envelope
        records, headers and body."""
        return [subprocess.run(["postcat", "-c", self.conf, f],
                               capture_output=True, text=True).stdout
                for f in glob.glob(os.path.join(self.spool, "hold", "*"))]

    def stop(self):
        try:
            self._stop()
        finally:
            if getattr(self, "owns_root", False):
                shutil.rmtree(self.root, ignore_errors=True)

    def _stop(self):
        end_group(self.proc)


def end_group(proc):
    """End a daemon started in a session of its own, and every process
    of its group: TERM, then KILL after 10 s."""
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def holding_receiver(port, main_cf=None):
    """A started receiving Postfix that accepts mail for any domain from
    loopback and holds it (read it with held()).  It lives in a directory
    of its own, removed by stop(): its daemons run as user postfix and
    must reach their spool, and pytest's tmp_path is private to root."""
    root = tempfile.mkdtemp(prefix="gw-postfix-")
    os.chmod(root, 0o755)
    cf = {"smtpd_recipient_restrictions": "check_recipient_access static:HOLD"}
    cf.update(main_cf or {})
    pf = Postfix(root, port, cf)
    pf.owns_root = True
    try:
        return pf.start()
    except Exception:
        pf.stop()
        raise


def relay_mx(sink_port, domains="dest.test, example.com", **main_cf):
    """A started Postfix MX for `domains` that relays everything to the
    sink on sink_port, logging each SMTP command of 127.0.0.1 (so a test
    can read gw's MAIL line).  Its root is its own: remove() ends it."""
    root = tempfile.mkdtemp(prefix="gw-postfix-")
    os.chmod(root, 0o755)       # its daemons run as postfix
    port = free_port()
    cf = {"relay_domains": domains,
          "relayhost": "[127.0.0.1]:%d" % sink_port,
          "debug_peer_list": "127.0.0.1",
          "smtp_tls_security_level": "none"}
    cf.update(main_cf)
    return Postfix(root, port, cf, procs=4).start()
