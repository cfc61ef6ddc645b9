"""Search filters (RFC 4515) evaluated in memory: the embedded directory's searches.

ldap3's MOCK_SYNC answers a search by encoding the request, decoding it again, testing every entry
through schema helpers and formatting every value of the answer: about half a second for the demo's
1,600 people, on every keystroke of a search. The embedded directory evaluates the same filters
here, straight on the entries MOCK_SYNC holds, with the same matching as MOCK_SYNC (names and
values compared without case, integers as integers), except that a substring's escaped characters
(``\\2a``) match themselves, as on a server.

:func:`compile_filter` turns the text of a filter into a predicate over one entry, given as a
function from an attribute's lower-case name to its values (``bytes``) or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Values = Sequence[bytes]
Getter = Callable[[str], Values | None]
Predicate = Callable[[Getter], bool]

__all__ = ["FilterSyntaxError", "Getter", "Predicate", "compile_filter", "filter_attributes"]


class FilterSyntaxError(ValueError):
    """The text is not a filter this evaluator understands (the caller falls back to MOCK_SYNC)."""


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _unescape(raw: str) -> str:
    """``\\XX`` hex escapes (RFC 4515) back to the characters; the result is UTF-8 decoded."""
    if "\\" not in raw:
        return raw
    out = bytearray()
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2:
                raise FilterSyntaxError(f"échappement incomplet : {raw!r}")
            try:
                out.append(int(pair, 16))
            except ValueError:
                raise FilterSyntaxError(f"échappement invalide : {raw!r}") from None
            i += 3
        else:
            out.extend(ch.encode("utf-8"))
            i += 1
    return out.decode("utf-8", "replace")


def _equal(expected: str) -> Callable[[bytes], bool]:
    lowered = expected.lower()
    number = int(expected) if expected.isdigit() else None

    def test(value: bytes) -> bool:
        text = _text(value)
        if text.lower() == lowered:
            return True
        return number is not None and text.isdigit() and int(text) == number

    return test


def _ordered(bound: str, greater: bool) -> Callable[[bytes], bool]:
    lowered = bound.lower()
    number = int(bound) if bound.isdigit() else None

    def test(value: bytes) -> bool:
        text = _text(value)
        if number is not None and text.isdigit():
            return int(text) >= number if greater else int(text) <= number
        return text.lower() >= lowered if greater else text.lower() <= lowered

    return test


def _substrings(pieces: list[str]) -> Callable[[bytes], bool]:
    initial, *middle, final = (p.lower() for p in pieces)

    def test(value: bytes) -> bool:
        text = _text(value).lower()
        if not text.startswith(initial):
            return False
        at = len(initial)
        for part in middle:
            found = text.find(part, at)
            if found < 0:
                return False
            at = found + len(part)
        return len(text) - at >= len(final) and text.endswith(final)

    return test


def _item(body: str) -> tuple[str, Predicate]:
    """``attr=value``, ``attr>=value``, ``attr<=value``, ``attr~=value``, ``attr=*`` or substrings."""
    eq = body.find("=")
    if eq <= 0:
        raise FilterSyntaxError(f"élément sans « = » : {body!r}")
    op = body[eq - 1] if body[eq - 1] in "<>~:" else ""
    attr = body[: eq - 1 if op else eq].strip()
    if op == ":" or not attr or any(c in attr for c in "()&|!*"):
        raise FilterSyntaxError(f"élément non pris en charge : {body!r}")
    name = attr.split(";", 1)[0].lower()
    raw = body[eq + 1 :]
    if op in ("<", ">"):
        check = _ordered(_unescape(raw), greater=op == ">")
    elif raw == "*":
        return name, lambda get: get(name) is not None
    elif "*" in raw:
        check = _substrings([_unescape(p) for p in raw.split("*")])
    else:
        check = _equal(_unescape(raw))

    def predicate(get: Getter) -> bool:
        values = get(name)
        return values is not None and any(check(v) for v in values)

    return name, predicate


def _parse(text: str, at: int, names: set[str]) -> tuple[Predicate, int]:
    """The filter starting at ``text[at] == "("``; returns it and the index after its ")"."""
    if at >= len(text) or text[at] != "(":
        raise FilterSyntaxError(f"« ( » attendu en position {at}")
    kind = text[at + 1 : at + 2]
    if kind in ("&", "|", "!"):
        parts: list[Predicate] = []
        i = at + 2
        while i < len(text) and text[i] == "(":
            part, i = _parse(text, i, names)
            parts.append(part)
        if i >= len(text) or text[i] != ")" or not parts or (kind == "!" and len(parts) != 1):
            raise FilterSyntaxError(f"filtre mal formé en position {at}")
        if kind == "&":
            return (lambda get: all(p(get) for p in parts)), i + 1
        if kind == "|":
            return (lambda get: any(p(get) for p in parts)), i + 1
        inner = parts[0]
        return (lambda get: not inner(get)), i + 1
    end = text.find(")", at + 1)
    if end < 0:
        raise FilterSyntaxError("« ) » manquante")
    name, predicate = _item(text[at + 1 : end])
    names.add(name)
    return predicate, end + 1


def compile_filter(text: str) -> tuple[Predicate, set[str]]:
    """The predicate of ``text`` and the lower-case attribute names it tests."""
    text = text.strip()
    if not text.startswith("("):
        text = f"({text})"
    names: set[str] = set()
    predicate, end = _parse(text, 0, names)
    if end != len(text):
        raise FilterSyntaxError(f"texte après le filtre : {text[end:]!r}")
    return predicate, names


def filter_attributes(text: str) -> set[str]:
    """The lower-case attribute names ``text`` tests."""
    return compile_filter(text)[1]
