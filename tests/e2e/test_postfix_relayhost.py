"""Postfix, set up as in an admin's usual relayhost recipe, relays via gwd."""
import os
import shutil
import smtplib
import tempfile

import pytest

from conftest import free_port, smarthost, wait_for
from postfix_instance import Postfix, available

pytestmark = pytest.mark.skipif(not available(), reason="needs root and Debian's postfix")


def test_postfix_relayhost_recipe(gw_factory, sink, tmp_path):
    g = gw_factory(relay=smarthost(sink)).start()
    g.add_subaccount("office", "example.com", "relay-pass-1")
    # Postfix's daemons run as user postfix and must reach their spool:
    # pytest's tmp_path is private to root, so the instance lives apart.
    root = tempfile.mkdtemp(prefix="gw-postfix-")
    os.chmod(root, 0o755)
    pf = Postfix(root, free_port(), {
        # The recipe from every "Postfix with a relay service" how-to:
        "relayhost": "[127.0.0.1]:%d" % g.ports["submission"],
        "smtp_sasl_auth_enable": "yes",
        "smtp_sasl_password_maps": "texthash:%s" % os.path.join(root, "conf", "sasl_passwd"),
        "smtp_sasl_security_options": "noanonymous",
        "smtp_tls_security_level": "encrypt",
        "smtp_tls_loglevel": "1",
        "header_size_limit": "102400",
    })
    pf.write_file("sasl_passwd", "[127.0.0.1]:%d office:relay-pass-1\n" % g.ports["submission"])
    pf.start()
    try:
        body = b"Sent through Postfix and gw.\r\n.leading dot\r\n"
        msg = (b"From: Office <office@example.com>\r\nTo: someone@dest.test\r\n"
               b"Subject: via postfix\r\nMessage-ID: <pf-1@example.com>\r\n\r\n" + body)
        with smtplib.SMTP("127.0.0.1", pf.port, timeout=10) as s:
            s.sendmail("office@example.com", ["someone@dest.test"], msg)
        got = sink.wait_count(1, timeout=30)[0]
        assert got.mail_from == "office@example.com"
        assert got.rcpt_tos == ["someone@dest.test"]
        assert got.body == body
        hdr = got.headers.decode()
        assert "by gw.test (gw) with ESMTPSA" in hdr        # TLS and AUTH
        assert "by pf.test (Postfix)" in hdr
        # Postfix logs the delivery after gw's 250, which the sink's copy
        # does not wait for (and its log is written by postlogd).
        log = wait_for(lambda: (lambda t: t if "status=sent" in t else None)(
            pf.logtext()), what="Postfix logging status=sent")
        assert "Trusted TLS connection established" in log or \
            "Untrusted TLS connection established" in log or \
            "Anonymous TLS connection established" in log
        ev = wait_for(lambda: g.events("action='received'"), what="audit row")
        assert ev[0]["subaccount"] == "office" and ev[0]["tls"].startswith("TLSv1.")
    finally:
        pf.stop()
        shutil.rmtree(root, ignore_errors=True)
