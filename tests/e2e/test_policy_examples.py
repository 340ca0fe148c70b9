"""examples/policies/*.sh (issue 11): each policy set loads cleanly into a
new gw.db with the real gwctl, in the order written, and `gwctl policy
test` on sample messages (made with Python's email package) fires the
policies the example's comments promise, with nothing shown unmasked."""
import io
import json
import os
import subprocess
import zipfile
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP

import pytest

from conftest import BUILD

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples",
                        "policies")
CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444", "4012888888881881",
         "378282246310005", "6011111111111117", "3530111333300000",
         "5105105105105100", "4222222222222", "2223003122003222",
         "6011000990139424", "371449635398431"]


def load(g, name):
    env = dict(os.environ, GWCTL="%s -c %s" % (os.path.join(BUILD, "gwctl"),
                                               g.conf))
    r = subprocess.run(["sh", "-e", os.path.join(EXAMPLES, name)], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # Clean: nothing but each policy's "added" line.
    assert r.stderr == "", r.stderr
    return [json.loads(l) for l in
            g.gwctl("policy", "list", "--format", "json").stdout.splitlines()]


def mail(body, subject="t", attach=None):
    m = MIMEMultipart()
    m["From"] = "app@example.com"
    m["To"] = "user@dest.test"
    m["Subject"] = subject
    m.attach(MIMEText(body))
    if attach:
        name, data = attach
        a = MIMEApplication(data, Name=name)
        a["Content-Disposition"] = 'attachment; filename="%s"' % name
        m.attach(a)
    return m.as_bytes(policy=SMTP)


def fired(g, data):
    out = g.gwctl("policy", "test", "-", input=data.decode()).stdout
    names = [l.split()[1] for l in out.splitlines()
             if l.startswith("policy ") and ": fires," in l]
    decision = [l for l in out.splitlines() if l.startswith("decision:")][0]
    return names, decision, out


def test_healthcare_example(gw_factory):
    g = gw_factory(relay=None)
    rows = load(g, "healthcare.sh")
    assert [r["name"] for r in rows] == ["exe", "macro", "phi-bulk", "phi",
                                         "ssn", "locked", "sensitive"]
    assert rows[3]["notify"] == "privacy-officer@hospital.example"
    note = ("Patient seen today.  Diagnosis: E11.9, also I10.\n"
            "MRN: 7654321\nSSN 123-45-6789\n")
    names, decision, out = fired(g, mail(note))
    assert names == ["phi", "ssn"], out
    assert decision.startswith("decision: quarantine"), out
    for v in ("E11.9", "7654321", "123-45-6789"):
        assert v not in out
    roster = "Patients and diagnoses:\n" + "".join(
        "patient %d MRN %07d diagnosis J45.%d\n" % (i, 1000000 + i, i)
        for i in range(4))
    names, decision, out = fired(g, mail(roster))
    assert "phi-bulk" in names and "block" in decision, out
    names, decision, out = fired(g, mail("see the psychiatric referral"))
    assert names == ["sensitive"] and "X-GW-Policy" in decision, out
    names, decision, out = fired(g, mail("hi", attach=("setup.exe",
                                                      b"MZ\x90\x00" * 64)))
    assert names == ["exe"] and "block" in decision, out
    names, decision, out = fired(g, mail("Part E11 ships Monday, order "
                                         "1234567."))
    assert names == [] and decision == "decision: deliver", out


def test_payments_example(gw_factory):
    g = gw_factory(relay=None)
    rows = load(g, "payments.sh")
    assert [r["name"] for r in rows] == ["exe", "macro", "pan-bulk", "pan",
                                         "cvv", "iban", "locked"]
    names, decision, out = fired(g, mail("card %s exp 12/29 CVV: 123\n"
                                         % CARDS[0]))
    assert names == ["pan", "cvv"], out
    assert decision == "decision: deliver redacted", out
    assert CARDS[0] not in out and "4111 **** **** 1111" in out
    names, decision, out = fired(g, mail("\n".join(CARDS[:10])))
    assert names[0] == "pan-bulk" and "block" in decision, out
    assert "content policy pan-bulk" in decision
    names, decision, out = fired(g, mail("IBAN DE89 3704 0044 0532 0130 00"))
    assert names == ["iban"], out
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("vbaProject.bin", b"x")
    names, decision, out = fired(g, mail("report", attach=("q3.xlsm",
                                                          buf.getvalue())))
    assert names == ["macro"] and "block" in decision, out


@pytest.mark.parametrize("name", ["healthcare.sh", "payments.sh"])
def test_example_loads_once(gw_factory, name):
    """Loaded twice, the second run stops at the first policy that exists
    (set -e), naming it, and changes nothing."""
    g = gw_factory(relay=None)
    before = load(g, name)
    env = dict(os.environ, GWCTL="%s -c %s" % (os.path.join(BUILD, "gwctl"),
                                               g.conf))
    r = subprocess.run(["sh", os.path.join(EXAMPLES, name)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and 'policy "exe" exists' in r.stderr
    assert [json.loads(l) for l in g.gwctl(
        "policy", "list", "--format", "json").stdout.splitlines()] == before
