"""Rapports d'alimentation: the feed runs the console recorded (syncs, diffusions, regenerations...).

Listing (newest first, filtered by kind and status), one run's detail (options, counts per entity,
the trace), the plain-text export of a run's report, and the pruning of runs older than
``[state] runs_retention_days``. The TUI screen and ``enttui reports`` both use these functions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from enttui.domain.french import plural
from enttui.domain.runs import RunKind, RunStatus
from enttui.domain.sync_schools import SCHOOLS_KEY, SchoolCounts, school_line
from enttui.jobs.destinations import prepare_destination, record_written
from enttui.services.container import Services
from enttui.services.localfiles import write_private
from enttui.services.state import RunRecord, TraceLine

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
# Count keys that are past participles: (masculine singular, feminine singular); plural adds "s".
PARTICIPLES: dict[str, tuple[str, str]] = {
    "created": ("créé", "créée"),
    "updated": ("modifié", "modifiée"),
    "suspended": ("suspendu", "suspendue"),
    "revived": ("réactivé", "réactivée"),
    "deleted": ("supprimé", "supprimée"),
    "unchanged": ("inchangé", "inchangée"),
    "added": ("ajouté", "ajoutée"),
    "removed": ("retiré", "retirée"),
    "skipped": ("ignoré", "ignorée"),
    "sent": ("envoyé", "envoyée"),
    "not_sent": ("non envoyé", "non envoyée"),
    "read": ("lu", "lue"),
}
# Count keys that are nouns (singular, plural), and the keys of diffusions and regenerations.
NOUNS: dict[str, tuple[str, str]] = {
    "errors": ("erreur", "erreurs"),
    "failed": ("échec", "échecs"),
    "files": ("fichier", "fichiers"),
    "accounts": ("compte", "comptes"),
    "rows": ("ligne", "lignes"),
    "total": ("au total", "au total"),
    "changed": ("mot de passe changé", "mots de passe changés"),
    "mailed": ("identifiant envoyé", "identifiants envoyés"),
    "information": ("message d'information", "messages d'information"),
    "in_file": ("dans le fichier", "dans le fichier"),
    "pending": ("à reprendre", "à reprendre"),
    "file": ("fichier", "fichier"),
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
    "export": "Export",
}
FEMININE_ENTITIES = frozenset({"cohorts", "roles"})
# Entities in trace lines (short: they start every line).
TRACE_ENTITIES: dict[str, str] = {
    "users": "Comptes",
    "cohorts": "Cohortes",
    "members": "Membres",
    "roles": "Rôles",
    "diffusion": "Diffusion",
    "regeneration": "Régénération",
    "accounts": "Comptes",
    "mails": "Messages",
    "import": "Import",
    "export": "Export",
    "coherence": "Cohérence",
    "sync": "Synchronisation",
}
# Options of a run, as the report shows them.
OPTION_LABELS: dict[str, str] = {
    "users": "comptes utilisateur",
    "cohorts": "cohortes",
    "roles": "associations de rôles",
    "user_login": "utilisateur unique",
    "force": "forcer la mise à jour",
    "update_only": "rafraîchir seulement",
    "simulate": "simulation",
    "verbose": "plus de trace",
    "no_cohort_lock": "verrou de cohortes désactivé",
    "allow_mass_removal": "suppressions en masse permises",
    "targets": "cibles",
    "subject": "objet",
    "free_text": "texte libre",
    "include_activated": "comptes déjà activés inclus",
    "resume_of": "reprise du traitement n°",
    "uai": "périmètre",
    "since": "depuis",
    "format": "format",
    "fichier": "fichier",
    "filtre": "filtre",
    "file": "fichier",
    "path": "fichier",
}
TARGET_WORDS: dict[str, str] = {
    "eleve": "Élève",
    "parent": "Parent",
    "enseignant": "Enseignant",
    "non-enseignant": "Non enseignant",
    "autre": "Autre",
}


def count_label(key: str, n: int | None = None, entity: str | None = None) -> str:
    """The French words for a count key, agreeing with ``entity`` and the number ``n``:
    ``count_label("created", 26, "cohorts")`` → "créées", ``count_label("errors", 1)`` → "erreur"."""
    many = n is None or abs(n) >= 2
    if key in PARTICIPLES:
        word = PARTICIPLES[key][1 if entity in FEMININE_ENTITIES else 0]
        return word + "s" if many else word
    if key in NOUNS:
        return NOUNS[key][1 if many else 0]
    return key.replace("_", " ")


def trace_entity_label(entity: str) -> str:
    return TRACE_ENTITIES.get(entity, entity)


KINDS: tuple[RunKind, ...] = tuple(RunKind)
STATUSES: tuple[RunStatus, ...] = tuple(RunStatus)


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


def count_rows(counts: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Counts flattened to ``(entity, what, value)`` rows, in French with agreement:
    ``{"cohorts": {"created": 26}}`` → ("Cohortes", "créées", "26"); flat ones have no entity."""
    rows: list[tuple[str, str, str]] = []
    for key, value in counts.items():
        if key == SCHOOLS_KEY:  # a sync's Bilan per school: school_lines
            continue
        if isinstance(value, Mapping):
            entity = ENTITY_LABELS.get(key, key)
            for sub, v in value.items():
                rows.append((entity, count_label(sub, _number(v), key), _scalar(v)))
        else:
            rows.append(("", count_label(key, _number(value)), _scalar(value)))
    return rows


