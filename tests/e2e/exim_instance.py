"""A throwaway Exim 4 (Debian's exim4-daemon-light, needs root), for tests.

Debian's exim4 packages conflict with postfix, which other tests drive,
so scripts/exim-local.sh (run by scripts/deps.sh test) unpacks the
binary into /var/cache/gw-tests/exim4 (GW_EXIM names another binary).
Each instance has its own directory: a configuration the test writes,
spool, logs and delivered mail.  The binary insists on its compiled-in
user Debian-exim (exim-local.sh makes it) and refuses to deliver as
root, so the directory is readable by all and the spool is that user's;
exim_path tells it where it is when it runs itself again (deliveries).

Exim asks the system resolver (/etc/resolv.conf) and has no option to
point it elsewhere.  A receiving Exim that must look up DKIM keys runs
in a mount namespace of its own with a resolv.conf naming a loopback
address of its own (127.53.x.y), where a dnslib proxy on port 53
forwards every query to the test's DNS server: the host's network is
shared, so gwd reaches Exim on 127.0.0.1 as any MX.
"""
import functools
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time

from postfix_instance import end_group

EXIM = os.environ.get("GW_EXIM", "/var/cache/gw-tests/exim4/usr/sbin/exim4")
USER = "Debian-exim"


def unavailable():
    """Why Exim cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (Exim runs as root with -C)"
    if not os.path.exists(EXIM):
        return "no Exim at %s: run scripts/deps.sh test as root" % EXIM
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return "no user %s: run scripts/exim-local.sh as root" % USER
    r = subprocess.run([EXIM, "-C", "/dev/null", "-bV"], capture_output=True,
                       text=True, timeout=30)
    if r.returncode != 0:
        return "%s -bV fails: %s" % (EXIM, (r.stdout + r.stderr).strip())
    return None


MAIN = """\
primary_hostname = {hostname}
qualify_domain = {qualify}
spool_directory = {root}/spool
log_file_path = {root}/log/%slog
pid_file_path = {root}/exim.pid
exim_path = {exim}
keep_environment =
exim_user = {user}
exim_group = {user}
host_lookup =
rfc1413_hosts =
log_selector = +smtp_protocol_error +smtp_syntax_error +tls_peerdn
"""


# Where exim-local.sh unpacked the packages: DIR/usr/sbin/exim4.
DEBIAN = os.path.dirname(os.path.dirname(os.path.dirname(EXIM)))


class Exim:
    """main: the main section after MAIN's lines; rest: routers,
    transports, ACLs... (each with its `begin`).  @ROOT@ in either is
    the instance's directory (its mail/ is Debian-exim's to write)."""

    def __init__(self, main="", rest="", hostname="exim.test",
                 qualify=None, resolver=None):
        self.root = tempfile.mkdtemp(prefix="gw-exim-")
        os.chmod(self.root, 0o755)      # deliveries run as Debian-exim
        pw = pwd.getpwnam(USER)
        for d in ("spool", "log", "mail"):
            p = os.path.join(self.root, d)
            os.makedirs(p)
            os.chown(p, pw.pw_uid, pw.pw_gid)
        self.conf = os.path.join(self.root, "exim.conf")
        self.configure(MAIN.format(hostname=hostname, qualify=qualify or hostname,
                                   root=self.root, user=USER, exim=EXIM)
                       + main + "\n" + rest)
        self.resolver = resolver        # "127.0.0.1:port" of the test's DNS
        self.proc = None
        self.dns = []
        self.port = None

    def configure(self, text):
        """Replace the configuration (@ROOT@ as in the constructor)."""
        with open(self.conf, "w") as f:
            f.write(text.replace("@ROOT@", self.root))
        os.chmod(self.conf, 0o644)      # Exim refuses a writable config

    # -- as a client: a message submitted by root, delivered at once
    def send(self, sender, rcpts, data):
        """exim -odi: receive the message and deliver it before
        returning; (exit status, output).  sender None: root's own, as
        mail(1) run by root sends."""
        argv = [EXIM, "-C", self.conf, "-odi", "-oi"]
        if sender is not None:
            argv += ["-f", sender]
        r = subprocess.run(argv + list(rcpts), input=data, capture_output=True,
                           timeout=60)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace")

    # -- as a server: the daemon in the foreground on port
    def start(self, port, timeout=15):
        self.port = port
        argv = [EXIM, "-C", self.conf, "-bdf", "-oX", str(port)]
        if self.resolver:
            argv = self._own_resolver(argv)
        self.errf = open(os.path.join(self.root, "daemon.err"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.errf, stderr=self.errf,
                                     start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("exim exited %s:\n%s%s" % (
                    self.proc.returncode, self.text("daemon.err"), self.log()))
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("exim did not start:\n" + self.log())

    def _own_resolver(self, argv):
        """argv run under a resolv.conf whose nameserver forwards to
        self.resolver (see the module's comment)."""
        from dnslib.proxy import ProxyResolver
        from dnslib.server import DNSServer
        host, port = self.resolver.rsplit(":", 1)
        proxy = ProxyResolver(host, int(port), timeout=5)
        for _ in range(20):
            addr = "127.53.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
            servers = []
            try:
                for tcp in (False, True):
                    servers.append(DNSServer(proxy, port=53, address=addr, tcp=tcp))
                break
            except OSError:       # taken by another run: another address
                for s in servers:
                    s.server.server_close()
        else:
            raise RuntimeError("no loopback address free for port 53")
        for s in servers:
            s.start_thread()
        self.dns = servers
        rc = os.path.join(self.root, "resolv.conf")
        with open(rc, "w") as f:
            f.write("nameserver %s\noptions attempts:1 timeout:2\n" % addr)
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/resolv.conf && exec "$@"', rc] + argv

    def stop(self):
        end_group(self.proc)
        if self.proc:
            self.errf.close()
        for s in self.dns:
            s.stop()
        self.dns = []

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- what it did
    def text(self, name):
        try:
            with open(os.path.join(self.root, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log(self):
        """mainlog, then paniclog and rejectlog if any."""
        return "".join(self.text(os.path.join("log", n))
                       for n in ("mainlog", "paniclog", "rejectlog"))

    def failed(self):
        """Whether Exim has given up on or deferred a delivery."""
        return any(" ** " in l or " == " in l for l in self.log().splitlines())

    def mailbox(self, local_part):
        """What the test's appendfile transport wrote (mbox) to
        @ROOT@/mail/local_part."""
        return self.text(os.path.join("mail", local_part))


@functools.lru_cache(maxsize=None)
def debian_text(update_conf):
    """Debian's configuration as its update-exim4.conf makes it from
    exim4-config's template and update_conf, the text of
    /etc/exim4/update-exim4.conf.conf (made once per text: the script
    takes seconds)."""
    d = tempfile.mkdtemp(prefix="gw-exim-conf-")
    try:
        etc = os.path.join(d, "exim4")
        shutil.copytree(os.path.join(DEBIAN, "etc", "exim4"), etc)
        with open(os.path.join(etc, "update-exim4.conf.conf"), "w") as f:
            f.write(update_conf)
        out = os.path.join(d, "config.autogenerated")
        r = subprocess.run([os.path.join(DEBIAN, "usr", "sbin", "update-exim4.conf"),
                            "-d", etc, "-o", out], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("update-exim4.conf: " + r.stdout + r.stderr)
        with open(out) as f:
            return f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def debian(update_conf, passwd_client, hostname, localmacros="", edits=()):
    """An Exim with Debian's configuration (debian_text(update_conf),
    then each (old, new) of edits replaced in it), with passwd_client
    as /etc/exim4/passwd.client (0640 root:Debian-exim, as Debian has
    it).  localmacros: what /etc/exim4/exim4.conf.localmacros would
    hold; it goes first, as update-exim4.conf puts it (which only looks
    for it in /etc).  After it, only what would reach outside the
    instance's directory is set before Debian's lines: CONFDIR,
    SPOOLDIR, /etc/mailname (ETC_MAILNAME, and the hostname: hostname),
    the log and pid files, and exim_path."""
    text = debian_text(update_conf)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = "exim_path = /usr/sbin/exim4\n"
    assert path in text, text[:2000]
    ex = Exim()
    etc = os.path.join(ex.root, "etc")
    os.makedirs(etc)
    pc = os.path.join(etc, "passwd.client")
    with open(pc, "w") as f:
        f.write(passwd_client)
    os.chown(pc, 0, pwd.getpwnam(USER).pw_gid)
    os.chmod(pc, 0o640)
    ex.configure(localmacros + "CONFDIR = %s\nSPOOLDIR = @ROOT@/spool\n"
                 "ETC_MAILNAME = %s\nMAIN_HARDCODE_PRIMARY_HOSTNAME = %s\n"
                 "exim_path = %s\nlog_file_path = @ROOT@/log/%%slog\n"
                 "pid_file_path = @ROOT@/exim.pid\n"
                 % (etc, hostname, hostname, EXIM) + text.replace(path, ""))
    return ex
