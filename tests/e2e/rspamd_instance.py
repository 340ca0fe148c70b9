"""A throwaway rspamd (Debian's rspamd package) for the tests.

Its own minimal configuration in a temporary directory, none of
/etc/rspamd: one normal worker on a loopback port, no controller, no
Lua modules (so no redis), DNS pointed at a port nobody answers, logs
to a file.  The GTUBE test pattern is rspamd's core (C) check, so it
needs nothing else.  The main process runs in the foreground (-f) as
a child of the test, as the test's own user and group (-u/-g), and is
stopped by pid.  Starting takes some seconds (rspamd compiles its list
of public suffixes), so tests share one where they can.
"""
import grp
import os
import pwd
import shutil
import signal
import subprocess
import time
import urllib.request

RSPAMD = shutil.which("rspamd") or "/usr/bin/rspamd"

CONF = """\
options {{
  pidfile = "{dir}/rspamd.pid";
  dbdir = "{dir}/db";
  tempdir = "{dir}/tmp";
  filters = "";
  dns {{ nameserver = ["127.0.0.1:1"]; timeout = 1s; retransmits = 1; }}
}}
logging {{ type = "file"; filename = "{dir}/rspamd.log"; level = "info"; }}
worker "normal" {{ bind_socket = "127.0.0.1:{port}"; count = 1; }}
actions {{ reject = 15; add_header = 6; greylist = 4; }}
"""


def available():
    return os.path.exists(RSPAMD)


class Rspamd:
    def __init__(self, dir, port):
        self.dir = str(dir)
        self.port = port
        for d in ("db", "tmp"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        self.conf = os.path.join(self.dir, "rspamd.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir, port=port))
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=180):
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        self.out = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(
            [RSPAMD, "-f", "-c", self.conf, "-u", user, "-g", group],
            stdout=self.out, stderr=self.out, start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("rspamd exited %s:\n%s" % (
                    self.proc.returncode, self.log()[-3000:]))
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("rspamd did not answer /ping:\n" + self.log()[-3000:])

    def log(self):
        text = ""
        for name in ("stderr.log", "rspamd.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
        return text

    def stop(self, sig=signal.SIGTERM):
        """Stop the main process and its workers (its own session)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.out.close()
