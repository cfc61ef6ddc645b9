"""Entry point: the console by default; subcommands for headless runs (cron, scripts).

Exit status: 0 success, 1 finished with errors (or a system down for ``status``), 2 usage or
configuration error (the message names the file and the key), 3 another run holds the lock.
With ``--nagios`` (``status`` and ``check``) the status follows the Nagios plugin convention
instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (see :mod:`enttui.cli.nagios`).

Every subcommand logs through one :class:`~enttui.cli.log.RunLog` (``args.log``): one line per
phase, warning and error, and a final line, on stderr (``--quiet``, ``--verbose``). After a run
(``RUN_COMMANDS``) the Prometheus metrics file is rewritten when ``--metrics FICHIER`` or
``[monitoring] metrics_file`` asks for it (:mod:`enttui.cli.metrics`).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from enttui import __version__
from enttui.errors import EXIT_ERRORS, EXIT_OK, EnttuiError, redact

if TYPE_CHECKING:
    from enttui.config import Config
    from enttui.services.container import Services

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
COMMANDS: dict[str, Handler] = {}

# One module per subcommand in enttui/cli/: each has add_parser(sub, common) and registers its
# handler with @command(name).
COMMAND_MODULES: tuple[str, ...] = ("status", "check", "reports", "sync", "diffuse", "files", "export", "completion")
# Log names of the commands that run a job: they end with a final line and rewrite the metrics file.
RUN_COMMANDS = frozenset({"sync", "diffuse", "regenerate", "check", "export"})


class FrenchArgumentParser(argparse.ArgumentParser):
    """argparse, with its help and usage errors in French and exit status 2."""

    # Any: the keyword arguments go through unchanged to ArgumentParser (argparse's subparsers pass them).
    def __init__(self, *, add_help: bool = True, **kwargs: Any) -> None:
        super().__init__(add_help=False, **kwargs)
        if add_help:
            self.add_argument("-h", "--help", action="help", help="afficher cette aide et quitter")

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = FrenchArgumentParser(
        prog="enttui",
        description="Console d'administration de l'ENT : annuaire, identifiants, synchronisation Moodle.",
    )
    parser.add_argument("--version", action="version", version=f"enttui {__version__}", help="afficher la version")
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an option given before the subcommand is not reset by the subcommand's default.
    common.add_argument("--config", metavar="FICHIER", default=argparse.SUPPRESS, help="fichier de configuration TOML")
    common.add_argument(
        "--demo", action="store_true", default=argparse.SUPPRESS, help="le monde de démonstration embarqué"
    )
    common.add_argument("--demo-dir", metavar="DOSSIER", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.add_argument("--config", metavar="FICHIER", help="fichier de configuration TOML")
    parser.add_argument("--demo", action="store_true", help="le monde de démonstration embarqué (aucun serveur)")
    parser.add_argument("--demo-dir", metavar="DOSSIER", help=argparse.SUPPRESS)
    for target in (common, parser):
        target.add_argument(
            "--quiet",
            action="store_true",
            default=argparse.SUPPRESS,
            help="seulement les erreurs (et la ligne finale si le traitement échoue) : rien en cas de succès",
        )
        target.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS, help="toute la trace sur la sortie d'erreur"
        )
        target.add_argument(
            "--metrics",
            metavar="FICHIER",
            default=argparse.SUPPRESS,
            help="réécrire ce fichier de métriques Prometheus à la fin (remplace [monitoring] metrics_file)",
        )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="avec --demo : repartir d'un monde de démonstration neuf (historique, envois et fichiers effacés)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE", parser_class=FrenchArgumentParser)

    for module in COMMAND_MODULES:
        importlib.import_module(f"enttui.cli.{module}").add_parser(sub, common)
    return parser


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return register


async def open_from_args(args: argparse.Namespace, *, strict: bool = False, config: Config | None = None) -> Services:
    """Services for a command: the demo world, or the configured systems."""
    from enttui.config import load_config
    from enttui.demo.wiring import demo_services
    from enttui.services.container import open_services

    if args.demo:
        root = Path(args.demo_dir) if args.demo_dir else None
        if getattr(args, "reset", False):
            await asyncio.to_thread(reset_demo_world, root)
        return await demo_services(root)
    return await open_services(config or load_config(args.config), strict=strict)


DEMO_FILES = ("state.db", "moodle.db")
DEMO_FOLDERS = ("outbox", "identifiants")


def reset_demo_world(root: Path | None) -> None:
    """Forget what the demo world recorded (runs, traces, audit, outbox, identifier files): the
    next start is a fresh world. Only the demo's own files are removed, never the folder itself."""
    import shutil

    from enttui.config import default_demo_root

    folder = root or default_demo_root()
    for name in DEMO_FILES:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)
    for name in DEMO_FOLDERS:
        target = folder / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)


async def run_console(args: argparse.Namespace) -> int:
    from enttui.config import default_demo_root, demo_config, load_config
    from enttui.ui.app import EntApp

    if args.demo:
        # What demo_services opens: known now, so the Accueil shows while the world is built.
        config = demo_config(Path(args.demo_dir) if args.demo_dir else default_demo_root())
    else:
        config = load_config(args.config)  # a broken file stops here, before the screen is taken
    app = EntApp(opener=lambda: open_from_args(args, config=config), config=config)
    await app.run_async()
    return app.return_code or EXIT_OK


def log_name(args: argparse.Namespace) -> str:
    """The name in the log prefix (``enttui[sync]``); ``files regenerate`` is ``regenerate``."""
    if args.command == "files":
        return "regenerate" if getattr(args, "files_action", "") == "regenerate" else "files"
    return str(args.command)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag in ("quiet", "verbose", "nagios"):
        setattr(args, flag, bool(getattr(args, flag, False)))
    if args.quiet and args.verbose:
        parser.error("--quiet et --verbose s'excluent")
    if args.nagios and getattr(args, "json", False):
        parser.error("--json et --nagios s'excluent")
    if getattr(args, "reset", False) and not args.demo:
        parser.error("--reset ne s'emploie qu'avec --demo")
    if not args.command:
        return _run_console(args)
    if getattr(args, "metrics", None) and log_name(args) not in RUN_COMMANDS | {"status"}:
        parser.error("--metrics : seulement avec status, sync, diffuse, files regenerate, check et export")
    from enttui.cli.log import RunLog

    name = log_name(args)
    # With --nagios the plugin line on stdout is the whole output: the log is kept out of the way.
    log = RunLog(name, quiet=args.quiet, verbose=args.verbose, stream=io.StringIO() if args.nagios else None)
    args.log = log
    try:
        code = asyncio.run(COMMANDS[args.command](args))
    except KeyboardInterrupt:
        log.fail(KeyboardInterrupt(), 130)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, no traceback, no secret
        code = exc.exit_code if isinstance(exc, EnttuiError) else EXIT_ERRORS
        if args.nagios:
            from enttui.cli.nagios import unknown

            return unknown(exc)
        log.fail(exc, code)
    if name in RUN_COMMANDS:
        log.finish(code, status="terminé" if code == EXIT_OK else "")  # no-op after the command's own
        from enttui.cli.metrics import write_after_run

        asyncio.run(write_after_run(args, log))
    return code


def _run_console(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_console(args))
    except EnttuiError as exc:
        print(exc.for_humans(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrompu.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, no traceback, no secret
        print(f"Erreur inattendue : {redact(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return EXIT_ERRORS
