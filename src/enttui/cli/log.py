"""The journal of a headless run: plain lines on stderr, one event a line, a stable prefix.

Every subcommand logs through one :class:`RunLog`, made by :func:`enttui.cli.main` and handed to
the command as ``args.log`` (it is also the job's event sink)::

    enttui[sync] phase : Lecture de l'annuaire
    enttui[sync] attention : SMTP : security = "none" vers smtp.example.fr : …
    enttui[sync] erreur : Cohortes : …
    enttui[sync] fin : traitement n° 12, réussi, 3,2 s, code 0 ; Comptes utilisateur : 3 créés, …

What is written:

- by default: the phases, warnings, errors and the final line;
- ``--verbose``: the whole trace as well (every change and detail line, progress every 10 %);
- ``--quiet``: the errors, and the final line only when the run did not succeed (exit status other
  than 0): a successful run writes nothing at all, so cron mails only when something is wrong.

Under systemd (``$JOURNAL_STREAM`` names our stderr) each line starts with its syslog priority
(``<3>`` error, ``<4>`` warning, ``<6>`` information), which journald strips and keeps as the
entry's priority (``journalctl -p warning``). No colour, no control character, one line per event
(a multi-line text is joined with `` | ``), and never a secret: every registered secret is redacted.
"""

from __future__ import annotations

import io
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from enttui.errors import EXIT_LOCKED, EXIT_OK, EnttuiError, redact
from enttui.jobs.events import Event, Phase, Progress, Trace

ERR, WARNING, INFO = 3, 4, 6  # syslog priorities
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")
_TRACE_WORDS = {"info": "info", "change": "modification", "detail": "détail"}


def on_journal(stream: TextIO) -> bool:
    """Is ``stream`` the journal's own socket (systemd sets ``$JOURNAL_STREAM`` to its device:inode)?"""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False
    return f"{st.st_dev}:{st.st_ino}" == expected


def one_line(text: str) -> str:
    """A text as one journal line: redacted, newlines joined with " | ", no control character."""
    parts = [p.strip() for p in redact(text).replace("\r\n", "\n").split("\n")]
    return _CONTROL.sub("", " | ".join(p for p in parts if p).replace("\t", " "))


def count(n: int, singular: str, plural: str | None = None) -> str:
    """ "0 erreur", "1 erreur", "2 erreurs" (French: 0 and 1 take the singular)."""
    return f"{n} {singular if n <= 1 else (plural or singular + 's')}"


