"""Temporary passwords: random (``secrets``), at least 12 characters, no look-alike characters.

Children type these passwords from a letter or a screen: the alphabet leaves out every character
that can be mistaken for another (``0 O o Q D``, ``1 l I i j L``, ``2 Z z``, ``5 S s``, ``8 B``,
``u v U V``) and keeps symbols that are easy to find on a French (AZERTY) keyboard. Each password
has at least one lower-case letter, one upper-case letter, one digit and one symbol, and starts
with a letter (no spreadsheet ever reads it as a formula).
"""

from __future__ import annotations

import secrets

LOWER = "abcdefghkmnpqrtwxy"
UPPER = "ACEFGHJKMNPRTWXY"
DIGITS = "34679"
SYMBOLS = "!?*#%"
LOOK_ALIKES = "0OoQD1lIijL2Zz5Ss8BuvUV"
CLASSES: tuple[str, ...] = (LOWER, UPPER, DIGITS, SYMBOLS)
ALPHABET = LOWER + UPPER + DIGITS + SYMBOLS
MIN_LENGTH = 12

_rng = secrets.SystemRandom()


def generate_password(length: int = MIN_LENGTH) -> str:
    """A new temporary password (see module docstring). ``length`` below 12 is raised to 12."""
    length = max(MIN_LENGTH, int(length))
    chars = [secrets.choice(cls) for cls in CLASSES]
    chars += [secrets.choice(ALPHABET) for _ in range(length - len(chars))]
    _rng.shuffle(chars)
    if not chars[0].isalpha():
        first = next(i for i, c in enumerate(chars) if c.isalpha())
        chars[0], chars[first] = chars[first], chars[0]
    return "".join(chars)


def is_acceptable(password: str) -> bool:
    """Does ``password`` follow the rules of :func:`generate_password` (tests, config checks)."""
    return (
        len(password) >= MIN_LENGTH
        and all(c in ALPHABET for c in password)
        and all(any(c in cls for c in password) for cls in CLASSES)
        and password[0].isalpha()
    )
