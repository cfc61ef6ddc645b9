"""Running enttui in production: the run log (journal, --quiet, --verbose), the Prometheus metrics
file, the Nagios output, the bash completion and the systemd units, on the demo world and the
real command line (``python -m enttui`` in a subprocess, so stderr is the real one)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from enttui.cli import build_parser, main, nagios
from enttui.cli.completion import bash_script
from enttui.cli.log import RunLog, format_seconds, one_line
from enttui.domain.health import SystemHealth
from enttui.errors import register_secret
from enttui.jobs.events import Phase, Progress, Trace
from enttui.jobs.status import LastRun, Monitoring, StatusReport

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
ENV.pop("JOURNAL_STREAM", None)


def enttui(
    *args: str, demo: Path | None = None, env: dict[str, str] | None = None, **kw
) -> subprocess.CompletedProcess:
    head = ["--demo", "--demo-dir", str(demo)] if demo is not None else []
    cmd = [sys.executable, "-m", "enttui", *head, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, timeout=300, check=False, **kw)


# -- the run log ---------------------------------------------------------------------------------


def test_a_sync_logs_one_line_per_phase_and_a_final_line(tmp_path) -> None:
    run = enttui("sync", "--simulate", demo=tmp_path / "demo")
    lines = run.stderr.splitlines()
    assert run.stdout == ""
    assert lines and all(line.startswith("enttui[sync] ") for line in lines), lines
    assert "enttui[sync] phase : Lecture de l'annuaire" in lines
    assert not any("\x1b" in line for line in lines)  # no colour
    final = lines[-1]
    code = run.returncode
    assert re.match(
        rf"enttui\[sync\] fin : traitement n° 1, simulé, \d+,\d s, code {code} ; [\d\u202f ]+ comptes utilisateur ",
        final,
    )
    errors = sum(line.startswith("enttui[sync] erreur : ") for line in lines)
    assert (code, errors > 0) in ((0, False), (1, True))  # the demo world holds deliberate errors
    assert not any(" modification : " in line for line in lines)  # the change lines are --verbose


def test_verbose_adds_the_trace_and_quiet_keeps_what_went_wrong(tmp_path) -> None:
    verbose = enttui("sync", "--simulate", "--verbose", demo=tmp_path / "demo").stderr.splitlines()
    assert any(line.startswith("enttui[sync] modification : ") for line in verbose)
    quiet = enttui("sync", "--simulate", "--quiet", demo=tmp_path / "demo").stderr.splitlines()
    assert all(line.startswith(("enttui[sync] erreur : ", "enttui[sync] fin : ")) for line in quiet)
    errors = [line for line in verbose if line.startswith("enttui[sync] erreur : ")]
    if errors:  # the final line only when the run did not succeed
        assert len(quiet) == len(errors) + 1 and quiet[-1].startswith("enttui[sync] fin : traitement n° 2, simulé")
    else:
        assert quiet == []
    both = enttui("sync", "--quiet", "--verbose", demo=tmp_path / "demo")
    assert both.returncode == 2 and "s'excluent" in both.stderr


def test_quiet_success_writes_nothing(tmp_path) -> None:
    """For cron mail: a successful run with --quiet prints nothing at all."""
    run = enttui("files", "regenerate", "--since", "2999-01-01", "--yes", "--quiet", demo=tmp_path / "demo")
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    loud = enttui("files", "regenerate", "--since", "2999-01-01", "--yes", demo=tmp_path / "demo")
    assert loud.stderr.splitlines()[-1].startswith("enttui[regenerate] fin : traitement n° ")
    assert "0 mot de passe régénéré ; 0 erreur ; fichier " in loud.stderr


def test_on_the_journal_each_line_carries_its_priority(tmp_path) -> None:
    """systemd sets $JOURNAL_STREAM to stderr's device:inode; journald strips <N> and keeps the priority."""
    err = tmp_path / "stderr"
    with err.open("w") as stream:
        st = os.fstat(stream.fileno())
        env = {**ENV, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        cmd = [sys.executable, "-m", "enttui", "--demo", "--demo-dir", str(tmp_path / "demo"), "sync", "--simulate"]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=stream, env=env, timeout=300, check=False)
    lines = err.read_text(encoding="utf-8").splitlines()
    assert "<6>enttui[sync] phase : Lecture de l'annuaire" in lines
    assert any(line.startswith("<3>enttui[sync] erreur : ") for line in lines)
    assert lines[-1].startswith("<3>enttui[sync] fin : ")  # finished with errors


