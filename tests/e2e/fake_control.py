"""A stand-in for gwd's control socket, for gwtop's display tests: it
answers `stats`, `destinations`, `pools` and `subaccounts` with lines
the test chose, in gwd's formats (gwd/control.c), so a screen can be
checked against figures no real run would hold still (a throttle
recovering at 500 ms, a subaccount paused, a pool of two addresses).

    ctl = FakeControl(path, destinations=["dest a.test queued=1 ..."])
    ...
    ctl.stop()
"""
import os
import socket
import threading

STATS = {"uptime_seconds": 7200, "sessions": 3, "connections_out": 12,
         "messages_received_total": 40, "delivered_total": 35,
         "deferred_total": 4, "bounced_total": 1}


def dest_line(name, queued=1, active=0, waiting=1, connections=0,
              next_attempt=0, age=(1, 0, 0, 0, 0, 0), via=None, limit=20,
              window=20, gap_ms=0, per_minute=0, throttled=0, error="-",
              health=None, tls=None, tls_verified=-1):
    """One line of `destinations`, as gwd writes it (health "1/2": up
    of its smarthosts; None: left out, as an older gwd does; tls the
    last attempt's policy and tls_verified its result, None: left
    out)."""
    return ("dest %s queued=%d active=%d waiting=%d connections=%d "
            "next_attempt=%d age=%s via=%s limit=%d window=%d gap_ms=%d "
            "per_minute=%d throttled=%d %s%serror=%s"
            % (name, queued, active, waiting, connections, next_attempt,
               ",".join(str(a) for a in age), via or name, limit, window,
               gap_ms, per_minute, throttled,
               "health=%s " % health if health else "",
               "tls=%s tls_verified=%d " % (tls, tls_verified) if tls
               else "", error))


def smarthost_line(name, up, failures=0, successes=0, changed=1700000000,
                   error="-"):
    """One smarthost's health line of `destinations`, as gwd writes it."""
    return ("smarthost %s up=%d failures=%d successes=%d changed=%d "
            "error=%s" % (name, up, failures, successes, changed, error))


# The fleet two tests show: a.test down, b.test up.
SMARTHOSTS = [smarthost_line("a.test:587", 0, failures=3,
                             error="check: connect: Connection refused"),
              smarthost_line("b.test:587", 1, successes=7)]


def sub_line(name, paused=False, reason="", quota_hour=0, used_hour=0):
    line = ("sub %s enabled=1 quota_hour=%d used_hour=%d quota_day=0 "
            "used_day=%d paused=%d" % (name, quota_hour, used_hour,
                                       used_hour, 1 if paused else 0))
    return line + (" reason=" + reason if paused else "")


class FakeControl:
    def __init__(self, path, stats=None, destinations=(), pools=(),
                 subaccounts=()):
        self.path = path
        self.stats = dict(STATS, **(stats or {}))
        self.destinations = list(destinations)
        self.pools = list(pools)
        self.subaccounts = list(subaccounts)
        self.asked = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(16)
        self.stop_ = False
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def answer(self, cmd):
        if cmd == "stats":
            return "".join("%s %d\n" % kv for kv in self.stats.items())
        if cmd.startswith("destinations"):
            return ("buckets 5 10 20 40 80 80+\n" +
                    "".join(d + "\n" for d in self.destinations))
        if cmd == "pools":
            return "".join(p + "\n" for p in self.pools) + "end\n"
        if cmd == "subaccounts":
            return "".join(s + "\n" for s in self.subaccounts)
        return "error unknown command\n"

    def run(self):
        while not self.stop_:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with c:
                c.settimeout(5)
                data = b""
                try:
                    while not data.endswith(b"\n"):
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    words = data.decode().strip().split(" ", 1)
                    cmd = words[1] if words[0] == "v1" and len(words) > 1 \
                        else " ".join(words)
                    self.asked.append(cmd)
                    c.sendall(self.answer(cmd).encode())
                except OSError:
                    pass

    def stop(self):
        self.stop_ = True
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
