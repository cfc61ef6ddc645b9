"""The Prometheus textfile-collector file: ``enttui status --metrics FICHIER``, and after every run.

The file is rewritten whole, atomically (a temporary file in the same folder, then a rename), mode
0644: node_exporter's textfile collector never reads half a file. Every name starts with
``enttui_``; times are Unix timestamps in seconds (compute ages in PromQL with ``time() - …``).

    enttui_sync_last_success_timestamp_seconds{entity="users"}   start of the last sync that applied it
    enttui_last_run_*{kind="sync"|"diffusion"|"regeneration"|…}  id, start, end, duration, errors, success
    enttui_last_run_count{kind, entity, count}                   the counts of that run
    enttui_last_success_timestamp_seconds{kind}                  end of the last successful run of a kind
    enttui_identifier_files, _bytes, _oldest_timestamp_seconds   the identifier files kept on disk
    enttui_system_up{system}, enttui_system_latency_seconds{system}, enttui_system_warnings{system}
    enttui_people{profile}                                       people of the périmètre per profile

Nothing here is secret: names, counts and times only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from enttui import __version__

if TYPE_CHECKING:
    from enttui.cli.log import RunLog
    from enttui.jobs.status import Monitoring, StatusReport
    from enttui.services.container import Services

Labels = dict[str, str]


class _Family:
    def __init__(self, name: str, help_text: str) -> None:
        self.name = f"enttui_{name}"
        self.help = help_text
        self.samples: list[tuple[Labels, float]] = []

    def add(self, value: float | int | bool, **labels: str) -> None:
        self.samples.append((labels, float(value)))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render_families(families: Iterable[_Family]) -> str:
    lines: list[str] = []
    for family in families:
        if not family.samples:
            continue
        lines.append(f"# HELP {family.name} {family.help.replace(chr(92), chr(92) * 2)}")
        lines.append(f"# TYPE {family.name} gauge")
        for labels, value in family.samples:
            inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            lines.append(f"{family.name}{{{inner}}} {_number(value)}" if inner else f"{family.name} {_number(value)}")
    return "\n".join(lines) + "\n"


def render(m: Monitoring) -> str:
    """The whole file for one monitoring snapshot."""
    from enttui.domain.people import Target

    fam: dict[str, _Family] = {}

    def f(name: str, help_text: str) -> _Family:
        return fam.setdefault(name, _Family(name, help_text))

    f("info", "Version de la console enttui").add(1, version=__version__)
    f("metrics_written_timestamp_seconds", "Heure d'écriture de ce fichier").add(m.written_at.timestamp())
    f("state_readable", "1 si l'historique de la base d'état a pu être lu").add(not m.state_error)
    for s in m.status.systems:
        if not s.configured:
            continue
        f("system_up", "1 si le système répond").add(s.ok, system=s.key)
        if s.ok and s.latency_ms is not None:
            f("system_latency_seconds", "Temps de réponse du système").add(s.latency_ms / 1000.0, system=s.key)
        f("system_warnings", "Avertissements du système (TLS, réglages)").add(len(s.warnings), system=s.key)
    codes = {t.label: t.value for t in Target}
    for label, count in m.status.people.items():
        f("people", "Personnes du périmètre par profil").add(count, profile=codes.get(label, label))
    for entity, mark in m.sync_success.items():
        if mark is not None:
            f(
                "sync_last_success_timestamp_seconds",
                "Début de la dernière synchronisation qui a appliqué l'entité en entier",
            ).add(mark.timestamp(), entity=entity)
    for kind, run in m.last_runs.items():
        f("last_run_id", "Numéro du dernier traitement terminé").add(run.id, kind=kind)
        f("last_run_start_timestamp_seconds", "Début du dernier traitement terminé").add(
            run.started_at.timestamp(), kind=kind
        )
        if run.ended_at is not None:
            f("last_run_end_timestamp_seconds", "Fin du dernier traitement terminé").add(
                run.ended_at.timestamp(), kind=kind
            )
            f("last_run_duration_seconds", "Durée du dernier traitement terminé").add(
                (run.ended_at - run.started_at).total_seconds(), kind=kind
            )
        f("last_run_status", "Statut du dernier traitement terminé (1 pour son statut)").add(
            1, kind=kind, status=run.status
        )
        f("last_run_success", "1 si le dernier traitement terminé a réussi").add(run.succeeded, kind=kind)
        f("last_run_errors", "Erreurs du dernier traitement terminé").add(run.errors, kind=kind)
        for entity, key, value in _counts(run.counts):
            f("last_run_count", "Compteurs du dernier traitement terminé").add(
                value, kind=kind, entity=entity, count=key
            )
    for kind, moment in m.last_success.items():
        f("last_success_timestamp_seconds", "Fin du dernier traitement réussi").add(moment.timestamp(), kind=kind)
    if not m.state_error:
        f("identifier_files", "Fichiers des identifiants conservés").add(m.files_count)
        f("identifier_files_bytes", "Taille des fichiers des identifiants").add(m.files_bytes)
        if m.oldest_file is not None:
            f("identifier_files_oldest_timestamp_seconds", "Date du plus ancien fichier des identifiants").add(
                m.oldest_file.timestamp()
            )
    return render_families(fam.values())


def _counts(counts: dict[str, object]) -> Iterable[tuple[str, str, float]]:
    """(entity, count, value) of a run's counts: nested per entity (sync) or flat (diffusion)."""
    for key, value in counts.items():
        if isinstance(value, dict):
            for sub, number in value.items():
                if isinstance(number, int | float) and not isinstance(number, bool):
                    yield key, str(sub), float(number)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield "", key, float(value)


def write_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename (mode 0644)."""
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        folder.mkdir(parents=True)
        folder.chmod(0o755)  # whatever the umask (0077 under the systemd units): node_exporter reads it
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).chmod(0o644)  # readable by node_exporter (nothing secret inside)
        Path(tmp).replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
    return target


async def write_metrics(services: Services, path: str | Path, report: StatusReport | None = None) -> Monitoring:
    """Collect (probing the systems unless ``report`` is given) and write the file."""
    from enttui.jobs.status import collect_monitoring

    snapshot = await collect_monitoring(services, report)
    await asyncio.to_thread(write_atomic, path, render(snapshot))
    return snapshot


def metrics_path(args: argparse.Namespace, config_file: str = "") -> str:
    """``--metrics`` wins over ``[monitoring] metrics_file``."""
    return str(getattr(args, "metrics", "") or config_file or "")


async def write_after_run(args: argparse.Namespace, log: RunLog) -> None:
    """After a run: rewrite the metrics file when asked; a failure is an error line, not a new exit status."""
    from enttui.cli import open_from_args
    from enttui.errors import ConfigError, describe

    try:
        config = None
        configured = ""
        if not args.demo:
            from enttui.config import load_config

            config = load_config(args.config)
            configured = config.monitoring.metrics_file
        path = metrics_path(args, configured)
        if not path:
            return
        args.reset = False  # (a --demo --reset run: the world it just wrote is the one to measure)
        services = await open_from_args(args, config=config)
        try:
            await write_metrics(services, path)
        finally:
            await services.close()
    except ConfigError:
        return  # the run has already said so
    except Exception as exc:  # noqa: BLE001 - monitoring must never hide the run's own outcome
        log.error(f"Métriques non écrites : {describe(exc)}")
