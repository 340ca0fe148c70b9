"""CHUNKING (RFC 3030): BDAT from a raw client (pipelined with the
envelope, refused ones skipped, the same size, memory and line rules as
DATA), and BDAT to a real Postfix receiver, which offers CHUNKING by
default (its debug log shows the dialogue, its queue file the message)."""
import pytest

from conftest import Raw, control, free_port, login, smarthost, wait_for
from postfix_instance import available, holding_receiver

FROM = "app@example.com"
BODY = (b"From: <app@example.com>\r\nSubject: chunks\r\n\r\n"
        b".a line with a leading dot\r\n\r\n.\r\nafter a lone dot\r\n")


def gw(gw_factory, sink, **settings):
    g = gw_factory(relay=smarthost(sink), settings=settings).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    return g


def session(g):
    r = Raw(g.ports["submission"])
    r.reply()
    assert login(r, "app", "s3cret-pass")[0] == 235
    return r


def bdat(chunk, last=False):
    return b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk


def envelope(rcpt="u@dest.test"):
    return b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" % (FROM.encode(),
                                                    rcpt.encode())


def stat(g, name):
    return int(dict(l.split() for l in control(g, "stats").splitlines())[name])


def test_pipelined_chunks(gw_factory, sink):
    g = gw(gw_factory, sink)
    r = session(g)
    assert "CHUNKING" in r.cmd("EHLO client.test")[1].split("\n")
    # The envelope, three chunks (one of them empty, one splitting a
    # CRLF) and the next transaction's MAIL, all in one write.
    r.send(envelope() + bdat(BODY[:30]) + bdat(b"") + bdat(BODY[30:-1]) +
           bdat(BODY[-1:], last=True) + b"MAIL FROM:<%s>\r\n" %
           FROM.encode())
    got = [r.reply() for _ in range(7)]
    assert [c for c, _ in got] == [250, 250, 250, 250, 250, 250, 250], got
    assert got[2][1] == "2.0.0 Ok: 30 octets received"
    assert got[5][1].startswith("2.0.0 Ok: queued as ")
    m = sink.wait_count(1)[0]
    # What the client sent, as it sent it: dots are content under BDAT
    # (and stuffed again on the way out by DATA).
    assert m.data.endswith(BODY[BODY.index(b"Subject"):]) or \
        BODY[BODY.index(b"\r\n\r\n"):] in m.data
    assert b"\r\n.a line with a leading dot\r\n\r\n.\r\nafter a lone dot" \
        b"\r\n" in m.data
    # BDAT 0 LAST ends a message too; a last line without CRLF gets one.
    assert r.cmd("RCPT TO:<v@dest.test>")[0] == 250
    r.send(bdat(b"Subject: two\r\n\r\nno newline") + bdat(b"", last=True))
    assert r.reply()[0] == 250
    assert r.reply()[0] == 250
    m2 = sink.wait_count(2)[1]
    assert m2.data.endswith(b"\r\n\r\nno newline\r\n")
    r.close()


def test_bdat_before_auth_closes(gw_factory, sink):
    g = gw(gw_factory, sink)
    r = Raw(g.ports["submission"])
    r.reply()
    r.cmd("EHLO client.test")
    r.send(bdat(b"x" * 100))
    assert r.reply() == (530, "5.7.0 Authentication required; closing "
                              "connection")
    assert r.closed()


def test_refused_chunks_are_skipped(gw_factory, sink):
    g = gw(gw_factory, sink)
    r = session(g)
    # Before MAIL, and before RCPT: 503, and the chunk (that reads like
    # commands) is skipped, never executed.
    evil = b"QUIT\r\nRSET\r\n"
    r.send(bdat(evil))
    assert r.reply() == (503, "5.5.1 Error: need MAIL command")
    assert r.cmd("MAIL FROM:<%s>" % FROM)[0] == 250
    r.send(bdat(evil, last=True))
    assert r.reply() == (503, "5.5.1 Error: need RCPT command")
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 250
    r.send(bdat(b"Subject: x\r\n\r\nbody\r\n"))
    assert r.reply()[0] == 250
    assert r.cmd("DATA") == (503, "5.5.1 Error: DATA after BDAT")
    # RSET drops the chunks so far.
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("NOOP")[0] == 250
    # A size that cannot be read leaves no way to find the next command.
    assert r.cmd("BDAT ten LAST")[0] == 501
    assert r.closed()
    assert sink.messages == []


