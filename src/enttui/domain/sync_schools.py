"""The sync's Bilan per school: what each school of the périmètre got, from the committed rows.

The engine adds one to a school's counter for each row a batch committed (the same places as the
per-entity counts, so a cancelled run counts only what it wrote), and for each per-entry error line.
A user's school is the one of its directory entry (``ENTPersonStructRattach``, the périmètre's own
attribute); a cohort's is the UAI its idnumber carries (``<prefix>_<UAI>$<classe>``). A suspended
account is gone from the directory, and a cohort whose idnumber names no school of the périmètre
(an unlocked run) has none: they count under "sans établissement". Role assignments are not split.

Errors that are not about one entry (a refused batch, an incomplete read) are only in the
per-entity counts: the per-school errors are the error lines of a person or a group.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from enttui.domain.sync_report import count_label, number, plural

__all__ = [
    "NO_SCHOOL",
    "SCHOOLS_KEY",
    "SCHOOL_ENTITIES",
    "SCHOOL_KEYS",
    "SchoolCounts",
    "cohort_uai",
    "school_line",
]

SCHOOLS_KEY = "schools"  # where a recorded sync run keeps them, beside the counts per entity
NO_SCHOOL = "sans établissement"  # the key of what has no school (users gone, foreign cohorts)
SCHOOL_ENTITIES: tuple[str, ...] = ("users", "cohorts")
# What a school's counters hold: the writes, and the error lines (never unchanged nor skipped).
SCHOOL_KEYS: tuple[str, ...] = ("created", "updated", "revived", "suspended", "removed", "errors")
ENTITY_WORDS: dict[str, str] = {"users": "comptes", "cohorts": "cohortes"}


def cohort_uai(idnumber: str, prefix: str, uais: Collection[str]) -> str:
    """The UAI a cohort's idnumber carries (``2026_0123456A$3A`` → ``0123456A``), "" when none of ``uais``."""
    rest = idnumber
    if prefix and rest.startswith(f"{prefix}_"):
        rest = rest[len(prefix) + 1 :]
    uai, sep, _name = rest.partition("$")
    return uai if sep and uai in uais else ""


@dataclass
class SchoolCounts:
    """UAI ("" for none) → entity → count key → n; ``names``: UAI → the school's name."""

    names: dict[str, str] = field(default_factory=dict)
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    def add(self, uai: str, entity: str, key: str, n: int = 1) -> None:
        if n:
            per_entity = self.counts.setdefault(uai, {}).setdefault(entity, {})
            per_entity[key] = per_entity.get(key, 0) + n

    def get(self, uai: str, entity: str, key: str) -> int:
        return self.counts.get(uai, {}).get(entity, {}).get(key, 0)

    def total(self, entity: str, key: str) -> int:
        return sum(self.get(uai, entity, key) for uai in self.counts)

    def schools(self) -> list[str]:
        """The schools with something counted, by UAI, "" (sans établissement) last."""
        return sorted(self.counts, key=lambda u: (u == "", u))

    def label(self, uai: str) -> str:
        if not uai:
            return NO_SCHOOL
        name = self.names.get(uai, "")
        return f"{uai} {name}" if name and name != uai else uai

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """``{"0123456A": {"name": "Collège…", "users": {"created": 3, …}, "cohorts": {…}}, "sans
        établissement": {…}}``: the schools with something counted, every key of SCHOOL_KEYS."""
        out: dict[str, dict[str, Any]] = {}
        for uai in self.schools():
            doc: dict[str, Any] = {"name": self.names.get(uai, "") if uai else NO_SCHOOL}
            for entity in SCHOOL_ENTITIES:
                if entity in self.counts[uai]:
                    doc[entity] = {key: self.get(uai, entity, key) for key in SCHOOL_KEYS}
            out[uai or NO_SCHOOL] = doc
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SchoolCounts:
        """Back from :meth:`as_dict` (a stored report); what does not fit is left out."""
        out = cls()
        for key, doc in data.items():
            if not isinstance(doc, Mapping):
                continue
            uai = "" if key == NO_SCHOOL else str(key)
            if uai and isinstance(doc.get("name"), str):
                out.names[uai] = doc["name"]
            for entity in SCHOOL_ENTITIES:
                values = doc.get(entity)
                if isinstance(values, Mapping):
                    for count_key, n in values.items():
                        if isinstance(n, int) and not isinstance(n, bool):
                            out.add(uai, entity, str(count_key), n)
        return out


def school_line(counts: SchoolCounts, uai: str) -> str:
    """ "0123456A Collège Alpha : comptes 12 créés, 1 erreur ; cohortes 2 créées" (one school)."""
    parts = []
    for entity in SCHOOL_ENTITIES:
        pieces = []
        for key in SCHOOL_KEYS:
            n = counts.get(uai, entity, key)
            if n and key != "errors":
                pieces.append(f"{number(n)} {count_label(entity, key, n)}")
        errors = counts.get(uai, entity, "errors")
        if errors:
            pieces.append(plural(errors, "erreur", "erreurs"))
        if pieces:
            parts.append(f"{ENTITY_WORDS[entity]} {', '.join(pieces)}")
    return f"{counts.label(uai)} : {' ; '.join(parts) or 'rien'}"
