"""enttui sync: the Moodle synchronisation, headless (cron): no prompt; the run's log on stderr.

The log (:mod:`enttui.cli.log`): one line per phase, warning and error, and a final line with the
counts; ``--verbose`` adds every change and detail line; ``--quiet`` keeps only what went wrong.
Exit status: 0 success, 1 finished with errors (guards included, a system down, or cancelled),
2 usage or configuration error (a blank ``--user`` too), 3 another run holds the lock. ``--json``
prints one JSON document with the counts, the phases and the warnings on stdout. Ctrl+C (SIGINT)
stops the run at the end of the batch under way, as "Annuler" does on the screen; a second Ctrl+C
stops at once (the batch under way may or may not be written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from enttui.cli import command, open_from_args
from enttui.domain.runs import RunStatus


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
    from enttui.errors import EXIT_USAGE

    EXIT_INTERRUPTED = 130  # as a shell reports a process stopped by SIGINT
    from enttui.jobs.sync import run_sync, summary_lines

    if args.user is not None and not args.user.strip():
        print(
            "enttui sync : --user attend un identifiant, il est vide : rien n'a été lancé "
            "(sans --user, la synchronisation porte sur tout le monde).",
            file=sys.stderr,
        )
        return EXIT_USAGE
    chosen = args.users or args.cohorts or args.roles
    options = SyncOptions(
        users=args.users or not chosen,
        cohorts=args.cohorts or not chosen,
        roles=args.roles or not chosen,
        user_login=args.user,
        force=args.force,
        update_only=args.update_only,
        simulate=args.simulate,
        verbose=args.verbose,
        no_cohort_lock=args.no_cohort_lock,
        allow_mass_removal=args.allow_mass_removal,
    )
    stop = {"asked": False}
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_sigint() -> None:
        if stop["asked"]:
            args.log.warning("arrêt immédiat demandé (le lot en cours peut avoir été écrit)")
            if task is not None:
                task.cancel()
            return
        stop["asked"] = True
        args.log.warning(
            "annulation demandée : arrêt à la fin du lot en cours (Ctrl+C encore pour arrêter tout de suite)"
        )

    services = await open_from_args(args, strict=True)
    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        result = await run_sync(services, options, args.log, should_stop=lambda: stop["asked"])
    except asyncio.CancelledError:
        args.log.finish(EXIT_INTERRUPTED, status=RunStatus.INTERRUPTED)
        return EXIT_INTERRUPTED
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await services.close()
    counts = summary_lines(result.counts, result.phases)
    args.log.finish(result.exit_code, status=result.status, run_id=result.run_id, counts=counts)
    if args.json:
        print(json.dumps(args.log.with_warnings(result.as_dict()), ensure_ascii=False, indent=2))
    return result.exit_code
