"""The metrics listener cannot starve SMTP of file descriptors: it holds
at most metrics.connections clients, closes each metrics.idle_timeout
after it connected, and refuses everyone while a quarter of gwd's
RLIMIT_NOFILE is all that is left.  Issue 19 item 8 (291 idle
connections used up a limit of 256; then SMTP refused everyone).
"""
import resource
import select
import socket

from conftest import Raw, free_port, wait_for

NOFILE = 256


def limit_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def start(gw_factory, **metrics):
    port = free_port()
    extra = "".join(" %s = %s;" % kv for kv in metrics.items())
    g = gw_factory(extra='metrics = { listen = "127.0.0.1:%d";%s };'
                   % (port, extra))
    g.preexec = limit_nofile
    g.start()
    g.metrics_port = port
    # Bound a moment after the SMTP listeners start() waited for.  A
    # whole request: gwd closes it itself, so it no longer counts.
    wait_for(lambda: answers(port), what="metrics listening")
    return g


def answers(port):
    try:
        return get(port).startswith(b"HTTP/1.0 200 OK\r\n")
    except ConnectionRefusedError:
        return False


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s


def read_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def get(port, path="/metrics"):
    """The whole answer; b"" if the request itself raced the refusal
    (gwd closed before it arrived, so the kernel answered it with RST)."""
    with connect(port) as s:
        try:
            s.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path.encode())
            return read_all(s)
        except (ConnectionResetError, BrokenPipeError):
            return b""


def test_idle_metrics_clients_leave_descriptors_for_smtp(gw_factory):
    # No cap to speak of and no timeout in the test's time: only the
    # descriptor reserve stands between these clients and SMTP.
    g = start(gw_factory, connections=1000, idle_timeout='"1h"')
    idle = [connect(g.metrics_port) for _ in range(NOFILE + 44)]
    try:
        # Every one was taken in before this (one loop turn each at
        # most); a fresh request is refused while the reserve is reached.
        wait_for(lambda: get(g.metrics_port).startswith(
            b"HTTP/1.0 503 Service Unavailable\r\n"),
            what="metrics refusing at the descriptor reserve")
        for _ in range(5):
            r = Raw(g.ports["submission"])
            code, _ = r.reply()
            assert code == 220
            assert r.cmd("EHLO client.test")[0] == 250
            r.sock.close()
        # Those refused were answered and closed, the rest are held.
        # gwd takes connections in order, so every idle one was dealt
        # with before the refused request above: its answer is here.
        poll = select.poll()
        for s in idle:
            poll.register(s, select.POLLIN)
        ready = {fd for fd, _ in poll.poll(0)}
        refused = [s for s in idle if s.fileno() in ready]
        for s in refused:
            assert read_all(s).startswith(b"HTTP/1.0 503 ")
        assert 0 < len(refused) < len(idle)
    finally:
        for s in idle:
            s.close()
    # With the idle clients gone, the listener serves again.
    wait_for(lambda: answers(g.metrics_port), what="metrics answering again")
    assert "refused" in g.logtext() and "descriptors kept for SMTP" in \
        g.logtext()


def test_idle_metrics_clients_are_capped_and_closed(gw_factory):
    g = start(gw_factory, connections=4, idle_timeout='"1s"')
    idle = [connect(g.metrics_port) for _ in range(4)]
    try:
        # The four are held (a request for each would be answered), so
        # a fifth client is one too many.
        wait_for(lambda: get(g.metrics_port).startswith(
            b"HTTP/1.0 503 Service Unavailable\r\n"),
            what="a fifth metrics client refused")
        # Each idle client is closed by gwd, not by this side: recv()
        # returns EOF (the socket timeout only stops a hung test).
        for s in idle:
            assert read_all(s) == b""
    finally:
        for s in idle:
            s.close()
    assert answers(g.metrics_port)
    # A client that sends half a request is closed as well.
    with connect(g.metrics_port) as s:
        s.sendall(b"GET /metr")
        assert read_all(s) == b""
