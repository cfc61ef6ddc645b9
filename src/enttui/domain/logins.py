"""Login derivation: ``prenom.nom``, lower case, no accents, numeric suffix on collision.

The cleaning rule is the demo world's (:func:`enttui.demo.names.login_part`): lower case, accents
removed (NFKD), ligatures spelled out (``œ`` → ``oe``), apostrophes and spaces removed, hyphens
kept. A collision adds a number from 2 (``jean.martin``, ``jean.martin2``, ``jean.martin3``…),
checked case-insensitively against every login of the directory (not only the périmètre).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from enttui.demo.names import login_base, login_part

__all__ = ["derivable", "login_base", "login_part", "next_free_login"]


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
