"""A throwaway Postfix instance (needs root), for tests and benchmarks.

Debian's postfix package, configured in a temporary directory: its own
main.cf, a minimal master.cf, its own spool, log to a file.  The master
runs in the foreground as a child of the caller, so stopping it (or the
caller dying) leaves nothing behind.
"""
import os
import shutil
import signal
import subprocess
import time

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

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
