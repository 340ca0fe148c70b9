"""Delivery: the client's SMTP transaction against a server whose every
answer the test chooses (MAIL, each RCPT, DATA, the end of data), with
and without PIPELINING.  Each recipient ends with the reply that was
meant for it, and the commands go in the order RFC 5321 and RFC 2920
ask for."""
import select
import smtplib

import pytest

from conftest import LoopbackServer, client_tls_context, wait_for

RCPTS = ["r1@dest.test", "r2@dest.test", "r3@dest.test"]


def is_dsn(txn):
    return txn is not None and txn["mail"].startswith("FROM:<>")


class LineReader:
    """CRLF lines from a socket, and whether more bytes wait already."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.conn.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def pending(self):
        return bool(self.buf) or bool(
            select.select([self.conn], [], [], 0)[0])


class ScriptedServer(LoopbackServer):
    """An SMTP server on loopback.  `answer(verb, arg, txn)` gives the
    reply to MAIL, RCPT, DATA and "." (the end of data), or None for
    the usual 250/354; txn is the transaction so far (its "rcpts": the
    RCPT arguments, "accepted": those answered 2xx).  With pipelining,
    it advertises PIPELINING and answers MAIL and RCPT only together
    with DATA, as a server may (RFC 2920 3.1); a client that waited for
    each reply would never get one.  Without, a command that arrives
    before the reply to the one before is recorded in errors.  Every
    command is kept in commands, every transaction in txns."""

    def __init__(self, answer, pipelining):
        self.answer = answer
        self.pipelining = pipelining
        self.commands = []
        self.txns = []
        self.errors = []
        super().__init__()

    def session(self, conn):
        rd = LineReader(conn)
        held = []                   # pipelined replies not yet sent

        def reply(text, now):
            held.append(text + "\r\n")
            if now or not self.pipelining:
                conn.sendall("".join(held).encode())
                held.clear()

        conn.sendall(b"220 scripted.test ESMTP\r\n")
        txn = None
        while True:
            line = rd.line()
            if line is None:
                break
            cmd = line.decode()
            self.commands.append(cmd)
            verb, _, arg = cmd.partition(" ")
            verb = verb.upper()
            if not self.pipelining and rd.pending():
                self.errors.append("%s came with more unanswered" % cmd)
            if verb == "EHLO":
                caps = ["scripted.test"] + (
                    ["PIPELINING"] if self.pipelining else [])
                conn.sendall(self.ehlo_reply(caps))
            elif verb == "MAIL":
                txn = {"mail": arg, "rcpts": [], "accepted": [],
                       "body": []}
                self.txns.append(txn)
                reply(self.answer("MAIL", arg, txn) or "250 2.1.0 ok",
                      False)
            elif verb == "RCPT":
                addr = arg.split(":", 1)[1].strip("<>")
                txn["rcpts"].append(addr)
                r = self.answer("RCPT", addr, txn) or "250 2.1.5 ok"
                if r.startswith("2"):
                    txn["accepted"].append(addr)
                reply(r, False)
            elif verb == "DATA":
                r = self.answer("DATA", "", txn) or "354 go ahead"
                reply(r, True)
                if not r.startswith("354"):
                    continue
                while True:
                    body = rd.line()
                    if body is None or body == b".":
                        break
                    txn["body"].append(body)
                reply(self.answer(".", "", txn) or "250 2.0.0 queued",
                      True)
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 bye\r\n")
                break
            else:                       # RSET
                txn = None
                reply("250 2.0.0 ok", True)

    def mail_txns(self):
        """The transactions of the test's message (not its DSNs)."""
        return [t for t in self.txns if not is_dsn(t)]


def run(gw_factory, answer, pipelining):
    srv = ScriptedServer(answer, pipelining)
    g = gw_factory(relay={"mode": "smarthost", "host": "127.0.0.1",
                          "port": srv.port, "tls": "none"}).start()
    g.add_subaccount("app", "example.com", "s3cret-pass")
    msg = ("From: app@example.com\r\nTo: %s\r\nSubject: t\r\n\r\nbody\r\n"
           % ", ".join(RCPTS)).encode()
    with smtplib.SMTP("127.0.0.1", g.ports["submission"], timeout=10) as s:
        s.starttls(context=client_tls_context())
        s.login("app", "s3cret-pass")
        s.sendmail("app@example.com", RCPTS, msg)
    def outcomes():
        e = g.events("action IN ('delivered', 'bounced', 'deferred') "
                     "AND recipient LIKE 'r_@dest.test'")
        return len({x["recipient"] for x in e}) == len(RCPTS) and e

    ev = wait_for(outcomes, what="an outcome for each recipient",
                  timeout=30)
    srv.stop()
    first = {}
    for e in ev:
        first.setdefault(e["recipient"], e)
    return srv, first


