"""README.md's "Setting it up" runs as written, top to bottom, as root on
a scratch root (overlays in a private mount and network namespace: see
readme_root.py), on its own and after scripts/demo.sh: `gwd -n` says
"configuration OK", and a message goes through the installed gwd."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def namespaces_work():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "--mount", "--net", "true"], capture_output=True)
    return r.returncode == 0


pytestmark = pytest.mark.skipif(not namespaces_work(),
                                reason="needs root and unshare --mount --net")


@pytest.mark.parametrize("mode", ["fresh", "demo"])
def test_readme_setup_runs_as_written(mode):
    scratch = tempfile.mkdtemp(prefix="gw-readme-")
    try:
        r = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private",
                            "/usr/bin/python3", os.path.join(HERE, "readme_root.py"),
                            scratch, REPO, mode],
                           capture_output=True, text=True, timeout=1800)
        assert r.returncode == 0 and "readme_root: OK" in r.stdout, \
            (r.stdout[-6000:] + r.stderr[-4000:])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
