"""The one accent folding: a name as plain Latin letters ("Éloïse" → "Eloise", "Yılmaz" → "Yilmaz").

Unicode decomposition (NFKD) separates most accents from their letter, and the combining marks
are then dropped. A few letters have no decomposition (``ı``, ``ł``, ``ø``, ``đ``, ``þ``…) or are
ligatures that NFKD leaves whole (``æ``, ``œ``, ``ß``): they are spelled out first, with the
transliteration French administrations use. Both the login rule (:mod:`enttui.domain.logins`) and
the Annuaire's search (:mod:`enttui.domain.annuaire`) go through :func:`fold_accents`, so what a
person types finds the login that was derived from the same name.
"""

from __future__ import annotations

import unicodedata

__all__ = ["TRANSLITERATION", "fold_accents"]

# Letters that NFKD does not reduce to a Latin letter and combining marks. A capital spelled with
# two letters is written as in a name ("Þóra" → "Thora"); every caller folds lower-cased text anyway.
TRANSLITERATION: dict[str, str] = {
    "ı": "i",  # dotless i (Turkish)
    "ł": "l",
    "Ł": "L",
    "ø": "o",
    "Ø": "O",
    "æ": "ae",
    "Æ": "Ae",
    "œ": "oe",
    "Œ": "Oe",
    "ß": "ss",
    "ẞ": "SS",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "Th",
    "ħ": "h",
    "Ħ": "H",
    "ŧ": "t",
    "Ŧ": "T",
    "ŋ": "ng",
    "Ŋ": "Ng",
    "ĸ": "k",
}
_TABLE = str.maketrans(TRANSLITERATION)


def fold_accents(text: str) -> str:
    """``text`` without accents or special Latin letters; case, spaces and punctuation are kept.

    ``"Éloïse"`` → ``"Eloise"``, ``"Yılmaz"`` → ``"Yilmaz"``, ``"Lecœur"`` → ``"Lecoeur"``,
    ``"Łukasz Søndergård"`` → ``"Lukasz Sondergard"``; letters of other scripts stay as they are.
    """
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_TABLE))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
