"""Entry point: the console by default; subcommands for headless runs (cron, scripts).

Exit status: 0 success, 1 finished with errors (or a system down for ``status``), 2 usage or
configuration error (the message names the file and the key), 3 another run holds the lock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from enttui import __version__
from enttui.errors import EXIT_ERRORS, EXIT_OK, EnttuiError, redact

Handler = Callable[[argparse.Namespace], Awaitable[int]]
COMMANDS: dict[str, Handler] = {}


class FrenchArgumentParser(argparse.ArgumentParser):
    """argparse, with its usage errors in French and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = FrenchArgumentParser(
        prog="enttui",
        description="Console d'administration de l'ENT : annuaire, identifiants, synchronisation Moodle.",
    )
    parser.add_argument("--version", action="version", version=f"enttui {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FICHIER", help="fichier de configuration TOML")
    common.add_argument("--demo", action="store_true", help="le monde de démonstration embarqué (aucun serveur)")
    common.add_argument("--demo-dir", metavar="DOSSIER", help=argparse.SUPPRESS)
    parser.add_argument("--config", metavar="FICHIER", help="fichier de configuration TOML")
    parser.add_argument("--demo", action="store_true", help="le monde de démonstration embarqué (aucun serveur)")
    parser.add_argument("--demo-dir", metavar="DOSSIER", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE", parser_class=FrenchArgumentParser)

    status = sub.add_parser(
        "status", parents=[common], help="état de l'annuaire, de Moodle, du SMTP et de la base d'état"
    )
    status.add_argument("--json", action="store_true", help="un document JSON sur la sortie standard")
    return parser


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return register


async def open_from_args(args: argparse.Namespace, *, strict: bool = False):  # noqa: ANN201
    """Services for a command: the demo world, or the configured systems."""
    from enttui.config import load_config
    from enttui.jobs.context import demo_services, open_services

    if args.demo:
        root = Path(args.demo_dir) if args.demo_dir else None
        return await demo_services(root)
    config = load_config(args.config)
    return await open_services(config, strict=strict)


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


async def run_console(args: argparse.Namespace) -> int:
    from enttui.ui.app import EntApp

    if not args.demo:
        from enttui.config import load_config

        load_config(args.config)  # a broken file stops here, before the screen is taken
    app = EntApp(opener=lambda: open_from_args(args))
    await app.run_async()
    return app.return_code or EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = COMMANDS[args.command] if args.command else run_console
    try:
        return asyncio.run(handler(args))
    except EnttuiError as exc:
        print(exc.for_humans(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrompu.", file=sys.stderr)
        return 130
    except Exception as exc:  # the last resort: one line, no traceback, no secret
        print(f"Erreur inattendue : {redact(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return EXIT_ERRORS
