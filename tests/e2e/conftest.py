"""Shared fixtures for gw's end-to-end tests.

Everything here is a real part on loopback: gwd as built, an SMTP sink
(aiosmtpd) that records every message byte for byte, a DNS server
(dnslib) answering from a zone the test writes, and the gw tools.
Run with Debian's python: /usr/bin/python3 -m pytest tests/e2e
"""
import asyncio
import os
import random
import signal
import socket
import sqlite3
import ssl
import subprocess
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GW_BUILD", os.path.join(REPO, "build"))


_ports_given = set()

# Under pytest-xdist (make e2e runs E2E_JOBS workers) each worker hands
# out only ports of its own residue class, and from below the kernel's
# ephemeral range (32768-60999), so neither another worker nor the
# kernel's own bind(0) or connect() takes a port between its probe here
# and the real bind.  (A residue class of the kernel's bind(0) choices
# does not work: bind(0) prefers odd ports, so the even worker waited
# for ever.)
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_nworkers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_residue = int(_worker[2:]) % _nworkers if _worker[2:].isdigit() else 0
# Each run starts at a random place in its share and wraps around, so
# that two pytest runs at once (two engineers on one machine) seldom
# probe the same ports in the same order: a port free when probed can
# still be taken by the other run before gwd binds it.
_span = (32768 - 10000) // _nworkers
_start = random.randrange(_span)
_taken = 0


def free_port(host="127.0.0.1"):
    """A port nobody listens on now, and never handed out before in this
    run: a gwd.conf with two listeners on one port fails to start
    (test_reject_rules did, three starts in a row, when ports came from
    bind(0) and the kernel handed one out twice)."""
    global _taken
    while _taken < _span:
        port = 10000 + _residue + _nworkers * ((_start + _taken) % _span)
        _taken += 1
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise RuntimeError("free_port: every port from 10000 to 32767 of "
                       "this worker's share was handed out")


