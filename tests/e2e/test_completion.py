"""Bash completion of gwctl, gwsearch and gwtop: completion/gw.bash
driven the way bash drives it (COMP_WORDS split at COMP_WORDBREAKS,
COMP_CWORD, COMP_LINE, COMP_POINT), with and without the
bash-completion package's helpers; the candidates come from each
program's own tables (PROG --complete)."""
import os
import re
import shlex
import subprocess
import sqlite3

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GW_BUILD", os.path.join(REPO, "build"))
SCRIPT = os.path.join(REPO, "completion", "gw.bash")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
BREAKS = "\"'><=;|&(:"


def comp_words(line):
    """Readline's words: blanks separate, COMP_WORDBREAKS are words."""
    words = re.findall(r"[^\s%s]+|[%s]" % (re.escape(BREAKS), re.escape(BREAKS)), line)
    if not words or line[-1].isspace():
        words.append("")
    return words


def complete(line, cwd, with_helpers):
    words = comp_words(line)
    script = []
    if with_helpers:
        script.append("source %s" % BASH_COMPLETION)
    script += [
        "source %s" % SCRIPT,
        "COMP_LINE=%s" % shlex.quote(line),
        "COMP_POINT=%d" % len(line),
        "COMP_WORDS=(%s)" % " ".join(shlex.quote(w) for w in words),
        "COMP_CWORD=%d" % (len(words) - 1),
        "_gw_complete %s" % shlex.quote(words[0]),
        'printf "%s\\n" "${COMPREPLY[@]}"',
    ]
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(script)],
                       capture_output=True, text=True, cwd=cwd, timeout=30,
                       env=dict(os.environ, PATH=BUILD + ":" + os.environ["PATH"]))
    assert r.returncode == 0, r.stderr
    return sorted(l for l in r.stdout.splitlines() if l)


MODES = [False] + ([True] if os.path.exists(BASH_COMPLETION) else [])


@pytest.fixture
def conf(tmp_path):
    state = tmp_path / "state"
    c = tmp_path / "gwd.conf"
    c.write_text('state_dir = "%s";\ndns = { resolver = "127.0.0.1"; };\n' % state)
    subprocess.run([os.path.join(BUILD, "gwctl"), "-c", str(c), "subaccount",
                    "add", "acme", "--domain", "acme.com"], check=True,
                   capture_output=True)
    subprocess.run([os.path.join(BUILD, "gwctl"), "-c", str(c), "alert",
                    "add", "bounces", "--metric", "bounce_rate", "--above",
                    "5", "--notify", "mailto:ops@acme.com"], check=True,
                   capture_output=True)
    return c


CASES = [
    ("gwctl sub", ["subaccount"]),
    ("gwctl subaccount d", ["delete", "deny-ip", "disable", "dkim-org",
                            "domain-add", "domain-del"]),
    ("gwctl queue list --f", ["--format"]),
    ("gwctl queue list --format ", ["json", "table"]),
    ("gwctl --v", ["--version"]),
    ("gwctl -c {conf} subaccount disable a", ["acme"]),
    ("gwctl -c {conf} alert test ", ["bounces"]),
    ("gwctl alert add x --metric b", ["bounce_rate"]),
    ("gwctl -c ", ["gwd.conf", "state"]),
    ("gwsearch sta", ["stats", "status:"]),
    ("gwsearch status:deli", ["delivered"]),
    ("gwsearch class:mail", ["mailbox_full"]),
    ("gwsearch --status bo", ["bounced"]),
    ("gwsearch stats --by ", ["class", "domain", "hour", "subaccount"]),
    ("gwsearch export --f", ["--format"]),
    ("gwsearch -f cs", ["csv"]),
    ("gwtop --f", ["--format"]),
    ("gwtop --format ", ["json", "text"]),
    ("gwtop --screen d", ["destinations"]),
]


@pytest.mark.parametrize("helpers", MODES, ids=lambda h: "bash-completion" if h else "plain")
@pytest.mark.parametrize("line,want", CASES, ids=[c[0] for c in CASES])
def test_completes(conf, line, want, helpers):
    got = complete(line.format(conf=conf), str(conf.parent), helpers)
    if line.endswith("-c "):
        got = [g.rstrip("/") for g in got]
    assert got == want


def test_complete_is_registered():
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                        "source %s; complete -p gwctl gwsearch gwtop" % SCRIPT],
                       capture_output=True, text=True)
    assert r.stdout.splitlines() == ["complete -F _gw_complete gwctl",
                                     "complete -F _gw_complete gwsearch",
                                     "complete -F _gw_complete gwtop"]


def test_every_gwctl_command_completes():
    """The nouns and verbs offered are the table's: each one runs --help
    free of 'unknown command'."""
    nouns = subprocess.run([os.path.join(BUILD, "gwctl"), "--complete", "1",
                            "gwctl", ""], capture_output=True, text=True).stdout.split()
    assert "subaccount" in nouns and "queue" in nouns and "quit" not in nouns
    help_text = subprocess.run([os.path.join(BUILD, "gwctl"), "help"],
                               capture_output=True, text=True).stdout
    for noun in nouns:
        assert re.search(r"^  %s\b" % re.escape(noun), help_text, re.M), noun
