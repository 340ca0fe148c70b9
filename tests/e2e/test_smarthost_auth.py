"""AUTH to a smarthost with relay.username and relay.password: each is
at most 255 bytes (RFC 4616's minimum every server accepts).  Longer
ones are a configuration error: mta.c used to base64 them into a 1400
byte stack buffer, which a credential of ~1,048 bytes overflowed."""
import collections
import os
import smtplib
import ssl
import subprocess
import threading

import pytest

from conftest import client_tls_context, free_port, wait_for

BUILD = os.environ.get("GW_BUILD")


def gwd_check(g):
    return subprocess.run([os.path.join(BUILD, "gwd"), "-n", "-c", g.conf],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("which", ["username", "password"])
def test_overlong_credential_is_a_config_error(gw_factory, which):
    secret = "S" * 1100
    creds = {"username": "gw", "password": "pw"}
    creds[which] = secret
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                          "port": 25, "tls": "required", **creds})
    r = gwd_check(g)
    assert r.returncode == 78, r.stdout + r.stderr
    assert "relay.%s: longer than 255 bytes" % which in r.stderr
    assert secret not in r.stderr + r.stdout      # never echoed
    creds[which] = "S" * 255
    g2 = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                           "port": 25, "tls": "required", **creds})
    r = gwd_check(g2)
    assert r.returncode == 0 and "configuration OK" in r.stdout + r.stderr


class AuthSink:
    """aiosmtpd with STARTTLS and AUTH (only after TLS), keeping the
    credentials it was given and the messages it accepted.  accounts:
    {user: password} it accepts (None: any); by_user: the user each
    message's session logged in as, with its recipients."""

    def __init__(self, tmp, mechanisms, accounts=None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, AuthResult

        cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-subj", "/CN=localhost", "-days", "1",
                        "-keyout", key, "-out", cert], check=True,
                       capture_output=True)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.port = free_port()
        self.logins = []
        self.messages = []
        self.by_user = []
        self.lock = threading.Lock()
        sink = self

        def authenticator(server, session, envelope, mechanism, data):
            with sink.lock:
                sink.logins.append((mechanism, data.login, data.password))
            ok = accounts is None or accounts.get(
                data.login.decode()) == data.password.decode()
            # handled=False: aiosmtpd itself replies (535 on failure).
            return AuthResult(success=ok, handled=False,
                              auth_data=data.login.decode())

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with sink.lock:
                    sink.messages.append(envelope)
                    sink.by_user.append((session.auth_data,
                                         envelope.rcpt_tos))
                return "250 2.0.0 OK"

        class Long(SMTP):
            def __init__(self, *a, **kw):
                super().__init__(*a, **kw)
                # RFC 4954 4: an AUTH line may be 12288 octets (aiosmtpd
                # keeps 512 for every command, in a class-wide dict).
                self.command_size_limits = collections.defaultdict(
                    lambda: 512, AUTH=12288)

        class Ctl(Controller):
            def factory(self):
                return Long(self.handler, **self.SMTP_kwargs)

        exclude = [m for m in ("PLAIN", "LOGIN") if m not in mechanisms]
        self.controller = Ctl(Handler(), hostname="127.0.0.1", port=self.port,
                              tls_context=ctx, require_starttls=True,
                              authenticator=authenticator,
                              auth_require_tls=True, auth_required=True,
                              auth_exclude_mechanism=exclude,
                              ready_timeout=10)
        self.controller.start()

    def stop(self):
        self.controller.stop()


def send(g, to):
    msg = b"From: <app@example.com>\r\nSubject: t\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", [to], msg)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_longest_credentials_log_in(gw_factory, tmp_path, mechanism):
    sink = AuthSink(str(tmp_path), [mechanism])
    user, password = "u" * 254 + "1", "p" * 254 + "2"
    try:
        g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                              "port": sink.port, "tls": "required",
                              "username": user, "password": password})
        g.start()
        g.add_subaccount("app", "example.com", "s3cret-pass")
        send(g, "someone@dest.test")
        wait_for(lambda: sink.messages, 30, what="the message relayed")
        assert sink.logins == [(mechanism, user.encode(), password.encode())]
    finally:
        sink.stop()
