"""Health of every system, for the home screen ("Accueil") and ``enttui status``."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from enttui.domain.health import SystemHealth
from enttui.domain.people import Target
from enttui.jobs.context import Services

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