def test_run_log_levels_and_one_line_per_event() -> None:
    register_secret("Secret-De-Test-9x!")
    out = io.StringIO()
    log = RunLog("sync", stream=out, journal=False, clock=iter([0.0, 65.0]).__next__)
    log(Phase("users", "Lecture de l'annuaire"))
    log(Trace("change", "users", "créé : alice"))
    log(Progress("users", 5, 10))
    log(Trace("warning", "", "deux\nlignes\x1b[31m rouges"))
    log(Trace("error", "users", "refusé : Secret-De-Test-9x!"))
    log.finish(1, status="avec erreurs", run_id=7, counts=["Comptes utilisateur : 1 créé"])
    assert out.getvalue().splitlines() == [
        "enttui[sync] phase : Lecture de l'annuaire",
        "enttui[sync] attention : deux | lignes[31m rouges",
        "enttui[sync] erreur : refusé : ***",
        "enttui[sync] fin : traitement n° 7, avec erreurs, 1 min 05 s, code 1 ; Comptes utilisateur : 1 créé",
    ]
    assert log.with_warnings({"a": 1}) == {"a": 1, "warnings": ["deux | lignes[31m rouges"]}
    verbose = io.StringIO()
    log = RunLog("sync", verbose=True, stream=verbose, journal=True)
    log(Trace("change", "users", "créé : alice"))
    log(Progress("users", 5, 10))
    assert verbose.getvalue().splitlines() == [
        "<6>enttui[sync] modification : créé : alice",
        "<6>enttui[sync] progression : 5/10 (50 %)",
    ]
    assert format_seconds(3.25) == "3,2 s" and format_seconds(3725) == "1 h 02 min"
    assert one_line("a\r\nb\n\nc\td") == "a | b | c d"


def test_json_runs_carry_their_warnings(tmp_path) -> None:
    run = enttui("sync", "--simulate", "--json", demo=tmp_path / "demo")
    doc = json.loads(run.stdout)
    assert doc["warnings"] == [] and doc["status"] == "simulé"


# -- the metrics file ----------------------------------------------------------------------------


