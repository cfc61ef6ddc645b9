"""One exception family for the whole console.

Every error carries a French ``title`` and ``message`` (what the administrator reads) and the exit
status the command line uses. Library exceptions are turned into these at the service boundary,
and every registered secret is scrubbed from their text (:func:`redact`): a password must never
reach a log, a trace, a notification or a traceback.
"""

from __future__ import annotations

import threading
from pathlib import Path

_secrets: set[str] = set()
_secrets_lock = threading.Lock()

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3


def register_secret(value: str | None) -> None:
    """Remember a secret value so that :func:`redact` removes it from any text."""
    if value and len(value) >= 3:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``***``."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def describe(exc: BaseException) -> str:
    """The French message of an :class:`EnttuiError`, else the exception's type and text (redacted)."""
    if isinstance(exc, EnttuiError):
        return exc.message
    return redact(f"{type(exc).__name__}: {exc}")


class EnttuiError(Exception):
    """Base of every error the console reports to a person."""

    exit_code: int = EXIT_ERRORS
    default_title: str = "Erreur"

    def __init__(self, message: str, *, title: str | None = None, detail: str | None = None) -> None:
        self.title = title or self.default_title
        self.message = redact(message)
        self.detail = redact(detail) if detail else None
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def for_humans(self) -> str:
        """Title and message on one or two lines, for the command line."""
        text = f"{self.title} : {self.message}"
        if self.detail:
            text += f"\n{self.detail}"
        return text


class ConfigError(EnttuiError):
    """The configuration file is broken: names the file and the key."""

    exit_code = EXIT_USAGE
    default_title = "Configuration invalide"

    def __init__(self, path: str, key: str | None, problem: str) -> None:
        where = f"{path}, clé {key}" if key else path
        super().__init__(f"{where} : {problem}")
        self.path = path
        self.key = key
        self.problem = problem


class UsageError(EnttuiError):
    """Bad input from the operator (command line or form)."""

    exit_code = EXIT_USAGE
    default_title = "Saisie invalide"


class ValidationError(UsageError):
    """A form or argument value was refused before anything happened."""

    default_title = "Saisie invalide"


class DestinationExists(ValidationError):
    """The destination exists: ask before replacing it (then call again with ``overwrite=True``)."""

    default_title = "Le fichier existe déjà"

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} existe déjà. Le remplacer ?")
        self.path = path


class ServiceError(EnttuiError):
    """An outside system failed (down, slow, refused)."""

    default_title = "Service indisponible"


class DirectoryError(ServiceError):
    default_title = "Annuaire (LDAP)"


class IncompleteReadError(DirectoryError):
    """A directory read did not return every entry (size limit, failed page, …)."""

    default_title = "Lecture de l'annuaire incomplète"


class MoodleError(ServiceError):
    default_title = "Base Moodle"


class MailError(ServiceError):
    default_title = "Serveur de messagerie (SMTP)"


class StateError(ServiceError):
    default_title = "Base d'état de la console"


class LockHeldError(EnttuiError):
    """Another run holds the lock."""

    exit_code = EXIT_LOCKED
    default_title = "Traitement déjà en cours"
