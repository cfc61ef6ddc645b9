"""``--nagios`` for ``enttui status`` and ``enttui check``: a Nagios/Icinga plugin output.

One line on stdout, ``ENTTUI <STATE> - <French summary> | <perfdata>``, then the exit status of
the plugin convention, which replaces enttui's own (0 success, 1 errors, 2 usage, 3 locked):

    0 OK         everything answers; the last successful sync is recent; no blocking check fails
    1 WARNING    a warning (TLS told plainly, a check "à corriger" fails, sync older than --sync-warning)
    2 CRITICAL   a configured system is down, a blocking check fails, sync older than --sync-critical
    3 UNKNOWN    the check itself could not run (configuration, state store, unexpected error)

The state words stay in English: monitoring tools and on-call people read them as such.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from enttui.errors import EnttuiError, redact

if TYPE_CHECKING:
    from enttui.jobs.status import Monitoring

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


def perf(label: str, value: float, unit: str = "", warn: float | None = None, crit: float | None = None) -> str:
    """One perfdata item: ``label=value[unit];warn;crit;0``."""
    label = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
    number = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    w = "" if warn is None else f"{warn:g}"
    c = "" if crit is None else f"{crit:g}"
    return f"{label}={number}{unit};{w};{c};0"


def line(code: int, summary: str, perfdata: Iterable[str] = ()) -> str:
    text = redact(" ".join(summary.split())).replace("|", "/")
    items = " ".join(perfdata)
    return f"ENTTUI {STATES[code]} - {text}" + (f" | {items}" if items else "")


def emit(code: int, summary: str, perfdata: Iterable[str] = (), details: Sequence[str] = ()) -> int:
    """Print the status line (and the long output lines after it); returns the plugin exit status."""
    print(line(code, summary, perfdata))
    for detail in details:
        print(redact(detail).replace("|", "/"))
    sys.stdout.flush()
    return code


def unknown(exc: BaseException) -> int:
    """The check could not run: UNKNOWN (3) with the French reason."""
    if isinstance(exc, EnttuiError):
        reason = f"{exc.title} : {exc.message}"
    elif isinstance(exc, KeyboardInterrupt):
        reason = "interrompu"
    else:
        reason = f"erreur inattendue ({type(exc).__name__})"
    return emit(UNKNOWN, reason)


def _n(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n <= 1 else (plural or singular + 's')}"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h".replace(".", ",")


def status_verdict(m: Monitoring, *, warning_hours: float, critical_hours: float) -> tuple[int, str, list[str]]:
    """(exit status, summary, perfdata) of ``enttui status --nagios``."""
    problems: list[tuple[int, str]] = []
    perfdata: list[str] = []
    configured = [s for s in m.status.systems if s.configured]
    for s in configured:
        if not s.ok:
            problems.append((CRITICAL, f"{s.name} en panne ({s.message})"))
        else:
            problems.extend((WARNING, f"{s.name} : {w}") for w in s.warnings)
            if s.latency_ms is not None:
                perfdata.append(perf(f"{s.key}_latency", s.latency_ms / 1000.0, "s"))
    if m.state_error:
        problems.append((CRITICAL, f"historique illisible ({m.state_error})"))
    sync_expected = any(s.key == "moodle" for s in configured)
    last = m.last_sync_success()
    if last is not None:
        age = max(0.0, (m.written_at - last).total_seconds())
        perfdata.append(perf("sync_age", round(age), "s", warning_hours * 3600, critical_hours * 3600))
        if age >= critical_hours * 3600:
            problems.append((CRITICAL, f"aucune synchronisation réussie depuis {_hours(age)}"))
        elif age >= warning_hours * 3600:
            problems.append((WARNING, f"aucune synchronisation réussie depuis {_hours(age)}"))
    elif sync_expected and not m.state_error:
        problems.append((WARNING, "aucune synchronisation réussie enregistrée"))
    run = m.last_runs.get("sync")
    if run is not None and not run.succeeded:
        problems.append((WARNING, f"dernière synchronisation n° {run.id} : {run.status}"))
    if m.status.people:
        perfdata.append(perf("people", sum(m.status.people.values())))
    perfdata.append(perf("identifier_files", m.files_count))
    code = max((c for c, _ in problems), default=OK)
    if code == OK:
        up = len(configured)
        summary = f"{up} système{'s' if up > 1 else ''} {'répondent' if up > 1 else 'répond'}"
        if last is not None:
            summary += f", dernière synchronisation réussie il y a {_hours((m.written_at - last).total_seconds())}"
    else:
        worst = [text for c, text in problems if c == code]
        others = len(problems) - len(worst)
        plural = "s" if others > 1 else ""
        summary = " ; ".join(worst) + (f" (et {others} autre{plural} remarque{plural})" if others else "")
    return code, summary, perfdata


def check_verdict(report: Any) -> tuple[int, str, list[str]]:
    """(exit status, summary, perfdata) of ``enttui check --nagios`` (a CoherenceReport)."""
    from enttui.domain.coherence_checks import A_CORRIGER, BLOQUANT

    blocking = [c for c in report.checks if c.severity == BLOQUANT and c.failed]
    to_fix = [c for c in report.checks if c.severity == A_CORRIGER and c.failed]
    perfdata = [perf(c.id, c.count) for c in report.checks if not c.skipped]
    perfdata.append(perf("duration", round(report.duration, 3), "s"))
    if blocking:
        names = ", ".join(f"{c.title} ({c.count})" for c in blocking)
        return CRITICAL, f"{_n(len(blocking), 'contrôle bloquant', 'contrôles bloquants')} en échec : {names}", perfdata
    if report.moodle.startswith("Moodle ne répond"):
        return CRITICAL, report.moodle, perfdata
    if to_fix:
        names = ", ".join(f"{c.title} ({c.count})" for c in to_fix)
        return WARNING, f"{_n(len(to_fix), 'contrôle')} à corriger : {names}", perfdata
    people = _n(report.read.get("people", 0), "personne lue", "personnes lues")
    return OK, f"aucun contrôle en échec ({people})", perfdata