def _samples(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_file_holds_the_values_of_the_run_that_wrote_it(tmp_path) -> None:
    metrics = tmp_path / "prom" / "enttui.prom"
    run = enttui("sync", "--json", "--metrics", str(metrics), demo=tmp_path / "demo")
    doc = json.loads(run.stdout)
    samples = _samples(metrics)
    assert samples[("enttui_last_run_id", (("kind", "sync"),))] == doc["run_id"]
    assert samples[("enttui_last_run_status", (("kind", "sync"), ("status", doc["status"])))] == 1
    for entity, counts in doc["counts"].items():
        for key, value in counts.items():
            label = (("count", key), ("entity", entity), ("kind", "sync"))
            assert samples[("enttui_last_run_count", label)] == value
    errors = sum(c["errors"] for c in doc["counts"].values())
    assert samples[("enttui_last_run_errors", (("kind", "sync"),))] == errors
    now = datetime.now(UTC).timestamp()
    for entity in ("users", "cohorts", "roles"):  # entry-level errors do not hold the entity back
        mark = samples[("enttui_sync_last_success_timestamp_seconds", (("entity", entity),))]
        assert now - 600 < mark <= now
    assert samples[("enttui_system_up", (("system", "directory"),))] == 1
    assert samples[("enttui_identifier_files", ())] == 0
    assert oct(metrics.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in metrics.parent.iterdir()) == ["enttui.prom"]  # no temporary file left

    # A later run rewrites the whole file (a regeneration: one identifier file now).
    enttui("files", "regenerate", "--since", "2999-01-01", "--yes", "--metrics", str(metrics), demo=tmp_path / "demo")
    samples = _samples(metrics)
    assert samples[("enttui_last_run_id", (("kind", "regeneration"),))] == doc["run_id"] + 1
    assert samples[("enttui_identifier_files", ())] == 1
    assert samples[("enttui_last_run_id", (("kind", "sync"),))] == doc["run_id"]


def test_status_metrics_and_monitoring_setting(tmp_path) -> None:
    metrics = tmp_path / "status.prom"
    run = enttui("status", "--quiet", "--metrics", str(metrics), demo=tmp_path / "demo")
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    samples = _samples(metrics)
    assert {k[1][0][1] for k in samples if k[0] == "enttui_system_up"} == {"directory", "moodle", "smtp", "state"}
    assert samples[("enttui_people", (("profile", "eleve"),))] > 500
    refused = enttui("reports", "--metrics", str(metrics), demo=tmp_path / "demo")
    assert refused.returncode == 2 and "--metrics" in refused.stderr


# -- Nagios --------------------------------------------------------------------------------------

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _monitoring(
    *, down: bool = False, warnings: tuple[str, ...] = (), synced_hours_ago: float | None = 2
) -> Monitoring:
    systems = [
        SystemHealth(
            "Annuaire (LDAP)", "directory", ok=not down, latency_ms=12.0, message="ne répond pas", warnings=warnings
        ),
        SystemHealth("Moodle", "moodle", ok=True, latency_ms=30.0),
        SystemHealth("SMTP", "smtp", ok=False, configured=False),
        SystemHealth("Base d'état", "state", ok=True, latency_ms=1.0),
    ]
    report = StatusReport(systems, people={"Élève": 10, "Parent": 5})
    mark = None if synced_hours_ago is None else NOW - timedelta(hours=synced_hours_ago)
    runs = {}
    if mark is not None:
        runs["sync"] = LastRun("sync", 41, "réussi", mark, mark + timedelta(minutes=3), {"users": {"errors": 0}})
    return Monitoring(report, NOW, {"users": mark, "cohorts": mark, "roles": mark}, runs, {}, files_count=2)


@pytest.mark.parametrize(
    ("monitoring", "code", "summary"),
    [
        (_monitoring(), nagios.OK, "3 systèmes répondent, dernière synchronisation réussie il y a 2,0 h"),
        (_monitoring(synced_hours_ago=30), nagios.WARNING, "aucune synchronisation réussie depuis 30,0 h"),
        (_monitoring(warnings=("tls_verify = false",)), nagios.WARNING, "Annuaire (LDAP) : tls_verify = false"),
        (_monitoring(synced_hours_ago=None), nagios.WARNING, "aucune synchronisation réussie enregistrée"),
        (_monitoring(synced_hours_ago=40), nagios.CRITICAL, "aucune synchronisation réussie depuis 40,0 h"),
        (
            _monitoring(down=True, synced_hours_ago=30),
            nagios.CRITICAL,
            "Annuaire (LDAP) en panne (ne répond pas) (et 1 autre remarque)",
        ),
    ],
)
def test_status_nagios_verdicts(monitoring, code, summary) -> None:
    got, text, perfdata = nagios.status_verdict(monitoring, warning_hours=26, critical_hours=36)
    assert (got, text) == (code, summary)
    line = nagios.line(got, text, perfdata)
    assert line.startswith(f"ENTTUI {nagios.STATES[code]} - {summary}")
    if monitoring.last_sync_success() is not None:
        assert re.search(r" sync_age=\d+s;93600;129600;0", line)
    assert "people=15;;;0" in line and "identifier_files=2;;;0" in line
    assert line.count("|") == 1


def test_nagios_on_the_real_command_line(tmp_path) -> None:
    demo = tmp_path / "demo"
    status = enttui("status", "--nagios", demo=demo)
    assert status.returncode == nagios.WARNING  # the demo has never synchronised
    assert status.stdout.startswith("ENTTUI WARNING - aucune synchronisation réussie enregistrée | ")
    assert status.stderr == "" and status.stdout.count("\n") == 1
    check = enttui("check", "--nagios", demo=demo)
    assert check.returncode == nagios.CRITICAL and check.stderr == ""
    # The demo world has duplicate logins on purpose: a blocking check fails.
    assert re.match(
        r"ENTTUI CRITICAL - \d+ contrôles? bloquants? en échec : .*Identifiant \(ENTPersonLogin\)", check.stdout
    )
    assert re.search(r" duplicate_login=[1-9]\d*;;;0 ", check.stdout)
    broken = tmp_path / "broken.toml"
    broken.write_text("[ldap]\npage_size = true\n", encoding="utf-8")
    for command in ("status", "check"):
        unknown = enttui("--config", str(broken), command, "--nagios")
        assert unknown.returncode == nagios.UNKNOWN
        assert unknown.stdout.startswith(f"ENTTUI UNKNOWN - Configuration invalide : {broken}")


def test_check_nagios_warning_and_ok() -> None:
    from enttui.domain.coherence_checks import A_CORRIGER, BLOQUANT, CheckResult, CheckSpec, Finding
    from enttui.jobs.coherence import CoherenceReport

    def result(severity: str, n: int) -> CheckResult:
        spec = CheckSpec(f"c_{severity[:3]}", f"Contrôle {severity}", severity, "")
        return CheckResult(spec, [Finding(f"uid=u{i}", f"u{i}", "Nom", "détail") for i in range(n)])

    report = CoherenceReport([result(BLOQUANT, 0), result(A_CORRIGER, 3)], NOW, read={"people": 12})
    assert nagios.check_verdict(report)[:2] == (nagios.WARNING, "1 contrôle à corriger : Contrôle à corriger (3)")
    report = CoherenceReport([result(BLOQUANT, 0), result(A_CORRIGER, 0)], NOW, read={"people": 12})
    assert nagios.check_verdict(report)[:2] == (nagios.OK, "aucun contrôle en échec (12 personnes lues)")


# -- version, completion, systemd ----------------------------------------------------------------


def test_version_is_the_package_version(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"enttui {metadata.version('enttui')}"


def test_shipped_completion_script_is_the_generated_one() -> None:
    shipped = (ROOT / "src" / "enttui" / "data" / "enttui.bash").read_text(encoding="utf-8")
    assert shipped == bash_script(build_parser()), "regenerate it: enttui completion bash > src/enttui/data/enttui.bash"


def _complete(script: Path, words: list[str], env: dict[str, str]) -> list[str]:
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"source '{script}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
        'COMP_LINE="${COMP_WORDS[*]}"; _enttui; printf \'%s\\n\' "${COMPREPLY[@]}"'
    )
    run = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    return [w for w in run.stdout.splitlines() if w]


def test_bash_completion(tmp_path) -> None:
    script = ROOT / "src" / "enttui" / "data" / "enttui.bash"
    exe = shutil.which("enttui", path=str(Path(sys.executable).parent))
    assert exe is not None
    env = {**ENV, "PATH": f"{Path(exe).parent}:{os.environ.get('PATH', '')}"}
    assert _complete(script, ["enttui", "sy"], env) == ["sync"]
    assert set(_complete(script, ["enttui", ""], env)) >= {"status", "check", "sync", "diffuse", "files", "--demo"}
    assert _complete(script, ["enttui", "sync", "--sim"], env) == ["--simulate"]
    assert _complete(script, ["enttui", "--config", "x.toml", "status", "--na"], env) == ["--nagios"]
    assert _complete(script, ["enttui", "files", "re"], env) == ["regenerate"]
    assert _complete(script, ["enttui", "diffuse", "--targets", "eleve,pa"], env) == ["eleve,parent"]
    assert _complete(script, ["enttui", "reports", "--kind", "diff"], env) == ["diffusion"]
    (tmp_path / "conf.toml").write_text("", encoding="utf-8")
    assert _complete(script, ["enttui", "--config", str(tmp_path / "co")], env) == [str(tmp_path / "conf.toml")]
    # File names come from the state store's index (enttui files list --names).
    demo = tmp_path / "demo"
    made = enttui("files", "regenerate", "--since", "2999-01-01", "--yes", "--json", demo=demo)
    name = json.loads(made.stdout)["file"]
    words = ["enttui", "--demo", "--demo-dir", str(demo), "files", "export", ""]
    assert _complete(script, [exe, *words[1:]], env) == [name]
    assert _complete(script, [exe, *words[1:5], "delete", name[:5]], env) == [name]
    listed = enttui("files", "list", "--names", demo=demo)
    assert listed.stdout.splitlines() == [name]


def _units(tmp_path: Path) -> Path:
    """The example units with ExecStart pointing at this venv's enttui (verify checks the path)."""
    exe = shutil.which("enttui", path=str(Path(sys.executable).parent))
    assert exe is not None
    folder = tmp_path / "units"
    folder.mkdir()
    for unit in (ROOT / "examples" / "systemd").iterdir():
        text = unit.read_text(encoding="utf-8").replace("/opt/enttui/bin/enttui", exe)
        (folder / unit.name).write_text(text, encoding="utf-8")
    return folder


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.fail("systemd-analyze introuvable : apt-get install systemd (scripts/test l'installe)", pytrace=False)
    return found


def test_systemd_units_verify_and_are_hardened(tmp_path) -> None:
    analyze = _systemd_analyze()
    folder = _units(tmp_path)
    units = sorted(p.name for p in folder.iterdir())
    assert units == [f"enttui-{n}.{k}" for n in ("check", "status", "sync") for k in ("service", "timer")]
    run = subprocess.run(
        [analyze, "verify", "--man=no", *units], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr
    for service in (u for u in units if u.endswith(".service")):
        text = (folder / service).read_text(encoding="utf-8")
        for line in (
            "User=enttui",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/enttui",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
            "Type=oneshot",
        ):
            assert f"\n{line}\n" in text, (service, line)
        assert re.findall(r"^ReadWritePaths=(.*)$", text, re.M) == ["/var/lib/enttui"]
        # Overall exposure 2.0 or less ("OK") in systemd's own assessment.
        sec = subprocess.run(
            [analyze, "security", "--offline=yes", "--threshold=20", service],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sec.returncode == 0, sec.stdout[-2000:]
    sync = (folder / "enttui-sync.service").read_text(encoding="utf-8")
    assert "\nSuccessExitStatus=3\n" in sync  # the lock held by the previous run is not a failure
    assert "SuccessExitStatus=1" not in sync  # errors are


def test_cron_example_is_quiet() -> None:
    lines = [
        line
        for line in (ROOT / "examples" / "cron" / "enttui").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(lines) == 3
    assert all(line.split()[5:7] == ["enttui", "/opt/enttui/bin/enttui"] and "--quiet" in line for line in lines)
