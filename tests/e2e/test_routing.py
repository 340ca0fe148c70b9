"""Routing rules, IP pools and throttles: gwctl's commands (route,
pool, throttle) against gw.db, and what gwd does with them."""
import json

import pytest

from test_gwctl import Gw


@pytest.fixture
def gw(tmp_path):
    g = Gw(str(tmp_path))
    g.ok("db", "init")
    g.ok("subaccount", "add", "acme", "--domain", "acme.test")
    return g


def rules(gw):
    return [json.loads(x) for x in gw.ok("route", "list", "--format",
                                         "json").splitlines()]


def test_route_add_list_order(gw):
    gw.ok("pool", "add", "bulk", "127.0.0.2", "127.0.0.3", "--helo",
          "mta2.acme.test")
    assert gw.ok("route", "add", "--to-domain", "gmail.com", "--priority",
                 "bulk", "--pool", "bulk", "--smarthost", "127.0.0.1:2526",
                 "--tls", "required") == "route 1 added at position 1\n"
    gw.ok("route", "add", "--header", "X-GW-Stream: bulk", "--priority",
          "bulk")
    assert gw.ok("route", "add", "--subaccount", "acme", "--to-domain",
                 "*.blocked.test", "--reject", "550 5.7.1 not to them",
                 "--position", "1") == "route 3 added at position 1\n"
    gw.ok("route", "add", "--size-over", "10M", "--hold")
    r = rules(gw)
    assert [x["id"] for x in r] == [3, 1, 2, 4]
    assert [x["position"] for x in r] == [1, 2, 3, 4]
    assert r[1]["via"] == "127.0.0.1:2526" and r[1]["tls"] == "required"
    assert r[1]["pool"] == "bulk" and r[1]["priority"] == "bulk"
    assert r[2]["header"] == "X-GW-Stream" and r[2]["header_value"] == "bulk"
    assert r[3]["size_over"] == 10 * 1024 * 1024 and r[3]["action"] == "hold"
    assert r[0]["reply"] == "550 5.7.1 not to them"
    table = gw.ok("route", "list")
    assert "subaccount=acme to=*.blocked.test" in table
    assert "reject 550 5.7.1 not to them" in table

    gw.ok("route", "move", "3", "4")
    assert [x["id"] for x in rules(gw)] == [1, 2, 4, 3]
    gw.ok("route", "move", "3", "2")
    assert [x["id"] for x in rules(gw)] == [1, 3, 2, 4]
    gw.ok("route", "delete", "2")
    assert [(x["id"], x["position"]) for x in rules(gw)] == [
        (1, 1), (3, 2), (4, 3)]


def test_route_test(gw):
    gw.ok("route", "add", "--to-domain", "*.blocked.test", "--reject",
          "550 5.7.1 not to them")
    gw.ok("route", "add", "--header", "x-gw-stream: bulk*", "--priority",
          "bulk")
    gw.ok("route", "add", "--size-over", "1M", "--hold")
    out = gw.ok("route", "test", "--from", "a@acme.test", "--to",
                "b@x.blocked.test")
    assert out.startswith("rule 1 (position 1) matches")
    assert "reject 550 5.7.1 not to them" in out
    out = gw.ok("route", "test", "--from", "a@acme.test", "--to",
                "b@y.test", "--header", "X-GW-Stream: Bulk-Campaign")
    assert out.startswith("rule 2 (position 2)") and "priority=bulk" in out
    out = gw.ok("route", "test", "--from", "a@acme.test", "--to",
                "b@y.test")
    assert "needs the message size" in out
    out = gw.ok("route", "test", "--from", "a@acme.test", "--to",
                "b@y.test", "--size", "2M")
    assert out.startswith("rule 3") and "hold" in out
    out = gw.ok("route", "test", "--from", "", "--to", "b@y.test",
                "--size", "10")
    assert out.startswith("no rule matches")


