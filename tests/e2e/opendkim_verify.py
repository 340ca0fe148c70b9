#!/usr/bin/python3
"""Verify a message with OpenDKIM's opendkim-testmsg, DNS from a zone we give.

opendkim-testmsg asks the system resolver (/etc/resolv.conf, port 53) and
has no option to point it elsewhere.  So this runs in network and mount
namespaces of its own (the caller starts it under `unshare --net --mount
--fork`): loopback up, a resolv.conf naming 127.0.0.1 bind-mounted over
the real one, a dnslib server on 127.0.0.1:53 serving the TXT records.

  opendkim_verify.py RECORDS.json MESSAGE
RECORDS.json: {"sel._domainkey.example.com": ["v=DKIM1; k=rsa; ", "p=..."]}
Exit status and output are opendkim-testmsg's.
"""
import json
import subprocess
import sys
import tempfile

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer


def main():
    records = json.load(open(sys.argv[1]))
    records = {k.lower().rstrip("."): v for k, v in records.items()}
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    rc = tempfile.NamedTemporaryFile("w", suffix=".resolv", delete=False)
    rc.write("nameserver 127.0.0.1\noptions attempts:1 timeout:2\n")
    rc.close()
    subprocess.run(["mount", "--bind", rc.name, "/etc/resolv.conf"], check=True)

    class Resolver(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            name = str(request.q.qname).rstrip(".").lower()
            if request.q.qtype == QTYPE.TXT and name in records:
                strings = records[name]
                if isinstance(strings, str):
                    strings = [strings]
                reply.add_answer(RR(name + ".", QTYPE.TXT, ttl=60,
                                    rdata=TXT([s.encode() for s in strings])))
            elif name not in records:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply

    for tcp in (False, True):
        DNSServer(Resolver(), port=53, address="127.0.0.1", tcp=tcp).start_thread()
    with open(sys.argv[2], "rb") as f:
        r = subprocess.run(["opendkim-testmsg"], stdin=f, capture_output=True,
                           text=True, timeout=60)
    sys.stdout.write(r.stdout + r.stderr)
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
