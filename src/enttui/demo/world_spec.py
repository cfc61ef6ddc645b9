"""What a demo world holds and where: the specs, and the layout's fixed entries.

A :class:`WorldSpec` (schools with their head counts, seed, fixed reference date) is everything the
generator (:mod:`enttui.demo.world`) needs; :func:`demo_spec` is the embedded demo's and
:func:`big_spec` sizes several collèges to a number of people from the families' shape. The schools'
SIREN and DN, the organisational units and the base entry are fixed functions of the spec, so
tests, benches and scripts can name them without generating anything.

:mod:`enttui.demo.world` re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from enttui.demo import names

__all__ = [
    "FAMILY_SIZES",
    "PARENTS_PER_STUDENT",
    "TWO_PARENTS",
    "Entry",
    "SchoolSpec",
    "WorldSpec",
    "base_entry",
    "big_spec",
    "containers",
    "demo_spec",
    "school_dn",
    "school_siren",
]

Entry = tuple[str, dict[str, list[str]]]

# Families: 1, 2 or 3 children; two parents in 97 % of them.
FAMILY_SIZES = ((1, 0.75), (2, 0.20), (3, 0.05))
TWO_PARENTS = 0.97
PARENTS_PER_STUDENT = (1 + TWO_PARENTS) / sum(k * p for k, p in FAMILY_SIZES)  # ≈ 1.515


@dataclass(frozen=True)
class SchoolSpec:
    """One collège: its UAI, name and head counts (parents follow from the students' families)."""

    uai: str
    name: str
    students: int = 600
    teachers: int = 50
    staff: int = 20
    others: int = 10
    classes_per_level: int = 6


@dataclass(frozen=True)
class WorldSpec:
    """What to generate; everything derives from ``seed`` and the fixed ``reference`` date."""

    base_dn: str = "dc=ent,dc=demo"
    schools: tuple[SchoolSpec, ...] = ()
    seed: int = 2026
    reference: datetime = datetime(2026, 9, 1, tzinfo=UTC)
    with_defects: bool = False
    role_groups: bool = True


def demo_spec(base_dn: str = "dc=ent,dc=demo") -> WorldSpec:
    """The embedded demo: one collège of ~1,600 people, with a few deliberate coherence defects."""
    return WorldSpec(base_dn=base_dn, schools=(SchoolSpec("0123456A", "Collège Jean Moulin"),), with_defects=True)


def big_spec(people: int, schools: int = 5, base_dn: str = "dc=ent,dc=test") -> WorldSpec:
    """Several collèges whose populations add up to about ``people`` (students, parents, staff...)."""
    schools = max(1, schools)
    per_school = people / schools
    # Per student: PARENTS_PER_STUDENT parents, 1/12 teacher, 1/30 staff, 1/60 other account.
    students = max(1, round(per_school / (1 + PARENTS_PER_STUDENT + 1 / 12 + 1 / 30 + 1 / 60)))
    specs = tuple(
        SchoolSpec(
            uai=f"{123456 + i:07d}A",
            name=names.SCHOOL_NAMES[i % len(names.SCHOOL_NAMES)] + ("" if i < len(names.SCHOOL_NAMES) else f" {i}"),
            students=students,
            teachers=max(1, round(students / 12)),
            staff=max(1, round(students / 30)),
            others=max(1, round(students / 60)),
            classes_per_level=max(1, round(students / 4 / 25)),
        )
        for i in range(schools)
    )
    return WorldSpec(base_dn=base_dn, schools=specs)


def school_siren(school: SchoolSpec) -> str:
    digits = "".join(c for c in school.uai if c.isdigit())[:7].rjust(7, "0")
    return f"19{digits}000{sum(map(int, digits)) % 90 + 10:02d}"


def school_dn(base_dn: str, school: SchoolSpec) -> str:
    return f"ENTStructureSIREN={school_siren(school)},ou=structures,{base_dn}"


def containers(base_dn: str) -> list[Entry]:
    """The organisational units the world lives in (the base entry itself is not included)."""
    return [
        (f"ou={ou},{base_dn}", {"objectClass": ["top", "organizationalUnit"], "ou": [ou.split(",")[0]]})
        for ou in ("people", "groups", "roles,ou=groups", "structures")
    ]


def base_entry(base_dn: str) -> Entry:
    """The ``dc=`` base entry, for a directory that starts empty."""
    dc = base_dn.split(",", 1)[0].split("=", 1)[1]
    return base_dn, {"objectClass": ["top", "dcObject", "organization"], "dc": [dc], "o": [dc]}
