"""Never a secret in the logs: a sync, a diffusion and a regeneration against the real servers
(slapd, MariaDB, aiosmtpd with STARTTLS and AUTH), each with --verbose (the whole trace), then every
generated password (from the relay's mails and the identifier files) and every service secret is
searched in what they wrote on stdout and stderr, and in the metrics file: 0 hits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from support.diffusion_world import UAI, World, mails_by_recipient, password_in, read_file
from support.mariadb import PASSWORD as MOODLE_PASSWORD
from support.smtp import TEST_LOGIN, TEST_PASSWORD


def _secret(folder: Path, name: str, value: str) -> Path:
    path = folder / name
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_logs_of_sync_diffusion_and_regeneration_hold_no_secret(
    tmp_path, ldap_sandbox, smtp_auth, mariadb_server, moodle_mariadb
) -> None:
    World.on_sandbox(ldap_sandbox)  # the school, in a private branch of the session slapd
    slapd = ldap_sandbox.slapd
    base = ldap_sandbox.base_dn
    moodle_url = mariadb_server.url_for(moodle_mariadb.database).replace(f":{MOODLE_PASSWORD}@", "@")
    files_dir = tmp_path / "identifiants"
    metrics = tmp_path / "metrics" / "enttui.prom"
    config = tmp_path / "enttui.toml"
    config.write_text(
        f"""
[ent]
portal = "Portail GRIS"
portal_url = "https://ent.test"
uai = ["{UAI}"]
[ldap]
urls = ["{slapd.url}"]
bind_dn = "{slapd.service_dn}"
bind_password_file = "{_secret(tmp_path, "ldap.secret", slapd.service_password)}"
base_dn = "{base}"
people_dn = "ou=people,{base}"
groups_dn = "ou=groups,{base}"
structures_dn = "ou=structures,{base}"
[moodle]
url = "{moodle_url}"
password_file = "{_secret(tmp_path, "moodle.secret", MOODLE_PASSWORD)}"
[smtp]
host = "{smtp_auth.host}"
port = {smtp_auth.port}
security = "starttls"
ca_file = "{smtp_auth.ca_pem_path}"
username = "{TEST_LOGIN}"
password_file = "{_secret(tmp_path, "smtp.secret", TEST_PASSWORD)}"
[diffusion]
retry_delay_seconds = 0.05
[state]
url = "sqlite:///{tmp_path / "state.db"}"
files_dir = "{files_dir}"
[monitoring]
metrics_file = "{metrics}"
""",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("JOURNAL_STREAM", None)
    base_cmd = [sys.executable, "-m", "enttui", "--config", str(config)]
    logs: list[str] = []
    for args in (
        ["sync", "--verbose"],
        ["diffuse", "--targets", "eleve,parent,autre", "--yes", "--verbose"],
        ["files", "regenerate", "--yes", "--verbose"],
    ):
        run = subprocess.run([*base_cmd, *args], capture_output=True, text=True, env=env, timeout=300, check=False)
        assert run.returncode in (0, 1), run.stderr[-3000:]
        lines = run.stderr.splitlines()
        prefix = "enttui[regenerate]" if args[0] == "files" else f"enttui[{args[0]}]"
        assert lines[-1].startswith(f"{prefix} fin : traitement n° "), lines[-5:]
        assert len(lines) > 3  # --verbose: the trace is there to be searched
        logs.append(run.stdout + run.stderr)

    passwords = set()
    for messages in mails_by_recipient(smtp_auth).values():
        for message in messages:
            body = message.get_body(("plain",)).get_content()
            if "Mot de passe provisoire :" in body:
                passwords.add(password_in(body))
    mailed = len(passwords)
    for path in files_dir.glob("*.csv"):
        passwords.update(row["Mot de passe provisoire"] for row in read_file(path))
    assert mailed > 0 and len(passwords) > mailed  # mailed ones and regenerated ones (in the file)
    secrets = {slapd.service_password, TEST_PASSWORD, MOODLE_PASSWORD}
    written = "\n".join(logs)
    metrics_text = metrics.read_text(encoding="utf-8")
    hits = [s for s in passwords | secrets if s in written or s in metrics_text]
    assert hits == []

    # The metrics file was rewritten after the last run (the regeneration) and parses.
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics_text)
        for s in family.samples
    }
    assert samples[("enttui_last_run_id", (("kind", "regeneration"),))] == 3
    assert samples[("enttui_last_run_id", (("kind", "sync"),))] == 1
    assert samples[("enttui_identifier_files", ())] >= 1
    assert samples[("enttui_system_up", (("system", "smtp"),))] == 1
