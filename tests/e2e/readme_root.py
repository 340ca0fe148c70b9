"""Run README.md's "Setting it up" as written, on a scratch root.

Started by test_readme.py as root inside `unshare --mount --net`: this
script lays overlays over /etc, /usr, /var, /run (and the home
directories), so whatever the README installs, creates or starts lands in
a scratch directory and vanishes with the namespace; the network
namespace has only its own loopback, so ports 587/465/2525 are free and
no mail leaves.  It copies the source tree to /usr/src/gw, optionally
runs scripts/demo.sh first (its port check, then a start), runs the
README block with `bash -e`, checks `gwd -n` says "configuration OK",
has the admin's edit point the relay at a sink on loopback, sends a
message through port 587 as the subaccount the README made, reloads
gwd (which re-reads gwd.conf as user gw), and runs the SIEM export unit.

systemd does not run here: `systemctl` is this script too (argv[1] ==
"systemctl"), doing what systemd does for the directives the units use
(ExecStartPre, ExecStart, Type=oneshot, User/Group, RuntimeDirectory,
LogsDirectory, SuccessExitStatus, reload as SIGHUP).

usage: readme_root.py SCRATCH REPO fresh|demo
       readme_root.py systemctl SCRATCH VERB [--now] UNIT...
"""
import os
import re
import shlex
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time

UNITS = "/etc/systemd/system"
SRC = "/usr/src/gw"


