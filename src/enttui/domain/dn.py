"""One key for comparing distinguished names, everywhere in the product.

Real directories spell the same DN several ways: ``member: UID=F450mmdo, OU=People,dc=…`` for
``uid=F450mmdo,ou=people,dc=…``, escaped characters (``cn=Dupont\\, Jean`` or ``\\2C``), spaces
around ``=`` and ``+``. :func:`dn_key` gives every spelling of one DN the same string: attribute
types and values in lower case, spaces around the separators removed, escapes resolved (and the
few characters that must stay escaped written one way), multi-valued RDNs in a fixed order.

A string that is not a DN (an unbalanced escape, an RDN without ``=``) raises :class:`InvalidDn`,
so that a caller can report that one value and go on with the others.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["DnKeys", "InvalidDn", "dn_key", "dn_key_or_none", "lookup_key", "same_dn"]

# The common spelling: attr=value pairs, no escape, space, quote, '+' or '=' inside a value.
_PLAIN = re.compile(r'[^=,\\ +"#;<>]+=[^=,\\ +"#;<>]*(?:,[^=,\\ +"#;<>]+=[^=,\\ +"#;<>]*)*')
_ESCAPE_OUT = frozenset('\\,+"<>;')  # characters written escaped in a key


class InvalidDn(ValueError):
    """The text is not a distinguished name (RFC 4514)."""

    def __init__(self, dn: str, why: str) -> None:
        super().__init__(f"DN invalide « {dn} » : {why}")
        self.dn = dn
        self.why = why


def _split(text: str, sep: str, dn: str) -> list[str]:
    """Split on ``sep`` outside escapes and quotes (the parts keep their escapes)."""
    parts: list[str] = []
    current: list[str] = []
    i, n, quoted = 0, len(text), False
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n:
                raise InvalidDn(dn, "caractère d'échappement à la fin")
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    if quoted:
        raise InvalidDn(dn, "guillemet non fermé")
    parts.append("".join(current))
    return parts


def _unescape(value: str, dn: str) -> str:
    """An attribute value with its escapes resolved (``\\,`` and ``\\2C`` alike), spaces trimmed."""
    value = value.strip(" ")
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    if "\\" not in value:
        return value
    out = bytearray()
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = value[i + 1 : i + 3]
        if len(nxt) == 2 and all(c in "0123456789abcdefABCDEF" for c in nxt):
            out.append(int(nxt, 16))
            i += 3
        elif i + 1 < n:
            out += value[i + 1].encode("utf-8")
            i += 2
        else:
            raise InvalidDn(dn, "caractère d'échappement à la fin")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidDn(dn, "échappement hexadécimal qui n'est pas de l'UTF-8") from None


def _escape(value: str) -> str:
    if not any(c in _ESCAPE_OUT for c in value) and not value.startswith(("#", " ")):
        return value
    out = "".join("\\" + c if c in _ESCAPE_OUT else c for c in value)
    return "\\" + out if out.startswith(("#", " ")) else out


def _ava(text: str, dn: str) -> str:
    attr, eq, value = text.partition("=")
    attr = attr.strip(" ").lower()
    if not eq or not attr or "\\" in attr:
        raise InvalidDn(dn, f"« {text.strip()} » n'est pas de la forme attribut=valeur")
    return f"{attr}={_escape(_unescape(value, dn).lower())}"


@lru_cache(maxsize=65536)
def _parsed_key(dn: str) -> str:
    text = dn.strip(" ")
    if not text:
        return ""
    rdns = []
    for rdn in _split(text, ",", dn):
        if not rdn.strip(" "):
            raise InvalidDn(dn, "composant vide")
        avas = sorted(_ava(ava, dn) for ava in _split(rdn, "+", dn))
        rdns.append("+".join(avas))
    return ",".join(rdns)


def dn_key(dn: str) -> str:
    """The comparison key of ``dn`` (see the module's docstring); :class:`InvalidDn` if it is none.

    The common spelling (no escape, no space, no quote, no multi-valued RDN) takes a fast path:
    the group lists compare about a hundred thousand DNs.
    """
    if not dn:
        return ""
    if _PLAIN.fullmatch(dn):
        return dn.lower()
    return _parsed_key(dn)


def dn_key_or_none(dn: str) -> str | None:
    """:func:`dn_key`, or None for a value that is not a DN."""
    try:
        return dn_key(dn)
    except InvalidDn:
        return None


def lookup_key(dn: str) -> str:
    """:func:`dn_key` for dictionary lookups that must not raise: a value that is not a DN gets a key
    that no DN has (it finds nothing but itself)."""
    try:
        return dn_key(dn)
    except InvalidDn:
        return "\x00" + dn


def same_dn(a: str, b: str) -> bool:
    """Whether two spellings name the same entry (an invalid DN equals nothing but itself)."""
    ka, kb = dn_key_or_none(a), dn_key_or_none(b)
    if ka is None or kb is None:
        return a == b
    return ka == kb


class DnKeys:
    """:func:`lookup_key` for many DNs under few parents (a million people under ``ou=people``): the
    parent's key is computed once and kept, a simple RDN (``uid=F0801``: letters and digits on both
    sides) is only lower-cased; anything else goes through :func:`lookup_key`. Same keys."""

    __slots__ = ("_parents",)
    MAX_PARENTS = 10_000

    def __init__(self) -> None:
        self._parents: dict[str, str] = {}

    def __call__(self, dn: str) -> str:
        rdn, sep, parent = dn.partition(",")
        if sep:
            attr, _, value = rdn.partition("=")
            if value.isalnum() and attr.isalnum():
                key = self._parents.get(parent)
                if key is None:
                    if len(self._parents) >= self.MAX_PARENTS:
                        self._parents.clear()
                    key = self._parents[parent] = lookup_key(parent)
                if key and not key.startswith("\x00"):
                    return f"{rdn.lower()},{key}"
        return lookup_key(dn)
