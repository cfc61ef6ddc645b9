"""enttui sync: the Moodle synchronisation, headless (cron): no prompt; the run's log on stderr.

The log (:mod:`enttui.cli.log`): one line per phase, warning and error, and a final line with the
counts; ``--verbose`` adds every change and detail line; ``--quiet`` keeps only what went wrong.
Exit status: 0 success, 1 finished with errors (guards included), 2 usage or configuration error,
3 another run holds the lock. ``--json`` prints one JSON document with the counts on stdout.
"""

from __future__ import annotations

import argparse
import json

from enttui.cli import command, open_from_args


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser(
        "sync",
        parents=[common],
        help="synchroniser Moodle depuis l'annuaire",
        description="Synchroniser les données de moodle. Sans --users/--cohorts/--roles : les trois entités.",
    )
    parser.add_argument("--users", action="store_true", help="comptes utilisateur")
    parser.add_argument("--cohorts", action="store_true", help="cohortes")
    parser.add_argument("--roles", action="store_true", help="associations de rôles")
    parser.add_argument("--user", metavar="IDENTIFIANT", help="synchroniser un utilisateur unique")
    parser.add_argument(
        "--force",
        action="store_true",
        help="forcer la mise à jour de toutes les entrées (y compris celles non modifiées dans la période de référence)",  # noqa: E501
    )
    parser.add_argument("--update-only", action="store_true", help="uniquement rafraîchir l'existant, ne rien créer")
    parser.add_argument("--simulate", action="store_true", help="mode simulation : rien n'est écrit")
    parser.add_argument(
        "--no-cohort-lock", action="store_true", help="désactiver le verrou de cohortes automatiques (avec précaution)"
    )
    parser.add_argument(
        "--allow-mass-removal",
        action="store_true",
        help="autoriser des suspensions au-delà du seuil [sync] max_removal_share",
    )
    parser.add_argument("--json", action="store_true", help="un document JSON des compteurs sur la sortie standard")


@command("sync")
async def cmd_sync(args: argparse.Namespace) -> int:
    from enttui.domain.sync import SyncOptions
    from enttui.jobs.sync import run_sync, summary_lines

    chosen = args.users or args.cohorts or args.roles
    options = SyncOptions(
        users=args.users or not chosen,
        cohorts=args.cohorts or not chosen,
        roles=args.roles or not chosen,
        user_login=args.user or None,
        force=args.force,
        update_only=args.update_only,
        simulate=args.simulate,
        verbose=args.verbose,
        no_cohort_lock=args.no_cohort_lock,
        allow_mass_removal=args.allow_mass_removal,
    )
    services = await open_from_args(args, strict=True)
    try:
        result = await run_sync(services, options, args.log)
    finally:
        await services.close()
    args.log.finish(result.exit_code, status=result.status, run_id=result.run_id, counts=summary_lines(result.counts))
    if args.json:
        print(json.dumps(args.log.with_warnings(result.as_dict()), ensure_ascii=False, indent=2))
    return result.exit_code
