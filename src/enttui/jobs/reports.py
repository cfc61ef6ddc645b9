"""Rapports d'alimentation: the feed runs the console recorded (syncs, diffusions, regenerations...).

Listing (newest first, filtered by kind and status), one run's detail (options, counts per entity,
the trace), the plain-text export of a run's report, and the pruning of runs older than
``[state] runs_retention_days``. The TUI screen and ``enttui reports`` both use these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from enttui.domain.sync import COUNT_KEYS as SYNC_COUNT_KEYS
from enttui.domain.sync import ENTITIES as SYNC_ENTITIES
from enttui.domain.sync_report import count_label
from enttui.jobs.context import Services
from enttui.services.localfiles import write_private
from enttui.services.state import RUN_KINDS, RUN_STATUSES, RunRecord, TraceLine

KIND_LABELS: dict[str, str] = {
    "sync": "Synchronisation Moodle",
    "diffusion": "Diffusion des identifiants",
    "regeneration": "Régénération",
    "import": "Import",
    "export": "Export",
    "check": "Contrôle",
}
LEVEL_LABELS: dict[str, str] = {
    "info": "info",
    "detail": "détail",
    "change": "modif.",
    "warning": "alerte",
    "error": "ERREUR",
}
# Labels of the usual count keys (anything else is shown as is).
COUNT_LABELS: dict[str, str] = {
    "created": "créés",
    "updated": "modifiés",
    "suspended": "suspendus",
    "deleted": "supprimés",
    "unchanged": "inchangés",
    "added": "ajoutés",
    "removed": "retirés",
    "sent": "envoyés",
    "not_sent": "non envoyés",
    "failed": "échecs",
    "errors": "erreurs",
    "skipped": "ignorés",
    "total": "total",
    "read": "lus",
    "files": "fichiers",
    "accounts": "comptes",
    "rows": "lignes",
}
ENTITY_LABELS: dict[str, str] = {
    "users": "Comptes utilisateur",
    "cohorts": "Cohortes",
    "members": "Membres de cohortes",
    "roles": "Associations de rôles",
    "diffusion": "Diffusion",
    "mails": "Messages",
    "accounts": "Comptes",
    "import": "Import",
}

KINDS: tuple[str, ...] = tuple(RUN_KINDS)
STATUSES: tuple[str, ...] = tuple(RUN_STATUSES)


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def format_duration(delta: timedelta | None) -> str:
    if delta is None:
        return "—"
    seconds = max(0, round(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_moment(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone().strftime("%d/%m/%Y %H:%M")


def count_rows(counts: Mapping[str, Any], *, agree: bool = True) -> list[tuple[str, str, str]]:
    """Counts flattened to ``(entity, what, value)`` rows: ``{"users": {"created": 3}}`` and flat ones.

    With ``agree``, the sync's counters agree with their entity and number ("Cohortes", "créées", "2")."""
    rows: list[tuple[str, str, str]] = []
    for key, value in counts.items():
        if isinstance(value, Mapping):
            entity = ENTITY_LABELS.get(key, key)
            for sub, v in value.items():
                if agree and key in SYNC_ENTITIES and sub in SYNC_COUNT_KEYS:
                    what = count_label(key, sub, v if isinstance(v, int) else 2)
                else:
                    what = COUNT_LABELS.get(str(sub), str(sub))
                rows.append((entity, what, _scalar(v)))
        else:
            rows.append(("", COUNT_LABELS.get(key, key), _scalar(value)))
    return rows


def counts_summary(counts: Mapping[str, Any], limit: int = 3) -> str:
    """A short line for the list: the first non-zero counts, e.g. ``créés 12 · erreurs 1``."""
    totals: dict[str, int] = {}
    for _entity, what, value in count_rows(counts, agree=False):
        try:
            n = int(value)
        except ValueError:
            continue
        if n:
            totals[what] = totals.get(what, 0) + n
    parts = [f"{what} {n}" for what, n in totals.items()]
    if len(parts) > limit:
        parts = [*parts[:limit], "…"]
    return " · ".join(parts) or "—"


