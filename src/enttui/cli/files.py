"""enttui files: the "Fichiers des identifiants" without the screen.

enttui files list [--json]
enttui files export NAME DEST [--force]
enttui files delete NAME [--yes]
enttui files regenerate [--uai UAI] [--since YYYY-MM-DD] [--include-activated] [--yes] [--json]
enttui files regenerate --resume [N] [--yes] [--json]   finish an interrupted regeneration
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from enttui.cli import command, open_from_args
from enttui.cli.diffuse import ask
from enttui.cli.log import regeneration_counts
from enttui.domain.french import plural
from enttui.domain.runs import RunStatus
from enttui.errors import EXIT_ERRORS, EXIT_OK, DestinationExists, UsageError

if TYPE_CHECKING:
    from enttui.services.container import Services


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("files", parents=[common], help="fichiers des identifiants")
    actions = parser.add_subparsers(dest="files_action", metavar="ACTION", required=True)
    p = actions.add_parser("list", parents=[common], help="lister les fichiers")
    p.add_argument("--json", action="store_true")
    p.add_argument("--names", action="store_true", help=argparse.SUPPRESS)  # for the shell completion
    p = actions.add_parser("export", parents=[common], help="copier un fichier (0600) vers DEST")
    p.add_argument("name", metavar="NOM")
    p.add_argument("dest", metavar="DEST")
    p.add_argument("--force", action="store_true", help="remplacer DEST s'il existe")
    p = actions.add_parser("delete", parents=[common], help="supprimer un fichier")
    p.add_argument("name", metavar="NOM")
    p.add_argument("--yes", action="store_true", help="ne pas demander de confirmation")
    p = actions.add_parser("regenerate", parents=[common], help="régénérer le(s) fichier(s) des identifiants")
    p.add_argument("--uai", action="append", default=[], help="UAI du périmètre (toutes par défaut)")
    p.add_argument("--since", metavar="AAAA-MM-JJ", help="comptes créés depuis cette date")
    p.add_argument("--include-activated", action="store_true", help="inclure les comptes déjà activés")
    p.add_argument("--yes", action="store_true", help="ne pas demander de confirmation")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--resume", nargs="?", const="last", metavar="N", help="reprendre une régénération interrompue (la dernière)"
    )


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").astimezone()
    except ValueError:
        raise UsageError(f"--since : date invalide « {text} » (format AAAA-MM-JJ).") from None


@command("files")
async def cmd_files(args: argparse.Namespace) -> int:
    from enttui.domain.idfiles import format_generated
    from enttui.jobs import idfiles

    action = args.files_action
    if action == "list" and args.names:
        from enttui.cli.completion import print_file_names

        return await print_file_names(args)
    services = await open_from_args(args, strict=action == "regenerate")
    try:
        await idfiles.purge_files(services)
        if action == "list":
            entries = await idfiles.list_files(services)
            if args.json:
                doc = {
                    "count": len(entries),
                    "files": [
                        {
                            "name": e.name,
                            "size": e.size,
                            "created_at": e.created_at.isoformat(),
                            "rows": e.rows,
                            "run_id": e.run_id,
                            "run_status": e.status,
                        }
                        for e in entries
                    ],
                }
                print(json.dumps(doc, ensure_ascii=False, indent=2))
            else:
                print(plural(len(entries), "résultat") if entries else "Aucun fichier.")
                for e in entries:
                    state = f"\t{e.status}" if e.status in (RunStatus.INTERRUPTED, RunStatus.RUNNING) else ""
                    lines = "1 ligne" if e.rows == 1 else f"{e.rows} lignes"
                    print(f"{e.name}\t{e.size}\t{format_generated(e.created_at)}\t{lines}{state}")
            return EXIT_OK
        if action == "export":
            try:
                path = await idfiles.export_file(services, args.name, args.dest, overwrite=args.force)
            except DestinationExists as exc:
                if not sys.stdin.isatty() or not ask(f"{exc.path} existe (enttui l'a écrit). Le remplacer ? [o/N]"):
                    raise UsageError(f"{exc.path} existe déjà : ajoutez --force pour le remplacer.") from None
                path = await idfiles.export_file(services, args.name, args.dest, overwrite=True)
            print(f"Copié vers {path} (0600).")
            return EXIT_OK
        if action == "delete":
            if not args.yes and not ask(f"Supprimer {args.name} ? [o/N]"):
                print("Abandon : rien n'a été supprimé.", file=sys.stderr)
                return EXIT_OK
            await idfiles.delete_file(services, args.name)
            print(f"{args.name} supprimé.")
            return EXIT_OK
        return await _regenerate(services, args)
    finally:
        await services.close()


async def _regenerate(services: Services, args: argparse.Namespace) -> int:
    from enttui.cli.diffuse import interrupted_text
    from enttui.jobs import regeneration
    from enttui.jobs.locking import take_lock

    printer = args.log  # the run's log (enttui.cli.log) is the job's event sink
    lock = await take_lock(services, "regeneration")
    try:
        if args.resume:
            run_id = None if args.resume == "last" else _int(args.resume)
            if run_id is None:
                run = await regeneration.resumable_regeneration(services)
                if run is None:
                    raise UsageError("Aucune régénération interrompue à reprendre.")
                run_id = run.id
            if not args.yes and not ask(f"Reprendre la régénération n° {run_id} ? [o/N]"):
                print("Abandon : rien n'a été fait.", file=sys.stderr)
                return EXIT_OK
            result = await regeneration.resume_regeneration(services, run_id, printer, lock=lock)
        else:
            request = regeneration.RegenerationRequest(tuple(args.uai), _since(args.since), args.include_activated)
            plan = await regeneration.plan_regeneration(services, request)
            args.log.info(plan.confirmation_text())
            if not args.yes and not ask("Régénérer ? [o/N]"):
                print("Abandon : rien n'a été fait.", file=sys.stderr)
                return EXIT_OK
            result = await regeneration.run_regeneration(services, request, printer, plan=plan, lock=lock)
    except asyncio.CancelledError:
        text = interrupted_text("régénération", "enttui files regenerate", lock.holder.run_id)
        print(text, file=sys.stderr)
        raise
    finally:
        lock.release()
    code = EXIT_OK if result.status == RunStatus.SUCCESS else EXIT_ERRORS
    args.log.finish(code, status=result.status, run_id=result.run_id, counts=regeneration_counts(result))
    if args.json:
        print(json.dumps(args.log.with_warnings(result.as_dict()), ensure_ascii=False, indent=2))
    elif not args.quiet:
        print(result.summary_text())
    return code


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--resume : numéro de traitement attendu, pas « {text} ».") from None
