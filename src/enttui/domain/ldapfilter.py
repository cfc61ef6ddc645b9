"""LDAP search filters (RFC 4515) built from parts, every value escaped.

Nothing typed by a person, read from a file or a database ever reaches a filter without
:func:`escape`. Use the builders; never format a filter with an f-string around raw input.
"""

from __future__ import annotations

from collections.abc import Iterable

_ESCAPES = {"\\": r"\5c", "*": r"\2a", "(": r"\28", ")": r"\29", "\x00": r"\00"}


def escape(value: str) -> str:
    """Escape a value for use inside a filter: ``*()\\`` and NUL become ``\\XX``."""
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def eq(attribute: str, value: str) -> str:
    return f"({attribute}={escape(value)})"


def present(attribute: str) -> str:
    return f"({attribute}=*)"


def contains(attribute: str, value: str) -> str:
    return f"({attribute}=*{escape(value)}*)"


def startswith(attribute: str, value: str) -> str:
    return f"({attribute}={escape(value)}*)"


def endswith(attribute: str, value: str) -> str:
    return f"({attribute}=*{escape(value)})"


def ge(attribute: str, value: str) -> str:
    return f"({attribute}>={escape(value)})"


def and_(*parts: str | None) -> str:
    kept = [p for p in parts if p]
    if not kept:
        return "(objectClass=*)"
    return kept[0] if len(kept) == 1 else f"(&{''.join(kept)})"


def or_(*parts: str | None) -> str:
    kept = [p for p in parts if p]
    if not kept:
        return "(!(objectClass=*))"  # matches nothing
    return kept[0] if len(kept) == 1 else f"(|{''.join(kept)})"


def not_(part: str) -> str:
    return f"(!{part})"


def any_eq(attribute: str, values: Iterable[str]) -> str:
    return or_(*(eq(attribute, v) for v in values))
