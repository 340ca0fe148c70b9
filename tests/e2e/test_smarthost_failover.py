"""Smarthost failover (issue 14): relay.host and a rule's --smarthost
take a list with priorities and weights; gwd checks each smarthost
(connect, greeting, EHLO, QUIT), marks one down after `fall` failures of
its checks or of delivery connections (the circuit breaker), skips it
while another is up, and takes it back after `rise` passes.  Every
change is an audit event, a log line, gw_smarthost_up on /metrics and a
line of gwtop's destinations screen.  Real sinks (aiosmtpd) on loopback;
no wall-clock assertion: the tests wait for the events."""
import email
import json
import os
import smtplib
import subprocess
import urllib.request

import pytest

from conftest import Sink, client_tls_context, free_port, wait_for

BUILD = os.environ.get("GW_BUILD")


def relay(hosts, **health):
    hc = {"interval": "200ms", "timeout": "2s", "fall": 2, "rise": 2}
    hc.update(health)
    return {"mode": "smarthost", "host": hosts, "tls": "none",
            # One message a connection: each connection chooses its host
            # anew, so where mail goes follows the health at once.
            "messages_per_connection": 1, "health_check": hc}


def start(gw_factory, hosts, **health):
    port = free_port()
    g = gw_factory(relay=relay(hosts, **health),
                   settings={"metrics.listen": "127.0.0.1:%d" % port})
    g.metrics_port = port
    g.start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def send(g, subjects, rcpt="r@dest.test"):
    """One message per subject, in one SMTP session."""
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=30) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        for subj in subjects:
            s.sendmail("app@example.com", [rcpt],
                       ("From: app@example.com\r\nTo: %s\r\nSubject: %s\r\n"
                        "\r\nbody\r\n" % (rcpt, subj)).encode())


def subjects(*sinks):
    return [email.message_from_bytes(m.data)["Subject"]
            for s in sinks for m in s.messages]


def name(sink_or_port):
    return "127.0.0.1:%d" % getattr(sink_or_port, "port", sink_or_port)


def changes(g, action, host):
    return g.events("action = ? AND remote_host = ?", (action, host))


def metric_up(g, host):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics"
                                % g.metrics_port, timeout=5) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith('gw_smarthost_up{host="%s"} ' % host):
            return int(line.split()[-1])
    return None


