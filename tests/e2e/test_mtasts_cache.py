"""MTA-STS costs a handful of DNS queries and policy fetches per domain,
not one per route lookup (RFC 8461 3.3, 5.1; RFC 2308 for "no record").

Every destination here is unreachable (its MX address has no listener),
so each retry of each message looks its route up afresh: before the
cache, each of those lookups asked for the _mta-sts TXT record again,
and a policy host that is down was fetched again each time.  The tests
count what the real servers on loopback saw (the DNS server's queries,
the policy listener's connections) after several retry rounds; no
clock is read.
"""
import os
import socket
import threading

from conftest import control_stats, free_port, submit, wait_for
from test_mtasts import PolicyServer, certs  # noqa: F401 (a fixture)

N = 5           # messages per domain
ROUNDS = 3      # attempts each, at least, before counting
DOWN = "127.0.0.9"      # an MX address nothing listens on


class Refuser:
    """A policy host that is down: each TCP connection is accepted (so
    it is counted) and closed at once, before any TLS."""

    def __init__(self):
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            c.close()

    def stop(self):
        self.stopping = True
        self.sock.close()


def start_gwd(gw_factory, dns, certs, policy_port, more=None):
    g = gw_factory(relay={"mode": "mx", "tls": "opportunistic",
                          "mx_port": free_port(), "command_timeout": "5s",
                          "ca_file": os.path.join(certs, "ca.pem")},
                   dns=dns,
                   settings={"mta_sts.ca_file": os.path.join(certs, "ca.pem"),
                             "mta_sts.connect_to": "127.0.0.1:%d"
                             % policy_port,
                             "mta_sts.timeout": "5s", **(more or {})})
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def unreachable(dns, dom, txt=None):
    dns.add(dom, "MX", (10, "mx." + dom))
    dns.add("mx." + dom, "A", DOWN)
    if txt:
        dns.add("_mta-sts." + dom, "TXT", txt)


def send_and_retry(g, doms):
    """N messages to each domain, then wait until each recipient has
    been tried ROUNDS times (each try a fresh route lookup)."""
    for i in range(N):
        submit(g, ["u%d@%s" % (i, d) for d in doms], subject="m%d" % i)

    def tried_enough():
        n = {}
        for e in g.events("action = 'deferred'"):
            n[e["recipient"]] = n.get(e["recipient"], 0) + 1
        return len(n) == N * len(doms) and min(n.values()) >= ROUNDS
    wait_for(tried_enough, timeout=120, what="%d attempts of each" % ROUNDS)


def txt_queries(dns, dom):
    return sum(1 for q in dns.queries if q == ("_mta-sts." + dom, "TXT"))


def test_txt_answer_and_policy_cached(gw_factory, dns, certs):
    # testing: a TXT record (TTL 60) and a policy (test_mtasts's server);
    # nosts: NXDOMAIN.  Many route lookups of each make one TXT query
    # each, and one fetch.
    web = PolicyServer(certs)
    try:
        unreachable(dns, "testing.sts.test", "v=STSv1; id=testing1;")
        unreachable(dns, "nosts.sts.test")
        g = start_gwd(gw_factory, dns, certs, web.port)
        send_and_retry(g, ["testing.sts.test", "nosts.sts.test"])
        # Each message was tried ROUNDS times; the MX was asked each time.
        assert sum(1 for q in dns.queries if q[0] == "testing.sts.test") \
            >= ROUNDS
        assert txt_queries(dns, "testing.sts.test") <= 2, dns.queries
        assert txt_queries(dns, "nosts.sts.test") <= 2, dns.queries
        assert [h for h, _ in web.hits] == ["mta-sts.testing.sts.test"], \
            web.hits
        e = g.events("action = 'deferred' AND recipient LIKE "
                     "'%@testing.sts.test'")[-1]
        assert e["tls_policy"] in (None, "", "mta-sts"), e
        st = control_stats(g)
        assert st["sts_txt_queries_total"] == \
            txt_queries(dns, "testing.sts.test") + \
            txt_queries(dns, "nosts.sts.test"), st
        assert st["sts_txt_cache_hits_total"] >= 2 * (ROUNDS - 1), st
        assert st["sts_fetches_total"] == 1, st
        assert st["sts_cache_domains"] == 2, st
    finally:
        web.stop()


def test_failed_fetch_backs_off(gw_factory, dns, certs):
    # The domain publishes a TXT record, but its policy host is down:
    # tried once, then not again for the backoff (minutes), however many
    # messages and retries; one warning, one sts_fetch_failed event.
    # Meanwhile delivery goes on as if the domain had no policy.
    down = Refuser()
    try:
        unreachable(dns, "nohost.sts.test", "v=STSv1; id=n1;")
        g = start_gwd(gw_factory, dns, certs, down.port)
        send_and_retry(g, ["nohost.sts.test"])
        assert down.accepted == 1, down.accepted
        warn = [x for x in g.logtext().splitlines()
                if "mta-sts domain=nohost.sts.test policy fetch" in x]
        assert len(warn) == 1, warn
        assert "delivering as if it published no policy" in warn[0], warn
        assert len(g.events("action = 'sts_fetch_failed'")) == 1
        for e in g.events("action = 'deferred'"):
            assert e["tls_policy"] != "mta-sts", e
        st = control_stats(g)
        assert st["sts_fetch_failures_total"] == 1, st
        assert st["sts_fetch_backoff_total"] >= ROUNDS - 1, st
        # Only the TXT record's TTL brings a query back, not each retry.
        assert txt_queries(dns, "nohost.sts.test") <= 2, dns.queries
    finally:
        down.stop()


def test_cache_is_bounded(gw_factory, dns, certs):
    # mta_sts.cache_size 2: of 6 domains looked up again and again, at
    # most 2 are kept; the others are forgotten, so asked again.
    doms = ["d%d.sts.test" % i for i in range(6)]
    for d in doms:
        unreachable(dns, d)
    g = start_gwd(gw_factory, dns, certs, free_port(),
                  more={"mta_sts.cache_size": 2})
    send_and_retry(g, doms)
    # A lookup under way may hold one more for a moment: never for long.
    wait_for(lambda: control_stats(g)["sts_cache_domains"] <= 2,
             what="at most 2 domains cached")
    st = control_stats(g)
    assert st["sts_txt_queries_total"] > len(doms), st
