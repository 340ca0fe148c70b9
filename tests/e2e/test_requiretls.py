"""REQUIRETLS (RFC 8689): offered on submission once TLS is up; a
message sent with it goes only over TLS with a verified certificate, to
a server that takes the flag on, else it bounces with 5.7.10 and a
report that carries the headers only (issue 15).

Next hops are aiosmtpd sinks used as smarthosts (a smarthost is the
admin's choice: its verified certificate suffices) and one MX host found
through an unsigned zone (its MX records do not validate, and it has no
DANE records: REQUIRETLS refuses it even with a verified certificate).
"""
import os
import smtplib
import ssl

import pytest

from conftest import Raw, Sink, client_tls_context, free_port, \
    leaf_cert, make_ca, self_signed_cert, wait_for

SECRET = "secret-body-text-7f3a"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A test CA with a leaf for 127.0.0.1 and mx.rt.test; a self-signed
    certificate for the same names."""
    d = str(tmp_path_factory.mktemp("rtcerts"))
    make_ca(d, "rt test CA")
    leaf_cert(d, "leaf", "IP:127.0.0.1,DNS:mx.rt.test", cn="127.0.0.1")
    self_signed_cert(d, "self", "127.0.0.1", "IP:127.0.0.1,DNS:mx.rt.test")
    return d


def tls_ctx(certs, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs, name + ".pem"),
                        os.path.join(certs, name + ".key"))
    return ctx


def send(g, rcpt, requiretls=True):
    opts = ["REQUIRETLS"] if requiretls else []
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", [rcpt],
                   ("From: app@example.com\r\nTo: %s\r\nSubject: rt\r\n"
                    "\r\n%s\r\n" % (rcpt, SECRET)).encode(),
                   mail_options=opts)


def gateway(gw_factory, certs, sink, dns=None, mode="smarthost"):
    relay = {"mode": mode, "tls": "opportunistic",
             "ca_file": os.path.join(certs, "ca.pem")}
    if mode == "smarthost":
        relay.update({"host": "127.0.0.1", "port": sink.port})
    else:
        relay["mx_port"] = sink.port
    g = gw_factory(relay=relay, dns=dns).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def outcome(g, rcpt):
    def got():
        ev = g.events("action IN ('delivered', 'bounced') AND recipient = ?",
                      (rcpt,))
        return ev and ev[0]
    return wait_for(got, timeout=60, what="an outcome for " + rcpt)


def test_offered_only_over_tls(gw_factory, certs):
    sink = Sink()
    try:
        g = gateway(gw_factory, certs, sink)
        r = Raw(g.ports["submission"])
        r.reply()
        code, ehlo = r.cmd("EHLO client.test")
        assert code == 250 and "REQUIRETLS" not in ehlo
        r.starttls()
        code, ehlo = r.cmd("EHLO client.test")
        assert code == 250 and "REQUIRETLS" in ehlo.split("\n"), ehlo
        r.close()
        # A listener without TLS (2525-style, IP allowed): refused.
        g.gwctl("subaccount", "allow-ip", "app", "127.0.0.1")
        r = Raw(g.ports["plain"])
        r.reply()
        assert "REQUIRETLS" not in r.cmd("EHLO client.test")[1]
        code, text = r.cmd("MAIL FROM:<app@example.com> REQUIRETLS")
        assert code == 530 and text.startswith("5.7.10"), (code, text)
        assert r.cmd("MAIL FROM:<app@example.com>")[0] == 250
        r.close()
    finally:
        sink.stop()


def test_delivered_with_the_flag_passed_on(gw_factory, certs):
    sink = Sink(tls_context=tls_ctx(certs, "leaf"), requiretls=True)
    try:
        g = gateway(gw_factory, certs, sink)
        send(g, "user@example.net")
        e = outcome(g, "user@example.net")
        assert e["action"] == "delivered", e["reply_text"]
        assert e["tls_verified"] == 1
        m = sink.wait_count(1)[0]
        assert m.tls and "REQUIRETLS" in m.mail_options, m.mail_options
        # Mail without it does not carry it.
        send(g, "other@example.net", requiretls=False)
        outcome(g, "other@example.net")
        m = sink.wait_count(2)[1]
        assert "REQUIRETLS" not in m.mail_options
    finally:
        sink.stop()


@pytest.mark.parametrize("kind,why", [
    ("plain", "REQUIRETLS: no TLS to 127.0.0.1"),
    ("self", "REQUIRETLS: the certificate of 127.0.0.1 is not verified"),
    ("no-flag", "REQUIRETLS: 127.0.0.1 does not support REQUIRETLS"),
])
def test_bounced_when_the_hop_falls_short(gw_factory, certs, kind, why):
    ctx = None if kind == "plain" else \
        tls_ctx(certs, "self" if kind == "self" else "leaf")
    sink = Sink(tls_context=ctx, requiretls=kind != "no-flag")
    try:
        g = gateway(gw_factory, certs, sink)
        send(g, "user@example.net")
        e = outcome(g, "user@example.net")
        assert e["action"] == "bounced", (kind, e["action"])
        assert e["reply_code"] == 550 and e["reply_status"] == "5.7.10", \
            (e["reply_code"], e["reply_status"])
        assert why in e["reply_text"], e["reply_text"]
        # The report goes to the sender (through the same smarthost):
        # 5.7.10, the headers, never the body (RFC 8689 5).
        dsn = wait_for(lambda: [m for m in sink.messages
                                if m.mail_from == ""], timeout=60,
                       what="the DSN")[0]
        assert b"5.7.10" in dsn.data
        assert b"Subject: rt" in dsn.data
        assert SECRET.encode() not in dsn.data
        assert "REQUIRETLS" not in dsn.mail_options
        # The message itself went nowhere.
        assert not [m for m in sink.messages if m.mail_from != ""]
    finally:
        sink.stop()


def test_mx_needs_dnssec_or_dane(gw_factory, certs, dns):
    # A verified certificate and REQUIRETLS offered, but the MX records
    # came from an unsigned zone: RFC 8689 4.2.1 wants them validated
    # (or DANE, or MTA-STS).
    sink = Sink(host="127.0.0.9", port=free_port("127.0.0.9"),
                tls_context=tls_ctx(certs, "leaf"), requiretls=True)
    try:
        dns.add("rt.test", "MX", (10, "mx.rt.test"))
        dns.add("mx.rt.test", "A", "127.0.0.9")
        g = gateway(gw_factory, certs, sink, dns=dns, mode="mx")
        send(g, "user@rt.test")
        e = outcome(g, "user@rt.test")
        assert e["action"] == "bounced", e["reply_text"]
        assert "the MX records of rt.test are not DNSSEC-validated" in \
            e["reply_text"], e["reply_text"]
        assert not [m for m in sink.messages if "user@rt.test" in
                    m.rcpt_tos]
    finally:
        sink.stop()
