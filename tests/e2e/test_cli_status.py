"""`enttui status` against the demo world and against the real servers (slapd, MariaDB, aiosmtpd)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from enttui.cli import main


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _secret(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / name
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_status_demo_json(tmp_path, capsys):
    code = main(["status", "--demo", "--demo-dir", str(tmp_path / "demo"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["ok"] is True
    assert [s["key"] for s in report["systems"]] == ["directory", "moodle", "smtp", "state"]
    assert report["people"]["Élève"] > 500


def test_status_real_servers(tmp_path, capsys, slapd, mariadb_server, moodle_mariadb, smtp_server, monkeypatch):
    ldap_secret = _secret(tmp_path, "ldap.secret", slapd.admin_password)
    monkeypatch.setenv("ENTTUI_MOODLE_PASSWORD", "moodle-test-pw")
    moodle_url = mariadb_server.url_for(moodle_mariadb.database).replace(":moodle-test-pw@", "@")
    config = tmp_path / "enttui.toml"
    config.write_text(
        f"""
[ent]
uai = ["0123456A"]
[ldap]
urls = ["{slapd.url}"]
bind_dn = "{slapd.admin_dn}"
bind_password_file = "{ldap_secret}"
base_dn = "{slapd.suffix}"
people_dn = "{slapd.people_dn}"
groups_dn = "{slapd.groups_dn}"
structures_dn = "{slapd.structures_dn}"
[moodle]
url = "{moodle_url}"
[smtp]
host = "{smtp_server.host}"
port = {smtp_server.port}
security = "starttls"
ca_file = "{smtp_server.ca_pem_path}"
[state]
url = "sqlite:///{tmp_path / "state.db"}"
files_dir = "{tmp_path / "files"}"
""",
        encoding="utf-8",
    )
    code = main(["status", "--config", str(config), "--json"])
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert code == 0, report
    systems = {s["key"]: s for s in report["systems"]}
    assert all(s["ok"] for s in systems.values()), systems
    assert "OpenLDAP" in systems["directory"]["version"] or systems["directory"]["version"]
    assert systems["moodle"]["version"].startswith("4.5")
    # The sync's auth (cas) is not enabled on a fresh Moodle: the console says so.
    assert any("cas" in w for w in systems["moodle"]["warnings"])
    assert slapd.admin_password not in out.out + out.err
    assert "moodle-test-pw" not in out.out + out.err


def test_status_with_a_server_down_exits_1(tmp_path, capsys):
    config = tmp_path / "enttui.toml"
    config.write_text(
        f"""
[ent]
uai = ["0123456A"]
[ldap]
urls = ["ldap://127.0.0.1:{_closed_port()}"]
base_dn = "dc=ent,dc=test"
connect_timeout = 1.0
[state]
url = "sqlite:///{tmp_path / "state.db"}"
files_dir = "{tmp_path / "files"}"
""",
        encoding="utf-8",
    )
    code = main(["status", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 1
    assert "Annuaire (LDAP)" in out
    assert "EN PANNE" in out
    assert "non configuré" in out  # Moodle and SMTP are not configured: not counted as down
    assert "Traceback" not in out
