"""The TLS policy of each delivery attempt (issue 19, item 1).

Next hops (aiosmtpd sinks, reached through MX records) present
  self:   a self-signed certificate for their own name,
  wrong:  a certificate from the test CA for another name,
  right:  a certificate from the test CA for their name,
  plain:  no STARTTLS at all,
  broken: STARTTLS whose handshake always fails (TLS 1.1 at most).
Each is tried under every global relay.tls, and under every routing
rule's --tls (which overrides relay.tls whatever it is).  The expected
outcome depends on the policy in force only:
  none           delivered in plaintext;
  opportunistic  delivered, over TLS when it works, in plaintext when
                 STARTTLS is missing or its handshake fails;
  required       delivered over TLS, or deferred when TLS cannot be had;
  verify         delivered over TLS to "right" only, deferred otherwise.
The delivery events record the policy, the TLS session, and whether the
certificate verified (and why not).
"""
import os
import ssl
import warnings

import pytest

from conftest import Sink, free_port, leaf_cert, make_ca, \
    self_signed_cert, submit, wait_for

POLICIES = ["none", "opportunistic", "required", "verify"]
KINDS = {"self": "127.0.0.2", "wrong": "127.0.0.3", "right": "127.0.0.4",
         "plain": "127.0.0.5", "broken": "127.0.0.6"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A test CA; leaf certificates for mx.right.test and (the wrong
    name) mx.other.test from it; a self-signed one for mx.self.test."""
    d = str(tmp_path_factory.mktemp("certs"))
    make_ca(d)
    leaf_cert(d, "right", "DNS:mx.right.test", cn="mx.right.test")
    leaf_cert(d, "wrong", "DNS:mx.other.test", cn="mx.other.test")
    self_signed_cert(d, "self", "mx.self.test", "DNS:mx.self.test")
    return d


def server_context(certs, kind):
    if kind == "plain":
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if kind == "broken":
        # gwd speaks TLS 1.2 and 1.3 only: no handshake can succeed.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        kind = "right"
    ctx.load_cert_chain(os.path.join(certs, kind + ".pem"),
                        os.path.join(certs, kind + ".key"))
    return ctx


@pytest.fixture
def hops(certs):
    """One sink per kind, each on its own loopback address, one port."""
    port = free_port()
    sinks = {}
    try:
        for kind, ip in KINDS.items():
            sinks[kind] = Sink(host=ip, port=port,
                               tls_context=server_context(certs, kind))
        yield sinks
    finally:
        for s in sinks.values():
            s.stop()


def expect(policy, kind):
    """(delivered, over TLS, verified) for a policy and a next hop."""
    tls_works = kind in ("self", "wrong", "right")
    if policy == "none":
        return True, False, None
    if policy == "opportunistic":
        return True, tls_works, (kind == "right") if tls_works else None
    if policy == "required":
        return tls_works, tls_works, (kind == "right") if tls_works else None
    return kind == "right", kind == "right", True if kind == "right" else None


# Why a certificate does not verify, as OpenSSL says it.
REASON = {"self": "self-signed certificate", "wrong": "hostname mismatch"}


@pytest.mark.parametrize("relay_tls", POLICIES)
def test_tls_policy_matrix(gw_factory, dns, hops, certs, relay_tls):
    # Each kind of next hop serves one domain under the global policy and
    # one domain per rule policy: KIND.test and KIND.POLICY.rule.test.
    cases = {}                      # recipient: (policy in force, kind)
    for kind, ip in KINDS.items():
        dns.add("mx.%s.test" % kind, "A", ip)
        domains = [("%s.test" % kind, relay_tls)] + [
            ("%s.%s.rule.test" % (kind, p), p) for p in POLICIES]
        for dom, policy in domains:
            dns.add(dom, "MX", (10, "mx.%s.test" % kind))
            cases["user@" + dom] = (policy, kind)
    g = gw_factory(relay={"mode": "mx", "tls": relay_tls,
                          "ca_file": os.path.join(certs, "ca.pem"),
                          "mx_port": hops["right"].port,
                          "command_timeout": "10s"}, dns=dns).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    for p in POLICIES:
        g.gwctl("route", "add", "--to-domain", "*.%s.rule.test" % p, "--mx",
                "--tls", p)
    submit(g, sorted(cases))

    def outcomes():
        done = {}
        for e in g.events("action IN ('delivered', 'deferred', 'bounced')"):
            done.setdefault(e["recipient"], e)
        return len(done) == len(cases) and done

    done = wait_for(outcomes, timeout=90, what="an outcome for every case")
    for rcpt, (policy, kind) in sorted(cases.items()):
        delivered, over_tls, verified = expect(policy, kind)
        e = done[rcpt]
        what = "%s (policy %s, %s)" % (rcpt, policy, kind)
        assert e["action"] == ("delivered" if delivered else "deferred"), \
            (what, e["action"], e["reply_text"])
        assert e["tls_policy"] == policy, (what, e["tls_policy"])
        assert e["remote_host"] == "mx.%s.test" % kind, what
        if not delivered:
            assert e["reply_code"] == 451, (what, e["reply_text"])
            if kind in REASON:
                assert "not verified: " + REASON[kind] in e["reply_text"], \
                    (what, e["reply_text"])
                assert e["tls_verified"] == 0 and \
                    e["tls_note"] == REASON[kind], (what, e["tls_note"])
            continue
        got = [m for m in hops[kind].messages if rcpt in m.rcpt_tos]
        assert len(got) == 1 and got[0].tls == over_tls, what
        assert bool(e["tls"]) == over_tls, (what, e["tls"])
        assert e["tls_verified"] == (None if verified is None else
                                     int(verified)), (what, e["tls_note"])
        if verified is False:
            assert e["tls_note"] == REASON[kind], (what, e["tls_note"])
        if policy == "opportunistic" and kind == "broken":
            assert e["tls_note"].startswith("TLS handshake failed"), what
        if policy in ("opportunistic", "required") and kind == "plain":
            assert e["tls_note"] == "STARTTLS not offered", what
    # What was deferred stays undelivered (retries included).
    for rcpt, (policy, kind) in cases.items():
        if not expect(policy, kind)[0]:
            assert not [m for m in hops[kind].messages
                        if rcpt in m.rcpt_tos], rcpt

    # gwsearch show tells an admin the same.
    qid = done["user@right.verify.rule.test"]["qid"]
    out = g.tool("gwsearch", "show", qid).stdout
    assert "tls=verify verified" in out, out
    assert "tls=opportunistic not verified (self-signed certificate)" in out
    assert "tls=verify not verified (hostname mismatch)" in out