@pytest.mark.parametrize("args,msg", [
    (["--reject", "250 ok"], "4xx or 5xx"),
    (["--reject", "550 4.7.1 x"], "class must match"),
    (["--hold", "--pool", "bulk"], "takes no"),
    (["--hold", "--reject", "550 x"], "not both"),
    (["--pool", "nope"], 'no pool "nope"'),
    (["--subaccount", "nobody"], 'no subaccount "nobody"'),
    (["--to-domain", "a b"], "domain pattern"),
    (["--header", "X-Stream"], "Name: value"),
    (["--header", "X: a\nb"], "control character"),
    (["--smarthost", "::1"], "brackets"),
    (["--smarthost", "h:99999"], "port"),
    (["--smarthost", "h", "--mx"], "not both"),
    (["--tls", "required"], "goes with"),
    (["--priority", "urgent"], "transactional or bulk"),
    (["--size-over", "lots"], "size"),
    (["--position", "5"], "position"),
])
def test_route_add_errors(gw, args, msg):
    r = gw.run("route", "add", *args)
    assert r.returncode != 0 and msg in r.stderr, (args, r.stderr)
    assert rules(gw) == []


def test_route_id_errors(gw):
    r = gw.run("route", "delete", "7")
    assert r.returncode == 67 and "no route 7" in r.stderr
    r = gw.run("route", "delete", "x")
    assert r.returncode == 64
    gw.ok("route", "add", "--hold")
    r = gw.run("route", "move", "1", "2")
    assert r.returncode == 64 and "1 to 1" in r.stderr


def test_pools(gw):
    gw.ok("pool", "add", "p1", "127.0.0.5", "::1")
    gw.ok("pool", "add", "p1", "127.0.0.6", "--helo", "Out6.Example.NET")
    rows = [json.loads(x) for x in gw.ok("pool", "list", "--format",
                                          "json").splitlines()]
    assert [(x["address"], x["helo"]) for x in rows] == [
        ("127.0.0.5", None), ("127.0.0.6", "out6.example.net"),
        ("::1", None)]
    r = gw.run("pool", "add", "p1", "192.0.2.77")
    assert r.returncode == 65 and "not an address of this machine" in \
        r.stderr
    r = gw.run("pool", "add", "bad name", "127.0.0.5")
    assert r.returncode == 64
    r = gw.run("pool", "add", "p1", "127.0.0.5:25")
    assert r.returncode == 64
    gw.ok("route", "add", "--pool", "p1")
    r = gw.run("pool", "delete", "p1")
    assert r.returncode == 65 and "used by route 1" in r.stderr
    gw.ok("pool", "delete", "p1", "127.0.0.5")
    assert len(gw.ok("pool", "list").splitlines()) == 3
    gw.ok("route", "delete", "1")
    gw.ok("pool", "delete", "p1")
    assert gw.ok("pool", "list") == ""
    assert gw.run("pool", "delete", "p1").returncode == 67


def test_throttles(gw):
    gw.ok("throttle", "set", "Gmail.com", "--connections", "5",
          "--per-minute", "600")
    gw.ok("throttle", "set", "*.yahoo.com", "--per-connection", "50")
    gw.ok("throttle", "set", "gmail.com", "--connections", "default")
    rows = [json.loads(x) for x in gw.ok("throttle", "list", "--format",
                                          "json").splitlines()]
    assert rows == [
        {"domain": "*.yahoo.com", "connections": None, "per_connection": 50,
         "per_minute": None},
        {"domain": "gmail.com", "connections": None, "per_connection": None,
         "per_minute": 600}]
    assert gw.run("throttle", "set", "x.test").returncode == 64
    assert gw.run("throttle", "set", "x.test", "--per-minute",
                  "0").returncode == 64
    gw.ok("throttle", "delete", "gmail.com")
    assert gw.run("throttle", "delete", "gmail.com").returncode == 67
