"""gwctl: subaccounts, API keys, db init, prefixes, the shell.

Self-contained: each test gets a temp state dir and a minimal gwd.conf,
runs build/gwctl (or $GW_BUILD/gwctl) and checks gw.db with sqlite3.
"""
import base64
import hashlib
import json
import os
import pty
import pwd
import re
import select
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GW_BUILD", os.path.join(REPO, "build"))
GWCTL = os.path.join(BUILD, "gwctl")


class Gw:
    def __init__(self, d, extra=""):
        self.dir = d
        self.state = os.path.join(d, "state")
        self.conf = os.path.join(d, "gwd.conf")
        with open(self.conf, "w") as f:
            f.write('state_dir = "%s";\ndns = { resolver = "127.0.0.1"; };\n%s'
                    % (self.state, extra))

    def run(self, *args, stdin=None):
        return subprocess.run([GWCTL, "-c", self.conf] + list(args),
                              input=stdin, capture_output=True, text=True,
                              env=dict(os.environ, HOME=self.dir))

    def ok(self, *args, stdin=None):
        r = self.run(*args, stdin=stdin)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def db(self):
        return sqlite3.connect(os.path.join(self.state, "gw.db"))

    def q(self, sql, *params):
        with self.db() as db:
            return db.execute(sql, params).fetchall()


@pytest.fixture
def gw(tmp_path):
    return Gw(str(tmp_path))


