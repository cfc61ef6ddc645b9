"""The coherence report ("Rapports de cohérence"): one paged read of each branch, then the checks.

Reads, in this order: every structure (``ENTStructure``) under ``structures_dn``, every group
(``groupOfNames``) under ``groups_dn``, every person (``ENTPerson``) under ``people_dn`` with only
the attributes the checks need; meanwhile, when Moodle is configured, its users (a few columns
each), in a worker thread. No per-entry LDAP call. The people's pages are checked as they come
while the next page is read (``prefetch``), so that the report costs little more than the read.
An incomplete read fails the report (a partial report would claim that the missing entries are
fine).

Also: the CSV export of a report (written through :mod:`enttui.services.localfiles`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from enttui.domain import ldapfilter as lf
from enttui.domain.attributes import COHERENCE_PERSON_ATTRIBUTES, GROUP_ATTRIBUTES, STRUCTURE_ATTRIBUTES
from enttui.domain.coherence import CoherenceAnalyzer
from enttui.domain.coherence_checks import BLOQUANT, NO_SCHOOL, CheckResult, SchoolSummary
from enttui.domain.coherence_checks import by_school as summarise_by_school
from enttui.domain.coherence_checks import for_school as findings_of_school
from enttui.domain.csv_write import csv_bytes
from enttui.domain.french import plural
from enttui.domain.usernames import UsernameRule
from enttui.errors import EnttuiError
from enttui.jobs.collector import collector_paused
from enttui.jobs.destinations import prepare_destination, record_written
from enttui.jobs.events import EventSink, Phase, Progress, Trace, null_sink
from enttui.services.container import Services
from enttui.services.localfiles import write_private
from enttui.services.moodle_sync import MoodleSyncStore

ENTITY = "coherence"
CSV_COLUMNS = ("UAI", "Contrôle", "Gravité", "DN", "Identifiant", "Nom", "Détail")


@dataclass(slots=True)
class CoherenceReport:
    checks: list[CheckResult]
    checked_at: datetime
    duration: float = 0.0
    read: dict[str, int] = field(default_factory=dict)  # structures / groups / people / moodle users
    moodle: str = ""  # "" when the Moodle checks ran, else why not (French)
    schools: dict[str, str] = field(default_factory=dict)  # UAI → name of the directory's schools

    @property
    def blocking_failed(self) -> bool:
        return any(c.severity == BLOQUANT and c.failed for c in self.checks)

    @property
    def total_findings(self) -> int:
        return sum(c.count for c in self.checks)

    def by_school(self) -> list[SchoolSummary]:
        """The findings per school (UAI), the school with the most blocking findings first."""
        return summarise_by_school(self.checks)

    def for_school(self, uai: str) -> CoherenceReport:
        """The same report with only the findings of school ``uai`` ("" = of no known school)."""
        return CoherenceReport(
            findings_of_school(self.checks, uai),
            self.checked_at,
            self.duration,
            dict(self.read),
            self.moodle,
            self.schools,
        )

    def school_label(self, uai: str) -> str:
        """``0123456A (Collège Jean Moulin)``, or "sans établissement"."""
        if not uai:
            return NO_SCHOOL
        name = self.schools.get(uai, "")
        return f"{uai} ({name})" if name else uai

    def check(self, check_id: str) -> CheckResult:
        for c in self.checks:
            if c.id == check_id:
                return c
        raise KeyError(check_id)

    def as_dict(self, *, with_findings: bool = True) -> dict[str, Any]:
        checks = []
        for c in self.checks:
            d = c.as_dict()
            if not with_findings:
                d.pop("findings")
            checks.append(d)
        return {
            "ok": not self.blocking_failed,
            "blocking_failed": self.blocking_failed,
            "checked_at": self.checked_at.isoformat(),
            "duration_s": round(self.duration, 3),
            "read": dict(self.read),
            "moodle": self.moodle or "ok",
            "checks": checks,
            "schools": [{**s.as_dict(), "name": self.schools.get(s.uai, "")} for s in self.by_school()],
        }


async def run_coherence(
    services: Services,
    sink: EventSink = null_sink,
    *,
    with_moodle: bool = True,
    timer: Callable[[], float] = time.perf_counter,
) -> CoherenceReport:
    """Run every check on the whole directory (findings limited to the périmètre)."""
    cfg = services.config
    ldap = cfg.ldap
    start = timer()
    moodle = services.moodle if with_moodle else None
    analyzer = CoherenceAnalyzer(
        perimeter_uais=cfg.ent.uai or None,
        now=services.clock(),
        never_activated_days=cfg.coherence.never_activated_days,
        prefer=cfg.ent.profile_source,
        inactive_attribute=ldap.inactive_attribute,
        inactive_value=ldap.inactive_value,
        synced_targets=cfg.sync.profiles,
        usernames=UsernameRule(cfg.sync.usernames),
        expect_moodle=moodle is not None,
    )
    read: dict[str, int] = {"structures": 0, "groups": 0, "people": 0}

    async def read_branch(key: str, label: str, base: str, filt: str, attributes: Sequence[str], add: Any) -> None:
        sink(Phase(ENTITY, label))
        async for page in services.directory.iter_pages(base, filt, attributes, prefetch=True):
            add(page)
            read[key] += len(page)
            sink(Progress(key, read[key], None))

    # Moodle's users are read meanwhile (a worker thread and the database do the work).
    moodle_read = (
        asyncio.ensure_future(MoodleSyncStore(moodle).coherence_users(cfg.sync.auth)) if moodle is not None else None
    )
    try:
        with collector_paused():
            await _read_directory(services, read_branch, analyzer, moodle_read)
    except BaseException:
        if moodle_read is not None:
            moodle_read.cancel()
            with contextlib.suppress(BaseException):
                await moodle_read
        raise
    sink(Trace("info", ENTITY, f"{plural(read['people'], 'personne')}, {plural(read['groups'], 'groupe')} lus"))

    if moodle_read is not None:
        if not moodle_read.done():
            sink(Phase(ENTITY, "Lecture des utilisateurs Moodle"))
        try:
            users, usernames = await moodle_read
        except EnttuiError as exc:
            analyzer.moodle_failed(f"Moodle ne répond pas : {exc.message}")
            sink(Trace("warning", ENTITY, f"contrôles Moodle non faits : {exc.message}"))
        else:
            if analyzer.moodle_users is None:
                analyzer.set_moodle(users, usernames)
            read["moodle_users"] = len(usernames)
    elif not with_moodle:
        analyzer.moodle_failed("Contrôles Moodle non demandés.")

    sink(Phase(ENTITY, "Contrôles"))
    checks = analyzer.results()
    for c in checks:
        if c.failed:
            level = "error" if c.severity == BLOQUANT else "warning"
            sink(Trace(level, ENTITY, f"{c.title} : {c.count}"))
    return CoherenceReport(
        checks=checks,
        checked_at=services.clock(),
        duration=timer() - start,
        read=read,
        moodle=analyzer.moodle_skipped,
        schools={s.uai.upper(): s.name for s in analyzer.structures if s.uai},
    )


async def _read_directory(services: Services, read_branch: Any, analyzer: CoherenceAnalyzer, moodle_read: Any) -> None:
    """Structures, groups, then people (the analyser needs them in this order)."""
    ldap = services.config.ldap
    await read_branch(
        "structures",
        "Lecture des établissements",
        ldap.structures_dn or ldap.base_dn,
        lf.eq("objectClass", "ENTStructure"),
        STRUCTURE_ATTRIBUTES,
        analyzer.add_structures,
    )
    await read_branch(
        "groups",
        "Lecture des classes et groupes",
        ldap.groups_dn or ldap.base_dn,
        lf.eq("objectClass", "groupOfNames"),
        GROUP_ATTRIBUTES,
        analyzer.add_groups,
    )
    if moodle_read is not None and moodle_read.done() and not moodle_read.cancelled() and not moodle_read.exception():
        users, usernames = moodle_read.result()  # in time: each person is checked against Moodle as it comes
        analyzer.set_moodle(users, usernames)
    await read_branch(
        "people",
        "Lecture des personnes",
        ldap.people_dn or ldap.base_dn,
        lf.eq("objectClass", "ENTPerson"),
        (*COHERENCE_PERSON_ATTRIBUTES, *_extra_attributes(ldap.inactive_attribute)),
        analyzer.add_people,
    )


def _extra_attributes(inactive_attribute: str) -> tuple[str, ...]:
    return (
        () if inactive_attribute.lower() in {a.lower() for a in COHERENCE_PERSON_ATTRIBUTES} else (inactive_attribute,)
    )


# -- exports ----------------------------------------------------------------------------------------


def coherence_csv(checks: Sequence[CheckResult]) -> bytes:
    """``;``-separated, every field quoted, UTF-8 with BOM (French Excel), formulas neutralised."""
    rows = ((f.school, c.title, c.severity, f.dn, f.login, f.name, f.detail) for c in checks for f in c.findings)
    return csv_bytes(CSV_COLUMNS, rows)


def export_coherence_csv(
    report: CoherenceReport, path: Path, *, check_id: str | None = None, overwrite: bool = False
) -> int:
    """Write the findings (of one check, or all) to ``path``; returns the number of rows."""
    checks = [report.check(check_id)] if check_id else report.checks
    write_private(path, coherence_csv(checks), overwrite=overwrite)
    return sum(c.count for c in checks)


async def write_coherence_report(
    services: Services, report: CoherenceReport, dest: str, *, check_id: str | None = None, overwrite: bool = False
) -> tuple[Path, int]:
    """The CSV of the report (or of one check) to ``dest``, with the destination rule of
    :mod:`enttui.jobs.destinations`; returns the path written and the number of rows."""
    name = f"coherence-{check_id or 'rapport'}.csv"
    destination = await prepare_destination(services, dest, default_name=name, overwrite=overwrite)
    rows = await asyncio.to_thread(
        partial(export_coherence_csv, report, destination.path, check_id=check_id, overwrite=destination.overwrite)
    )
    await record_written(services, destination.path, "rapport de cohérence")
    return destination.path, rows