def school_lines(counts: Mapping[str, Any]) -> list[str]:
    """A sync's Bilan per school, one line per school with something done ("0123456A Collège Alpha :
    comptes 12 créés ; cohortes 2 créées"), "sans établissement" last; none for other runs."""
    stored = counts.get(SCHOOLS_KEY)
    if not isinstance(stored, Mapping):
        return []
    schools = SchoolCounts.from_dict(stored)
    return [school_line(schools, uai) for uai in schools.schools()]


def counts_lines(counts: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One line per entity: ("Cohortes", "26 créées, 1 modifiée, 0 erreur"); flat counts under ""."""
    lines: dict[str, list[str]] = {}
    for entity, what, value in count_rows(counts):
        lines.setdefault(entity, []).append(f"{value} {what}" if what not in ("fichier",) else f"{what} {value}")
    return [(entity, ", ".join(parts)) for entity, parts in lines.items()]


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def counts_summary(counts: Mapping[str, Any], limit: int = 3) -> str:
    """A short line for the list: the first non-zero counts, e.g. ``12 créés · 1 erreur``."""
    totals: dict[str, int] = {}
    for key, value in counts.items():
        items = value.items() if isinstance(value, Mapping) else [(key, value)]
        for sub, v in items:
            n = _number(v)
            if n:
                totals[sub] = totals.get(sub, 0) + n
    parts = [f"{n} {count_label(key, n)}" for key, n in totals.items()]
    if len(parts) > limit:
        parts = [*parts[:limit], "…"]
    return " · ".join(parts) or "—"


def options_text(options: Mapping[str, Any]) -> str:
    """The options of a run in French: "cibles : Élève, Parent · objet : « … » · simulation"."""
    parts = []
    for key, value in options.items():
        label = OPTION_LABELS.get(key, key.replace("_", " "))
        if value is True:
            parts.append(label)
        elif value in (False, None, "", [], {}):
            continue
        elif isinstance(value, (list, tuple)):
            words = [TARGET_WORDS.get(str(v), str(v)) for v in value]
            parts.append(f"{label} : {', '.join(words)}")
        elif isinstance(value, str) and key in ("subject", "free_text"):
            short = " ".join(value.split())
            short = short if len(short) <= 60 else short[:59] + "…"
            parts.append(f"{label} : « {short} »")
        else:
            parts.append(f"{label} : {value}")
    return " · ".join(parts) or "—"


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
    lines.extend(f"  {entity or '—'} : {value} {what}" for entity, what, value in rows)
    if not rows:
        lines.append("  —")
    per_school = school_lines(run.counts)
    if per_school:
        lines.append("")
        lines.append(f"Par établissement ({plural(len(per_school), 'établissement')}) :")
        lines.extend(f"  {line}" for line in per_school)
    lines.append("")
    lines.append(f"Trace ({plural(len(trace), 'ligne')}) :")
    lines.extend(trace_line_text(t) for t in trace)
    return "\n".join(lines) + "\n"


def trace_line_text(t: TraceLine) -> str:
    entity = f"[{trace_entity_label(t.entity)}] " if t.entity else ""
    return f"{t.at.astimezone().strftime('%H:%M:%S')} {LEVEL_LABELS.get(t.level, t.level):<7} {entity}{t.text}"


async def export_run_report(services: Services, run_id: int, dest: str | Path, *, overwrite: bool = False) -> int:
    """Write one run's report to ``dest`` (mode 0600: traces name people; the destination rule of
    :mod:`enttui.jobs.destinations`); returns the number of trace lines."""
    from enttui.errors import ValidationError

    detail = await run_detail(services, run_id)
    if detail is None:
        raise ValidationError(f"Le traitement n° {run_id} n'existe plus (purgé ?).")
    destination = await prepare_destination(
        services, str(dest), default_name=f"rapport-{detail.run.kind}-{run_id}.txt", overwrite=overwrite
    )
    data = run_report_text(detail.run, detail.trace).encode("utf-8")
    await asyncio.to_thread(partial(write_private, destination.path, data, overwrite=destination.overwrite))
    await services.state.audit("export", f"rapport d'alimentation n° {run_id}", str(destination.path))
    await record_written(services, destination.path, f"rapport d'alimentation n° {run_id}")
    return len(detail.trace)


def cycle(values: Iterable[str | None], current: str | None) -> str | None:
    """The next value of a filter cycle (``None`` = all)."""
    seq = [None, *values]
    try:
        return seq[(seq.index(current) + 1) % len(seq)]
    except ValueError:
        return None