def scrypt_verify(pw, stored):
    m = re.fullmatch(r"\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([^$]+)\$([^$]+)",
                     stored)
    assert m, stored
    ln, r, p = int(m[1]), int(m[2]), int(m[3])
    got = hashlib.scrypt(pw.encode(), salt=base64.b64decode(m[4]), n=2 ** ln,
                         r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    return got == base64.b64decode(m[5])


def password_of(out):
    m = re.fullmatch(r"password: ([A-Za-z0-9]{20})\n", out)
    assert m, out
    return m[1]


def test_help_version():
    r = subprocess.run([GWCTL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("usage: gwctl")
    assert "subaccount add NAME --domain DOMAIN" in r.stdout
    assert "apikey revoke KEYID" in r.stdout and "db init" in r.stdout
    r = subprocess.run([GWCTL, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and re.fullmatch(r"gwctl \d+\.\d+\.\d+\n",
                                              r.stdout)


def test_help_command_lists_table(gw):
    out = gw.ok("help", "apikey")
    assert out.splitlines()[0] == "  apikey add NAME [--label LABEL]"
    assert "subaccount add" not in out


def test_no_args_without_tty_is_usage(gw):
    r = subprocess.run([GWCTL, "-c", gw.conf], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    assert r.returncode == 64 and "usage: gwctl" in r.stderr


def test_add_generated_password(gw):
    out = gw.ok("subaccount", "add", "acme", "--domain", "Acme.COM",
                "--domain", "example.org")
    pw = password_of(out)
    (sid, enabled, stored, created, updated), = gw.q(
        "SELECT id, enabled, password, created, updated FROM subaccount "
        "WHERE name = 'acme'")
    assert enabled == 1 and abs(created - time.time()) < 60
    assert updated == created
    assert scrypt_verify(pw, stored) and not scrypt_verify(pw + "x", stored)
    assert gw.q("SELECT domain FROM subaccount_domain WHERE subaccount_id = ?"
                " ORDER BY domain", sid) == [("acme.com",), ("example.org",)]
    assert oct(os.stat(os.path.join(gw.state, "gw.db")).st_mode & 0o777) == \
        "0o600"


def test_add_password_stdin(gw):
    assert gw.ok("subaccount", "add", "beta", "--domain", "beta.net",
                 "--password-stdin", stdin="s3cret pass\n") == ""
    stored, = gw.q("SELECT password FROM subaccount")[0]
    assert scrypt_verify("s3cret pass", stored)


def test_add_refusals(gw):
    r = gw.run("subaccount", "add", "gamma", "--domain", "g.net",
               "--password-stdin", stdin="\n")
    assert r.returncode == 65 and "empty password" in r.stderr
    r = gw.run("subaccount", "add", "gamma", "--domain", "g.net",
               "--password-stdin", stdin="")
    assert r.returncode == 65
    r = gw.run("subaccount", "add", "gamma")
    assert r.returncode == 64
    assert "usage: gwctl subaccount add NAME --domain DOMAIN" in r.stderr
    for bad in ("Gamma", "-x", "a" * 65, "a b", "_a", "é"):
        r = gw.run("subaccount", "add", "--", bad, "--domain", "g.net")
        assert r.returncode in (64, 65), bad
    r = gw.run("subaccount", "add", "gamma", "--domain", "not_a domain")
    assert r.returncode == 65 and "not a valid domain" in r.stderr
    r = gw.run("subaccount", "add", "gamma", "--domain", "g.net", "--bogus")
    assert r.returncode == 64 and "unknown option --bogus" in r.stderr
    assert gw.q("SELECT count(*) FROM subaccount") == [(0,)]
    gw.ok("subaccount", "add", "gamma", "--domain", "g.net")
    r = gw.run("subaccount", "add", "gamma", "--domain", "h.net")
    assert r.returncode == 65 and "already exists" in r.stderr
    assert gw.q("SELECT domain FROM subaccount_domain") == [("g.net",)]


def test_valid_name_edges(gw):
    gw.ok("subaccount", "add", "a" * 64, "--domain", "x.net")
    gw.ok("subaccount", "add", "0a.b_c-d", "--domain", "x.net")
    assert gw.q("SELECT count(*) FROM subaccount") == [(2,)]


def test_list_table_and_json(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    gw.ok("subaccount", "add", "beta", "--domain", "b.net", "--domain",
          "a.net")
    gw.ok("subaccount", "allow-ip", "acme", "192.0.2.7/24", "2001:DB8::1")
    key = gw.ok("apikey", "add", "acme").split()[1]
    gw.ok("subaccount", "disable", "beta")
    lines = gw.ok("subaccount", "list").splitlines()
    assert lines[0].split() == ["NAME", "ENABLED", "DOMAINS", "ALLOWED",
                                "IPS", "API", "KEYS", "QUOTA", "H/D",
                                "CREATED"]
    assert lines[1].split()[:5] == ["acme", "yes", "acme.com",
                                    "192.0.2.0/24,2001:db8::1", key[:16]]
    assert lines[2].split()[:5] == ["beta", "no", "a.net,b.net", "-", "-"]
    assert len(lines) == 3
    rows = [json.loads(line) for line in
            gw.ok("subaccount", "list", "--format", "json").splitlines()]
    assert [r["name"] for r in rows] == ["acme", "beta"]
    a = rows[0]
    assert a["enabled"] is True and a["has_password"] is True
    assert a["domains"] == ["acme.com"]
    assert a["allowed_ips"] == ["192.0.2.0/24", "2001:db8::1"]
    assert a["api_keys"] == [key[:16]]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["created"])
    assert rows[1]["enabled"] is False and rows[1]["allowed_ips"] == []
    assert (a["quota_hour"], a["quota_day"]) == (0, 0)
    r = gw.run("subaccount", "list", "--format", "xml")
    assert r.returncode == 64


def test_empty_list_prints_header(gw):
    """An empty table is seen to be one: its header, nothing under it
    (JSON lines: nothing at all)."""
    heads = {("subaccount", "list"): "NAME  ENABLED  DOMAINS",
             ("apikey", "list"): "KEY ID  SUBACCOUNT",
             ("dkim", "list"): "DOMAIN  SELECTOR",
             ("route", "list"): "POS  ID  MATCH  ACTION",
             ("pool", "list"): "POOL",
             ("throttle", "list"): "DOMAIN",
             ("suppression", "list"): "ADDRESS"}
    for cmd, head in heads.items():
        out = gw.ok(*cmd)
        assert len(out.splitlines()) == 1 and out.startswith(head), (cmd, out)
        assert gw.ok(*cmd, "--format", "json") == "", cmd


def test_noun_help_and_command_help(gw):
    """`gwctl NOUN --help`, `gwctl NOUN help` and `gwctl NOUN VERB --help`
    answer on stdout with 0, as `help NOUN` does."""
    want = gw.ok("help", "route")
    for how in ("--help", "help", "-h"):
        r = gw.run("route", how)
        assert (r.returncode, r.stdout, r.stderr) == (0, want, ""), how
    assert gw.ok("sub", "--help") == gw.ok("help", "subaccount")
    r = gw.run("subaccount", "passwd", "--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.splitlines() == [
        "usage: gwctl subaccount passwd NAME [--password-stdin]",
        "  set a new password; prints it unless --password-stdin"]
    # Nothing was done: --help is not run with the other words.
    r = gw.run("subaccount", "add", "x", "--domain", "x.test", "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: gwctl subaccount")
    assert not os.path.exists(os.path.join(gw.state, "gw.db")) or \
        gw.q("SELECT count(*) FROM subaccount") == [(0,)]


def test_help_never_cuts_a_usage_line(gw):
    """Long synopses wrap at 79 columns under themselves, an option kept
    with its argument; every word of the synopsis is there."""
    out = gw.ok("help")
    assert max(len(l) for l in out.splitlines()) <= 79, out
    text = " ".join(out.split())
    for want in ("route add [--subaccount S] [--from-domain P] [--to-domain P]"
                 " [--header 'NAME: VALUE'] [--size-over N] [--size-under N]"
                 " [--priority transactional|bulk] [--bulk] [--pool POOL]"
                 " [--smarthost 'HOST[:PORT] ...' | --mx]"
                 " [--auth-user USER --auth-password-stdin] [--tls POLICY]"
                 " [--hold | --reject 'CODE X.Y.Z TEXT'] [--archive yes|no]"
                 " [--position N]",
                 "route test --from ADDR --to ADDR [--subaccount S]"
                 " [--header 'NAME: VALUE' ...] [--size N]"):
        assert want in text
    lines = out.splitlines()
    i = lines.index("  route add [--subaccount S] [--from-domain P] "
                    "[--to-domain P]")
    assert lines[i + 1] == "            [--header 'NAME: VALUE'] " \
        "[--size-over N] [--size-under N]"
    r = gw.run("route", "add", "--bogus")
    assert r.returncode == 64
    assert max(len(l) for l in r.stderr.splitlines()) <= 79, r.stderr
    assert "[--position N]" in r.stderr


def touch0(gw, name):
    with gw.db() as db:
        db.execute("UPDATE subaccount SET updated = 0 WHERE name = ?", (name,))


def updated(gw, name):
    return gw.q("SELECT updated FROM subaccount WHERE name = ?", name)[0][0]


def test_enable_disable_bump_updated(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    touch0(gw, "acme")
    gw.ok("subaccount", "disable", "acme")
    assert gw.q("SELECT enabled FROM subaccount") == [(0,)]
    assert updated(gw, "acme") > 0
    touch0(gw, "acme")
    gw.ok("subaccount", "enable", "acme")
    assert gw.q("SELECT enabled FROM subaccount") == [(1,)]
    assert updated(gw, "acme") > 0


def test_unknown_subaccount(gw):
    gw.ok("db", "init")
    for args in (("subaccount", "disable", "nosuch"),
                 ("subaccount", "enable", "nosuch"),
                 ("subaccount", "delete", "nosuch"),
                 ("subaccount", "passwd", "nosuch"),
                 ("subaccount", "allow-ip", "nosuch", "192.0.2.1"),
                 ("subaccount", "domain-add", "nosuch", "x.net"),
                 ("apikey", "add", "nosuch"),
                 ("apikey", "list", "nosuch")):
        r = gw.run(*args)
        assert r.returncode == 67, args
        assert r.stderr == 'gwctl: no subaccount "nosuch"\n', args


def test_passwd(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com",
          "--password-stdin", stdin="old\n")
    touch0(gw, "acme")
    pw = password_of(gw.ok("subaccount", "passwd", "acme"))
    stored = gw.q("SELECT password FROM subaccount")[0][0]
    assert scrypt_verify(pw, stored) and not scrypt_verify("old", stored)
    assert updated(gw, "acme") > 0
    assert gw.ok("subaccount", "passwd", "acme", "--password-stdin",
                 stdin="new one\r\n") == ""
    assert scrypt_verify("new one", gw.q("SELECT password FROM subaccount")[0][0])
    r = gw.run("subaccount", "passwd", "acme", "--password-stdin", stdin="\n")
    assert r.returncode == 65
    assert scrypt_verify("new one", gw.q("SELECT password FROM subaccount")[0][0])


def test_allow_deny_ip(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    touch0(gw, "acme")
    gw.ok("subaccount", "allow-ip", "acme", "192.0.2.77/24", "10.1.2.3",
          "2001:DB8:0:0::/32")
    ips = lambda: [r[0] for r in gw.q("SELECT cidr FROM subaccount_ip "
                                      "ORDER BY cidr")]
    assert ips() == ["10.1.2.3", "192.0.2.0/24", "2001:db8::/32"]
    assert updated(gw, "acme") > 0
    gw.ok("subaccount", "allow-ip", "acme", "192.0.2.0/24")      # no-op
    # One bad network: nothing of the command is applied.
    r = gw.run("subaccount", "allow-ip", "acme", "198.51.100.0/24", "300.1.1.1")
    assert r.returncode == 65 and "300.1.1.1" in r.stderr
    r = gw.run("subaccount", "allow-ip", "acme", "10.0.0.0/33")
    assert r.returncode == 65
    assert len(ips()) == 3
    gw.ok("subaccount", "deny-ip", "acme", "192.0.2.9/24", "10.1.2.3")
    assert ips() == ["2001:db8::/32"]
    r = gw.run("subaccount", "deny-ip", "acme", "2001:db8::/32", "10.9.9.9")
    assert r.returncode == 65 and "10.9.9.9" in r.stderr
    assert ips() == ["2001:db8::/32"]                      # rolled back
    assert gw.run("subaccount", "allow-ip", "acme").returncode == 64


def test_allow_ip_says_when_host_bits_are_dropped(gw):
    """10.1.2.3/8 is stored as 10.0.0.0/8: said, not done silently."""
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    r = gw.run("subaccount", "allow-ip", "acme", "10.1.2.3/8",
               "2001:db8::1/32", "192.0.2.0/24", "198.51.100.7")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "gwctl: 10.1.2.3/8 has host bits set: taken as 10.0.0.0/8",
        "gwctl: 2001:db8::1/32 has host bits set: taken as 2001:db8::/32"]
    assert sorted(c for (c,) in gw.q("SELECT cidr FROM subaccount_ip")) == [
        "10.0.0.0/8", "192.0.2.0/24", "198.51.100.7", "2001:db8::/32"]


def test_domains(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    gw.ok("subaccount", "domain-add", "acme", "Mail.Acme.COM.", "acme.org")
    doms = lambda: [r[0] for r in gw.q("SELECT domain FROM subaccount_domain "
                                       "ORDER BY domain")]
    assert doms() == ["acme.com", "acme.org", "mail.acme.com"]
    r = gw.run("subaccount", "domain-add", "acme", "bad..domain")
    assert r.returncode == 65
    gw.ok("subaccount", "domain-del", "acme", "ACME.org", "mail.acme.com")
    assert doms() == ["acme.com"]
    r = gw.run("subaccount", "domain-del", "acme", "acme.com")
    assert r.returncode == 65 and "no sender domain left" in r.stderr
    r = gw.run("subaccount", "domain-del", "acme", "other.com")
    assert r.returncode == 65
    assert doms() == ["acme.com"]


def test_apikeys(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    gw.ok("subaccount", "add", "beta", "--domain", "beta.net")
    out = gw.ok("apikey", "add", "acme", "--label", "ci bot")
    m = re.fullmatch(r"apikey: (gwk_([0-9a-f]{12})_[0-9a-f]{40})\n", out)
    assert m
    key, kid = m[1], "gwk_" + m[2]
    (h, label, sid), = gw.q("SELECT hash, label, subaccount_id FROM api_key "
                            "WHERE key_id = ?", kid)
    assert h == hashlib.sha256(key.encode()).hexdigest()
    assert label == "ci bot"
    key2 = gw.ok("apikey", "add", "beta").split()[1]
    rows = [json.loads(line) for line in
            gw.ok("apikey", "list", "--format", "json").splitlines()]
    assert [(r["key_id"], r["subaccount"], r["label"]) for r in rows] == [
        (kid, "acme", "ci bot"), (key2[:16], "beta", None)]
    lines = gw.ok("apikey", "list", "beta").splitlines()
    assert lines[0].split() == ["KEY", "ID", "SUBACCOUNT", "CREATED", "LABEL"]
    assert lines[1].split()[:2] == [key2[:16], "beta"] and len(lines) == 2
    assert key not in gw.ok("apikey", "list")
    r = gw.run("apikey", "add", "acme", "--label", "a\x01b")
    assert r.returncode == 65
    gw.ok("apikey", "revoke", kid)
    assert gw.q("SELECT count(*) FROM api_key WHERE key_id = ?", kid) == [(0,)]
    r = gw.run("apikey", "revoke", kid)
    assert r.returncode == 67 and "no API key" in r.stderr
    assert gw.run("apikey", "revoke", "not-a-key").returncode == 65


def test_delete_cascades(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    gw.ok("subaccount", "allow-ip", "acme", "192.0.2.1")
    gw.ok("apikey", "add", "acme")
    gw.ok("subaccount", "add", "keep", "--domain", "keep.com")
    gw.ok("subaccount", "delete", "acme")
    assert gw.q("SELECT name FROM subaccount") == [("keep",)]
    for t in ("subaccount_ip", "api_key"):
        assert gw.q("SELECT count(*) FROM " + t) == [(0,)]
    assert gw.q("SELECT domain FROM subaccount_domain") == [("keep.com",)]


def test_prefixes(gw):
    gw.ok("sub", "add", "acme", "--domain", "acme.com")
    assert gw.ok("sub", "l").splitlines()[1].startswith("acme ")
    assert gw.ok("subaccount", "li", "--format", "json").startswith('{"name"')
    gw.ok("sub", "dis", "acme")
    assert gw.q("SELECT enabled FROM subaccount") == [(0,)]
    r = gw.run("s", "l")        # subaccount or shell
    assert r.returncode == 64 and "ambiguous" in r.stderr
    r = gw.run("sub", "d", "acme")
    assert r.returncode == 64
    assert "disable, delete, deny-ip, domain-add, domain-del" in r.stderr
    r = gw.run("frobnicate")
    assert r.returncode == 64 and 'unknown command "frobnicate"' in r.stderr
    r = gw.run("subaccount")
    assert r.returncode == 64 and "missing verb" in r.stderr


def test_db_init(gw):
    out = gw.ok("db", "init")
    assert out.splitlines() == ["%s/%s: schema version %d" % (gw.state, f, v)
                                for f, v in (("gw.db", 15), ("queue.db", 13),
                                             ("log.db", 9))]
    with sqlite3.connect(os.path.join(gw.state, "log.db")) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (9,)
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert {"event", "event_rcpt", "event_fts", "event_tally",
                "event_latency"} <= names
    assert gw.ok("db", "init") == out          # idempotent


def test_bad_config(tmp_path):
    conf = tmp_path / "gwd.conf"
    conf.write_text("state_dir = 5;\n")
    r = subprocess.run([GWCTL, "-c", str(conf), "subaccount", "list"],
                       capture_output=True, text=True)
    assert r.returncode == 78
    assert r.stderr.startswith("gwctl: %s:1:" % conf)


def test_missing_config_default_path_named():
    r = subprocess.run([GWCTL, "-c", "/nonexistent/gwd.conf", "sub", "list"],
                       capture_output=True, text=True)
    assert r.returncode == 78 and "/nonexistent/gwd.conf" in r.stderr


def test_shell_from_stdin(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    r = gw.run("shell", stdin="sub l --format json\n\nbogus\nap l\n"
               "quit\nsub l\n")
    assert r.stdout.splitlines()[0].startswith('{"name":"acme"')
    assert r.stdout.splitlines()[1].startswith("KEY ID")    # no keys yet
    assert len(r.stdout.splitlines()) == 2       # after quit: nothing
    assert 'unknown command "bogus"' in r.stderr


def pty_session(gw, keys, settle=0.8):
    """Type keys into an interactive gwctl; return what the screen got."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["HOME"] = gw.dir
        os.environ["TERM"] = "xterm"
        os.environ.pop("EDITRC", None)
        os.execv(GWCTL, [GWCTL, "-c", gw.conf])
    out = b""

    def drain(t):
        nonlocal out
        end = time.time() + t
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    return
    drain(settle)
    for k in keys:
        os.write(fd, k.encode())
        drain(0.4)
    drain(settle)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return out.decode("utf-8", "replace")


def test_shell_tty_completion_and_history(gw):
    gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
    gw.ok("subaccount", "add", "zeta", "--domain", "zeta.com")
    out = pty_session(gw, ["sub\t", "dis\t", "z\t", "\r",
                           "ap\t", "l\t", "\r", "quit\r"])
    assert "gwctl> " in out
    assert gw.q("SELECT name, enabled FROM subaccount ORDER BY name") == [
        ("acme", 1), ("zeta", 0)]
    hist = open(os.path.join(gw.dir, ".gwctl_history")).read()
    assert "subaccount\\040disable\\040zeta" in hist
    assert "apikey\\040list" in hist


def test_shell_tty_lists_choices(gw):
    gw.ok("db", "init")
    out = pty_session(gw, ["subaccount d\t", "\x15", "quit\r"])
    assert "disable  delete  deny-ip  domain-add  domain-del" in out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_drops_privileges_to_user():
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    d = tempfile.mkdtemp(prefix="gwctl-priv-")
    try:
        os.chmod(d, 0o755)
        gw = Gw(d, 'user = "nobody";\n')
        gw.state = os.path.join(d, "var", "lib", "gw")
        with open(gw.conf, "w") as f:
            f.write('state_dir = "%s";\nuser = "nobody";\n'
                    'dns = { resolver = "127.0.0.1"; };\n' % gw.state)
        gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
        st = os.stat(gw.state)
        assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        assert oct(st.st_mode & 0o777) == "0o750"
        st = os.stat(os.path.join(gw.state, "gw.db"))
        assert st.st_uid == nobody.pw_uid
        assert os.stat(os.path.join(d, "var")).st_uid == 0
    finally:
        shutil.rmtree(d)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_shell_history_kept_when_dropping_to_user():
    """Root's shell becomes `user`; its history, in root's own home,
    still grows (libedit's save used to fail on fchmod after the drop,
    leaving the file truncated to nothing)."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    d = tempfile.mkdtemp(prefix="gwctl-hist-")
    try:
        os.chmod(d, 0o755)
        home = os.path.join(d, "home")
        os.makedirs(home, 0o700)           # root's: nobody cannot write here
        gw = Gw(d, 'user = "nobody";\n')
        gw.ok("subaccount", "add", "acme", "--domain", "acme.com")
        gw.dir = home
        hist = os.path.join(home, ".gwctl_history")
        with open(hist, "w") as f:
            f.write("_HiStOrY_V2_\nsubaccount\\040list\n")
        os.chmod(hist, 0o600)
        out = pty_session(gw, ["subaccount disable acme\r", "quit\r"])
        assert "gwctl> " in out
        text = open(hist).read()
        assert "subaccount\\040list" in text, text
        assert "subaccount\\040disable\\040acme" in text, text
        st = os.stat(hist)
        assert (st.st_uid, oct(st.st_mode & 0o777)) == (0, "0o600")
        assert [f for f in os.listdir(home)] == [".gwctl_history"]
        assert gw.q("SELECT enabled FROM subaccount") == [(0,)]
    finally:
        shutil.rmtree(d)
