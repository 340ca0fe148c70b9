"""gwd.conf as gwd -n reads it: every error names the setting, its line
and what would be allowed; every error is reported, not just the first."""
import os
import subprocess

import pytest

BUILD = os.environ.get("GW_BUILD", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build"))
GWD = os.path.join(BUILD, "gwd")


def gwd_n(tmp_path, text, *args):
    conf = tmp_path / "gwd.conf"
    conf.write_text(text)
    r = subprocess.run([GWD, "-n", "-c", str(conf)] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r, str(conf)


BASE = 'state_dir = "state";\ndns = { resolver = "127.0.0.1"; };\n'

ERRORS = [
    ("enum lists its values", 'relay = { mode = "mxx"; };\n',
     3, 'relay.mode: "mxx" is not one of mx, smarthost'),
    ("duplicate group", 'relay = { mode = "mx"; };\nrelay = { port = 25; };\n',
     4, 'duplicate setting "relay" (first set on line 3)'),
    ("duplicate in a group", 'limits = {\n  recipients = 5;\n  recipients = 6;\n};\n',
     5, 'duplicate setting "limits.recipients" (first set on line 4)'),
    ("fraction for an integer", 'limits = { recipients = 100.5; };\n',
     3, "limits.recipients = 100.5: expected an integer from 1 to 100000"),
    ("integer out of range", 'limits = { recipients = 0; };\n',
     3, "limits.recipients = 0: expected an integer from 1 to 100000"),
    ("bool", 'syslog = "maybe";\n', 3, "syslog = maybe: expected true or false"),
    ("listen tls", 'listen = ( { port = 2525; tls = "ssl"; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     3, 'listen.tls: "ssl" is not one of starttls, implicit'),
    ("listen address is a name", 'listen = ( { address = "mail.example.com"; port = 25; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     3, 'listen.address: "mail.example.com" is not an IP address'),
    ("listen unknown", 'listen = ( { port = 25; tsl = "starttls"; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     3, 'listen: unknown setting "tsl" (one of address, port, tls, require_tls, ip_auth)'),
    ("smarthost without host", 'relay = {\n  mode = "smarthost";\n};\n',
     4, 'relay.host: required when relay.mode is "smarthost"'),
    ("listener without certificate", 'listen = ( { port = 2525; } );\n',
     3, "tls.certificate and tls.key are required"),
    ("retry order", 'queue = { retry_min = "2h";\n retry_max = "1h"; };\n',
     3, "queue.retry_min is longer than queue.retry_max"),
    ("unknown", 'relay = { mod = "mx"; };\n', 3, 'unknown setting "relay.mod"'),
]


@pytest.mark.parametrize("what,text,line,msg", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_names_setting_and_line(tmp_path, what, text, line, msg):
    r, conf = gwd_n(tmp_path, BASE + text)
    assert r.returncode == 78, r.stderr
    assert "gwd: %s:%d: %s" % (conf, line, msg) in r.stderr, r.stderr


def test_every_error_is_reported(tmp_path):
    r, conf = gwd_n(tmp_path, BASE + 'relay = { mode = "mxx"; port = 0; };\n'
                    'limits = { recipients = 1.5; memory = "lots"; };\n')
    assert r.returncode == 78
    lines = [l for l in r.stderr.splitlines() if l.startswith("gwd: " + conf)]
    assert len(lines) == 4, r.stderr
