"""enttui export --format NAME --output FILE: the specific CSV exports without the screen.

Formats: personnes (generic), moodle (tool_uploaduser), sacoche, gepi, and the custom profiles
saved from the "Export CSV spécifique" screen. ``--list`` shows them.
"""

from __future__ import annotations

import argparse
import json
import sys

from enttui.cli import command, open_from_args
from enttui.cli.log import count
from enttui.domain.french import plural
from enttui.domain.runs import RunStatus
from enttui.errors import EXIT_OK, DestinationExists, UsageError

TARGET_CODES = ("eleve", "parent", "enseignant", "non-enseignant", "autre")


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("export", parents=[common], help="exports CSV spécifiques (Moodle, SACoche, Gepi…)")
    parser.add_argument("--format", metavar="NOM", help="personnes, moodle, sacoche, gepi ou un profil enregistré")
    parser.add_argument("--output", metavar="FICHIER", help="fichier à écrire (0600)")
    parser.add_argument("--profiles", metavar="CIBLES", help="profils : " + ",".join(TARGET_CODES))
    parser.add_argument("--class", dest="klass", metavar="CLASSE", help="une classe (ex. 3A)")
    parser.add_argument(
        "--activation", choices=("tous", "actives", "non_actives"), default="tous", help="état d'activation"
    )
    parser.add_argument("--force", action="store_true", help="remplacer FICHIER s'il existe")
    parser.add_argument("--list", action="store_true", help="lister les formats disponibles")
    parser.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")


def _targets(text: str | None) -> tuple:
    from enttui.domain.people import Target

    if not text:
        return ()
    out = []
    for part in text.split(","):
        code = part.strip()
        if code not in TARGET_CODES:
            raise UsageError(f"--profiles : « {code} » inconnu (valeurs : {', '.join(TARGET_CODES)}).")
        out.append(Target(code))
    return tuple(out)


@command("export")
async def cmd_export(args: argparse.Namespace) -> int:
    from enttui.domain.csv_formats import BUILTIN_FORMATS
    from enttui.jobs import csv_export

    if not args.list and (not args.format or not args.output):
        raise UsageError("Indiquez --format NOM et --output FICHIER (ou --list).")
    targets = _targets(args.profiles)
    services = await open_from_args(args, strict=not args.list)
    try:
        if args.list:
            names = csv_export.format_names(services)
            if args.json:
                print(json.dumps({"formats": names}, ensure_ascii=False, indent=2))
            else:
                for name in names:
                    fmt = BUILTIN_FORMATS.get(name)
                    print(f"{name}\t{fmt.label if fmt else 'profil personnalisé'}")
            return EXIT_OK
        filt = csv_export.ExportFilter(targets=targets, klass=(args.klass or "").strip(), activation=args.activation)
        try:
            result = await csv_export.run_export(
                services, args.format, args.output, filt=filt, overwrite=args.force, sink=args.log
            )
        except DestinationExists as exc:
            raise UsageError(f"{exc.path} existe déjà : ajoutez --force pour le remplacer.") from None
    finally:
        await services.close()
    counts = [f"{count(result.rows, 'ligne')} dans {result.path}"]
    args.log.finish(EXIT_OK, status=RunStatus.SUCCESS, run_id=result.run_id, counts=counts)
    if args.json:
        doc = {"format": result.format, "file": str(result.path), "rows": result.rows, "run_id": result.run_id}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        rows = plural(result.rows, "ligne exportée", "lignes exportées")
        print(f"{rows} vers {result.path} (format {result.format}, 0600).", file=sys.stdout)
    return EXIT_OK
