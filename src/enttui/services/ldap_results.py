"""What both directory readers (ldap3, python-ldap) say the same way: LDAP result codes in French,
and the exceptions a read raises inside a worker thread.

:class:`~enttui.services.directory.Directory` turns these into :class:`~enttui.errors.DirectoryError`
or :class:`~enttui.errors.IncompleteReadError`; they never leave the services. A failed operation
carries its result as ldap3 reports it (``result``, ``description`` such as ``sizeLimitExceeded``,
``message``), whichever library read it, so that both readers word an error identically.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RESULT_MESSAGES", "ConnectionLost", "LdapFailed", "PageError"]

RESULT_MESSAGES = {
    32: "l'entrée ou sa branche parente n'existe pas",
    50: "droits insuffisants pour le compte de l'annuaire",
    53: "l'annuaire refuse d'effectuer l'opération",
    64: "nom (RDN) refusé",
    65: "l'entrée ne respecte pas le schéma de l'annuaire (classe ou attribut obligatoire)",
    67: "l'attribut du nom (RDN) ne peut pas être modifié ainsi",
    68: "une entrée de même DN existe déjà",
    19: "contrainte refusée par l'annuaire (valeur unique, politique de mot de passe…)",
    17: "attribut inconnu du schéma de l'annuaire",
    21: "valeur refusée par la syntaxe de l'attribut",
    49: "identifiants refusés",
}


class LdapFailed(Exception):
    """An LDAP operation returned a non-success result (raised inside worker threads)."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.code = int(result.get("result", -1) or 0) if result else -1
        self.description = str(result.get("description", "")) if result else ""
        self.text = str(result.get("message", "")) if result else ""
        super().__init__(f"{self.code} {self.description} {self.text}".strip())

    def french(self) -> str:
        return RESULT_MESSAGES.get(self.code, f"erreur LDAP {self.code} ({self.description})")


class PageError(Exception):
    """A page came back unusable (a referral the reader does not follow): the read is incomplete."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectionLost(Exception):
    """The python-ldap reader lost its connection (server gone, no answer in time): as ldap3's
    communication errors, the paged read starts again on the next server or is incomplete."""