def outcome(e):
    return (e["action"], e["reply_code"], e["reply_status"])


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelining"])
def pipelining(request):
    return request.param


def test_one_recipient_refused(gw_factory, pipelining):
    srv, ev = run(gw_factory, lambda verb, arg, txn:
                  "550 5.1.1 no such user" if arg == RCPTS[1] else None,
                  pipelining)
    assert outcome(ev[RCPTS[0]]) == ("delivered", 250, "2.0.0")
    assert outcome(ev[RCPTS[1]]) == ("bounced", 550, "5.1.1")
    assert "said: no such user" in ev[RCPTS[1]]["reply_text"]
    assert outcome(ev[RCPTS[2]]) == ("delivered", 250, "2.0.0")
    t = srv.mail_txns()
    assert [x["accepted"] for x in t] == [[RCPTS[0], RCPTS[2]]]
    assert t[0]["body"]
    assert srv.commands[1:6] == ["MAIL FROM:<app@example.com>"] + [
        "RCPT TO:<%s>" % r for r in RCPTS] + ["DATA"]
    assert srv.errors == []


def test_mail_refused(gw_factory, pipelining):
    def answer(verb, arg, txn):
        if is_dsn(txn):
            return None
        if verb == "MAIL":
            return "550 5.7.1 sender refused"
        return "503 5.5.1 no MAIL" if verb in ("RCPT", "DATA") else None

    srv, ev = run(gw_factory, answer, pipelining)
    for r in RCPTS:
        assert outcome(ev[r]) == ("bounced", 550, "5.7.1")
        assert "sender refused" in ev[r]["reply_text"]
    # Without PIPELINING nothing follows a refused MAIL but RSET.
    if not pipelining:
        assert srv.commands[2] == "RSET"
    assert not any(t["body"] for t in srv.mail_txns())
    assert srv.errors == []


def test_every_recipient_refused(gw_factory, pipelining):
    def answer(verb, arg, txn):
        if is_dsn(txn):
            return None
        if verb == "RCPT":
            return "550 5.1.1 no such user"
        # RFC 2920 3.1: a server may still answer DATA with 354; the
        # client then ends an empty message.
        return "554 5.5.1 nothing to send" if verb == "." else None

    srv, ev = run(gw_factory, answer, pipelining)
    for r in RCPTS:
        assert outcome(ev[r]) == ("bounced", 550, "5.1.1")
    assert not any(t["body"] for t in srv.mail_txns())
    i = srv.commands.index("RCPT TO:<%s>" % RCPTS[2])
    if pipelining:
        # DATA is out already: the message ends empty, no RSET needed.
        assert srv.commands[i + 1] == "DATA"
        assert srv.mail_txns()[0]["body"] == []
    else:
        # Nobody to send to: no DATA.
        assert srv.commands[i + 1] == "RSET"
    assert srv.errors == []


def test_too_many_recipients_go_in_the_next_transaction(gw_factory,
                                                        pipelining):
    # A server that takes one recipient per transaction: 452 to the rest
    # (RFC 5321 4.5.3.1.10) puts them back for the next transaction.
    srv, ev = run(gw_factory, lambda verb, arg, txn:
                  "452 4.5.3 too many recipients"
                  if verb == "RCPT" and len(txn["rcpts"]) > 1 else None,
                  pipelining)
    for r in RCPTS:
        assert outcome(ev[r]) == ("delivered", 250, "2.0.0")
    assert sorted(x["accepted"] for x in srv.mail_txns()) == [
        [r] for r in RCPTS]
    assert srv.errors == []


def test_data_refused(gw_factory, pipelining):
    srv, ev = run(gw_factory, lambda verb, arg, txn:
                  "554 5.6.0 not today"
                  if verb == "DATA" and not is_dsn(txn) else None,
                  pipelining)
    for r in RCPTS:
        assert outcome(ev[r]) == ("bounced", 554, "5.6.0")
    assert not any(t["body"] for t in srv.mail_txns())
    assert srv.commands[srv.commands.index("DATA") + 1] == "RSET"
    assert srv.errors == []


@pytest.mark.parametrize("reply,expect", [
    ("451 4.3.0 try later", ("deferred", 451, "4.3.0")),
    ("550 5.7.1 content refused", ("bounced", 550, "5.7.1")),
])
def test_reply_to_the_end_of_data(gw_factory, pipelining, reply, expect):
    srv, ev = run(gw_factory, lambda verb, arg, txn:
                  reply if verb == "." and not is_dsn(txn)
                  else None, pipelining)
    for r in RCPTS:
        assert outcome(ev[r]) == expect
        assert reply.split(" ", 2)[2] in ev[r]["reply_text"]
    assert srv.mail_txns()[0]["body"]
    assert srv.errors == []