def gwtop_destinations(g):
    r = subprocess.run([os.path.join(BUILD, "gwtop"), "-c", g.conf, "--once",
                        "--screen", "destinations", "--format", "json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_fails_over_by_priority_and_back(gw_factory):
    a, b = Sink(), Sink()
    a2 = None
    try:
        g = start(gw_factory, ["%s prio=1" % name(a), "%s prio=2" % name(b)])
        sent = ["a%d" % i for i in range(3)]
        send(g, sent)
        a.wait_count(3)
        assert b.messages == []
        assert metric_up(g, name(a)) == 1 and metric_up(g, name(b)) == 1

        # A goes away: its checks fail, it is marked down, mail goes to B.
        a.stop()
        wait_for(lambda: changes(g, "smarthost_down", name(a)),
                 what="smarthost_down for A")
        ev = changes(g, "smarthost_down", name(a))[0]
        assert ev["detail"].startswith("failures=2 reason=")
        assert metric_up(g, name(a)) == 0 and metric_up(g, name(b)) == 1
        top = gwtop_destinations(g)
        health = {h["host"]: h for h in top["smarthosts"]}
        assert health[name(a)]["up"] is False
        assert health[name(a)]["failures"] >= 2
        assert health[name(b)]["up"] is True
        assert "smarthost=%s down" % name(a) in g.logtext()
        during = ["b%d" % i for i in range(3)]
        sent += during
        send(g, during)
        b.wait_count(3)
        assert sorted(subjects(b)) == during

        # A is back on its port: two passed checks, then mail goes there.
        a2 = Sink(port=a.port)
        wait_for(lambda: changes(g, "smarthost_up", name(a)),
                 what="smarthost_up for A")
        assert metric_up(g, name(a)) == 1
        after = ["c%d" % i for i in range(3)]
        sent += after
        send(g, after)
        a2.wait_count(3)
        assert sorted(subjects(a2)) == after
        # Nothing acknowledged was lost or sent twice across the switches.
        wait_for(lambda: g.queue_count() == 0, what="an empty queue")
        assert sorted(subjects(a, b, a2)) == sorted(sent)
        assert [e["action"] for e in g.events(
            "action LIKE 'smarthost_%'")] == ["smarthost_down",
                                              "smarthost_up"]
    finally:
        for s in (a, b, a2):
            if s is not None:
                try:
                    s.stop()
                except Exception:
                    pass


def test_delivery_failures_trip_the_breaker(gw_factory):
    """Without checks (interval 0), connections that fail mark the host
    down; a host that is down is not tried while another is up."""
    dead = free_port()              # nothing listens there
    b = Sink()
    try:
        g = start(gw_factory, ["%s prio=1" % name(dead),
                               "%s prio=2" % name(b)], interval="0")
        send(g, ["x%d" % i for i in range(3)])
        b.wait_count(3)             # each went on to B at once
        wait_for(lambda: changes(g, "smarthost_down", name(dead)),
                 what="smarthost_down from deliveries")
        ev = changes(g, "smarthost_down", name(dead))[0]
        assert "connect to" in ev["detail"], ev
        tried = g.logtext().count("connect to 127.0.0.1[")
        send(g, ["y%d" % i for i in range(3)])
        b.wait_count(6)
        wait_for(lambda: g.queue_count() == 0, what="an empty queue")
        # Skipped: not one more connection to the host that is down.
        assert g.logtext().count("connect to 127.0.0.1[") == tried
        assert changes(g, "smarthost_up", name(dead)) == []
    finally:
        b.stop()


def test_all_down_tries_the_best_anyway(gw_factory):
    """Every host down: mail is not held back, the hosts are tried in
    priority order as if they were up."""
    a = Sink()
    dead = free_port()
    try:
        g = start(gw_factory, ["%s prio=1" % name(dead),
                               "%s prio=2" % name(a)], interval="0",
                  fall=1, rise=5)
        send(g, ["first"])          # marks dead down (fall 1)
        a.wait_count(1)
        a.stop()
        send(g, ["queued"])         # both fail now: A is down too
        wait_for(lambda: changes(g, "smarthost_down", name(a)),
                 what="A down as well")
        a2 = Sink(port=a.port)
        try:
            # Both down; the retry still goes out, to the one that works.
            a2.wait_count(1)
            assert subjects(a2) == ["queued"]
            wait_for(lambda: g.queue_count() == 0, what="an empty queue")
        finally:
            a2.stop()
    finally:
        pass


def test_weighted_choice_spreads_mail(gw_factory):
    a, b = Sink(), Sink()
    try:
        g = start(gw_factory, ["%s prio=5 weight=3" % name(a),
                               "%s prio=5 weight=1" % name(b)])
        n = 48
        send(g, ["w%d" % i for i in range(n)])
        wait_for(lambda: len(a.messages) + len(b.messages) >= n,
                 what="%d messages at the sinks" % n)
        wait_for(lambda: g.queue_count() == 0, what="an empty queue")
        na, nb = len(a.messages), len(b.messages)
        assert na + nb == n
        # Expected 36 and 12; these bounds fail about once in 5000 runs.
        assert nb >= 3 and na > nb, (na, nb)
    finally:
        a.stop()
        b.stop()


def test_rule_with_a_smarthost_list(gw_factory):
    default, b = Sink(), Sink()
    dead = free_port()
    try:
        port = free_port()
        g = gw_factory(relay={"mode": "smarthost", "host": name(default),
                              "tls": "none",
                              "health_check": {"interval": "200ms",
                                               "fall": 2, "rise": 2}},
                       settings={"metrics.listen": "127.0.0.1:%d" % port})
        g.metrics_port = port
        g.start()
        g.add_subaccount("app", "example.com", "s3cret-pass")
        bad = g.gwctl("route", "add", "--to-domain", "rule.test",
                      "--smarthost", "%s prio=x" % name(b), check=False)
        assert bad.returncode == 64
        assert "prio=x: the priority is 0 to 65535" in bad.stderr
        g.gwctl("route", "add", "--to-domain", "rule.test", "--smarthost",
                "%s %s" % (name(dead), name(b)))
        rules = [json.loads(l) for l in g.gwctl(
            "route", "list", "--format", "json").stdout.splitlines()]
        assert rules[0]["via"] == "%s %s" % (name(dead), name(b))
        # gwd reads the new rule; its hosts get checks of their own.
        wait_for(lambda: changes(g, "smarthost_down", name(dead)),
                 what="the rule's dead smarthost marked down")
        send(g, ["ruled"], rcpt="r@rule.test")
        send(g, ["plain"], rcpt="r@other.test")
        b.wait_count(1)
        default.wait_count(1)
        assert subjects(b) == ["ruled"] and subjects(default) == ["plain"]
        assert metric_up(g, name(dead)) == 0
        assert metric_up(g, name(b)) == 1
        assert metric_up(g, name(default)) == 1
    finally:
        default.stop()
        b.stop()


@pytest.mark.parametrize("host,why", [
    (["a.test:25 weight=0"], "weight=0: the weight is 1 to 1000"),
    (["prio=1"], "prio=1: comes after a host"),
    ([], "relay.host: required"),
    ("a.test:25 b.test:99999", "port must be 1-65535"),
])
def test_bad_host_lists_are_config_errors(gw_factory, host, why):
    g = gw_factory(relay={"mode": "smarthost", "host": host, "tls": "none"})
    r = subprocess.run([os.path.join(BUILD, "gwd"), "-n", "-c", g.conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 78 and why in r.stderr, r.stderr


def test_single_string_and_list_forms(gw_factory):
    g = gw_factory(relay={"mode": "smarthost", "tls": "none",
                          "host": ["a.test:587 prio=10 weight=3",
                                   "b.test:587 prio=10", "[::1]"]})
    r = subprocess.run([os.path.join(BUILD, "gwd"), "-n", "-c", g.conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
