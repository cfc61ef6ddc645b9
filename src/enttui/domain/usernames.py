"""Moodle usernames from ENT logins: only what Moodle's ``PARAM_USERNAME`` accepts.

Moodle takes a username only if ``clean_param($username, PARAM_USERNAME)`` leaves it unchanged:
trimmed, lower case and, unless the site sets ``$CFG->extendedusernamechars``, made only of
``a-z 0-9 _ - . @`` (:func:`moodle_clean` does the same). Real directories hold logins such as
``Zoé.Müller``, ``jean martin`` or ``o'brien.kelly``. The rule (``[sync] usernames``):

- ``transliterate`` (default): lower case; the letters below replaced, then every accent dropped
  (Unicode NFKD, combining marks removed): ``é è ê ë → e``, ``ç → c``, ``ü → u``…; then whatever
  Moodle would remove is removed (spaces, apostrophes, any other character):
  ``Zoé.Müller → zoe.muller``, ``jean martin → jeanmartin``, ``o'brien.kelly → obrien.kelly``.
  Two logins that give the same username are a collision: the first one (an exact login before a
  transliterated one, then in DN order) gets it, the other is an error line. A login with no usable
  character left (``Иван``) is an error line.
- ``refuse``: a login that Moodle would change is an error line; its account is not created.

With ``$CFG->extendedusernamechars`` set in Moodle, any character is accepted: only trimming and
lower case apply (both policies).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

TRANSLITERATE = "transliterate"
REFUSE = "refuse"
USERNAME_LENGTH = 100  # mdl_user.username is varchar(100)

# Letters that NFKD does not take apart into a base letter and accents.
LETTERS: dict[str, str] = {
    "œ": "oe",
    "æ": "ae",
    "ß": "ss",
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "ł": "l",
    "ŀ": "l",
    "þ": "th",
    "ı": "i",
    "ĳ": "ij",
}
_REFUSED = re.compile(r"[^-.@_a-z0-9]")


def moodle_clean(value: str, extended: bool = False) -> str:
    """What Moodle's ``clean_param($value, PARAM_USERNAME)`` returns."""
    cleaned = value.strip().lower()
    if extended:
        return cleaned
    return _REFUSED.sub("", cleaned.replace(" ", ""))


def transliterate(value: str) -> str:
    """Lower case, the letters of :data:`LETTERS` replaced, accents dropped (nothing else removed)."""
    lowered = "".join(LETTERS.get(c, c) for c in value.strip().lower())
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class UsernameRule:
    """How an ENT login becomes a Moodle username (see the module docstring)."""

    policy: str = TRANSLITERATE
    extended: bool = False  # Moodle's $CFG->extendedusernamechars

    def username(self, login: str) -> tuple[str, str]:
        """``(username, "")``, or ``("", French reason)`` when the login cannot be used."""
        plain = login.strip().lower()
        if moodle_clean(plain, self.extended) == plain:
            return plain[:USERNAME_LENGTH].rstrip(), ""
        if self.policy == REFUSE:
            return "", (
                f"identifiant ENT « {login} » refusé par Moodle (caractères permis : a-z 0-9 _ - . @) ; "
                'compte non synchronisé ([sync] usernames = "refuse")'
            )
        cleaned = moodle_clean(transliterate(plain), self.extended)[:USERNAME_LENGTH].rstrip()
        if not cleaned:
            return "", f"identifiant ENT « {login} » : aucun caractère utilisable par Moodle ; compte non synchronisé"
        return cleaned, ""
