"""Delivery: MX through a real DNS server on loopback, retries, DSNs."""
import email
import smtplib
import time

import pytest

from conftest import (LoopbackServer, Sink, client_tls_context, smarthost,
                      wait_for)


def send(gw, rcpts, frm="app@example.com", subject="t", body="body\r\n"):
    msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s" %
           (frm, ", ".join(rcpts), subject, body)).encode()
    with smtplib.SMTP("127.0.0.1", gw.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail(frm, rcpts, msg)
    return msg


def mx_gw(gw_factory, dns, port, **settings):
    s = {"relay.mx_port": port, "relay.tls": "opportunistic"}
    s.update(settings)
    g = gw_factory(relay={"mode": "mx"}, dns=dns, settings=s).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def test_mx_delivery_by_preference(gw_factory, dns):
    # Two MX hosts on two loopback addresses: the preferred one is down.
    good = Sink(host="127.0.0.2")
    try:
        dead = "127.0.0.3"          # nothing listens there
        dns.add("dest.test", "MX", (5, "mx-dead.dest.test"))
        dns.add("dest.test", "MX", (10, "mx-good.dest.test"))
        dns.add("mx-dead.dest.test", "A", dead)
        dns.add("mx-good.dest.test", "A", "127.0.0.2")
        g = mx_gw(gw_factory, dns, good.port)
        send(g, ["user@dest.test"])
        got = good.wait_count(1)[0]
        assert got.rcpt_tos == ["user@dest.test"]
        assert ("dest.test", "MX") in dns.queries
        ev = wait_for(lambda: g.events("action='delivered'"), what="delivered")
        assert ev[0]["remote_host"] == "mx-good.dest.test"
        assert ev[0]["remote_ip"] == "127.0.0.2"
        assert ev[0]["reply_code"] == 250
    finally:
        good.stop()


def test_implicit_mx_a_fallback(gw_factory, dns, sink):
    dns.add("nomx.test", "A", "127.0.0.1")          # no MX record
    g = mx_gw(gw_factory, dns, sink.port)
    send(g, ["user@nomx.test"])
    assert sink.wait_count(1)[0].rcpt_tos == ["user@nomx.test"]


def dsn_of(sink, n=1):
    msgs = sink.wait_count(n)
    dsn = [m for m in msgs if m.mail_from == ""]
    assert dsn, "no DSN arrived"
    return dsn[-1]


def test_null_mx_bounces_at_once(gw_factory, dns, sink):
    dns.add("nullmx.test", "MX", (0, ""))
    dns.add("example.com", "A", "127.0.0.1")         # the sender's domain
    g = mx_gw(gw_factory, dns, sink.port)
    send(g, ["user@nullmx.test"], subject="to-null-mx")
    d = dsn_of(sink)
    assert d.rcpt_tos == ["app@example.com"]
    m = email.message_from_bytes(d.data)
    assert m.get_content_type() == "multipart/report"
    assert m.get_param("report-type") == "delivery-status"
    text = d.data.decode()
    assert "Final-Recipient: rfc822; user@nullmx.test" in text
    assert "Status: 5.1.10" in text
    assert "Subject: to-null-mx" in text                 # original headers
    ev = wait_for(lambda: g.events("action='bounced'"), what="bounced")
    assert ev[0]["reply_status"] == "5.1.10"


def test_nxdomain_bounces(gw_factory, dns, sink):
    dns.add("example.com", "A", "127.0.0.1")
    g = mx_gw(gw_factory, dns, sink.port)
    send(g, ["user@nowhere.test"])
    d = dsn_of(sink)
    assert "Status: 5.4.4" in d.data.decode()


def test_dns_servfail_defers(gw_factory, dns, sink):
    dns.rcode["flaky.test"] = "SERVFAIL"
    g = mx_gw(gw_factory, dns, sink.port)
    send(g, ["user@flaky.test"])
    ev = wait_for(lambda: g.events("action='deferred'"), what="deferred")
    assert ev[0]["reply_status"] == "4.4.3"
    # The DNS recovers; the retry delivers.
    del dns.rcode["flaky.test"]
    dns.add("flaky.test", "A", "127.0.0.1")
    assert sink.wait_count(1)[0].rcpt_tos == ["user@flaky.test"]
    wait_for(lambda: g.queue_count() == 0, what="queue empty")


def test_4xx_then_recovery(gw_factory, sink):
    fails = {"n": 2}

    def data_reply(msg):
        if fails["n"] > 0:
            fails["n"] -= 1
            return "451 4.3.0 try again later"
        return None
    sink.data_reply = data_reply
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["user@dest.test"])
    got = sink.wait_count(1, timeout=30)[0]
    assert got.rcpt_tos == ["user@dest.test"]
    assert sink.attempts == 3
    deferred = g.events("action='deferred'")
    assert len(deferred) == 2
    assert deferred[0]["reply_code"] == 451 and "try again later" in deferred[0]["reply_text"]
    wait_for(lambda: g.events("action='delivered'"), what="delivered")
    wait_for(lambda: g.queue_count() == 0, what="queue empty")


