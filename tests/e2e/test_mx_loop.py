"""MX records that point nowhere or back at gwd (issue 19, item 5).

DNS is untrusted: a domain whose MX host resolves to 127.0.0.1, 0.0.0.0,
::1, a broadcast or multicast address, or an address gwd listens on
must never be connected to.  Such mail bounces at once, as Postfix
bounces it: 5.4.6 "mail for DOMAIN loops back to myself".  The tests
of the rest of the suite deliver to sinks on loopback and set
relay.allow_loopback_mx; here it is off unless a test says otherwise.
"""
import subprocess

import pytest

from conftest import Sink, free_port, submit, wait_for


def global_addrs():
    """This host's global addresses: {4: "192.0.2.2", 6: "fd00::2", ...}
    (those that exist), with each IPv4 one's broadcast address."""
    out = subprocess.run(["ip", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        w = line.split()
        if "inet" in w and 4 not in found:
            found[4] = w[w.index("inet") + 1].split("/")[0]
            if "brd" in w:
                found["brd"] = w[w.index("brd") + 1]
        elif "inet6" in w and 6 not in found:
            found[6] = w[w.index("inet6") + 1].split("/")[0]
    return found


def start(gw_factory, dns, dsn_sink, port, allow, listen=()):
    g = gw_factory(relay={"mode": "mx", "tls": "none", "mx_port": port,
                          "allow_loopback_mx": allow}, dns=dns,
                   listen=listen).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    # Bounces go back to the sender through a smarthost (not checked).
    g.gwctl("route", "add", "--to-domain", "example.com", "--smarthost",
            "127.0.0.1:%d" % dsn_sink.port, "--tls", "none")
    return g


def check_bounced(g, dsn_sink, domains):
    ev = wait_for(lambda: len(g.events("action = 'bounced'")) ==
                  len(domains) and g.events("action = 'bounced'"),
                  what="%d bounces" % len(domains))
    got = {e["recipient"].split("@")[1]: e for e in ev}
    assert sorted(got) == sorted(domains)
    for dom, e in got.items():
        assert e["reply_status"] == "5.4.6", e
        assert e["reply_text"] == "mail for %s loops back to myself" % dom

    def reported():
        return sum(m.data.count(b"\r\nStatus: 5.4.6\r\n")
                   for m in dsn_sink.messages if m.mail_from == "")

    wait_for(lambda: reported() >= len(domains), what="the DSNs")
    assert reported() == len(domains)
    return got


@pytest.fixture
def dsn_sink():
    s = Sink()
    yield s
    s.stop()


def test_mx_to_loopback_and_nowhere_bounces(gw_factory, dns, dsn_sink):
    port = free_port()
    # Sinks where each of those addresses would lead, to see that none
    # is ever connected to (0.0.0.0 reaches 127.0.0.1 on Linux).
    traps = [Sink(host="127.0.0.1", port=port)]
    try:
        traps.append(Sink(host="::1", port=port))
    except Exception:               # no IPv6 loopback here
        pass
    kinds = {"lo4.test": ("A", "127.0.0.1"), "lo8.test": ("A", "127.9.9.9"),
             "any4.test": ("A", "0.0.0.0"), "lo6.test": ("AAAA", "::1"),
             "any6.test": ("AAAA", "::"),
             "mapped.test": ("AAAA", "::ffff:7f00:1"),  # 127.0.0.1
             "bcast.test": ("A", "255.255.255.255"),
             "mcast.test": ("A", "224.0.0.1"),
             "mcast6.test": ("AAAA", "ff02::1")}
    mine = global_addrs()
    if "brd" in mine:
        kinds["ifbcast.test"] = ("A", mine["brd"])
    # (aiosmtpd's controller connects once to each sink as it starts.)
    before = [t.nconn for t in traps]
    for dom, (rtype, addr) in kinds.items():
        dns.add(dom, "MX", (10, "mx." + dom))
        dns.add("mx." + dom, rtype, addr)
    # No MX at all: the domain's own address is the MX (RFC 5321 5.1).
    dns.add("implicit.test", "A", "127.0.0.1")
    kinds["implicit.test"] = None
    try:
        g = start(gw_factory, dns, dsn_sink, port, False)
        submit(g, ["user@" + d for d in sorted(kinds)])
        check_bounced(g, dsn_sink, kinds)
        assert [t.nconn for t in traps] == before
        assert "not connecting to MX host mx.lo4.test at 127.0.0.1: " \
            "loopback address" in g.logtext()
    finally:
        for t in traps:
            t.stop()


def test_mx_to_own_listener_address_bounces(gw_factory, dns, dsn_sink):
    """gwd listens on a global address too: an MX there is refused,
    on any port; another address of the host is fine."""
    mine = global_addrs()
    if 4 not in mine or 6 not in mine:
        pytest.skip("needs a global IPv4 and a global IPv6 address")
    port = free_port()
    trap = Sink(host=mine[4], port=port)
    ok = Sink(host=mine[6], port=port)
    before = trap.nconn
    try:
        dns.add("own.test", "MX", (10, "mx.own.test"))
        dns.add("mx.own.test", "A", mine[4])
        dns.add("fine.test", "MX", (10, "mx.fine.test"))
        dns.add("mx.fine.test", "AAAA", mine[6])
        g = start(gw_factory, dns, dsn_sink, port, False,
                  listen=[(mine[4], free_port(mine[4]))])
        submit(g, ["user@own.test", "user@fine.test"])
        check_bounced(g, dsn_sink, ["own.test"])
        assert ok.wait_count(1)[0].rcpt_tos == ["user@fine.test"]
        assert trap.nconn == before
    finally:
        trap.stop()
        ok.stop()


def test_mx_to_gwd_itself_bounces_even_when_loopback_allowed(
        gw_factory, dns, dsn_sink):
    """relay.allow_loopback_mx lets MX hosts be on loopback (as in the
    tests), but never gwd's own listener: that is a loop."""
    dns.add("self.test", "MX", (10, "mx.self.test"))
    dns.add("mx.self.test", "A", "127.0.0.1")
    g = start(gw_factory, dns, dsn_sink, 1, True)
    g.stop()
    with open(g.conf) as f:
        conf = f.read().replace("mx_port = 1;",
                                "mx_port = %d;" % g.ports["plain"])
    with open(g.conf, "w") as f:
        f.write(conf)
    g.start()
    submit(g, ["user@self.test"])
    check_bounced(g, dsn_sink, ["self.test"])
    # gwd never talked to itself: one session only, the submission.
    assert g.logtext().count("gwd's own listener") >= 1
    assert len(g.events("action = 'received'")) == 2     # mail and DSN