def format_seconds(seconds: float) -> str:
    """ "0,4 s", "12,0 s", "3 min 05 s", "1 h 02 min" (French decimal comma)."""
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".", ",")
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RunLog:
    """The event sink and journal of one headless command (see the module docstring)."""

    def __init__(
        self,
        command: str,
        *,
        quiet: bool = False,
        verbose: bool = False,
        stream: TextIO | None = None,
        journal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.command = command
        self.prefix = f"enttui[{command}]"
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self._stream = stream
        self._journal = journal
        self._clock = clock
        self._start = clock()
        self._tenth: dict[str, int] = {}
        self.warnings: list[str] = []  # every warning of the run, for --json
        self.errors = 0
        self.finished = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    # -- writing -------------------------------------------------------------------------------

    def line(self, word: str, text: str, priority: int = INFO) -> None:
        """Write ``<prefix> <word> : <text>`` (the journal's priority first when on the journal)."""
        stream = self.stream
        journal = self._journal if self._journal is not None else on_journal(stream)
        head = f"<{priority}>" if journal else ""
        stream.write(f"{head}{self.prefix} {word} : {one_line(text)}\n")
        stream.flush()

    def phase(self, label: str) -> None:
        if not self.quiet:
            self.line("phase", label)

    def warning(self, text: str) -> None:
        self.warnings.append(one_line(text))
        if not self.quiet:
            self.line("attention", text, WARNING)

    def error(self, text: str) -> None:
        self.errors += 1
        self.line("erreur", text, ERR)

    def info(self, text: str) -> None:
        """A remark of the command itself ("Abandon : rien n'a été fait."), not shown with --quiet."""
        if not self.quiet:
            self.line("info", text)

    def __call__(self, event: Event) -> None:
        """The job's event sink."""
        if isinstance(event, Phase):
            self.phase(event.label)
        elif isinstance(event, Trace):
            if event.level == "error":
                self.error(event.text)
            elif event.level == "warning":
                self.warning(event.text)
            elif self.verbose:
                self.line(_TRACE_WORDS.get(event.level, event.level), event.text)
        elif isinstance(event, Progress) and self.verbose and event.total:
            tenth = event.done * 10 // event.total
            if tenth != self._tenth.get(event.entity, -1):
                self._tenth[event.entity] = tenth
                self.line("progression", f"{event.done}/{event.total} ({event.done * 100 // event.total} %)")

    # -- the end -------------------------------------------------------------------------------

    def finish(
        self,
        code: int,
        *,
        status: str = "",
        run_id: int | None = None,
        counts: Iterable[str] = (),
    ) -> None:
        """The final line: run number, status, duration, exit status, then the counts."""
        if self.finished:
            return
        self.finished = True
        if self.quiet and code == EXIT_OK:
            return
        head = [f"traitement n° {run_id}"] if run_id is not None else []
        head += [status or _status_of(code), format_seconds(self._clock() - self._start), f"code {code}"]
        text = " ; ".join([", ".join(head), *(c for c in counts if c)])
        priority = INFO if code == EXIT_OK else (WARNING if code == EXIT_LOCKED else ERR)
        self.line("fin", text, priority)

    def fail(self, exc: BaseException, code: int) -> None:
        """A command that stopped on an error: the error line, then the final line."""
        if isinstance(exc, EnttuiError):
            text = f"{exc.title} : {exc.message}" + (f"\n{exc.detail}" if exc.detail else "")
        elif isinstance(exc, KeyboardInterrupt):
            text = "Interrompu (Ctrl+C ou signal d'arrêt)."
        else:
            text = f"Erreur inattendue : {type(exc).__name__}: {exc}"
        if code == EXIT_LOCKED:
            self.warnings.append(one_line(text))
            self.line("attention", text, WARNING)
        else:
            self.error(text)
        self.finish(code, status=_status_of(code))

    def with_warnings(self, document: dict[str, object]) -> dict[str, object]:
        """A --json document with the run's warnings (TLS told plainly, guards…) added."""
        own = document.get("warnings")
        merged = list(own) if isinstance(own, list) else []
        merged += [w for w in self.warnings if w not in merged]
        return {**document, "warnings": merged}


def _status_of(code: int) -> str:
    return {0: "réussi", 1: "avec erreurs", 2: "erreur d'utilisation ou de configuration", 3: "déjà en cours"}.get(
        code, "interrompu"
    )


# -- the counts of the final line, per kind of run ------------------------------------------------


def diffusion_counts(result: Any) -> list[str]:
    """A DiffusionResult's counts, in French (the final line of ``enttui diffuse``)."""
    parts = [
        f"{count(result.changed, 'mot de passe changé', 'mots de passe changés')} : "
        f"{count(result.mailed, 'envoyé')}, {result.in_file} dans le fichier"
        + (f", {result.pending} en attente de reprise" if result.pending else ""),
        count(result.information, "message d'information", "messages d'information"),
        count(result.errors, "erreur"),
    ]
    if result.resent:
        parts.append(
            f"{count(result.resent, 'message')} peut-être {'reçu' if result.resent == 1 else 'reçus'} deux fois "
            "(même mot de passe valide)"
        )
    if result.file_name:
        parts.append(f"fichier {result.file_name}")
    return parts


def regeneration_counts(result: Any) -> list[str]:
    """A RegenerationResult's counts, in French (the final line of ``enttui files regenerate``)."""
    parts = [count(result.in_file, "mot de passe régénéré", "mots de passe régénérés")]
    if result.pending:
        parts.append(f"{result.pending} en attente de reprise")
    parts += [count(result.errors, "erreur"), f"fichier {result.file_name or '(aucun)'}"]
    return parts