def options_text(options: Mapping[str, Any]) -> str:
    parts = []
    for key, value in options.items():
        if value is True:
            parts.append(f"--{key.replace('_', '-')}")
        elif value in (False, None, "", [], {}):
            continue
        elif isinstance(value, (list, tuple)):
            parts.append(f"{key}={','.join(str(v) for v in value)}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts) or "—"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: RunRecord
    trace: list[TraceLine]

    @property
    def error_lines(self) -> list[int]:
        """Indexes (in ``trace``) of the error lines."""
        return [i for i, line in enumerate(self.trace) if line.level == "error"]


async def prune_old_runs(services: Services) -> int:
    """Delete runs older than ``[state] runs_retention_days`` (0 or less: keep everything)."""
    days = services.config.state.runs_retention_days
    if days <= 0:
        return 0
    return await services.state.prune_runs(days)


async def list_reports(
    services: Services, *, kind: str | None = None, status: str | None = None, limit: int = 200
) -> list[RunRecord]:
    """Recorded runs, newest first (``limit`` at most); runs whose process is gone say "interrompu"."""
    from enttui.jobs.locking import refresh_run_states

    await refresh_run_states(services)
    return await services.state.list_runs(kind=kind or None, status=status or None, limit=limit)


async def run_detail(services: Services, run_id: int, *, search: str | None = None) -> RunDetail | None:
    from enttui.jobs.locking import refresh_run_states

    await refresh_run_states(services)
    run = await services.state.get_run(run_id)
    if run is None:
        return None
    trace = await services.state.trace(run_id, search=search or None)
    return RunDetail(run, trace)


def run_as_dict(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "kind_label": kind_label(run.kind),
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "duration_s": run.duration.total_seconds() if run.duration is not None else None,
        "user": run.user,
        "host": run.host,
        "pid": run.pid,
        "options": dict(run.options),
        "counts": dict(run.counts),
        "summary": run.summary,
        "trace_lines": run.trace_lines,
        "trace_dropped": run.trace_dropped,
    }


def run_report_text(run: RunRecord, trace: Sequence[TraceLine]) -> str:
    """The plain-text report of one run (what "Exporter" writes)."""
    lines = [
        f"Rapport d'alimentation n° {run.id} : {kind_label(run.kind)}",
        f"Statut : {run.status}",
        f"Début : {format_moment(run.started_at)}   Fin : {format_moment(run.ended_at)}   "
        f"Durée : {format_duration(run.duration)}",
        f"Lancé par : {run.user} sur {run.host} (processus {run.pid})",
        f"Options : {options_text(run.options)}",
    ]
    if run.summary:
        lines.append(f"Résumé : {run.summary}")
    lines.append("")
    lines.append("Comptes rendus par entité :")
    rows = count_rows(run.counts)
    lines.extend(f"  {entity or '—'} : {what} {value}" for entity, what, value in rows)
    if not rows:
        lines.append("  —")
    lines.append("")
    lines.append(f"Trace ({len(trace)} ligne(s)) :")
    lines.extend(trace_line_text(t) for t in trace)
    return "\n".join(lines) + "\n"


def trace_line_text(t: TraceLine) -> str:
    entity = f"[{t.entity}] " if t.entity else ""
    return f"{t.at.astimezone().strftime('%H:%M:%S')} {LEVEL_LABELS.get(t.level, t.level):<7} {entity}{t.text}"


async def export_run_report(services: Services, run_id: int, path: Path, *, overwrite: bool = False) -> int:
    """Write one run's report to ``path`` (mode 0600: traces name people); returns the trace lines."""
    from enttui.errors import ValidationError

    detail = await run_detail(services, run_id)
    if detail is None:
        raise ValidationError(f"Le traitement n° {run_id} n'existe plus (purgé ?).")
    write_private(path, run_report_text(detail.run, detail.trace).encode("utf-8"), overwrite=overwrite)
    await services.state.audit("export", f"rapport d'alimentation n° {run_id}", str(path))
    return len(detail.trace)


def cycle(values: Iterable[str | None], current: str | None) -> str | None:
    """The next value of a filter cycle (``None`` = all)."""
    seq = [None, *values]
    try:
        return seq[(seq.index(current) + 1) % len(seq)]
    except ValueError:
        return None
