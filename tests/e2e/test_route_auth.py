"""Credentials per smarthost route (issue 20): `gwctl route add
--smarthost H --auth-user U --auth-password-stdin` keeps them in gw.db;
route list shows the user, never the password; gwd logs in with them,
only over TLS, and two rules with other credentials to one smarthost
never share a connection."""
import json
import os
import smtplib
import sqlite3

import pytest

from conftest import Sink, client_tls_context, smarthost, wait_for
from test_smarthost_auth import AuthSink

SECRET = "pw-Secret-1"


@pytest.fixture
def gw(gw_factory):
    """gwctl alone: no gwd needed to keep rules."""
    return gw_factory()


def add(g, *args, user="alice", password=SECRET, check=True):
    return g.gwctl("route", "add", *args, "--auth-user", user,
                   "--auth-password-stdin", input=password + "\n",
                   check=check)


def send(g, rcpts):
    msg = b"From: <app@example.com>\r\nSubject: t\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=20) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", rcpts, msg)


def test_list_shows_the_user_never_the_password(gw):
    out = add(gw, "--to-domain", "p.test", "--smarthost",
              "relay.example:587").stdout
    assert out == "route 1 added at position 1\n"
    table = gw.gwctl("route", "list").stdout
    assert "via=smarthost=relay.example:587 auth=alice" in table
    js = [json.loads(x) for x in gw.gwctl("route", "list", "--format",
                                          "json").stdout.splitlines()]
    assert js[0]["auth_user"] == "alice" and js[0]["via"] == \
        "relay.example:587"
    test = gw.gwctl("route", "test", "--from", "a@b.test", "--to",
                    "x@p.test").stdout
    assert "auth=alice" in test
    for text in (table, json.dumps(js), test):
        assert SECRET not in text
    # In gw.db in clear: AUTH needs it; the file's mode protects it.
    with sqlite3.connect(os.path.join(gw.state, "gw.db")) as db:
        assert db.execute("SELECT auth_user, auth_password FROM "
                          "route_rule").fetchall() == [("alice", SECRET)]
    assert os.stat(os.path.join(gw.state, "gw.db")).st_mode & 0o077 == 0


@pytest.mark.parametrize("args,password,code,why", [
    (["--smarthost", "h:587", "--auth-user", "u"], None, 64,
     "--auth-password-stdin"),
    (["--smarthost", "h:587", "--auth-password-stdin"], "Zq9-secret", 64,
     "--auth-password-stdin"),
    (["--mx", "--auth-user", "u", "--auth-password-stdin"], "Zq9-secret", 64,
     "goes with --smarthost"),
    (["--to-domain", "x.test", "--auth-user", "u", "--auth-password-stdin"],
     "Zq9-secret", 64, "goes with --smarthost"),
    (["--smarthost", "h:587", "--tls", "none", "--auth-user", "u",
      "--auth-password-stdin"], "Zq9-secret", 64, "only over TLS"),
    (["--smarthost", "h:587", "--auth-user", "u" * 256,
      "--auth-password-stdin"], "Zq9-secret", 64, "1 to 255 bytes"),
    (["--smarthost", "h:587", "--auth-user", "u", "--auth-password-stdin"],
     "Z" * 256, 65, "longer than 255 bytes"),
    (["--smarthost", "h:587", "--auth-user", "u", "--auth-password-stdin"],
     "", 65, "empty smarthost password"),
])
def test_bad_credentials_refused(gw, args, password, code, why):
    r = gw.gwctl("route", "add", *args, check=False,
                 input=None if password is None else password + "\n")
    assert r.returncode == code and why in r.stderr, r.stderr
    if password:
        assert password not in r.stderr + r.stdout
    assert gw.gwctl("route", "list", "--format", "json").stdout == ""


def test_longest_credentials_accepted(gw):
    add(gw, "--smarthost", "h:587", user="u" * 255, password="p" * 255)
    assert "auth=" + "u" * 255 in gw.gwctl("route", "list").stdout


@pytest.fixture
def authsink(tmp_path):
    s = AuthSink(str(tmp_path), ["PLAIN", "LOGIN"],
                 accounts={"alice": SECRET, "bob": "bob-Secret-2"})
    yield s
    s.stop()


def gw_routed(gw_factory, sink):
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def test_each_rule_logs_in_as_its_user(gw_factory, authsink):
    default = Sink()
    try:
        g = gw_routed(gw_factory, default)
        hp = "127.0.0.1:%d" % authsink.port
        add(g, "--to-domain", "one.test", "--smarthost", hp, "--tls",
            "required")
        add(g, "--to-domain", "two.test", "--smarthost", hp, "--tls",
            "required", user="bob", password="bob-Secret-2")
        # Both rules' mail waits at once: a shared connection would
        # carry the second rule's message as the first rule's user.
        send(g, ["a@one.test", "b@two.test", "c@one.test"])
        wait_for(lambda: len(authsink.messages) >= 2, 30,
                 what="both rules' mail relayed")
        got = {}
        for user, rcpts in authsink.by_user:
            for r in rcpts:
                got[r] = user
        assert got == {"a@one.test": "alice", "c@one.test": "alice",
                       "b@two.test": "bob"}
        assert default.messages == []
    finally:
        default.stop()


def deferred_reason(g, what):
    def reason():
        for line in g.gwctl("queue", "list", "--format",
                            "json").stdout.splitlines():
            for r in json.loads(line)["recipients"]:
                if r.get("delay_reason"):
                    return r["delay_reason"]
        return None
    return wait_for(reason, 30, what=what)


def test_wrong_password_defers(gw_factory, authsink):
    default = Sink()
    try:
        g = gw_routed(gw_factory, default)
        add(g, "--to-domain", "one.test", "--smarthost",
            "127.0.0.1:%d" % authsink.port, "--tls", "required",
            password="not-it")
        send(g, ["a@one.test"])
        why = deferred_reason(g, "the deferral")
        assert "authentication to" in why and "535" in why, why
        assert authsink.messages == [] and default.messages == []
        assert ("alice", "not-it") in [(u.decode(), p.decode())
                                       for _, u, p in authsink.logins]
    finally:
        default.stop()


def test_no_credentials_over_plaintext(gw_factory):
    """A smarthost without STARTTLS: the credentials are not sent, the
    recipient waits with the reason said, and gwd logs it."""
    plain, default = Sink(), Sink()
    try:
        g = gw_routed(gw_factory, default)
        add(g, "--to-domain", "one.test", "--smarthost",
            "127.0.0.1:%d" % plain.port, "--tls", "opportunistic")
        send(g, ["a@one.test"])
        why = deferred_reason(g, "the deferral")
        assert "refusing to send credentials (user alice)" in why, why
        assert "without TLS" in why
        assert plain.messages == [] and default.messages == []
        wait_for(lambda: "refusing to send credentials" in g.logtext(),
                 10, what="the log line")
        assert SECRET not in g.logtext()
    finally:
        plain.stop()
        default.stop()
