"""limits.bare_lf: bare LF in DATA refused (the default) or normalized.

curl uploads a file as it is (without --crlf), so a file written with
LF line ends reaches gwd with bare LFs.  Refused by default; with
bare_lf = "normalize" it is stored with CRLF and signed so that dkimpy
verifies it.  Either way only CRLF "." CRLF ends the data: the smuggling
ends of TESTING.md never make a second message.
"""
import subprocess
import time

import pytest

from conftest import smarthost
from test_dkim import activate, keygen, verify_dkimpy
from test_refusals import smuggle

LF_MSG = (b"From: App <app@example.com>\n"
          b"To: <user@dest.test>\n"
          b"Subject: lf-upload\n"
          b"\n"
          b"line one\n"
          b".a line that starts with a dot\n"
          b"last line\n")


def gw_with(gw_factory, sink, dns=None, mode=None):
    settings = {"limits.bare_lf": mode} if mode else {}
    g = gw_factory(relay=smarthost(sink), dns=dns, settings=settings).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def curl_upload(gw, path):
    return subprocess.run(
        ["curl", "-sS", "-v", "--ssl-reqd", "-k",
         "smtp://127.0.0.1:%d" % gw.ports["submission"],
         "--user", "app:s3cret-pass", "--mail-from", "app@example.com",
         "--mail-rcpt", "user@dest.test", "--upload-file", str(path)],
        capture_output=True, text=True, timeout=60)


def test_curl_lf_upload_refused_by_default(gw_factory, sink, tmp_path):
    g = gw_with(gw_factory, sink)
    f = tmp_path / "lf.eml"
    f.write_bytes(LF_MSG)
    r = curl_upload(g, f)
    assert r.returncode != 0
    assert "< 550 5.5.2 " in r.stderr, r.stderr
    time.sleep(0.3)
    assert sink.messages == []


def test_curl_lf_upload_normalized_and_signed(gw_factory, sink, dns, tmp_path):
    g = gw_with(gw_factory, sink, dns, "normalize")
    keygen(g, dns, "example.com", "s1")
    activate(g, "example.com", "s1")
    f = tmp_path / "lf.eml"
    f.write_bytes(LF_MSG)
    r = curl_upload(g, f)
    assert r.returncode == 0, r.stderr
    got = sink.wait_count(1)[0].data
    # Every line end is CRLF now; the content is what the file held.
    assert b"\n" not in got.replace(b"\r\n", b"")
    assert b"\r" not in got.replace(b"\r\n", b"")
    body = got.split(b"\r\n\r\n", 1)[1]
    assert body.rstrip(b"\r\n") == (b"line one\r\n.a line that starts "
                                    b"with a dot\r\nlast line")
    assert b"Subject: lf-upload\r\n" in got
    assert verify_dkimpy(got, dns) == [True]


@pytest.mark.parametrize("fake_end", [
    b"\n.\n", b"\n.\r\n", b"\r\n.\n", b".\n", b"\n\n.\n\n",
], ids=["LF.LF", "LF.CRLF", "CRLF.LF", "dotLF", "LFLF.LFLF"])
def test_smuggling_is_content_when_normalized(gw_factory, sink, fake_end):
    """The forged transaction becomes part of the one message: one 250,
    one message, and the forged commands never ran."""
    g = gw_with(gw_factory, sink, mode="normalize")
    code, text = smuggle(g, fake_end)
    assert code == 250, (code, text)
    got = sink.wait_count(1)
    time.sleep(0.5)
    assert len(sink.messages) == 1
    data = got[0].data
    assert sink.messages[0].rcpt_tos == ["u@dest.test"]
    assert b"\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<victim@dest.test>" \
        in data
    # No bare LF or CR went on to the next hop.
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert len(g.events("action='received'")) == 1


@pytest.mark.parametrize("fake_end", [
    b"\r.\r", b"\r\n.\r", b"\n.\r", b"\r.\r\n", b"\r\n.\x00\r\n",
], ids=["CR.CR", "CRLF.CR", "LF.CR", "CR.CRLF", "CRLF.NUL"])
def test_bare_cr_still_refused_when_normalized(gw_factory, sink, fake_end):
    g = gw_with(gw_factory, sink, mode="normalize")
    code, text = smuggle(g, fake_end)
    assert code in (550, 554) and text.startswith("5."), (code, text)
    time.sleep(0.5)
    assert sink.messages == []

