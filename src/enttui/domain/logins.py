"""Login derivation: ``prenom.nom``, lower case, no accents, numeric suffix on collision.

The cleaning rule (:func:`login_part`, the demo world derives its logins with it too): lower case,
accents folded the one way of :func:`enttui.domain.folding.fold_accents` (``œ`` → ``oe``,
``ı`` → ``i``), apostrophes and spaces removed, hyphens kept. A collision adds a number from 2
(``jean.martin``, ``jean.martin2``, ``jean.martin3``…), checked case-insensitively against every
login of the directory (not only the périmètre).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from enttui.domain.folding import fold_accents

__all__ = ["derivable", "login_base", "login_part", "next_free_login"]

_NOT_LOGIN = re.compile(r"[^a-z0-9-]+")
_HYPHENS = re.compile(r"-{2,}")


def login_part(text: str) -> str:
    """One half of a login: lower case, no accents, no apostrophes or spaces, hyphens kept.

    ``"de La Fontaine"`` → ``delafontaine``; ``"Jean-Baptiste"`` → ``jean-baptiste``;
    ``"N'Diaye"`` → ``ndiaye``; ``"Lecœur"`` → ``lecoeur``; ``"Test [démo]"`` → ``testdemo``.
    """
    cleaned = _NOT_LOGIN.sub("", fold_accents(text.lower()))
    return _HYPHENS.sub("-", cleaned).strip("-")


def login_base(given_name: str, surname: str) -> str:
    """``prenom.nom`` before any collision suffix."""
    return f"{login_part(given_name) or 'x'}.{login_part(surname) or 'x'}"


def derivable(given_name: str, surname: str) -> bool:
    """True when both halves keep at least one letter or digit once cleaned (``宮崎`` does not)."""
    return bool(login_part(given_name)) and bool(login_part(surname))


def next_free_login(
    given_name: str,
    surname: str,
    taken: Collection[str] | Callable[[str], bool],
) -> str:
    """The first free login for this name: ``base``, then ``base2``, ``base3``…

    ``taken`` is a collection of existing logins in lower case (a set), or a predicate.
    """
    base = login_base(given_name, surname)
    is_taken = taken if callable(taken) else (lambda login: login in taken)
    if not is_taken(base):
        return base
    n = 2
    while is_taken(f"{base}{n}"):
        n += 1
    return f"{base}{n}"
