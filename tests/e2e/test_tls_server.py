"""gwd's TLS server choices: suites, groups, session tickets (issue 16).

openssl s_client and Python's ssl module as the clients, on the implicit
TLS port (the STARTTLS one takes the same context).
"""
import os
import socket
import ssl
import subprocess

import pytest

from conftest import BUILD, client_tls_context


def s_client(port, *args, sess_in=None, sess_out=None):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-msg",
           "-ign_eof"] + list(args)
    if sess_in:
        cmd += ["-sess_in", sess_in]
    if sess_out:
        cmd += ["-sess_out", sess_out]
    r = subprocess.run(cmd, input="QUIT\r\n", capture_output=True, text=True,
                       timeout=30)
    return r.stdout + r.stderr


def test_one_ticket_and_resumption(gw_factory, tmp_path):
    g = gw_factory().start()
    sess = str(tmp_path / "sess.pem")
    out = s_client(g.ports["smtps"], sess_out=sess)
    assert "New, TLSv1.3" in out, out
    # OpenSSL's default is two; each costs the server CPU.
    assert out.count("NewSessionTicket") == 1, out
    assert "lifetime hint: 3600 (seconds)" in out
    sess2 = str(tmp_path / "sess2.pem")
    out = s_client(g.ports["smtps"], sess_in=sess, sess_out=sess2)
    assert "Reused, TLSv1.3" in out, out
    # A TLS 1.3 client uses a ticket once: it gets a new one each time.
    assert out.count("NewSessionTicket") == 1, out
    out = s_client(g.ports["smtps"], sess_in=sess2)
    assert "Reused, TLSv1.3" in out, out
    assert "220 gw.test" in out


def test_ticket_lifetime_zero_means_no_tickets(gw_factory, tmp_path):
    g = gw_factory(settings={"tls.ticket_lifetime": "0"}).start()
    out = s_client(g.ports["smtps"], "-tls1_2")
    assert "TLS session ticket:" not in out, out
    out = s_client(g.ports["smtps"])
    assert "NewSessionTicket" not in out, out


def test_server_prefers_aes128_sha256_and_x25519(gw_factory):
    g = gw_factory().start()
    # Python offers TLS_AES_256_GCM_SHA384 first; gwd's order decides.
    with socket.create_connection(("127.0.0.1", g.ports["smtps"]), 10) as raw:
        with client_tls_context().wrap_socket(raw) as s:
            assert s.cipher()[0] == "TLS_AES_128_GCM_SHA256"
    out = s_client(g.ports["smtps"], "-tls1_2", "-groups", "P-256:X25519")
    assert "Server Temp Key: X25519" in out, out


def test_finite_field_dh_refused(gw_factory):
    # A client offering only ffdhe2048 would make gwd do a 2048-bit
    # modular exponentiation per handshake; ECDHE only.
    g = gw_factory().start()
    out = s_client(g.ports["smtps"], "-groups", "ffdhe2048")
    assert "handshake failure" in out, out
    assert "Cipher is (NONE)" in out


@pytest.mark.parametrize("setting,value", [
    ("tls.ciphersuites", "TLS_NO_SUCH_SUITE"),
    ("tls.groups", "X25519:nosuchgroup"),
])
def test_bad_choice_is_a_config_error(gw_factory, setting, value):
    g = gw_factory(settings={setting: value})
    os.makedirs(g.state, exist_ok=True)
    # Make the certificate first: gwd -n checks TLS settings only then.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=gw.test",
                    "-keyout", os.path.join(g.state, "key.pem"),
                    "-out", os.path.join(g.state, "cert.pem")],
                   check=True, capture_output=True)
    r = subprocess.run([os.path.join(BUILD, "gwd"), "-n", "-c", g.conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert setting in r.stderr, r.stderr


def test_message_in_one_burst_over_tls(gw_factory, sink):
    # Far more than a session buffers (64 KB), written in one go after
    # 354 with the dot and QUIT behind it: OpenSSL reads records ahead
    # of what gwd can take, and what it holds must still be read.
    from conftest import Raw, smarthost
    import base64
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    r = Raw(g.ports["smtps"], implicit=True)
    assert r.reply()[0] == 220
    assert r.cmd("EHLO c.test")[0] == 250
    assert r.cmd("AUTH PLAIN " + base64.b64encode(
        b"\0app\0s3cret-pass").decode())[0] == 235
    r.send("MAIL FROM:<app@example.com>\r\nRCPT TO:<u@dest.test>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 354]
    body = (b"z" * 998 + b"\r\n") * 3000               # 3 MB
    r.send(b"From: <app@example.com>\r\nSubject: burst\r\n\r\n" + body +
           b".\r\nQUIT\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    assert sink.wait_count(1)[0].body == body
