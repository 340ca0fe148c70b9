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
     3, 'listen: unknown setting "tsl" (one of address, port, tls, require_tls, ip_auth, role, '
        'proxy_protocol, trusted_proxies)'),
    ("proxy_protocol without trusted_proxies",
     'listen = ( { port = 2525; proxy_protocol = true; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     3, "listen: entry 1: proxy_protocol = true needs trusted_proxies"),
    ("trusted_proxies not a network",
     'listen = ( { port = 2525; proxy_protocol = true;\n'
     '  trusted_proxies = [ "127.0.0.1/32", "lb.example" ]; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     4, "listen.trusted_proxies: entry 2 is not an IP address or network"),
    ("trusted_proxies host bits",
     'listen = ( { port = 2525; proxy_protocol = true;\n'
     '  trusted_proxies = [ "10.1.2.3/8" ]; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     4, 'listen.trusted_proxies: "10.1.2.3/8" has bits set past its prefix'),
    ("trusted_proxies a string",
     'listen = ( { port = 2525; proxy_protocol = true;\n'
     '  trusted_proxies = "127.0.0.1"; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     4, "listen.trusted_proxies: expected a list of networks"),
    ("proxy_protocol not a bool",
     'listen = ( { port = 2525; proxy_protocol = "v2"; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     3, "listen.proxy_protocol: expected true or false"),
    ("smarthost without host", 'relay = {\n  mode = "smarthost";\n};\n',
     4, 'relay.host: required when relay.mode is "smarthost"'),
    ("listener without certificate", 'listen = ( { port = 2525; } );\n',
     3, "tls.certificate and tls.key are required"),
    ("retry order", 'queue = { retry_min = "2h";\n retry_max = "1h"; };\n',
     3, "queue.retry_min is longer than queue.retry_max"),
    ("unknown", 'relay = { mod = "mx"; };\n', 3, 'unknown setting "relay.mod"'),
    ("listen role", 'listen = ( { port = 25; role = "bounces"; } );\n'
     'tls = { certificate = "c"; key = "k"; };\n',
     3, 'listen.role: "bounces" is not one of submission, feedback'),
    ("feedback listener with no address", 'listen = ( { port = 25; '
     'role = "feedback"; } );\ntls = { certificate = "c"; key = "k"; };\n',
     3, 'a listener has role "feedback" but neither feedback.domains nor '
     'feedback.addresses is set'),
    ("feedback rate", 'feedback = { rate = "60 per minute"; };\n',
     3, 'feedback.rate: "60 per minute" is not a rate'),
    ("feedback domain", 'feedback = { domains = [ "bounces" ]; };\n',
     3, 'feedback.domains: "bounces" is not a domain name'),
    ("feedback address", 'feedback = { addresses = [ "fbl" ]; };\n',
     3, 'feedback.addresses: "fbl" is not an address'),
    ("complaint percent", 'limits = { complaint_pause_percent = "0.1.2"; };\n',
     3, 'limits.complaint_pause_percent = 0.1.2: expected a percentage from 0 '
     'to 100'),
    ("complaint percent range", 'limits = { complaint_pause_percent = 101; };\n',
     3, 'limits.complaint_pause_percent = 101: expected a percentage'),
    ("complaint percent digits",
     'limits = { complaint_pause_percent = "0.00001"; };\n',
     3, 'limits.complaint_pause_percent = 0.00001: expected a percentage'),
]


def test_complaint_percent_forms(tmp_path):
    """0.1, "0.25%", 5: percentages as gwd -n -v shows them back."""
    for v, shown in (("0.1", "0.1"), ('"0.25%"', "0.25"), ("5", "5"),
                     ("0", "0")):
        r, _ = gwd_n(tmp_path, BASE + "limits = { complaint_pause_percent = "
                     "%s; };\n" % v, "-v")
        assert r.returncode == 0, r.stderr
        line = [x for x in (r.stdout + r.stderr).splitlines()
                if "limits.complaint_pause_percent" in x]
        assert line and "= %s;" % shown in line[0], line


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


def test_n_v_prints_effective_configuration(tmp_path):
    r, conf = gwd_n(tmp_path, BASE + 'hostname = "gw.example.com";\n'
                    'limits = { recipients = 50; };\n'
                    'queue = { commit_window = "5ms"; };\n'
                    'relay = { mode = "smarthost"; host = "smtp.example.net";\n'
                    '  username = "u"; password = "hunter2"; };\n', "-v")
    assert r.returncode == 0, r.stderr
    rows = {}
    for l in r.stdout.splitlines():
        if " = " in l and not l.startswith("#"):
            name, rest = l.split(" = ", 1)
            value, _, note = rest.partition(" # ")
            rows.setdefault(name.strip(), (value.strip().rstrip(";"), note.strip()))
    assert rows["limits.recipients"] == ("50", "line 4, restart")
    assert rows["limits.message_size"] == ('"25M"', "default, live")
    assert rows["queue.commit_window"] == ('"5ms"', "line 5, live")
    assert rows["queue.lifetime"] == ('"5d"', "default, live")
    assert rows["relay.mode"] == ('"smarthost"', "line 6, restart")
    assert rows["dns.resolver"] == ('[ "127.0.0.1" ]', "line 2, live")
    assert rows["state_dir"][0] == '"%s/state"' % tmp_path
    assert rows["listen"] == ("( )", "default, restart")
    assert "hunter2" not in r.stdout
    assert r.stdout.rstrip().endswith("gwd: configuration OK")
    # Without -v, just the verdict.
    r = subprocess.run([GWD, "-n", "-c", conf], capture_output=True, text=True)
    assert r.stdout == "gwd: configuration OK\n"


@pytest.mark.parametrize("name,warn", [("gw.example.com", False),
                                       ("mybox", True),
                                       ("localhost.localdomain", True),
                                       ("192.0.2.1", True),
                                       ("mail-1.example.org", False)])
def test_hostname_not_fqdn_warns(tmp_path, name, warn):
    r, conf = gwd_n(tmp_path, BASE + 'hostname = "%s";\n' % name)
    assert r.returncode == 0, r.stderr
    msg = 'gwd: %s:3: warning: hostname "%s" is not a fully qualified domain name' % (conf, name)
    assert (msg in r.stderr) == warn, r.stderr


# --------------------------------------------------------------------------
# gwd -n finds what would only fail at start.

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def open_tmp():
    """A directory other users can reach (pytest's tmp_path is 0700)."""
    import pathlib
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="gw-conf-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d)


def test_missing_certificate_and_key_named(tmp_path):
    r, conf = gwd_n(tmp_path, BASE + 'listen = ( { port = 2525; } );\n'
                    'tls = {\n  certificate = "/nonexistent/cert.pem";\n'
                    '  key = "/nonexistent/key.pem";\n};\n')
    assert r.returncode == 78
    assert ("gwd: %s:5: tls.certificate: /nonexistent/cert.pem: No such file "
            "or directory" % conf) in r.stderr, r.stderr
    assert ("gwd: %s:6: tls.key: /nonexistent/key.pem: No such file or "
            "directory" % conf) in r.stderr, r.stderr
    assert "configuration OK" not in r.stdout


@needs_root
def test_unreadable_key_named(open_tmp):
    tmp_path = open_tmp
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(tmp_path / "key.pem"), "-out",
                    str(tmp_path / "cert.pem"), "-subj", "/CN=gw.test",
                    "-days", "2"], check=True, capture_output=True)
    os.chmod(tmp_path / "cert.pem", 0o644)
    os.chmod(tmp_path / "key.pem", 0o600)
    os.makedirs(tmp_path / "state")
    os.chown(tmp_path / "state", 65534, 65534)
    r, conf = gwd_n(tmp_path, BASE + 'listen = ( { port = 2525; } );\n'
                    'tls = { certificate = "cert.pem";\n key = "key.pem"; };\n')
    assert r.returncode == 0, r.stderr       # root reads it
    os.chmod(conf, 0o644)
    r = subprocess.run([GWD, "-n", "-c", conf], capture_output=True, text=True,
                       user=65534, group=65534, extra_groups=[])
    assert r.returncode == 78, r.stderr
    assert ("gwd: %s:5: tls.key: %s/key.pem: Permission denied"
            % (conf, tmp_path)) in r.stderr, r.stderr


@needs_root
def test_state_dir_the_user_cannot_reach(open_tmp):
    tmp_path = open_tmp
    locked = tmp_path / "locked"
    os.makedirs(locked, 0o700)
    text = ('state_dir = "%s/state";\nuser = "nobody";\n'
            'dns = { resolver = "127.0.0.1"; };\n' % locked)
    r, conf = gwd_n(tmp_path, text)
    assert r.returncode == 78, r.stderr
    assert ('gwd: %s:1: state_dir: user "nobody" cannot use %s/state: no '
            'search permission on %s' % (conf, locked, locked)) in r.stderr, r.stderr
    os.chmod(locked, 0o755)
    r, conf = gwd_n(tmp_path, text)      # gwd (root) will make it
    assert r.returncode == 0, r.stderr
    os.makedirs(locked / "state", 0o755)  # root's: not writable by nobody
    r, conf = gwd_n(tmp_path, text)
    assert r.returncode == 78, r.stderr
    assert ('gwd: %s:1: state_dir: user "nobody" cannot use %s/state: '
            'Permission denied' % (conf, locked)) in r.stderr, r.stderr


def test_man_page_reload_column_matches_the_table(tmp_path):
    """gwd.conf(5)'s RELOADING table says what gwd -n -v says."""
    import re
    man = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "man", "gwd.conf.5")
    doc = dict(re.findall(r"^\.It Cm (\S+) Ta (live|restart)$",
                          open(man).read(), re.M))
    r, _ = gwd_n(tmp_path, BASE, "-v")
    got = dict(re.findall(r"^(\S+) = .*, (live|restart)$", r.stdout, re.M))
    assert got and doc == got
