"""Health of every system, for the home screen ("Accueil") and ``enttui status``."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from enttui.domain.health import SystemHealth
from enttui.domain.people import Target
from enttui.domain.runs import FINAL_STATUSES, RunKind, RunStatus
from enttui.domain.transport import database_warnings, ldap_warnings, smtp_warnings
from enttui.services.container import Services

HEALTH_TIMEOUT = 8.0


@dataclass(frozen=True, slots=True)
class StatusReport:
    systems: list[SystemHealth]
    people: dict[str, int] = field(default_factory=dict)  # target label -> count in the périmètre
    people_error: str = ""
    checked_at: str = ""

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.systems if s.configured)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at,
            "systems": [s.as_dict() for s in self.systems],
            "people": dict(self.people),
            "people_error": self.people_error,
        }


async def _timed(
    key: str,
    name: str,
    probe: Callable[[], Awaitable[SystemHealth]],
    timer: Callable[[], float],
    timeout: float,
) -> SystemHealth:
    start = timer()
    try:
        health = await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return SystemHealth(name=name, key=key, ok=False, message=f"ne répond pas en {timeout:g} s")
    except Exception as exc:  # noqa: BLE001 - a probe must never break the report
        return SystemHealth(name=name, key=key, ok=False, message=f"erreur inattendue : {type(exc).__name__}")
    return dataclasses.replace(health, latency_ms=(timer() - start) * 1000.0)


async def collect_status(
    services: Services,
    *,
    timer: Callable[[], float] = time.perf_counter,
    timeout: float = HEALTH_TIMEOUT,
) -> StatusReport:
    """Ask every system at once; a slow or down system costs at most ``timeout`` seconds."""
    cfg = services.config
    moodle = services.moodle

    def not_configured(key: str, name: str) -> Callable[[], Awaitable[SystemHealth]]:
        async def probe() -> SystemHealth:
            return SystemHealth(name=name, key=key, ok=False, configured=False, message="non configuré")

        return probe

    probes: list[tuple[str, str, Callable[[], Awaitable[SystemHealth]]]] = [
        ("directory", "Annuaire (LDAP)", services.directory.health),
        (
            "moodle",
            "Moodle",
            (lambda: moodle.health(cfg.sync.auth)) if moodle is not None else not_configured("moodle", "Moodle"),
        ),
        ("smtp", "SMTP", services.mailer.health if services.mailer is not None else not_configured("smtp", "SMTP")),
        ("state", "Base d'état", services.state.health),
    ]
    people_task = asyncio.ensure_future(_timed_counts(services, timeout))
    systems = await asyncio.gather(*(_timed(k, n, p, timer, timeout) for k, n, p in probes))
    people, people_error = await people_task
    plain = transport_warnings_by_system(services)
    systems = [
        dataclasses.replace(s, warnings=tuple(dict.fromkeys((*s.warnings, *plain.get(s.key, ()))))) for s in systems
    ]
    checked = services.clock().astimezone().strftime("%d/%m/%Y à %H:%M:%S")
    return StatusReport(systems=list(systems), people=people, people_error=people_error, checked_at=checked)


async def _timed_counts(services: Services, timeout: float) -> tuple[dict[str, int], str]:
    from enttui.errors import EnttuiError

    try:
        counts = await asyncio.wait_for(services.directory.count_by_target(), timeout)
    except TimeoutError:
        return {}, f"l'annuaire ne répond pas en {timeout:g} s"
    except EnttuiError as exc:
        return {}, exc.message
    return {t.label: counts.counts.get(t, 0) for t in Target}, ""


SYSTEM_NAMES = {"directory": "Annuaire (LDAP)", "moodle": "Moodle", "smtp": "SMTP", "state": "Base d'état"}


def transport_warnings_by_system(services: Services) -> dict[str, list[str]]:
    """TLS told plainly: checks off, or credentials in clear, per system key (French lines)."""
    cfg = services.config
    ldap = cfg.ldap
    directory = services.directory
    smtp = cfg.smtp
    return {
        "directory": [
            *ldap_warnings(ldap.urls, starttls=ldap.starttls, tls_verify=ldap.tls_verify),
            *(directory.tls_warnings if directory is not None else []),  # pool servers set aside
        ],
        "moodle": database_warnings(cfg.moodle.url) if cfg.moodle_enabled else [],
        "smtp": smtp_warnings(
            smtp.host, security=smtp.security, tls_verify=smtp.tls_verify, authenticated=bool(smtp.username)
        ),
    }


def transport_warnings(services: Services) -> list[str]:
    """The same warnings, one line each naming the system: every run writes them at its start."""
    return [
        f"{SYSTEM_NAMES[key]} : {w}" for key, lines in transport_warnings_by_system(services).items() for w in lines
    ]


# ---------------------------------------------------------------------------------------------
# Monitoring: what the Prometheus metrics file and the Nagios output are made of
# ---------------------------------------------------------------------------------------------

SYNC_ENTITIES = ("users", "cohorts", "roles")
FINISHED = FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class LastRun:
    """The last finished run of one kind (sync, diffusion, regeneration, …)."""

    kind: str
    id: int
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None
    counts: dict[str, Any]

    @property
    def errors(self) -> int:
        """Errors of the run, whatever the shape of its counts (per entity for a sync)."""
        total = 0
        for key, value in self.counts.items():
            if isinstance(value, dict):
                total += int(value.get("errors", 0) or 0)
            elif key == "errors" and isinstance(value, int):
                total += value
        return total

    @property
    def succeeded(self) -> bool:
        return self.status == RunStatus.SUCCESS or (self.status == RunStatus.SIMULATED and self.errors == 0)


@dataclass(frozen=True, slots=True)
class Monitoring:
    """Health plus the recorded history that matters to an on-call person."""

    status: StatusReport
    written_at: datetime
    sync_success: dict[str, datetime | None]  # entity -> start of the last run that applied it whole
    last_runs: dict[str, LastRun]  # kind -> last finished run
    last_success: dict[str, datetime]  # kind -> end of the last successful run
    files_count: int = 0
    files_bytes: int = 0
    oldest_file: datetime | None = None
    state_error: str = ""  # why the history could not be read (French), else ""

    def last_sync_success(self) -> datetime | None:
        """The oldest per-entity success among the synced entities (as fresh as its stalest entity)."""
        return min((m for m in self.sync_success.values() if m is not None), default=None)


async def collect_monitoring(services: Services, report: StatusReport | None = None) -> Monitoring:
    """The status report (probed now unless given) and the state store's history, for monitoring."""
    from enttui.errors import EnttuiError
    from enttui.jobs.sync import watermark_key

    report = report if report is not None else await collect_status(services)
    written = services.clock()
    state = services.state
    sync_success: dict[str, datetime | None] = {}
    last_runs: dict[str, LastRun] = {}
    last_success: dict[str, datetime] = {}
    try:
        for entity in SYNC_ENTITIES:
            sync_success[entity] = await state.get_watermark(watermark_key(entity))
        for kind in (k.value for k in RunKind):
            run = await state.last_run(kind, statuses=FINISHED)
            if run is not None:
                last_runs[kind] = LastRun(kind, run.id, run.status, run.started_at, run.ended_at, dict(run.counts))
            ok = await state.last_run(kind, statuses=[RunStatus.SUCCESS])
            if ok is not None:
                last_success[kind] = ok.ended_at or ok.started_at
        files = await state.list_files()
    except EnttuiError as exc:
        return Monitoring(report, written, sync_success, last_runs, last_success, state_error=exc.message)
    return Monitoring(
        report,
        written,
        sync_success,
        last_runs,
        last_success,
        files_count=len(files),
        files_bytes=sum(f.size for f in files),
        oldest_file=min((f.created_at for f in files), default=None),
    )
