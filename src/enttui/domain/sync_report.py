"""The French a person reads about a sync run: per-entity lines, the headline, phase states.

Agreement follows the entity ("26 cohortes créées", "1 compte utilisateur créé", "0 erreur"):
in French 0 and 1 take the singular. Entities are never shown by their code names.
"""

from __future__ import annotations

from collections.abc import Mapping

from enttui.domain.runs import RunStatus
from enttui.domain.sync import COUNT_KEYS, ENTITY_LABELS, Counts

# Phase states (SyncResult.phases, the screen, the summary).
PHASE_DONE = "traité"
PHASE_CANCELLED = "interrompu"
PHASE_NOT_REACHED = "non traité"

# entity -> (singular noun, plural noun, feminine)
NOUNS: dict[str, tuple[str, str, bool]] = {
    "users": ("compte utilisateur", "comptes utilisateur", False),
    "cohorts": ("cohorte", "cohortes", True),
    "roles": ("association de rôle", "associations de rôles", True),
}
# count key -> participle (masculine singular); "removed" depends on the entity
PARTICIPLES: dict[str, str] = {
    "created": "créé",
    "updated": "modifié",
    "unchanged": "inchangé",
    "skipped": "ignoré",
    "suspended": "suspendu",
    "revived": "réactivé",
    "removed": "retiré",
}
REMOVED: dict[str, str] = {"cohorts": "vidé et masqué"}


def number(n: int) -> str:
    """1550 → "1 550" (French thousands separator, a plain space)."""
    return f"{n:,}".replace(",", " ")


def plural(n: int, singular: str, plural_form: str) -> str:
    """ "0 erreur", "1 erreur", "2 erreurs" (French: 0 and 1 are singular)."""
    return f"{number(n)} {singular if n <= 1 else plural_form}"


def agree(participle: str, n: int, feminine: bool) -> str:
    """ "créé" → "créée", "créés", "créées"; every word of "vidé et masqué" agrees."""
    words = []
    for word in participle.split(" "):
        if word == "et":
            words.append(word)
            continue
        words.append(word + ("e" if feminine else "") + ("s" if n > 1 else ""))
    return " ".join(words)


def count_label(entity: str, key: str, n: int) -> str:
    """The participle or noun of one counter, agreeing with the entity and ``n`` ("créées", "erreurs")."""
    if key == "errors":
        return "erreur" if n <= 1 else "erreurs"
    feminine = NOUNS.get(entity, ("", "", False))[2]
    participle = REMOVED.get(entity, PARTICIPLES["removed"]) if key == "removed" else PARTICIPLES.get(key, key)
    return agree(participle, n, feminine)


def entity_line(entity: str, counts: Counts, phase: str = PHASE_DONE) -> str:
    """One line per entity: "26 cohortes créées, 3 inchangées, 1 erreur", "Cohortes : non traité"."""
    label = ENTITY_LABELS[entity]
    if phase == PHASE_NOT_REACHED:
        return f"{label} : {PHASE_NOT_REACHED}"
    singular, plural_form, _feminine = NOUNS[entity]
    parts: list[str] = []
    for key in COUNT_KEYS:
        n = getattr(counts, key)
        if not n or key == "errors":
            continue
        noun = f" {singular if n <= 1 else plural_form}" if not parts else ""
        parts.append(f"{number(n)}{noun} {count_label(entity, key, n)}")
    if not parts:
        parts.append(f"{label} :")
        if not counts.errors:
            parts[0] += " rien à faire"
    if counts.errors:
        parts.append(plural(counts.errors, "erreur", "erreurs"))
    text = ", ".join(parts).replace(" :, ", " : ")
    if phase == PHASE_CANCELLED:
        text += " (interrompu par l'annulation)"
    return text


def total_errors(counts: Mapping[str, Counts]) -> int:
    return sum(c.errors for c in counts.values())


def headline(status: str, errors: int, *, simulate: bool) -> str:
    """ "Synchronisation terminée avec 8 erreurs", "Simulation terminée sans erreur : rien n'a été écrit"…

    ``status`` is the run's recorded status ("réussi", "avec erreurs", "interrompu", "simulé").
    """
    what = "Simulation" if simulate else "Synchronisation"
    tail = " : rien n'a été écrit" if simulate else ""
    with_errors = f"avec {plural(errors, 'erreur', 'erreurs')}" if errors else "sans erreur"
    if status == RunStatus.INTERRUPTED:
        return f"{what} annulée à la fin d'un lot, {with_errors}{tail}"
    return f"{what} terminée {with_errors}{tail}"
