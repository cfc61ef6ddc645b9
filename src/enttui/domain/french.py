"""French typography and agreement for what a person reads.

- :func:`plural`: "1 résultat", "2 résultats", "0 erreur" (French: 0 and 1 take the singular).
- :func:`format_count`: 1593 → "1 593" (a plain space: every terminal draws it).
- :func:`nbsp`: non-breaking spaces inside « » (and before « : » is left alone: terminals only).
"""

from __future__ import annotations

NBSP = "\u00a0"


def format_count(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``plural(1, "résultat")`` → "1 résultat"; ``plural(3, "fichier local", "fichiers locaux")``."""
    word = singular if abs(n) < 2 else (plural_form or _pluralize(singular))
    return f"{format_count(n)} {word}"


def _pluralize(words: str) -> str:
    """The plural of a short French phrase, word by word up to the first preposition
    ("mot de passe" → "mots de passe", "compte local" → "comptes locaux")."""
    out: list[str] = []
    done = False
    for word in words.split(" "):
        if done or word in ("de", "d'", "du", "des", "à", "en", "par", "pour", "sans", "avec"):
            done = True
            out.append(word)
            continue
        out.append(_plural_word(word))
    return " ".join(out)


def _plural_word(word: str) -> str:
    if not word or word[-1] in "sxz" or not word[-1].isalpha():
        return word
    if word.endswith("al") and word not in ("bal", "carnaval", "festival", "récital"):
        return word[:-2] + "aux"
    if word.endswith(("au", "eu")):
        return word + "x"
    return word + "s"


def nbsp(text: str) -> str:
    """« x » with non-breaking spaces, so that a quote is never split across two lines."""
    return text.replace("« ", f"«{NBSP}").replace(" »", f"{NBSP}»")
