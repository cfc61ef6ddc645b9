"""Exports of people to CSV: the generic one, the tools schools feed (Moodle, SACoche, Gepi), custom.

The file is written to a path typed by the admin (no ``..``, no symbolic link, an existing file is
replaced only when confirmed), mode 0600 (it holds personal data), page by page from the
directory. Cells are neutralised against formula injection; no password is ever exported. Each
export is recorded as a run of kind ``export`` and in the audit trail.

Custom profiles (named column choices) live in ``export_profiles.json`` next to the identifier
files' folder (the parent of ``[state] files_dir``), mode 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from enttui.domain.annuaire import classe_filter
from enttui.domain.csv_formats import (
    BUILTIN_FORMATS,
    ExportContext,
    ExportFormat,
    custom_format,
    profile_name_problem,
)
from enttui.domain.csv_write import BOM, csv_lines
from enttui.domain.dn import lookup_key
from enttui.domain.french import plural
from enttui.domain.people import Target, person_from_entry
from enttui.domain.runs import RunStatus
from enttui.errors import EnttuiError, StateError, ValidationError
from enttui.jobs.destinations import prepare_destination, record_written
from enttui.jobs.events import EventSink, Phase, Progress, null_sink
from enttui.jobs.local_accounts import LOCAL_ATTRIBUTES
from enttui.services.container import Services
from enttui.services.localfiles import open_private, write_all

__all__ = [
    "ACTIVATION_CHOICES",
    "ExportFilter",
    "ExportResult",
    "delete_profile",
    "format_names",
    "load_profiles",
    "profiles_path",
    "resolve_format",
    "run_export",
    "save_profile",
]

EXPORT_ATTRIBUTES: tuple[str, ...] = (*LOCAL_ATTRIBUTES, "ENTEleveINE")
ACTIVATION_CHOICES: dict[str, str] = {"tous": "Tous", "actives": "Activés", "non_actives": "Non activés"}
PROFILES_FILE = "export_profiles.json"


@dataclass(frozen=True)
class ExportFilter:
    targets: tuple[Target, ...] = ()  # empty: the format's default population (or everyone)
    klass: str = ""  # a class name (e.g. 3A): its students and teachers
    activation: str = "tous"  # tous | actives | non_actives

    def describe(self) -> str:
        parts = [", ".join(t.label for t in self.targets) if self.targets else "tous profils"]
        if self.klass:
            parts.append(f"classe {self.klass}")
        parts.append(ACTIVATION_CHOICES.get(self.activation, self.activation).lower())
        return " ; ".join(parts)


@dataclass(frozen=True)
class ExportResult:
    run_id: int
    path: Path
    rows: int
    format: str
    options: dict[str, Any] = field(default_factory=dict)


# -- custom profiles --------------------------------------------------------------------------


def profiles_path(services: Services) -> Path:
    return Path(services.config.state.files_dir).parent / PROFILES_FILE


def load_profiles(services: Services) -> dict[str, dict[str, Any]]:
    """``{name: {"columns": [...], "targets": [...]}}``; a missing file is no profile."""
    path = profiles_path(services)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StateError(f"Profils d'export illisibles : {path} ({exc}).") from None
    if not isinstance(data, dict):
        raise StateError(f"Profils d'export illisibles : {path} (un objet JSON est attendu).")
    return {
        str(k): {"columns": list(v.get("columns", [])), "targets": list(v.get("targets", []))}
        for k, v in data.items()
        if isinstance(v, dict)
    }


def _store_profiles(services: Services, profiles: dict[str, dict[str, Any]]) -> None:
    path = profiles_path(services)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        write_all(fd, json.dumps(profiles, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8"))
    finally:
        os.close(fd)
    tmp.replace(path)


async def save_profile(
    services: Services, name: str, columns: list[str], targets: list[Target] | tuple[Target, ...] = ()
) -> None:
    problem = profile_name_problem(name)
    if problem:
        raise ValidationError(problem[0].upper() + problem[1:] + ".")
    try:
        custom_format(name, columns, targets)
    except ValueError as exc:
        raise ValidationError(str(exc)[0].upper() + str(exc)[1:] + ".") from None

    def do() -> None:
        profiles = load_profiles(services)
        profiles[name] = {"columns": list(columns), "targets": [t.value for t in targets]}
        _store_profiles(services, profiles)

    await asyncio.to_thread(do)
    await services.state.audit("export.profil", name, "colonnes : " + ", ".join(columns))


async def delete_profile(services: Services, name: str) -> None:
    def do() -> None:
        profiles = load_profiles(services)
        if name not in profiles:
            raise ValidationError(f"Profil d'export inconnu : « {name} ».")
        del profiles[name]
        _store_profiles(services, profiles)

    await asyncio.to_thread(do)
    await services.state.audit("export.profil.suppression", name, "profil supprimé")


def format_names(services: Services) -> list[str]:
    """Every format name: the built-in ones, then the custom profiles (sorted)."""
    return [*BUILTIN_FORMATS, *sorted(load_profiles(services))]


def resolve_format(services: Services, name: str) -> ExportFormat:
    if name in BUILTIN_FORMATS:
        return BUILTIN_FORMATS[name]
    profiles = load_profiles(services)
    if name not in profiles:
        known = ", ".join(format_names(services))
        raise ValidationError(f"Format d'export inconnu : « {name} » (formats : {known}).")
    p = profiles[name]
    try:
        targets = tuple(Target(t) for t in p["targets"])
        return custom_format(name, p["columns"], targets)
    except ValueError as exc:
        raise ValidationError(f"Profil d'export « {name} » invalide : {exc}.") from None


# -- the export -------------------------------------------------------------------------------


async def run_export(
    services: Services,
    format_name: str,
    output: str,
    *,
    filt: ExportFilter | None = None,
    overwrite: bool = False,
    sink: EventSink = null_sink,
    user: str | None = None,
) -> ExportResult:
    """Write the export; raises :class:`DestinationExists` when ``output`` exists and not ``overwrite``."""
    fmt = resolve_format(services, format_name)
    filt = filt or ExportFilter()
    destination = await prepare_destination(
        services, output, default_name=f"export-{fmt.name}.csv", overwrite=overwrite
    )
    path = destination.path
    targets = set(filt.targets or fmt.targets)
    if filt.activation not in ACTIVATION_CHOICES:
        raise ValidationError(f"État d'activation inconnu : « {filt.activation} ».")
    cfg = services.config
    directory = services.directory
    fd = await asyncio.to_thread(partial(open_private, path, overwrite=destination.overwrite))
    await record_written(services, path, f"export CSV {fmt.name}")
    options: dict[str, Any] = {"format": fmt.name, "fichier": str(path), "filtre": filt.describe()}
    run_id = await services.state.start_run("export", options, user=user)
    rows = 0
    status = RunStatus.WITH_ERRORS
    try:
        schools = await directory.structures()
        ctx = ExportContext({lookup_key(s.dn): s.uai for s in schools}, cfg.sync.auth, cfg.sync.cohort_prefix)
        head = (BOM if fmt.bom else "") + csv_lines([fmt.header], fmt.delimiter)
        await asyncio.to_thread(write_all, fd, head.encode("utf-8"))
        sink(Phase("export", "Lecture de l'annuaire"))
        by_class = classe_filter(filt.klass)  # a class selects few people: one search; else school by school
        pages = directory.iter_perimeter(by_class, EXPORT_ATTRIBUTES, prefetch=True, by_school=by_class is None)
        async for page in pages:
            out: list[list[str]] = []
            for dn, attrs in page:
                person = person_from_entry(
                    dn,
                    attrs,
                    prefer=cfg.ent.profile_source,
                    inactive_attribute=cfg.ldap.inactive_attribute,
                    inactive_value=cfg.ldap.inactive_value,
                )
                if targets and person.target not in targets:
                    continue
                if filt.activation == "actives" and not person.activated:
                    continue
                if filt.activation == "non_actives" and person.activated:
                    continue
                out.append(fmt.row(person, attrs, ctx))
            if out:
                await asyncio.to_thread(write_all, fd, csv_lines(out, fmt.delimiter).encode("utf-8"))
                rows += len(out)
            sink(Progress("export", rows, None))
        await asyncio.to_thread(os.fsync, fd)
        status = RunStatus.SUCCESS
    except asyncio.CancelledError:
        status = RunStatus.INTERRUPTED
        raise
    finally:
        os.close(fd)
        if status != RunStatus.SUCCESS:
            with contextlib.suppress(OSError):
                path.unlink()  # never leave half an export behind
        summary = (
            f"{plural(rows, 'ligne exportée', 'lignes exportées')} vers {path}"
            if status == RunStatus.SUCCESS
            else "export abandonné"
        )
        with contextlib.suppress(EnttuiError):
            await services.state.finish_run(run_id, status, {"export": {"rows": rows}}, summary)
    await services.state.audit(
        "export.csv", str(path), f"format {fmt.name}, {plural(rows, 'ligne')}, {filt.describe()}"
    )
    return ExportResult(run_id, path, rows, fmt.name, options)