def test_5xx_gives_one_dsn(gw_factory, sink):
    sink.rcpt_reply = lambda a: "550 5.1.1 <%s>: no such user" % a if a.startswith("bad") else None
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["good@dest.test", "bad@dest.test"], subject="mixed")
    msgs = sink.wait_count(2)
    normal = [m for m in msgs if m.mail_from == "app@example.com"]
    dsns = [m for m in msgs if m.mail_from == ""]
    assert normal[0].rcpt_tos == ["good@dest.test"]
    assert len(dsns) == 1 and dsns[0].rcpt_tos == ["app@example.com"]
    text = dsns[0].data.decode()
    assert "Final-Recipient: rfc822; bad@dest.test" in text
    assert "Action: failed" in text and "Status: 5.1.1" in text
    assert "no such user" in text
    status_part = text.split("Content-Type: message/delivery-status")[1].split("Content-Type: text/rfc822-headers")[0]
    assert "good@dest.test" not in status_part
    time.sleep(1.5)
    assert len([m for m in sink.messages if m.mail_from == ""]) == 1   # exactly one
    wait_for(lambda: g.queue_count() == 0, what="queue empty")
    assert g.events("action='bounced'")[0]["recipient"] == "bad@dest.test"
    assert g.events("action='dsn'")


def test_dsn_diagnostic_code_is_the_remote_reply(gw_factory, dns, sink):
    """Diagnostic-Code: smtp; carries what the remote said, as it said
    it (a multi-line reply on one line), RFC 3464 2.3.6; gw's own words
    ("... said:") are in the notice and X-Gw-Diagnostic only.  A failure
    without a remote reply (null MX) has no smtp Diagnostic-Code."""
    sink.rcpt_reply = lambda a: (
        "550-5.1.1 <%s>: no such user\r\n550 5.1.1 see the FAQ" % a
        if a.startswith("bad") else None)
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["bad@dest.test"], subject="diag")
    text = dsn_of(sink).data.decode().replace("\r\n ", " ")     # unfolded
    status = text.split("Content-Type: message/delivery-status")[1]
    assert ("\r\nDiagnostic-Code: smtp; 550 5.1.1 <bad@dest.test>: no such "
            "user see the FAQ\r\n") in status
    assert ("\r\nX-Gw-Diagnostic: 550 5.1.1 127.0.0.1 said: <bad@dest.test>: "
            "no such user see the FAQ\r\n") in status
    notice = text.split("Content-Type: message/delivery-status")[0]
    assert "<bad@dest.test>: 550 5.1.1 127.0.0.1 said:" in notice


def test_dsn_without_remote_reply_has_no_smtp_diagnostic(gw_factory, dns, sink):
    dns.add("nullmx.test", "MX", (0, ""))
    dns.add("example.com", "A", "127.0.0.1")
    g = mx_gw(gw_factory, dns, sink.port)
    send(g, ["user@nullmx.test"], subject="null-mx-diag")
    text = dsn_of(sink).data.decode().replace("\r\n ", " ")
    assert "Diagnostic-Code:" not in text
    assert "X-Gw-Diagnostic: 556 5.1.10" in text


def test_never_a_dsn_to_the_null_sender(gw_factory, sink):
    sink.rcpt_reply = lambda a: "550 5.1.1 no such user"
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    msg = b"From: app@example.com\r\nSubject: auto-reply\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("", ["x@dest.test"], msg)
    wait_for(lambda: g.events("action='bounced'"), what="bounced")
    wait_for(lambda: g.queue_count() == 0, what="queue empty")
    time.sleep(1.0)
    assert sink.messages == []
    assert g.events("action='dsn'") == []


