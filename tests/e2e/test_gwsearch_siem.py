"""What a SIEM reads from gwsearch: Elastic Common Schema fields in
JSON lines, CEF's device host and event names, RFC 5424's host and
structured-data id, the same in `export` as in a search.

log.db is filled directly (as in test_gwsearch.py); gwd.conf names
gwd's hostname and the syslog enterprise number."""
import json
import re
import socket
import subprocess

import pytest

from test_gwsearch import GWCTL, GWSEARCH, NOW, insert_event, jsonl

FROM_HDR = '"Alice Q. Doe" <Alice@Example.COM>, bob@example.com'


@pytest.fixture
def siem(tmp_path):
    state = tmp_path / "state"
    conf = tmp_path / "gwd.conf"
    conf.write_text('state_dir = "%s";\nhostname = "mta1.gw.example";\n'
                    'syslog_enterprise_number = 55555;\n'
                    'dns = { resolver = "127.0.0.1"; };\n' % state)
    r = subprocess.run([GWCTL, "-c", str(conf), "db", "init"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import sqlite3
    db = sqlite3.connect(str(state / "log.db"))
    insert_event(db, NOW - 30, dict(
        qid="S1", action="received", sender="bounces+77@lists.example.com",
        recipient="r@example.net", from_addr=FROM_HDR, subject="hi",
        subaccount="acme", client_ip="192.0.2.10"))
    insert_event(db, NOW - 20, dict(
        qid="S1", action="delivered", sender="bounces+77@lists.example.com",
        recipient="r@example.net", from_addr=FROM_HDR,
        remote_host="mx.example.net", reply_code=250))
    insert_event(db, NOW - 10, dict(
        action="auth", client_ip="198.51.100.7", username="acme",
        detail="wrong password"))
    db.commit()
    db.close()
    return str(conf), tmp_path


def gs(conf, *args):
    r = subprocess.run([GWSEARCH, "-c", conf] + list(args),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_ecs_fields(siem):
    conf, _ = siem
    rec, dlv = jsonl(gs(conf, "--format", "jsonl", "--subaccount", "acme"))
    # Envelope sender and From: header are two fields, as ECS has them.
    assert rec["email"]["sender"]["address"] == "bounces+77@lists.example.com"
    assert rec["email"]["from"]["address"] == ["Alice@example.com",
                                               "bob@example.com"]
    assert rec["gw"]["header_from"] == FROM_HDR
    assert rec["ecs"] == {"version": "8.11.0"}
    assert rec["event"]["kind"] == "event"
    assert rec["event"]["category"] == ["email"]
    assert rec["event"]["type"] == ["info"]
    assert rec["event"]["dataset"] == "gw.events"
    assert rec["event"]["action"] == "received"
    assert rec["observer"]["hostname"] == "mta1.gw.example"
    assert rec["observer"]["product"] == "gwd"
    assert dlv["event"]["outcome"] == "success"
    auth = jsonl(gs(conf, "--format", "jsonl", "--status", "auth",
                    "--since", "-1d"))
    assert len(auth) == 1
    a = auth[0]
    assert a["user"] == {"name": "acme"}
    assert a["event"]["category"] == ["authentication"]
    assert a["event"]["type"] == ["start"]
    assert a["event"]["outcome"] == "failure"
    assert "sender" not in a.get("email", {})


def test_cef_dvchost_and_readable_names(siem):
    conf, _ = siem
    lines = gs(conf, "--format", "cef", "--subaccount", "acme").splitlines()
    head = [l.split("|") for l in lines]
    assert [(h[4], h[5]) for h in head] == [
        ("received", "Message received"), ("delivered", "Message delivered")]
    assert all(" dvchost=mta1.gw.example " in l for l in lines), lines


def test_syslog5424_host_and_enterprise_number(siem):
    conf, tmp = siem
    out = tmp / "out.log"
    r = subprocess.run([GWSEARCH, "-c", conf, "export", "--cursor",
                        str(tmp / "cursor"), "--format", "syslog5424",
                        "--output", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    for l in lines:
        m = re.match(r'<(\d+)>1 (\S+) (\S+) gwd - (\S+) '
                     r'\[gw@55555 eventId="(\d+)"\] (.*)$', l)
        assert m, l
        # gwd's hostname, not the name of the machine the export ran on.
        assert m[3] == "mta1.gw.example" != socket.gethostname()
        assert json.loads(m[6])["observer"]["hostname"] == m[3]


def test_syslog5424_default_enterprise_number(tmp_path):
    """Without the setting: 32473, the documentation example."""
    state = tmp_path / "state"
    conf = tmp_path / "gwd.conf"
    conf.write_text('state_dir = "%s";\ndns = { resolver = "127.0.0.1"; };\n'
                    % state)
    subprocess.run([GWCTL, "-c", str(conf), "db", "init"], check=True,
                   capture_output=True)
    import sqlite3
    db = sqlite3.connect(str(state / "log.db"))
    insert_event(db, NOW, dict(qid="D1", action="received"))
    db.commit()
    out = tmp_path / "o"
    subprocess.run([GWSEARCH, "-c", str(conf), "export", "--cursor",
                    str(tmp_path / "c"), "--format", "syslog5424",
                    "--output", str(out)], check=True, capture_output=True)
    line = out.read_text()
    assert '[gw@32473 eventId="1"]' in line
    assert line.split()[2] == socket.gethostname()
    # Out of range: the setting and its bounds named.
    conf.write_text(conf.read_text() + "syslog_enterprise_number = 0;\n")
    r = subprocess.run([GWSEARCH, "-c", str(conf), "export", "--cursor",
                        str(tmp_path / "c"), "--format", "syslog5424",
                        "--output", str(out)], capture_output=True, text=True)
    assert r.returncode == 78
    assert "syslog_enterprise_number = 0: expected an integer" in r.stderr
