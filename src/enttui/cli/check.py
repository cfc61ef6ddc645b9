"""enttui check [--json] [--nagios]: the coherence report, headless (exit status 1 when a blocking check fails).

After the checks, the counts per school (UAI; "sans établissement" for entries of no known school),
the school with the most blocking findings first (``--details``: per check too); ``--json`` holds
them in ``schools``.

``--nagios`` prints one Nagios plugin line instead (CRITICAL when a blocking check fails, WARNING
when a check "à corriger" fails) and exits 0/1/2/3 as that convention says.
"""

from __future__ import annotations

import argparse
import json
import sys

from enttui.cli import command, open_from_args
from enttui.errors import EXIT_ERRORS, EXIT_OK


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "check",
        parents=[common],
        help="rapport de cohérence de l'annuaire (statut 1 si un contrôle bloquant échoue)",
    )
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")
    parser.add_argument(
        "--nagios",
        action="store_true",
        help="une ligne de greffon Nagios/Icinga ; statut 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
    )
    parser.add_argument("--details", action="store_true", help="lister les entrées concernées par chaque contrôle")
    parser.add_argument("--no-moodle", action="store_true", help="ne pas faire les contrôles croisés avec Moodle")


@command("check")
async def cmd_check(args: argparse.Namespace) -> int:
    from enttui.cli import nagios
    from enttui.cli.log import count
    from enttui.jobs.coherence import run_coherence

    services = await open_from_args(args, strict=True)
    try:
        # The log shows the phases; each failing check is an error (blocking) or a warning line.
        report = await run_coherence(services, args.log, with_moodle=not args.no_moodle)
    finally:
        await services.close()
    blocking = sum(1 for c in report.checks if c.severity == "bloquant" and c.failed)
    failed = sum(1 for c in report.checks if c.failed)
    code = EXIT_ERRORS if report.blocking_failed or report.moodle.startswith("Moodle ne répond") else EXIT_OK
    args.log.finish(
        code,
        status="contrôles bloquants en échec" if report.blocking_failed else "réussi",
        counts=[
            f"{count(failed, 'contrôle')} en échec dont {count(blocking, 'bloquant')}",
            count(report.total_findings, "constat"),
        ],
    )
    if args.nagios:
        verdict, summary, perfdata = nagios.check_verdict(report)
        return nagios.emit(verdict, summary, perfdata)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif not args.quiet:  # --quiet: the log's error lines and final line say what failed
        when = report.checked_at.astimezone().strftime("%d/%m/%Y à %H:%M:%S")
        read = report.read
        print(
            f"Rapport de cohérence du {when} ({read.get('people', 0)} personnes, "
            f"{read.get('groups', 0)} groupes lus en {report.duration:.1f} s)"
        )
        for c in report.checks:
            shown = "—" if c.skipped else str(c.count)
            print(f"  {c.severity:<12} {shown:>6}  {c.title}")
            if c.skipped:
                print(f"  {'':<12} {'':>6}  ({c.skipped})")
            if args.details:
                for f in c.findings:
                    who = f.login or f.dn
                    print(f"  {'':<12} {'':>6}    · [{f.school}] {f.name} ({who}) : {f.detail}")
        schools = report.by_school()
        if schools:
            print("Par établissement (bloquants, à corriger, information) :")
            for s in schools:
                print(
                    f"  {s.label:<18} {s.blocking:>6} {s.to_fix:>6} {s.information:>6}  "
                    f"{report.schools.get(s.uai, '')}".rstrip()
                )
                if args.details:
                    for c in report.checks:
                        if s.counts.get(c.id):
                            print(f"  {'':<18} {s.counts[c.id]:>6}  {c.title}")
        verdict_text = "Au moins un contrôle bloquant échoue." if report.blocking_failed else "Aucun contrôle bloquant."
        print(verdict_text)
    sys.stdout.flush()
    return code