def test_expiry_after_lifetime(gw_factory, sink):
    sink.data_reply = lambda m: "451 4.7.1 greylisted" if m.mail_from else None
    g = gw_factory(relay=smarthost(sink),
                   settings={"queue.lifetime": "3s", "queue.retry_min": "1s",
                             "queue.retry_max": "1s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["user@dest.test"], subject="expiring")
    d = dsn_of(sink)
    text = d.data.decode()
    assert "Status: 4.7.1" in text and "delivery time expired" in text
    ev = wait_for(lambda: g.events("action='expired'"), what="expired")
    assert ev[0]["recipient"] == "user@dest.test"
    assert len(g.events("action='deferred'")) >= 2
    wait_for(lambda: g.queue_count() == 0, what="queue empty")


def test_connection_refused_defers_then_delivers(gw_factory):
    port = __import__("conftest").free_port()
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1", "port": port,
                          "tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["user@dest.test"])
    ev = wait_for(lambda: g.events("action='deferred'"), what="deferred")
    assert "Connection refused" in ev[0]["reply_text"]
    s = Sink(port=port)
    try:
        assert s.wait_count(1, timeout=30)[0].rcpt_tos == ["user@dest.test"]
    finally:
        s.stop()


def test_connection_reuse(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink),
                   settings={"relay.connections": 1, "relay.idle_time": "5s"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    for i in range(5):
        send(g, ["user%d@dest.test" % i], subject="reuse%d" % i)
    msgs = sink.wait_count(5)
    # One connection, one source port, for all five.
    assert len({m.peer for m in msgs}) == 1


def test_remote_size_limit_fails_each_job_on_one_connection(gw_factory):
    """Jobs that end before a command is sent (the remote's SIZE is too
    small) end one after the other on one connection, which then still
    delivers the message that fits, and the DSNs."""
    port = __import__("conftest").free_port()
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                          "port": port, "tls": "none"},
                   settings={"relay.connections": 1}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    for i in range(5):
        send(g, ["big%d@dest.test" % i], subject="big%d" % i,
             body=("x" * 70 + "\r\n") * 40)
    send(g, ["small@dest.test"], subject="small")
    wait_for(lambda: len({e["recipient"] for e in
                          g.events("action='deferred'")}) == 6,
             what="six deferred while nothing listens")
    s = Sink(port=port, size_limit=2000)
    try:
        g.gwctl("queue", "flush", "ALL")
        ev = wait_for(lambda: len(g.events(
            "action='bounced' AND recipient LIKE 'big%'")) == 5 and
            g.events("action='bounced' AND recipient LIKE 'big%'"),
            what="five bounces", timeout=30)
        assert {(e["reply_code"], e["reply_status"]) for e in ev} == {
            (552, "5.3.4")}
        assert all("exceeds the limit" in e["reply_text"] for e in ev)
        msgs = s.wait_count(6)          # and a DSN for each big one
        assert [m.rcpt_tos for m in msgs if m.mail_from] == [
            ["small@dest.test"]]
        assert len({m.peer for m in msgs}) == 1     # one connection
    finally:
        s.stop()


def test_required_tls_smarthost(gw_factory, sink):
    # The sink offers no STARTTLS: required TLS must defer, not send.
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1", "port": sink.port,
                          "tls": "required"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    send(g, ["user@dest.test"])
    ev = wait_for(lambda: g.events("action='deferred'"), what="deferred")
    assert "TLS is required" in ev[0]["reply_text"]
    assert sink.messages == []


class StrictServer(LoopbackServer):
    """A small SMTP server that advertises exactly `caps` after EHLO and,
    like a strict MTA, refuses a SIZE= it did not advertise (RFC 1870 6:
    555 5.5.4).  It keeps every MAIL command it was sent."""

    def __init__(self, caps):
        self.caps = caps
        self.mail = []
        self.delivered = 0
        super().__init__()

    def session(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 strict.test ESMTP\r\n")
        for line in f:
            cmd = line.rstrip(b"\r\n").decode()
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                conn.sendall(self.ehlo_reply(["strict.test"] + self.caps))
            elif verb == "MAIL":
                self.mail.append(cmd)
                if "SIZE=" in cmd.upper() and not any(
                        c.upper().startswith("SIZE") for c in self.caps):
                    conn.sendall(b"555 5.5.4 SIZE not supported\r\n")
                else:
                    conn.sendall(b"250 2.1.0 ok\r\n")
            elif verb == "DATA":
                conn.sendall(b"354 go\r\n")
                for body in f:
                    if body == b".\r\n":
                        break
                self.delivered += 1
                conn.sendall(b"250 2.0.0 ok\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                break
            else:                       # RCPT, RSET, NOOP
                conn.sendall(b"250 2.0.0 ok\r\n")


@pytest.mark.parametrize("caps,size", [
    (["PIPELINING", "8BITMIME"], False),    # the case that got SIZE= anyway
    ([], False),
    (["PIPELINING", "SIZE"], True),
    (["SIZE 1000000"], True),
])
def test_size_only_when_advertised(gw_factory, caps, size):
    """RFC 1870 6: SIZE= goes only to a server that offered SIZE."""
    srv = StrictServer(caps)
    try:
        g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                              "port": srv.port, "tls": "none"}).start()
        g.add_subaccount("app", "example.com", "s3cret-pass")
        msg = send(g, ["user@dest.test"])
        ev = wait_for(lambda: g.events("action IN ('delivered', 'bounced')"),
                      what="an outcome")
        assert ev[0]["action"] == "delivered", ev[0]["reply_text"]
        assert srv.delivered == 1
        assert ("SIZE=" in srv.mail[0]) == size, srv.mail
        if size:
            # The size as stored (the Received: header gwd adds included).
            assert int(srv.mail[0].split("SIZE=")[1].split()[0]) > len(msg)
    finally:
        srv.stop()