@pytest.mark.parametrize("chunk,code,status", [
    (b"Subject: x\r\n\r\nbare\nLF\r\n", 550, "5.5.2"),
    (b"Subject: x\r\n\r\nbare\rCR\r\n", 550, "5.5.2"),
    (b"Subject: x\r\n\r\nends in CR\r", 550, "5.5.2"),
    (b"Subject: x\r\n\r\nNUL\0\r\n", 554, "5.6.0"),
    (b"Subject: x\r\n\r\n" + b"x" * 999 + b"\r\n", 554, "5.6.0"),
    (b"Subject: x\r\n\r\n" + b"y" * 70000 + b"\r\n", 552, "5.3.4"),
], ids=["bare-lf", "bare-cr", "last-cr", "nul", "long-line", "too-big"])
def test_same_rules_as_data(gw_factory, sink, chunk, code, status):
    g = gw(gw_factory, sink, **{"limits.message_size": "64k"})
    r = session(g)
    # Split in two chunks, so the fault may sit at a chunk boundary.
    half = len(chunk) // 2
    r.send(envelope() + bdat(chunk[:half]) + bdat(chunk[half:], last=True))
    got = [r.reply() for _ in range(4)]
    assert got[3][0] == code and got[3][1].startswith(status), got
    # One refusal, then the session is in step: a whole new message.
    assert r.cmd("RCPT TO:<u@dest.test>")[0] == 503     # envelope reset
    r.send(envelope() + bdat(b"Subject: ok\r\n\r\nok\r\n", last=True))
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
    assert len(sink.wait_count(1)) == 1
    r.close()


def test_smuggling_is_content(gw_factory, sink):
    # Under BDAT "\r\n.\r\n" ends nothing: one message, the second
    # "transaction" is its text, and DATA onward stuffs the dot.
    g = gw(gw_factory, sink)
    r = session(g)
    chunk = (b"Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<app@example.com>"
             b"\r\nRCPT TO:<victim@dest.test>\r\nDATA\r\nSubject: two\r\n")
    r.send(envelope() + bdat(chunk, last=True))
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
    (m,) = sink.wait_count(1)
    assert m.rcpt_tos == ["u@dest.test"]
    assert b"\r\n.\r\nMAIL FROM:<app@example.com>\r\n" in m.data
    r.close()


def test_memory_limit_applies(gw_factory, sink):
    g = gw(gw_factory, sink, **{"limits.memory": "1M",
                                "limits.message_size": "8M"})
    r = session(g)
    r.send(envelope())
    assert [r.reply()[0] for _ in range(2)] == [250, 250]
    r.send(b"BDAT 4000000 LAST\r\n")
    try:
        for _ in range(40):
            r.send((b"z" * 998 + b"\r\n") * 100)
    except OSError:                 # closed while we still sent
        pass
    code, text = r.reply()
    assert code == 421 and text.startswith("4.3.1"), (code, text)
    assert "limits.memory reached" in g.logtext()
    wait_for(lambda: stat(g, "memory_bytes") == 0, what="memory_bytes 0")
    assert sink.messages == []


@pytest.mark.skipif(not available(), reason="needs root and postfix")
@pytest.mark.parametrize("chunking", [True, False])
def test_postfix_receiver(gw_factory, sink, chunking):
    port = free_port()
    cf = {"debug_peer_list": "127.0.0.1"}      # logs the dialogue
    if not chunking:
        cf["smtpd_discard_ehlo_keywords"] = "chunking"
    pf = holding_receiver(port, cf)
    try:
        g = gw(gw_factory, sink)
        g.gwctl("route", "add", "--to-domain", "dest.test", "--smarthost",
                "127.0.0.1:%d" % port, "--tls", "none")
        r = session(g)
        r.send(envelope() + bdat(BODY, last=True))
        assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
        r.close()
        wait_for(lambda: g.events("action = 'delivered'"), timeout=30,
                 what="the delivery to Postfix")
        (q,) = wait_for(pf.held, what="Postfix's queue file")
        # The body arrived as sent, dots unstuffed either way.
        assert "\n.a line with a leading dot\n\n.\nafter a lone dot\n" in q
        # Postfix's smtpd hands its lines to postlogd, which writes them
        # when it gets to them: wait for the last command's.
        last = " LAST" if chunking else "< localhost[127.0.0.1]: DATA"
        log = wait_for(lambda: (lambda t: t if last in t else None)(
            pf.logtext()), what="Postfix logging the last command")
        sent_bdat = "BDAT " in log and " LAST" in log
        assert sent_bdat == chunking, log[-3000:]
        assert ("< localhost[127.0.0.1]: DATA" in log) == (not chunking)
    finally:
        pf.stop()


def test_idle_deadline_between_chunks(gw_factory, sink):
    # Between chunks the client is idle at the command prompt: the idle
    # deadline applies, not the (here hour-long) one for reading data.
    g = gw(gw_factory, sink, **{"limits.idle_timeout": "1s",
                                "limits.data_timeout": "1h"})
    r = session(g)
    r.send(envelope() + bdat(b"Subject: x\r\n"))
    assert [r.reply()[0] for _ in range(3)] == [250, 250, 250]
    r.sock.settimeout(60)
    code, text = r.reply()
    assert code == 421 and text.startswith("4.4.2"), (code, text)
