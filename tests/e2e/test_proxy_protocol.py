"""gwd behind a load balancer: listeners with proxy_protocol = true.

A real HAProxy (Debian's haproxy, started here on loopback ports) sits
in front of gwd: `send-proxy-v2` to a STARTTLS listener, to an
implicit-TLS one (TCP passthrough) and to an ip_auth one, `send-proxy`
(v1) to the STARTTLS one too.  Clients connect to HAProxy from
127.0.0.5 (or .6), HAProxy to gwd from 127.0.0.1, so every place that
shows the client (audit log, Received:, ip_auth, limits per address)
must say .5, never .1.  Raw sockets speak the PROXY protocol by hand
for the refusals: an untrusted peer, a malformed or missing header.
"""
import os
import shutil
import signal
import smtplib
import socket
import struct
import subprocess
import urllib.request

import pytest

from conftest import (Raw, Sink, client_tls_context, control_stats,
                      free_port, smarthost, wait_for)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
CLIENT = "127.0.0.5"
OTHER = "127.0.0.6"
TRUSTED = 'trusted_proxies = [ "127.0.0.1/32", "::1/128" ];'

pytestmark = pytest.mark.skipif(not os.path.exists(HAPROXY),
                                reason="haproxy not installed (scripts/deps.sh test)")


def v2_header(src, dst, sport, dport, cmd=0x21, tlvs=b""):
    """A PROXY v2 header for TCP over IPv4 (cmd 0x20: LOCAL)."""
    body = (socket.inet_aton(src) + socket.inet_aton(dst) +
            struct.pack("!HH", sport, dport) + tlvs)
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([cmd, 0x11]) +
            struct.pack("!H", len(body)) + body)


def wait_listening(proc, ports, log):
    """Until proc listens on every port.  Asked of ss, not by connecting:
    a probe through HAProxy would reach gwd as a connection of its own
    (one that may close before its PROXY header, counted as missing)."""
    def up():
        r = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True)
        have = {l.split()[3].rsplit(":", 1)[1] for l in r.stdout.splitlines()}
        return proc.poll() is not None or all(str(p) in have for p in ports)
    wait_for(up, what="haproxy listening")
    assert proc.poll() is None, open(log).read()


class Haproxy:
    """haproxy -db (foreground) with one frontend per (name, port,
    gwd port, server option); SIGTERM stops it."""

    def __init__(self, tmp, fronts):
        self.cfg = os.path.join(str(tmp), "haproxy.cfg")
        self.log = os.path.join(str(tmp), "haproxy.log")
        self.ports = {}
        text = ["global", "  maxconn 200", "defaults", "  mode tcp",
                "  timeout connect 5s", "  timeout client 60s",
                "  timeout server 60s"]
        for name, gwport, opt in fronts:
            self.ports[name] = free_port()
            text += ["frontend fe_%s" % name,
                     "  bind 127.0.0.1:%d" % self.ports[name],
                     "  default_backend be_%s" % name,
                     "backend be_%s" % name,
                     "  server gw 127.0.0.1:%d %s" % (gwport, opt)]
        with open(self.cfg, "w") as f:
            f.write("\n".join(text) + "\n")
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg],
                                     stdout=self.logf, stderr=self.logf)
        wait_listening(self.proc, self.ports.values(), self.log)

    def stop(self):
        stop_haproxy(self.proc)
        self.logf.close()


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.stop()


@pytest.fixture
def setup(gw_factory, sink, tmp_path):
    """gwd with three PROXY listeners (and one trusting only a network
    the tests never connect from), HAProxy in front of them."""
    ports = {k: free_port() for k in ("starttls", "implicit", "ipauth",
                                      "strict", "metrics")}
    g = gw_factory(relay=smarthost(sink), settings={
        "metrics.listen": "127.0.0.1:%d" % ports["metrics"]}, listen=[
        ("127.0.0.1", ports["starttls"],
         'tls = "starttls"; proxy_protocol = true; ' + TRUSTED),
        ("127.0.0.1", ports["implicit"],
         'tls = "implicit"; proxy_protocol = true; ' + TRUSTED),
        ("127.0.0.1", ports["ipauth"],
         'tls = "starttls"; require_tls = false; ip_auth = true; '
         'proxy_protocol = true; ' + TRUSTED),
        ("127.0.0.1", ports["strict"],
         'tls = "starttls"; proxy_protocol = true; '
         'trusted_proxies = [ "192.0.2.0/24" ];'),
    ]).start()
    g.add_subaccount()
    h = Haproxy(tmp_path, [
        ("v2", ports["starttls"], "send-proxy-v2"),
        ("v1", ports["starttls"], "send-proxy"),
        ("tls", ports["implicit"], "send-proxy-v2"),
        ("ipauth", ports["ipauth"], "send-proxy-v2"),
    ])
    yield g, h, ports
    h.stop()