def wait_for(pred, timeout=15.0, interval=0.02, what="condition"):
    """Poll pred() until it returns something true; fail after timeout."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(interval)


def lat_bucket(ms):
    """common/tally.c's tally_lat_bucket, written again: exact below 16
    ms, then 16 buckets to each doubling."""
    if ms < 16:
        return max(ms, 0)
    b = ms.bit_length() - 1
    return 16 * (b - 3) + ((ms >> (b - 4)) & 15)


def tally_rebuild(db):
    """Count log.db's events into event_tally afresh, as the schema 8
    migration does, and the deliveries' latencies into event_latency, as
    the schema 9 one does: for tests that write event rows themselves,
    which gwd's writers (common/tally.h) would have counted.  db: a
    sqlite3 connection to log.db; the caller commits."""
    db.create_function("gw_lat_bucket", 1, lat_bucket, deterministic=True)
    db.execute("DELETE FROM event_tally")
    db.execute("DELETE FROM event_latency")
    db.execute("UPDATE event SET latency_ms = (ts - (SELECT r.ts FROM "
               "event r WHERE r.qid = event.qid AND r.action = 'received' "
               "ORDER BY r.ts LIMIT 1)) / 1000 WHERE action = 'delivered' "
               "AND qid IS NOT NULL")
    for span in (60, 3600):
        db.execute("INSERT INTO event_tally SELECT ?1, ts / (?1 * 1000000), "
                   "action, coalesce(subaccount, ''), count(*), "
                   "sum(class IS 'hard') FROM event GROUP BY 2, 3, 4",
                   (span,))
        db.execute("INSERT INTO event_latency SELECT ?1, ts / (?1 * "
                   "1000000), gw_lat_bucket(latency_ms), count(*) FROM event "
                   "WHERE latency_ms IS NOT NULL GROUP BY 2, 3", (span,))


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --------------------------------------------------------------------------
# The sink: a real SMTP server that keeps what it receives.

class Received:
    def __init__(self, mail_from, rcpt_tos, data, peer, tls, helo=None,
                 conn=None, mail_options=()):
        # aiosmtpd reports the null reverse-path as "<>"; "" here.
        self.mail_from = "" if mail_from == "<>" else mail_from
        self.rcpt_tos = rcpt_tos
        self.data = data          # bytes as received, dot-unstuffed, CRLF
        self.peer = peer
        self.tls = tls
        self.helo = helo          # the client's EHLO/HELO name
        self.conn = conn          # which connection (a number from 1)
        self.mail_options = list(mail_options)  # MAIL's parameters
        self.at = time.monotonic()

    @property
    def body(self):
        return self.data.split(b"\r\n\r\n", 1)[1]

    @property
    def headers(self):
        return self.data.split(b"\r\n\r\n", 1)[0]


class Sink:
    """aiosmtpd on loopback.  Replies can be scripted:
    sink.rcpt_reply = lambda addr: "550 5.1.1 no such user" or None
    sink.data_reply = lambda msg: "451 4.3.0 try later" or None
    sink.gate = threading.Event(): each message is kept at its final dot
    (it counts as received), and the reply waits until the gate is set.
    sink.delay = 0.3: the same, for that many seconds.
    requiretls=True: REQUIRETLS (RFC 8689) offered after STARTTLS and
    taken on MAIL (it then shows in the message's mail_options).
    """

    def __init__(self, host="127.0.0.1", port=None, tls_context=None,
                 size_limit=64 << 20, smtputf8=False, requiretls=False):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        self.host = host
        self.port = port or free_port(host)
        self.messages = []
        self.attempts = 0
        self.rcpt_reply = None
        self.data_reply = None
        self.gate = None
        self.delay = 0
        self.requiretls = requiretls
        self.lock = threading.Lock()
        self.open = 0             # connections open now
        self.live = 0             # sessions between EHLO and QUIT now
        self.max_open = 0         # the most ever live at once
        self.nconn = 0            # connections so far
        self.open_by_ip = {}      # connections open now per client IP
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address,
                                  rcpt_options):
                if sink.rcpt_reply:
                    r = sink.rcpt_reply(address)
                    if r:
                        return r
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                with sink.lock:
                    sink.attempts += 1
                data = envelope.original_content or envelope.content
                msg = Received(envelope.mail_from, list(envelope.rcpt_tos),
                               data, session.peer,
                               session.ssl is not None, session.host_name,
                               getattr(session, "gw_conn", None),
                               envelope.mail_options)
                if sink.data_reply:
                    r = sink.data_reply(msg)
                    if r:
                        return r
                with sink.lock:
                    sink.messages.append(msg)
                if sink.delay:
                    await asyncio.sleep(sink.delay)
                while sink.gate is not None and not sink.gate.is_set():
                    await asyncio.sleep(0.01)
                return "250 2.0.0 OK queued"

        class Counting(SMTP):
            """Counts connections, and numbers each one's session."""

            def connection_made(self, transport):
                super().connection_made(transport)
                self.gw_ip = (transport.get_extra_info("peername")
                              or ("?",))[0]
                with sink.lock:
                    sink.open_by_ip[self.gw_ip] = \
                        sink.open_by_ip.get(self.gw_ip, 0) + 1
                    sink.open += 1
                    sink.nconn += 1
                    self.session.gw_conn = sink.nconn
                self.live = False

            # max_open counts sessions between their EHLO and their QUIT:
            # gwd frees a connection slot once its QUIT is written, and
            # the sink may see the next connection before this one's EOF.
            def _went_live(self):
                with sink.lock:
                    if not self.live:
                        self.live = True
                        sink.live += 1
                        sink.max_open = max(sink.max_open, sink.live)

            def _went_quiet(self):
                with sink.lock:
                    if self.live:
                        self.live = False
                        sink.live -= 1

            async def smtp_EHLO(self, arg):
                self._went_live()
                await super().smtp_EHLO(arg)

            async def smtp_HELO(self, arg):
                self._went_live()
                await super().smtp_HELO(arg)

            async def smtp_QUIT(self, arg):
                self._went_quiet()
                await super().smtp_QUIT(arg)

            # REQUIRETLS, which aiosmtpd does not know: offered as the
            # EHLO reply's last keyword once TLS is up, and taken off the
            # MAIL parameters before aiosmtpd sees them.
            async def push(self, status):
                if sink.requiretls and status == "250 HELP" and \
                        self._tls_protocol:
                    await super().push("250-REQUIRETLS")
                await super().push(status)

            async def smtp_MAIL(self, arg):
                words = (arg or "").split(" ")
                rt = sink.requiretls and self._tls_protocol and \
                    any(w.upper() == "REQUIRETLS" for w in words[1:])
                if rt:
                    arg = " ".join(w for i, w in enumerate(words)
                                   if i == 0 or w.upper() != "REQUIRETLS")
                await super().smtp_MAIL(arg)
                if rt and self.envelope.mail_from is not None:
                    self.envelope.mail_options.append("REQUIRETLS")

            def connection_lost(self, exc):
                self._went_quiet()
                with sink.lock:
                    sink.open -= 1
                    sink.open_by_ip[self.gw_ip] -= 1
                super().connection_lost(exc)

        class Ctl(Controller):
            def factory(self):
                return Counting(self.handler, **self.SMTP_kwargs)

        kw = {}
        if tls_context is not None:
            kw["tls_context"] = tls_context
        if smtputf8:
            kw["enable_SMTPUTF8"] = True
        self.controller = Ctl(Handler(), hostname=host, port=self.port,
                              decode_data=False, data_size_limit=size_limit,
                              ready_timeout=10, **kw)
        self.controller.start()

    def wait_count(self, n, timeout=20):
        wait_for(lambda: len(self.messages) >= n, timeout,
                 what="%d messages at the sink (have %d)" % (n, len(self.messages)))
        return self.messages

    def stop(self):
        self.controller.stop()


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.stop()


# --------------------------------------------------------------------------
# DNS: a real server on loopback answering from a dict zone.

class LoopbackServer:
    """A TCP server on 127.0.0.1 (a free port, in self.port) for tests
    that play the remote end: each connection runs self.session(conn)
    on a thread of its own, and conn is closed after (an OSError from
    the peer ends the session quietly).  Subclasses set their own
    attributes before calling __init__: connections may arrive at
    once.  stop() closes the listening socket."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.run_session, args=(conn,),
                             daemon=True).start()

    def run_session(self, conn):
        try:
            self.session(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def session(self, conn):
        raise NotImplementedError

    def stop(self):
        self.sock.close()

    @staticmethod
    def ehlo_reply(lines):
        """A multi-line 250 of these lines (the host name first)."""
        return "".join("250%s%s\r\n" % ("-" if i < len(lines) - 1 else " ",
                                          l)
                       for i, l in enumerate(lines)).encode()


class Dns:
    """dnslib server.  zone[(name, type)] = [rdata...]:
      dns.add("example.test", "MX", (10, "mx1.example.test"))
      dns.add("mx1.example.test", "A", "127.0.0.1")
      dns.rcode["broken.test"] = "SERVFAIL"
    Names without records answer NXDOMAIN unless some record exists for
    the name (then NOERROR with no data).
    """

    def __init__(self):
        from dnslib import QTYPE, RCODE, RR, A, AAAA, MX, TXT
        from dnslib.server import BaseResolver, DNSServer

        self.zone = {}
        self.rcode = {}
        self.drop = set()          # names whose queries are never answered
        self.queries = []
        self.port = free_port()
        dns = self

        class Resolver(BaseResolver):
            def resolve(self, request, handler):
                reply = request.reply()
                qname = str(request.q.qname).rstrip(".").lower()
                qtype = QTYPE[request.q.qtype]
                dns.queries.append((qname, qtype))
                if qname in dns.drop:
                    return None
                if qname in dns.rcode:
                    reply.header.rcode = getattr(RCODE, dns.rcode[qname])
                    return reply
                recs = dns.zone.get((qname, qtype), [])
                for r in recs:
                    if qtype == "MX":
                        rd = MX(r[1] + ".", r[0]) if r[1] else MX(".", r[0])
                    elif qtype == "A":
                        rd = A(r)
                    elif qtype == "AAAA":
                        rd = AAAA(r)
                    elif qtype == "TXT":
                        rd = TXT(r)
                    else:
                        continue
                    reply.add_answer(RR(qname + ".", request.q.qtype, rdata=rd, ttl=60))
                if not recs and not any(k[0] == qname for k in dns.zone):
                    reply.header.rcode = RCODE.NXDOMAIN
                return reply

        self.udp = DNSServer(Resolver(), port=self.port, address="127.0.0.1")
        self.tcp = DNSServer(Resolver(), port=self.port, address="127.0.0.1", tcp=True)
        self.udp.start_thread()
        self.tcp.start_thread()

    def add(self, name, rtype, rdata):
        self.zone.setdefault((name.lower(), rtype), []).append(rdata)

    @property
    def resolver(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        self.udp.stop()
        self.tcp.stop()


@pytest.fixture
def dns():
    d = Dns()
    yield d
    d.stop()


# --------------------------------------------------------------------------
# gwd itself.

def conf_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(conf_value(x) for x in v) + " ]"
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, conf_value(x))
                               for k, x in v.items()) + " }"
    return '"%s"' % v


class Gwd:
    """One gwd with its own state directory and free ports.

    gw.listen: {"submission": port (STARTTLS), "smtps": port (implicit),
    "plain": port (STARTTLS listener with require_tls=false, ip_auth)}.
    listen: more STARTTLS listeners, [(address, port), ...]; an entry
    (address, port, "settings") has those settings instead of
    tls = "starttls" (e.g. 'tls = "implicit"; proxy_protocol = true;').
    feedback: a listener with role "feedback" too, at ports["feedback"].
    """

    def __init__(self, tmp, relay=None, dns=None, settings=None, extra="",
                 listen=(), feedback=False):
        self.dir = str(tmp)
        os.makedirs(self.dir, exist_ok=True)
        self.state = os.path.join(self.dir, "state")
        self.conf = os.path.join(self.dir, "gwd.conf")
        self.ports = {"submission": free_port(), "smtps": free_port(),
                      "plain": free_port()}
        self.proc = None
        self.preexec = None       # run in gwd's process before exec
        self.wrap = []            # a command to run gwd under (fiu-run)
        self.started = False      # once up, a restart keeps its ports
        self.log = os.path.join(self.dir, "gwd.log")
        groups = {
            "tls": {"certificate": "state/cert.pem", "key": "state/key.pem",
                    "self_signed": True},
            "relay": dict(relay or {"mode": "smarthost", "host": "127.0.0.1",
                                    "port": 25, "tls": "none"}),
            "limits": {"auth_fail_delay": "50ms"},
            "queue": {"retry_min": "1s", "retry_max": "2s"},
            "dns": {"resolver": dns.resolver if dns else "127.0.0.1:1",
                    "timeout": "1s", "attempts": 1},
        }
        # The sinks MX records point at are on loopback: gwd refuses such
        # MX hosts unless told otherwise (tests of the refusal say so).
        groups["relay"].setdefault("allow_loopback_mx", True)
        for k, v in (settings or {}).items():
            g, _, name = k.partition(".")
            groups.setdefault(g, {})[name] = v
        lines = ['state_dir = "state";', 'hostname = "gw.test";',
                 'control_socket = "state/control";',
                 "listen = (",
                 '  { address = "127.0.0.1"; port = %d; tls = "starttls"; },'
                 % self.ports["submission"],
                 '  { address = "127.0.0.1"; port = %d; tls = "implicit"; },'
                 % self.ports["smtps"],
                 '  { address = "127.0.0.1"; port = %d; tls = "starttls"; '
                 'require_tls = false; ip_auth = true; }' % self.ports["plain"]]
        lines += [',  { address = "%s"; port = %d; %s }'
                  % (a[0], a[1], a[2] if len(a) > 2 else 'tls = "starttls";')
                  for a in listen]
        if feedback:
            self.ports["feedback"] = free_port()
            lines.append(',  { address = "127.0.0.1"; port = %d; '
                         'role = "feedback"; }' % self.ports["feedback"])
        lines.append(");")
        for g, kv in groups.items():
            lines.append("%s = {" % g)
            for k, v in kv.items():
                lines.append("  %s = %s;" % (k, conf_value(v)))
            lines.append("};")
        lines.append(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- process
    def start(self, wait=True, env=None):
        for tries in range(3):
            mark = os.path.getsize(self.log) if os.path.exists(self.log) else 0
            self.logf = open(self.log, "ab")
            self.proc = subprocess.Popen(self.wrap + [os.path.join(BUILD, "gwd"), "-v", "-c", self.conf],
                                         stdout=self.logf, stderr=self.logf,
                                         preexec_fn=self.preexec,
                                         env=dict(os.environ, **(env or {})))
            if not wait:
                return self
            # Its own "ready" first: another test run on the machine may
            # listen on one of these ports, and a connection to it says
            # nothing of this gwd, which fails to bind a moment later.
            wait_for(lambda: b" ready: hostname=" in self._log_since(mark)
                     or self._died(), timeout=30, what="gwd ready")
            for p in list(self.ports.values()) + self._http_ports():
                wait_for(lambda: self._can_connect(p) or self._died(),
                         what="gwd listening on %d" % p)
            if self.proc.poll() is None:
                self.started = True
                return self
            # free_port() cannot reserve a port: another test run on the
            # machine may have taken it since.  Only a first start moves.
            if (self.started or "Address already in use"
                    not in self.logtext()[mark:]):
                break
            self._move_ports()
        raise AssertionError("gwd exited %s:\n%s" % (self.proc.returncode, self.logtext()))

    def _http_ports(self):
        """The ports of "host:port" listeners (metrics): gwd binds them
        after the SMTP ones."""
        import re
        with open(self.conf) as f:
            text = f.read()
        return [int(p) for p in
                re.findall(r'listen\s*=\s*"127\.0\.0\.1:(\d+)"', text)]

    def _move_ports(self):
        with open(self.conf) as f:
            text = f.read()
        # A new port equal to an old one (free again since gwd exited)
        # would be replaced a second time: two listeners on one port.
        taken = set(self.ports.values())
        for name, old in list(self.ports.items()):
            new = free_port()
            while new in taken:
                new = free_port()
            taken.add(new)
            text = text.replace("port = %d;" % old, "port = %d;" % new)
            self.ports[name] = new
        with open(self.conf, "w") as f:
            f.write(text)

    def _log_since(self, mark):
        with open(self.log, "rb") as f:
            f.seek(mark)
            return f.read()

    def _died(self):
        return self.proc.poll() is not None

    @staticmethod
    def _can_connect(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.logf.close()

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    # -- tools
    def tool(self, name, *args, input=None, check=True):
        r = subprocess.run([os.path.join(BUILD, name), "-c", self.conf] + list(args),
                           input=input, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("%s %s: exit %d\n%s%s" % (name, " ".join(args),
                                 r.returncode, r.stdout, r.stderr))
        return r

    def gwctl(self, *args, **kw):
        return self.tool("gwctl", *args, **kw)

    def add_subaccount(self, name="app", domain="example.com", password="s3cret-pass",
                       *more_domains):
        args = ["subaccount", "add", name, "--domain", domain, "--password-stdin"]
        for d in more_domains:
            args += ["--domain", d]
        self.gwctl(*args, input=password + "\n")
        return name, password

    # -- databases (read-only looks, as an admin would)
    def db(self, name):
        c = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.state, name), uri=True,
                            timeout=10)
        c.row_factory = sqlite3.Row
        return c

    def events(self, where="1", args=()):
        with self.db("log.db") as c:
            return [dict(r) for r in c.execute(
                "SELECT * FROM event WHERE %s ORDER BY id" % where, args)]

    def queue_count(self):
        with self.db("queue.db") as c:
            return c.execute("SELECT count(*) FROM recipient").fetchone()[0]


@pytest.fixture
def gw_factory(tmp_path):
    made = []

    def make(**kw):
        g = Gwd(tmp_path / ("gw%d" % len(made)), **kw)
        os.makedirs(g.dir, exist_ok=True)
        made.append(g)
        return g

    yield make
    for g in made:
        rc = g.stop()
        # A crash or sanitizer report fails the test that caused it.
        text = g.logtext() if os.path.exists(g.log) else ""
        assert "ERROR: AddressSanitizer" not in text, text[-4000:]
        assert "runtime error:" not in text, text[-4000:]
        assert rc in (0, None, -9), "gwd exited %r\n%s" % (rc, text[-4000:])


def control(g, cmd):
    """One command on gwd's control socket; its whole answer."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(os.path.join(g.state, "control"))
    s.sendall(cmd.encode() + b"\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode()


def control_stats(g):
    """The control socket's stats: {name: int}."""
    return {k: int(v) for k, v in
            (line.split() for line in control(g, "stats").splitlines())}


def smarthost(sink):
    return {"mode": "smarthost", "host": sink.host, "port": sink.port, "tls": "none"}


# --------------------------------------------------------------------------
# Certificates made by the tests with the openssl command.

def openssl(*args, cwd, input=None):
    return subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                          capture_output=True, input=input).stdout


EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def make_ca(d, cn="gw test CA"):
    """ca.key and ca.pem in d: a CA for leaf_cert()."""
    openssl("req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=" + cn,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def leaf_cert(d, name, san, cn=None):
    """NAME.key and NAME.pem in d, a server certificate from make_ca()'s
    CA with subjectAltName `san` ("DNS:mx.test,IP:127.0.0.1")."""
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % san)
    openssl("req", *EC_KEY, "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=" + (cn or name), cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
            "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


class HttpsServer:
    """A threaded HTTPS server on a free loopback port (.port) with the
    certificate NAME.pem/NAME.key in d, answering with the
    BaseHTTPRequestHandler class given; stop() ends it."""

    def __init__(self, handler, d, name):
        import http.server
        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port),
                                                     handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, name + ".pem"),
                            os.path.join(d, name + ".key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def self_signed_cert(d, name, cn, san=None):
    """NAME.key and NAME.pem in d, self-signed."""
    extra = ["-addext", "subjectAltName=" + san] if san else []
    openssl("req", "-x509", *EC_KEY, "-keyout", name + ".key", "-out",
            name + ".pem", "-days", "2", "-subj", "/CN=" + cn, *extra, cwd=d)


# --------------------------------------------------------------------------
# A raw SMTP client for hostile conversations.

class Raw:
    def __init__(self, port, host="127.0.0.1", implicit=False, timeout=10,
                 source=None):
        # source: the client's address (127.0.0.x: many clients on loopback)
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        if implicit:
            self.sock = client_tls_context().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """Read one complete (possibly multi-line) reply; return (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got %r" % self.buf)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        return int(lines[-1][:3]), "\n".join(l[4:] for l in lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self):
        code, _ = self.cmd("STARTTLS")
        assert code == 220
        self.sock = client_tls_context().wrap_socket(self.sock)
        return self

    def pending(self, wait=0.3):
        """Whatever arrives within `wait` seconds (b"" if nothing)."""
        self.sock.settimeout(wait)
        data = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ssl.SSLError, TimeoutError):
            pass
        finally:
            self.sock.settimeout(10)
        return data

    def closed(self, wait=2.0):
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, TimeoutError):
            return False
        finally:
            self.sock.settimeout(10)

    def close(self):
        self.sock.close()


def submit(g, rcpts, subject="t", frm="app@example.com",
           password="s3cret-pass"):
    """One message from subaccount "app" to rcpts, over submission."""
    import smtplib
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", password)
        s.sendmail(frm, rcpts, ("From: %s\r\nTo: %s\r\nSubject: %s\r\n"
                                "\r\nbody\r\n" % (frm, frm, subject)).encode())


def submit_refused(g, data, frm="app@example.com", to="user@dest.test",
                   password="s3cret-pass"):
    """Submit data as subaccount "app": None on 250, else the end-of-DATA
    refusal as (code, reply text)."""
    import smtplib
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=60) as s:
        s.starttls(context=client_tls_context())
        s.login("app", password)
        try:
            s.sendmail(frm, [to], data)
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()
    return None


def auth_plain(user, password):
    import base64
    return base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()


def login(raw, user, password):
    raw.cmd("EHLO client.test")
    raw.starttls()
    raw.cmd("EHLO client.test")
    return raw.cmd("AUTH PLAIN " + auth_plain(user, password))