def die(msg):
    print("readme_root: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def run(cmd, **kw):
    print("+ " + (cmd if isinstance(cmd, str) else " ".join(cmd)), flush=True)
    return subprocess.run(cmd, **kw)


# --------------------------------------------------------------------------
# systemctl, for the directives gw's units use.

def unit_service(name):
    path = os.path.join(UNITS, name)
    if not os.path.exists(path):
        die("systemctl: no unit %s" % path)
    keys, section = {}, None
    for line in open(path):
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def as_user(keys, cmd):
    user = keys.get("User", [None])[-1]
    if not user:
        return cmd
    group = keys.get("Group", [user])[-1]
    return ["setpriv", "--reuid=" + user, "--regid=" + group,
            "--init-groups", "--"] + cmd


def make_dirs(keys):
    import pwd
    import grp
    user = keys.get("User", ["root"])[-1]
    uid = pwd.getpwnam(user).pw_uid
    gid = grp.getgrnam(keys.get("Group", [user])[-1]).gr_gid if user != "root" else 0
    for key, base in (("RuntimeDirectory", "/run"), ("LogsDirectory", "/var/log"),
                      ("StateDirectory", "/var/lib")):
        for d in keys.get(key, []):
            for name in d.split():
                p = os.path.join(base, name)
                os.makedirs(p, 0o755, exist_ok=True)
                os.chown(p, uid, gid)


def pidfile(scratch, unit):
    return os.path.join(scratch, "pids", unit)


def unit_start(scratch, unit):
    keys = unit_service(unit)
    make_dirs(keys)
    for pre in keys.get("ExecStartPre", []):
        r = run(as_user(keys, shlex.split(pre)))
        if r.returncode != 0:
            die("%s: ExecStartPre failed (%d)" % (unit, r.returncode))
    cmd = as_user(keys, shlex.split(keys["ExecStart"][-1]))
    if keys.get("Type", ["simple"])[-1] == "oneshot":
        ok = {0} | {int(x) for v in keys.get("SuccessExitStatus", []) for x in v.split()}
        r = run(cmd)
        if r.returncode not in ok:
            die("%s: exit %d" % (unit, r.returncode))
        return
    os.makedirs(os.path.dirname(pidfile(scratch, unit)), exist_ok=True)
    log = open(os.path.join(scratch, unit + ".log"), "ab")
    p = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    with open(pidfile(scratch, unit), "w") as f:
        f.write(str(p.pid))


def unit_pid(scratch, unit):
    try:
        return int(open(pidfile(scratch, unit)).read())
    except (OSError, ValueError):
        return None


def unit_stop(scratch, unit):
    pid = unit_pid(scratch, unit)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            if not os.path.exists("/proc/%d" % pid) or \
                    open("/proc/%d/stat" % pid).read().split()[2] == "Z":
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.unlink(pidfile(scratch, unit))


def systemctl(scratch, args):
    verb, names = args[0], [a for a in args[1:] if not a.startswith("-")]
    if verb == "daemon-reload":
        return
    for n in names:
        unit = n if "." in n else n + ".service"
        if verb == "enable" and "--now" not in args:
            continue
        if unit.endswith(".timer"):
            # Enabled; its service runs when the timer fires (the test
            # starts it).
            unit_service(unit.replace(".timer", ".service"))
            continue
        if verb in ("stop", "restart"):
            unit_stop(scratch, unit)
        if verb in ("start", "restart", "enable"):
            unit_start(scratch, unit)
        if verb == "reload":
            os.kill(unit_pid(scratch, unit), signal.SIGHUP)


# --------------------------------------------------------------------------
# The scratch root.

def overlay(scratch):
    run(["ip", "link", "set", "lo", "up"], check=True)
    for d in ("/etc", "/usr", "/var", "/run", "/root", "/home", "/opt", "/srv"):
        if not os.path.isdir(d) or os.path.islink(d):
            continue
        up = os.path.join(scratch, "upper" + d)
        work = os.path.join(scratch, "work" + d)
        os.makedirs(up)
        os.makedirs(work)
        run(["mount", "-t", "overlay", "overlay", "-o",
             "lowerdir=%s,upperdir=%s,workdir=%s" % (d, up, work), d], check=True)


def copy_source(repo):
    os.makedirs(SRC, 0o755)
    tar = subprocess.Popen(["tar", "-C", repo, "--exclude=./.git", "--exclude=./build-san",
                            "--exclude=./build-fuzz", "--exclude=./gw-demo", "-cf", "-", "."],
                           stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", SRC, "-xf", "-"], stdin=tar.stdout, check=True)
    if tar.wait() != 0:
        die("tar of %s failed" % repo)


def can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port, what, timeout=60):
    end = time.monotonic() + timeout
    while not can_connect(port):
        if time.monotonic() > end:
            die("nothing listens on %d (%s)" % (port, what))
        time.sleep(0.1)


def demo_first(env):
    # A taken port is named before any credentials are printed.
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 2587))
    busy.listen(1)
    try:
        r = run(["scripts/demo.sh"], cwd=SRC, capture_output=True, text=True,
                env=dict(env, GW_DEMO_PORTS="2587 2465 2525"), timeout=300)
    except subprocess.TimeoutExpired:
        die("demo.sh with port 2587 taken did not stop")
    busy.close()
    if r.returncode != 69 or "port 2587" not in r.stderr or "password" in r.stdout:
        die("demo.sh with port 2587 taken: %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
    # Then a real start, stopped once it serves.
    p = subprocess.Popen(["scripts/demo.sh"], cwd=SRC, env=env, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = ""
    for line in p.stdout:
        out += line
        if line.strip().startswith("password:"):
            break
    if "password:" not in out:
        die("demo.sh printed no password:\n" + out)
    wait_port(587, "demo gwd")
    p.send_signal(signal.SIGTERM)
    p.wait(30)
    print(out, flush=True)


def readme_block(readme):
    text = open(readme).read()
    m = re.search(r"<!-- setup:[^>]*-->\n(.*?)<!-- /setup -->", text, re.S)
    if m is None:
        die("README.md has no <!-- setup --> block")
    lines = []
    for l in m.group(1).splitlines():
        if l.strip() and not l.startswith("    "):
            die("README setup block: not a code line: %r" % l)
        lines.append(l[4:])
    return "\n".join(lines) + "\n"


def send_through(password, sink_port):
    from aiosmtpd.controller import Controller

    got = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 2.0.0 OK"

    sink = Controller(Handler(), hostname="127.0.0.1", port=sink_port)
    sink.start()
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with smtplib.SMTP("127.0.0.1", 587, timeout=30) as s:
            s.starttls(context=ctx)
            s.login("billing", password)
            s.sendmail("app@example.com", ["someone@example.net"],
                       b"From: app@example.com\r\nTo: someone@example.net\r\n"
                       b"Subject: readme setup\r\n\r\nhello\r\n")
        end = time.monotonic() + 60
        while not got and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        sink.stop()
    if got != [("app@example.com", ["someone@example.net"])]:
        die("the sink got %r" % got)


def main(scratch, repo, mode):
    overlay(scratch)
    copy_source(repo)
    bindir = os.path.join(scratch, "bin")
    os.makedirs(bindir)
    shim = os.path.join(bindir, "systemctl")
    with open(shim, "w") as f:
        f.write("#!/bin/sh\nexec %s %s systemctl %s \"$@\"\n"
                % (sys.executable, os.path.abspath(__file__), scratch))
    os.chmod(shim, 0o755)
    env = dict(os.environ, PATH=bindir + ":/usr/local/sbin:/usr/local/bin:"
               "/usr/sbin:/usr/bin:/sbin:/bin", HOME="/root")
    try:
        if mode == "demo":
            demo_first(env)
        r = run(["bash", "-e", "-c", readme_block(os.path.join(SRC, "README.md"))],
                cwd=SRC, env=env, capture_output=True, text=True, timeout=900)
        print(r.stdout, r.stderr, flush=True)
        if r.returncode != 0:
            die("README setup block failed (%d)" % r.returncode)
        if "gwd: configuration OK" not in r.stdout:
            die("gwd -n did not say configuration OK")
        m = re.search(r"^password: (\S+)$", r.stdout, re.M)
        if m is None:
            die("gwctl subaccount add printed no password")
        wait_port(587, "gwd from gwd.service")
        # The admin's edit: the relay, here a sink on loopback.
        conf = open("/etc/gw/gwd.conf").read()
        conf = conf.replace('mode = "mx";', 'mode = "smarthost"; host = "127.0.0.1";')
        conf = conf.replace("port = 25;                          # smarthost port",
                            "port = 2626;")
        open("/etc/gw/gwd.conf", "w").write(conf)
        r = run(["gwd", "-n"], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            die("gwd -n after the edit: %s" % r.stderr)
        run(["systemctl", "restart", "gwd"], env=env, check=True)
        wait_port(587, "gwd restarted")
        send_through(m.group(1), 2626)
        # systemctl reload: gwd, now user gw, re-reads the 0640 root:gw file.
        conf = open("/etc/gw/gwd.conf").read()
        open("/etc/gw/gwd.conf", "w").write(conf.replace(
            'message_size = "25M";', 'message_size = "20M";'))
        run(["systemctl", "reload", "gwd"], env=env, check=True)
        log = os.path.join(scratch, "gwd.service.log")
        end = time.monotonic() + 30
        while "1 setting changed" not in open(log).read():
            if time.monotonic() > end:
                die("no reload logged:\n" + open(log).read()[-2000:])
            time.sleep(0.1)
        # The SIEM export, as its timer would start it.
        run(["systemctl", "start", "gwsearch-export.service"], env=env, check=True)
        st = os.stat("/var/log/gw")
        import pwd
        if st.st_uid != pwd.getpwnam("gw").pw_uid:
            die("/var/log/gw is not gw's")
        audit = open("/var/log/gw/audit.jsonl").read()
        if "someone@example.net" not in audit:
            die("the export has no event of the message:\n" + audit[-2000:])
        # Bash completion, found the way bash-completion finds it.
        if os.path.exists("/usr/share/bash-completion/bash_completion"):
            r = run(["bash", "--norc", "-c",
                     "source /usr/share/bash-completion/bash_completion; "
                     "__load_completion gwctl; complete -p gwctl"],
                    env=env, capture_output=True, text=True)
            if "_gw_complete" not in r.stdout:
                die("bash-completion does not find gwctl's completion: %s%s"
                    % (r.stdout, r.stderr))
        print("readme_root: OK", flush=True)
    finally:
        pids = os.path.join(scratch, "pids")
        for unit in os.listdir(pids) if os.path.isdir(pids) else ():
            unit_stop(scratch, unit)
        for log in sorted(os.listdir(scratch)):
            if log.endswith(".log"):
                print("==> %s <==\n%s" % (log, open(os.path.join(scratch, log)).read()[-3000:]))


if __name__ == "__main__":
    if sys.argv[1] == "systemctl":
        systemctl(sys.argv[2], sys.argv[3:])
    else:
        main(sys.argv[1], sys.argv[2], sys.argv[3])
