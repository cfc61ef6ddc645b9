"""enttui status [--json] [--metrics FICHIER] [--nagios]: health of the directory, Moodle, SMTP and the state store.

``--metrics`` (or ``[monitoring] metrics_file``) also rewrites the Prometheus metrics file;
``--nagios`` prints one Nagios plugin line and exits 0/1/2/3 as that convention says (OK, WARNING,
CRITICAL, UNKNOWN), the last successful sync checked against ``--sync-warning``/``--sync-critical``.
"""

from __future__ import annotations

import argparse
import json

from enttui.cli import command, open_from_args
from enttui.errors import EXIT_ERRORS, EXIT_OK

SYNC_WARNING_HOURS = 26.0
SYNC_CRITICAL_HOURS = 36.0


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "status", parents=[common], help="état de l'annuaire, de Moodle, du SMTP et de la base d'état"
    )
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")
    parser.add_argument(
        "--nagios",
        action="store_true",
        help="une ligne de greffon Nagios/Icinga ; statut 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
    )
    parser.add_argument(
        "--sync-warning",
        type=float,
        metavar="HEURES",
        default=SYNC_WARNING_HOURS,
        help=f"avec --nagios : WARNING sans synchronisation réussie depuis ce délai ({SYNC_WARNING_HOURS:g} h)",
    )
    parser.add_argument(
        "--sync-critical",
        type=float,
        metavar="HEURES",
        default=SYNC_CRITICAL_HOURS,
        help=f"avec --nagios : CRITICAL sans synchronisation réussie depuis ce délai ({SYNC_CRITICAL_HOURS:g} h)",
    )


@command("status")
async def cmd_status(args: argparse.Namespace) -> int:
    from enttui.cli import metrics, nagios
    from enttui.jobs.status import collect_monitoring, collect_status

    services = await open_from_args(args)
    try:
        report = await collect_status(services)
        path = metrics.metrics_path(args, services.config.monitoring.metrics_file)
        snapshot = None
        if path:
            snapshot = await metrics.write_metrics(services, path, report)
        if args.nagios:
            snapshot = snapshot or await collect_monitoring(services, report)
    finally:
        await services.close()
    if args.nagios and snapshot is not None:
        code, summary, perfdata = nagios.status_verdict(
            snapshot, warning_hours=args.sync_warning, critical_hours=args.sync_critical
        )
        return nagios.emit(code, summary, perfdata)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif args.quiet:  # a timer refreshing the metrics: the exit status (and the file) say it all
        for h in report.systems:
            if h.configured and not h.ok:
                args.log.error(f"{h.name} : {h.message}")
    else:
        print(f"État des systèmes, vérifié le {report.checked_at}")
        for h in report.systems:
            state = "OK" if h.ok else ("non configuré" if not h.configured else "EN PANNE")
            latency = "—" if h.latency_ms is None or not h.configured else f"{h.latency_ms:.0f} ms"
            line = f"  {h.name:<16} {state:<13} {latency:>8}  {h.version or h.message}"
            print(line.rstrip())
            for warning in h.warnings:
                print(f"  {'':<16} ⚠ {warning}")
        if report.people:
            print("Personnes du périmètre : " + ", ".join(f"{k} {v}" for k, v in report.people.items()))
        elif report.people_error:
            print(f"Personnes du périmètre : indisponible ({report.people_error})")
    return EXIT_OK if report.ok else EXIT_ERRORS
