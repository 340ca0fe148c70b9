"""The man pages as an admin reads them: mandoc -Tlint clean (style
included), no quotes nested by mistake in what is rendered, and the
examples that can be run give what they show."""
import glob
import os
import re
import subprocess

import pytest

from conftest import BUILD

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PAGES = sorted(glob.glob(os.path.join(REPO, "man", "*.[0-9]")))


def render(page):
    r = subprocess.run(["mandoc", "-Tutf8", page], capture_output=True,
                       text=True, check=True)
    return re.sub(r".\x08", "", r.stdout)


def test_lint_clean_with_style():
    """Style messages too: "no blank before trailing delimiter" is how
    mandoc reports a word it may split from its punctuation.  Only
    references to pages this machine lacks are let through."""
    for page in PAGES:
        r = subprocess.run(["mandoc", "-Tlint", "-Wstyle", page],
                           capture_output=True, text=True)
        bad = [l for l in (r.stdout + r.stderr).splitlines()
               if "referenced manual not found" not in l
               and "outdated mandoc.db" not in l]
        assert bad == [], bad


def test_no_nested_quotes_rendered():
    """`.Pq Ql a , Ql b` quotes the second inside the first ('a, 'b'');
    `.Ql x No text` quotes the text too.  None of that is rendered."""
    for page in PAGES:
        text = " ".join(render(page).split())
        # An opening quote inside an open one, or two closings in a row.
        for m in re.finditer(r"‘[^’]*‘|’’|“[^”]*“|””", text):
            raise AssertionError("%s: %r" % (os.path.basename(page),
                                 text[max(0, m.start() - 40):m.end() + 20]))


def test_gwctl_db_init_example_versions(tmp_path):
    """gwctl(8)'s `db init` example shows the schema versions gwctl
    really prints on a new state_dir."""
    conf = tmp_path / "gwd.conf"
    conf.write_text('state_dir = "%s";\n' % (tmp_path / "state"))
    r = subprocess.run([os.path.join(BUILD, "gwctl"), "-c", str(conf), "db",
                        "init"], capture_output=True, text=True, check=True)
    real = re.findall(r"/(\w+\.db): schema version (\d+)", r.stdout)
    shown = re.findall(r"^/var/lib/gw/(\w+\.db): schema version (\d+)$",
                       open(os.path.join(REPO, "man", "gwctl.8")).read(),
                       re.M)
    assert len(real) == 3 and shown == real


def test_gwtop_files_and_environment():
    text = render(os.path.join(REPO, "man", "gwtop.1"))
    files = text.split("FILES", 1)[1].split("EXIT STATUS", 1)[0]
    assert "state_dir" in files and "-wal" in files
    env = text.split("ENVIRONMENT", 1)[1].split("FILES", 1)[0]
    assert "NO_COLOR" in env and "TERM" in env


def test_gwd_control_socket_example_runs(gw_factory):
    """gwd(8)'s example for scripts, run as written against a running
    gwd (its socket path put in): no `nc -U`, which Debian's default
    netcat lacks."""
    src = open(os.path.join(REPO, "man", "gwd.8")).read()
    assert "nc -U" not in src
    cmds = re.findall(r"^\$ (.*UNIX-CONNECT:/run/gw/control.*)$", src, re.M)
    assert len(cmds) == 1
    assert "apt-get install socat" in " ".join(render(
        os.path.join(REPO, "man", "gwd.8")).split())
    g = gw_factory()
    g.start()
    sock = os.path.join(g.state, "control")
    r = subprocess.run(["sh", "-c", cmds[0].replace("/run/gw/control",
                                                    sock)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^messages_received_total \d+$", r.stdout, re.M), \
        r.stdout
