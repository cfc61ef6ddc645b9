"""enttui diffuse: "Diffusion des identifiants" without the screen (cron, scripts).

    enttui diffuse --targets eleve,parent,autre [--subject TEXT] [--message-file FILE] [--yes] [--json]
    enttui diffuse --resume [RUN]          finish an interrupted diffusion (the last one by default)

Without ``--yes`` the confirmation is asked on a terminal, and refused otherwise. The jobs lock is
taken before the directory is read (exit 3 naming the holder when another job has it). Ctrl+C
stops the run at once; it is recorded "interrompu" and ``--resume`` finishes it with the same
passwords.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from enttui.cli import command, open_from_args
from enttui.cli.log import diffusion_counts
from enttui.domain.runs import RunStatus
from enttui.errors import EXIT_ERRORS, EXIT_OK, UsageError
from enttui.jobs.events import Phase


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("diffuse", parents=[common], help="diffuser les identifiants ENT aux utilisateurs")
    parser.add_argument(
        "--targets",
        metavar="CIBLES",
        help="cibles séparées par des virgules : eleve,parent,enseignant,non-enseignant,autre",
    )
    parser.add_argument("--subject", metavar="TEXTE", help="objet du message (75 caractères au plus)")
    parser.add_argument("--message-file", metavar="FICHIER", help="texte libre ajouté au message (UTF-8)")
    parser.add_argument("--include-activated", action="store_true", help="inclure les comptes déjà activés")
    parser.add_argument("--yes", action="store_true", help="ne pas demander de confirmation")
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")
    parser.add_argument(
        "--resume", nargs="?", const="last", metavar="N", help="reprendre une diffusion interrompue (la dernière)"
    )


def ask(question: str) -> bool:
    """A yes/no question on the terminal; refused when there is no terminal."""
    if not sys.stdin.isatty():
        raise UsageError("Confirmation impossible sans terminal : ajoutez --yes.")
    print(question, end=" ", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("o", "oui", "y", "yes")


def interrupted_text(what: str, command: str, run_id: int | None) -> str:
    """What Ctrl+C leaves behind, in French (stderr)."""
    if run_id is None:
        return f"Interrompu (Ctrl+C) avant tout changement : aucune {what} n'a commencé."
    return (
        f"{what.capitalize()} n° {run_id} interrompue (Ctrl+C) : reprenez-la avec « {command} --resume » "
        "(les mêmes mots de passe seront envoyés)."
    )


@command("diffuse")
async def cmd_diffuse(args: argparse.Namespace) -> int:
    from enttui.jobs import diffusion
    from enttui.jobs.idfiles import purge_files
    from enttui.jobs.locking import take_lock

    free_text = ""
    if args.message_file:
        try:
            free_text = await asyncio.to_thread(Path(args.message_file).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--message-file : {args.message_file} illisible ({exc}).") from None
    services = await open_from_args(args, strict=True)
    printer = args.log  # the run's log (enttui.cli.log) is the job's event sink
    lock = None
    try:
        await purge_files(services)
        # Taken before the directory is read: of two launches at the same instant, one runs, the
        # other is refused at once (exit 3, naming the holder).
        lock = await take_lock(services, "diffusion")
        if args.resume:
            run_id = None if args.resume == "last" else _int(args.resume)
            if run_id is None:
                run = await diffusion.resumable_diffusion(services)
                if run is None:
                    raise UsageError("Aucune diffusion interrompue à reprendre.")
                run_id = run.id
            if not args.yes and not ask(f"Reprendre la diffusion n° {run_id} ? [o/N]"):
                print("Abandon : rien n'a été fait.", file=sys.stderr)
                return EXIT_OK
            result = await diffusion.resume_diffusion(services, run_id, printer, lock=lock)
        else:
            if not args.targets:
                raise UsageError("--targets est obligatoire (par exemple --targets eleve,parent,autre).")
            targets = [t.strip() for t in args.targets.split(",") if t.strip()]
            subject = args.subject if args.subject is not None else services.config.subject()
            request = diffusion.validate_request(targets, subject, free_text, include_activated=args.include_activated)
            printer(Phase("diffusion", "Lecture de l'annuaire"))
            plan = await diffusion.plan_diffusion(services, request)
            printer.info(plan.confirmation_text())
            if not args.yes:
                if not ask("Diffuser les identifiants ? [o/N]"):
                    print("Abandon : rien n'a été fait.", file=sys.stderr)
                    return EXIT_OK
                if args.include_activated and not ask(
                    "Les comptes DÉJÀ ACTIVÉS vont recevoir un nouveau mot de passe. Confirmer ? [o/N]"
                ):
                    print("Abandon : rien n'a été fait.", file=sys.stderr)
                    return EXIT_OK
            result = await diffusion.run_diffusion(services, request, printer, plan=plan, lock=lock)
    except asyncio.CancelledError:
        print(interrupted_text("diffusion", "enttui diffuse", lock.holder.run_id if lock else None), file=sys.stderr)
        raise
    finally:
        if lock is not None:
            lock.release()
        await services.close()
    code = EXIT_OK if result.status == RunStatus.SUCCESS else EXIT_ERRORS
    printer.finish(code, status=result.status, run_id=result.run_id, counts=diffusion_counts(result))
    if args.json:
        print(json.dumps(printer.with_warnings(result.as_dict()), ensure_ascii=False, indent=2))
    elif not args.quiet:
        print(result.summary_text())
    return code


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--resume : numéro de traitement attendu, pas « {text} ».") from None
