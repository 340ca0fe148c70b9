"""Each next hop an attempt tried and could not use (refused, silent
until the timeout, no STARTTLS where TLS is required) is a "host_failed"
event of the message, with the host, its address and why; before, only
gwd's stderr said so, and the deferred event named the last one."""
import socket
import ssl
import subprocess

from conftest import Sink, wait_for
from test_delivery import mx_gw as delivery_gw, send


def mx_gw(gw_factory, dns, port, **settings):
    """test_delivery's, with a short command timeout (a silent hop)."""
    settings.setdefault("relay.command_timeout", "1s")
    return delivery_gw(gw_factory, dns, port, **settings)


def test_failed_hops_before_delivery(gw_factory, dns):
    good = Sink(host="127.0.0.2")
    silent = socket.socket()
    silent.bind(("127.0.0.4", good.port))
    silent.listen(8)                  # accepts, never says hello
    try:
        dns.add("dest.test", "MX", (5, "mx-dead.dest.test"))
        dns.add("dest.test", "MX", (7, "mx-silent.dest.test"))
        dns.add("dest.test", "MX", (10, "mx-good.dest.test"))
        dns.add("mx-dead.dest.test", "A", "127.0.0.3")      # nothing there
        dns.add("mx-silent.dest.test", "A", "127.0.0.4")
        dns.add("mx-good.dest.test", "A", "127.0.0.2")
        g = mx_gw(gw_factory, dns, good.port)
        send(g, ["user@dest.test"])
        good.wait_count(1)
        d = wait_for(lambda: g.events("action='delivered'"), what="delivered")[0]
        ev = g.events("action='host_failed'")
        assert [(e["remote_host"], e["remote_ip"]) for e in ev] == [
            ("mx-dead.dest.test", "127.0.0.3"),
            ("mx-silent.dest.test", "127.0.0.4")]
        assert all(e["qid"] == d["qid"] and e["sender"] == "app@example.com"
                   for e in ev)
        assert "Connection refused" in ev[0]["reply_text"]
        assert "timeout" in ev[1]["reply_text"]
        assert ev[1]["id"] < d["id"]
    finally:
        silent.close()
        good.stop()


def test_failed_hops_when_none_answers(gw_factory, dns):
    dns.add("dest.test", "MX", (5, "mx1.dest.test"))
    dns.add("dest.test", "MX", (10, "mx2.dest.test"))
    dns.add("mx1.dest.test", "A", "127.0.0.3")
    dns.add("mx2.dest.test", "A", "127.0.0.5")
    port = __import__("conftest").free_port()
    g = mx_gw(gw_factory, dns, port)
    send(g, ["user@dest.test"])
    d = wait_for(lambda: g.events("action='deferred'"), what="deferred")[0]
    ev = wait_for(lambda: g.events("action='host_failed' AND qid=?", (d["qid"],)),
                  what="host_failed")
    assert [e["remote_host"] for e in ev[:2]] == ["mx1.dest.test", "mx2.dest.test"]


def tls_context(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=mx-tls.dest.test", "-keyout", "k.pem",
                    "-out", "c.pem"], cwd=tmp_path, check=True,
                   capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))
    return ctx


def test_tls_required_hop_fails(gw_factory, dns, tmp_path):
    """With relay.tls = required, a hop without STARTTLS is a failed
    hop of the attempt, and the next one takes the message."""
    plain = Sink(host="127.0.0.3")
    good = Sink(host="127.0.0.2", port=plain.port,
                tls_context=tls_context(tmp_path))
    try:
        dns.add("dest.test", "MX", (5, "mx-plain.dest.test"))
        dns.add("dest.test", "MX", (10, "mx-tls.dest.test"))
        dns.add("mx-plain.dest.test", "A", "127.0.0.3")
        dns.add("mx-tls.dest.test", "A", "127.0.0.2")
        g = mx_gw(gw_factory, dns, plain.port, **{"relay.tls": "required"})
        send(g, ["user@dest.test"])
        good.wait_count(1)
        ev = wait_for(lambda: g.events("action='host_failed'"), what="host_failed")
        assert ev[0]["remote_host"] == "mx-plain.dest.test"
        assert "STARTTLS" in ev[0]["reply_text"]
        assert plain.messages == []
    finally:
        good.stop()
        plain.stop()