def message(subject):
    return ("From: app@example.com\r\nTo: u@dest.test\r\nSubject: %s\r\n"
            "\r\nbody\r\n" % subject).encode()


def send_through(port, subject, implicit=False, source=CLIENT):
    cls = smtplib.SMTP_SSL if implicit else smtplib.SMTP
    kw = {"context": client_tls_context()} if implicit else {}
    with cls("127.0.0.1", port, timeout=30, source_address=(source, 0),
             local_hostname="client.test",
             **kw) as s:
        if not implicit:
            s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", ["u@dest.test"], message(subject))


@pytest.mark.parametrize("front,implicit", [("v2", False), ("v1", False),
                                            ("tls", True)])
def test_submission_through_haproxy_shows_the_client(setup, sink, front,
                                                     implicit):
    g, h, _ = setup
    send_through(h.ports[front], "via-" + front, implicit)
    sink.wait_count(1)
    received = sink.messages[0].data.split(b"\r\n\tby ")[0]
    assert b"([%s])" % CLIENT.encode() in received, received
    ev = wait_for(lambda: g.events("action='received'"), what="received")
    assert ev[0]["client_ip"] == CLIENT
    assert "127.0.0.1" not in sink.messages[0].headers.decode().split(
        "Received:")[1].split(";")[0]
    assert "ip=%s" % CLIENT in g.logtext()


def test_ip_auth_matches_the_reported_address(setup, sink):
    g, h, _ = setup
    # HAProxy's own address is on no allowlist; the client's is.
    g.gwctl("subaccount", "allow-ip", "app", CLIENT)
    with smtplib.SMTP("127.0.0.1", h.ports["ipauth"], timeout=30,
                      source_address=(CLIENT, 0)) as s:
        s.ehlo("app.test")
        s.sendmail("app@example.com", ["u@dest.test"], message("by-ip"))
    sink.wait_count(1)
    with smtplib.SMTP("127.0.0.1", h.ports["ipauth"], timeout=30,
                      source_address=(OTHER, 0)) as s:
        s.ehlo("other.test")
        code, text = s.mail("app@example.com")
        assert code == 530, text
    ev = wait_for(lambda: g.events("action='rejected'"), what="refusal")
    assert ev[0]["client_ip"] == OTHER


def test_untrusted_peer_is_closed_and_counted(setup):
    g, _, ports = setup
    # A valid header, but from 127.0.0.1: the listener trusts only
    # 192.0.2.0/24.  Closed before a byte is read or a banner sent.
    r = Raw(ports["strict"])
    r.send(v2_header("203.0.113.9", "127.0.0.1", 40000, 25))
    assert r.closed(wait=10)
    assert r.buf == b""
    wait_for(lambda: control_stats(g)["proxy_refused_untrusted_total"],
             what="counted")
    st = control_stats(g)
    assert st["proxy_refused_untrusted_total"] == 1, g.logtext()
    assert st["proxy_refused_malformed_total"] == 0
    assert "ip=127.0.0.1 PROXY header refused reason=untrusted" in g.logtext()
    # The same from outside: a direct client on a trusted listener's
    # port that does not send a header (it waits for the banner).
    r = Raw(ports["starttls"], source=CLIENT)
    assert r.closed(wait=10)
    assert "ip=%s PROXY header refused reason=untrusted" % CLIENT in \
        g.logtext()


