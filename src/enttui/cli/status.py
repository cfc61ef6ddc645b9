"""enttui status [--json]: health of the directory, Moodle, SMTP and the state store."""

from __future__ import annotations

import argparse
import json

from enttui.cli import command, open_from_args
from enttui.errors import EXIT_ERRORS, EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "status", parents=[common], help="état de l'annuaire, de Moodle, du SMTP et de la base d'état"
    )
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")


@command("status")
async def cmd_status(args: argparse.Namespace) -> int:
    from enttui.jobs.status import collect_status

    services = await open_from_args(args)
    try:
        report = await collect_status(services)
    finally:
        await services.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
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
