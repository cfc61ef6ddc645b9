"""Temporary passwords: random (``secrets``), at least 12 characters, no look-alike characters.

Children type these passwords from a letter or a screen: the alphabet leaves out every character
that can be mistaken for another (``0 O o Q D``, ``1 l I i j L``, ``2 Z z``, ``5 S s``, ``8 B``,
``u v U V``) and keeps symbols that are easy to find on a French (AZERTY) keyboard. Each password
has at least one lower-case letter, one upper-case letter, one digit and one symbol, and starts
with a letter (no spreadsheet ever reads it as a formula).

Two sources of randomness build the same kind of password with the same algorithm:

- :func:`generate_password`: the operating system's (``secrets.randbelow``);
- :func:`derive_password`: a deterministic stream, HMAC-SHA256 of a run's secret (32 random bytes)
  and a key (an account's DN key), so that a diffusion or regeneration resumed after a crash sets
  and delivers *the same* password again instead of a second one. Every draw is unbiased
  (rejection sampling on 32-bit integers), so a derived password is as unpredictable as a
  generated one to anyone who does not hold the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

LOWER = "abcdefghkmnpqrtwxy"
UPPER = "ACEFGHJKMNPRTWXY"
DIGITS = "34679"
SYMBOLS = "!?*#%"
LOOK_ALIKES = "0OoQD1lIijL2Zz5Ss8BuvUV"
CLASSES: tuple[str, ...] = (LOWER, UPPER, DIGITS, SYMBOLS)
ALPHABET = LOWER + UPPER + DIGITS + SYMBOLS
MIN_LENGTH = 12
SECRET_BYTES = 32
_DOMAIN = b"enttui-password-v1\x00"


def _compose(length: int, below: Callable[[int], int]) -> str:
    """The password from a source of uniform integers ``below(n)`` in ``[0, n)``."""
    length = max(MIN_LENGTH, int(length))
    chars = [cls[below(len(cls))] for cls in CLASSES]
    chars += [ALPHABET[below(len(ALPHABET))] for _ in range(length - len(chars))]
    for i in range(len(chars) - 1, 0, -1):  # Fisher-Yates
        j = below(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    if not chars[0].isalpha():
        first = next(i for i, c in enumerate(chars) if c.isalpha())
        chars[0], chars[first] = chars[first], chars[0]
    return "".join(chars)


def generate_password(length: int = MIN_LENGTH) -> str:
    """A new temporary password (see module docstring). ``length`` below 12 is raised to 12."""
    return _compose(length, secrets.randbelow)


def new_secret() -> bytes:
    """A run's secret for :func:`derive_password`."""
    return secrets.token_bytes(SECRET_BYTES)


class _Stream:
    """Uniform integers from HMAC-SHA256(secret, domain | key | block number)."""

    def __init__(self, secret: bytes, key: str) -> None:
        self._mac = hmac.new(secret, _DOMAIN + key.encode("utf-8") + b"\x00", hashlib.sha256)
        self._block = 0
        self._buf = b""

    def _word(self) -> int:
        if len(self._buf) < 4:
            mac = self._mac.copy()
            mac.update(self._block.to_bytes(8, "big"))
            self._block += 1
            self._buf += mac.digest()
        word, self._buf = self._buf[:4], self._buf[4:]
        return int.from_bytes(word, "big")

    def below(self, n: int) -> int:
        limit = (1 << 32) - (1 << 32) % n  # reject the top, uneven slice: no modulo bias
        while True:
            word = self._word()
            if word < limit:
                return word % n


def derive_password(secret: bytes, key: str, length: int = MIN_LENGTH) -> str:
    """The password of ``key`` (an account) in the run that holds ``secret``: always the same one,
    built like :func:`generate_password`."""
    if len(secret) < 16:
        raise ValueError("secret too short")
    return _compose(length, _Stream(secret, key).below)


def is_acceptable(password: str) -> bool:
    """Does ``password`` follow the rules of :func:`generate_password` (tests, config checks)."""
    return (
        len(password) >= MIN_LENGTH
        and all(c in ALPHABET for c in password)
        and all(any(c in cls for c in password) for cls in CLASSES)
        and password[0].isalpha()
    )