@pytest.mark.parametrize("what,data,reason", [
    ("no signature", b"EHLO client.test\r\n", "malformed"),
    ("v1 bad port", b"PROXY TCP4 192.0.2.1 127.0.0.1 56324 x\r\n",
     "malformed"),
    ("v1 too long", b"PROXY UNKNOWN " + b"x" * 120 + b"\r\n", "malformed"),
    ("v2 UDP", b"\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + b"\0" * 12,
     "malformed"),
    ("v2 TLV overrun", v2_header("192.0.2.1", "127.0.0.1", 1, 2,
                                 tlvs=b"\x01\x00\x09ab"), "malformed"),
    ("truncated then closed", b"PROXY TCP4 192.0.2.1 127.0", "missing"),
])
def test_bad_header_is_closed_and_counted(setup, what, data, reason):
    g, _, ports = setup
    r = Raw(ports["starttls"])
    r.send(data)
    if reason == "missing":
        r.sock.shutdown(socket.SHUT_WR)
    assert r.closed(wait=10)
    assert r.buf == b""
    key = "proxy_refused_%s_total" % reason
    wait_for(lambda: control_stats(g)[key], what=key)
    assert control_stats(g)[key] == 1, g.logtext()
    assert "PROXY header refused reason=%s" % reason in g.logtext()
    # The same figure in Prometheus text, by reason.
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                % ports["metrics"], timeout=10) as resp:
        text = resp.read().decode()
    assert 'gw_proxy_refused_total{reason="%s"} 1\n' % reason in text


def test_silent_peer_times_out(setup):
    g, _, ports = setup
    r = Raw(ports["starttls"])
    r.send(b"PROXY TCP4 ")
    assert r.closed(wait=30)
    wait_for(lambda: control_stats(g)["proxy_refused_missing_total"] == 1,
             what="counted")
    assert "incomplete header at the deadline" in g.logtext()


def test_header_by_hand_names_the_client(setup):
    g, _, ports = setup
    # v2 from a trusted peer: a refusal is recorded with the client.
    r = Raw(ports["starttls"])
    r.send(v2_header("203.0.113.9", "127.0.0.1", 40000, 587))
    assert r.reply()[0] == 220
    r.cmd("EHLO x.test")
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 530
    # v1 TCP6.
    r6 = Raw(ports["starttls"])
    r6.send(b"PROXY TCP6 2001:db8::9 ::1 40000 587\r\n")
    assert r6.reply()[0] == 220
    r6.cmd("EHLO x.test")
    assert r6.cmd("MAIL FROM:<app@example.com>")[0] == 530
    ev = wait_for(lambda: len(g.events("action='rejected'")) == 2 and
                  g.events("action='rejected'"), what="two refusals")
    assert sorted(e["client_ip"] for e in ev) == ["2001:db8::9",
                                                   "203.0.113.9"]
    r.close()
    r6.close()


def test_local_keeps_the_proxy_address(setup):
    g, _, ports = setup
    # A health check: LOCAL, then the session is the proxy's own.
    r = Raw(ports["starttls"])
    r.send(v2_header("0.0.0.0", "0.0.0.0", 0, 0, cmd=0x20))
    assert r.reply()[0] == 220
    r.cmd("EHLO lb.test")
    assert r.cmd("MAIL FROM:<app@example.com>")[0] == 530
    ev = wait_for(lambda: g.events("action='rejected'"), what="refusal")
    assert ev[0]["client_ip"] == "127.0.0.1"
    r.close()


def test_client_bytes_after_the_header_are_kept(setup, sink):
    g, _, ports = setup
    # Implicit TLS: the header and the ClientHello back to back; not a
    # byte of the handshake may be taken as header.
    sock = socket.create_connection(("127.0.0.1", ports["implicit"]),
                                    timeout=10)
    sock.sendall(v2_header("198.51.100.7", "127.0.0.1", 40000, 465))
    tls = client_tls_context().wrap_socket(sock)
    data = b""
    while b"\r\n" not in data:
        data += tls.recv(1024)
    assert data.startswith(b"220 "), data
    tls.close()
    # Plain: the header and a pipelined EHLO in one write (before the
    # banner: refused as talking first, but read as SMTP, not header).
    r = Raw(ports["starttls"])
    r.send(b"PROXY TCP4 198.51.100.8 127.0.0.1 40000 587\r\nQUIT\r\n")
    got = r.pending(wait=2)
    assert got.startswith(b"220 "), got
    assert b"221" in got or b"554" in got, got


def test_limits_per_address_count_the_client(gw_factory, sink, tmp_path):
    port = free_port()
    g = gw_factory(relay=smarthost(sink),
                   settings={"limits.connections_per_ip": 2},
                   listen=[("127.0.0.1", port, 'tls = "starttls"; '
                            'proxy_protocol = true; ' + TRUSTED)]).start()
    h = Haproxy(tmp_path, [("v2", port, "send-proxy-v2")])
    try:
        held = [Raw(h.ports["v2"], source=CLIENT) for _ in range(2)]
        for r in held:
            assert r.reply()[0] == 220
        # A third from the same client: over its limit, though HAProxy
        # holds only two connections from... itself, to gwd.
        r = Raw(h.ports["v2"], source=CLIENT)
        code, text = r.reply()
        assert code == 421 and "from your address" in text
        # Another client through the same HAProxy is let in.
        r2 = Raw(h.ports["v2"], source=OTHER)
        assert r2.reply()[0] == 220
        for x in held + [r, r2]:
            x.close()
    finally:
        h.stop()


EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples", "haproxy.cfg")


def test_example_config_is_valid():
    r = subprocess.run([HAPROXY, "-c", "-f", EXAMPLE], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Configuration file is valid" in r.stdout + r.stderr


def node(gw_factory, sink, **settings):
    """A gwd node as examples/haproxy.cfg expects one (settings: more of
    gwd.conf, e.g. the cluster group)."""
    ports = {k: free_port() for k in (587, 465, 2525, "metrics")}
    settings["metrics.listen"] = "127.0.0.1:%d" % ports["metrics"]
    g = gw_factory(relay=smarthost(sink), settings=settings, listen=[
        ("127.0.0.1", ports[587], 'tls = "starttls"; proxy_protocol = true; '
         + TRUSTED),
        ("127.0.0.1", ports[465], 'tls = "implicit"; proxy_protocol = true; '
         + TRUSTED),
        ("127.0.0.1", ports[2525], 'tls = "starttls"; ip_auth = true; '
         'proxy_protocol = true; ' + TRUSTED)]).start()
    # A cluster's first node's subaccount may have reached this one
    # already (gw.db's configuration is shared).
    r = g.gwctl("subaccount", "add", "app", "--domain", "example.com",
                "--password-stdin", input="s3cret-pass\n", check=False)
    assert r.returncode == 0 or "already exists" in r.stderr, r.stderr
    return g, ports


def example_haproxy(tmp_path, nodes):
    """HAProxy running examples/haproxy.cfg as written, with loopback
    ports for the example's addresses: nodes is [ports of gw1, of gw2]
    ({587: p, 465: p, 2525: p, "metrics": p}).  Returns (process, its
    log's path, {587: front port, ...}); SIGTERM stops it."""
    front = {p: free_port() for p in (587, 465, 2525)}
    lines = []
    with open(EXAMPLE) as f:
        for line in f:
            for p in front:
                line = line.replace("bind :%d\n" % p,
                                    "bind 127.0.0.1:%d\n" % front[p])
            for i, ports in enumerate(nodes):
                if "server gw%d " % (i + 1) in line:
                    for p in (587, 465, 2525):
                        line = line.replace("192.0.2.2%d:%d " % (i + 1, p),
                                            "127.0.0.1:%d " % ports[p])
                    line = line.replace("port 9465",
                                        "port %d" % ports["metrics"])
            lines.append(line)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("".join(lines))
    assert "192.0.2.2" not in "".join(l for l in lines if "server" in l
                                      and not l.lstrip().startswith("#"))
    logpath = str(tmp_path / "haproxy.log")
    with open(logpath, "wb") as log:
        proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=log,
                                stderr=log)
    try:
        wait_listening(proc, front.values(), logpath)
    except AssertionError:
        stop_haproxy(proc)
        raise
    return proc, logpath, front


def stop_haproxy(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_example_in_front_of_two_nodes(gw_factory, sink, tmp_path):
    """examples/haproxy.cfg as written: mail through each frontend
    reaches a node with the client's address; a stopped node is marked
    down by the /health check and the other takes every session."""
    nodes = [node(gw_factory, sink) for _ in range(2)]
    proc, _, front = example_haproxy(tmp_path, [p for _, p in nodes])
    try:
        for i in range(4):
            send_through(front[587], "587-%d" % i)
        send_through(front[465], "465", implicit=True)
        sink.wait_count(5)
        ips = [e["client_ip"] for g, _ in nodes
               for e in g.events("action='received'")]
        assert ips == [CLIENT] * 5
        # Node 1 stops: its /health fails, HAProxy marks it down.
        nodes[0][0].stop()
        wait_for(lambda: b"gw_submission/gw1 is DOWN" in
                 (tmp_path / "haproxy.log").read_bytes(), timeout=30,
                 what="haproxy marking gw1 down")
        before = len(nodes[1][0].events("action='received'"))
        for i in range(3):
            send_through(front[587], "after-%d" % i)
        sink.wait_count(8)
        assert len(nodes[1][0].events("action='received'")) == before + 3
    finally:
        stop_haproxy(proc)
