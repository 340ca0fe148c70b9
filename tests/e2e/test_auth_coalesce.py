"""Concurrent logins with the same credentials share one password check.

After a restart gwd's login cache is empty; an application that opens
16 connections at once made gwd run scrypt (~180 ms of CPU, one check at
a time) for as many of them as authguard let through before the first
answer filled the cache.  Identical credentials arriving while a check
of them runs now take its verdict; each attempt is still counted on its
own.  Counted with the control socket's auth_checks_total.
"""
import os
import subprocess

from conftest import BUILD, control_stats, smarthost


def submitload(port, auth, n):
    return subprocess.Popen([os.path.join(BUILD, "submitload"), "-s", str(n), "-m",
                             str(n), "-a", auth, "-f", "app@example.com", "-t",
                             "u@dest.test", "--timeout", "120",
                             "127.0.0.1:%d" % port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(p):
    return dict(kv.split("=", 1) for kv in p.communicate(timeout=300)[0].split())


def test_identical_cold_logins_check_once(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("many", "example.com", "second-pass-2")
    before = control_stats(g)
    out = result(submitload(g.ports["submission"], "many:second-pass-2", 16))
    after = control_stats(g)
    assert out["accepted"] == "16", out
    # One scrypt: the others came while it ran (or found the cache).
    # Before: one for each attempt authguard let through (10).
    assert after["auth_checks_total"] - before.get("auth_checks_total", 0) == 1


def test_each_password_gets_its_own_verdict(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "right-pass-3")
    before = control_stats(g)
    procs = [submitload(g.ports["submission"], auth, 4)
             for auth in ("app:right-pass-3", "app:wrong-pass-4")]
    right, wrong = [result(p) for p in procs]
    after = control_stats(g)
    assert right["accepted"] == "4", right
    assert wrong["accepted"] == "0" and wrong["failed"] == "4", wrong
    # Two checks at most, one per password; every failure counted.
    assert after["auth_checks_total"] - before.get("auth_checks_total", 0) <= 2
    assert after["auth_failures_total"] - before.get("auth_failures_total", 0) == 4
