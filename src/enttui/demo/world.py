"""The demo world: a deterministic generator of French school directories in the SDET schema.

Everything comes from a seeded :class:`random.Random` and the spec's fixed reference date (no global
randomness, no clock), so the same :class:`WorldSpec` always gives the same entries, byte for byte.
Entries are ``(dn, {attribute: [str, ...]})`` with attribute names spelled as in the SDET schema.

Layout under ``base_dn`` (other code relies on it):

- ``ENTStructureSIREN=<14 digits>,ou=structures`` — the schools;
- ``uid=F0xxxxxxx,ou=people`` — students, parents, teachers, staff and local "Autre" accounts;
- ``cn=<UAI>$<name>,ou=groups`` — classes (``ENTClasse``) and groups (``ENTGroupe``);
- ``cn=<role>:<level>:<key>,ou=roles,ou=groups`` — Moodle role groups (``role_groups``).

The generator streams school by school: only one school's people are in memory at a time, plus the
set of logins of the whole world (collision suffixes are world-wide).

This module plans the people and links them; what to generate (:class:`WorldSpec`, :func:`demo_spec`,
:func:`big_spec`) and the layout's fixed entries and DNs are in :mod:`enttui.demo.world_spec`, and
the planned person and the entries written from it in :mod:`enttui.demo.world_entries`; their
public names are re-exported here.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from enttui.demo import names
from enttui.demo.names import (
    ACADEMY_DOMAIN,
    ENT_DOMAIN,
    GROUPS,
    LEVELS,
    OTHER_DOMAINS,
    OTHER_ROLES,
    PARENT_DOMAINS,
    STAFF_AED,
    STAFF_AGENT,
    STAFF_ROLES,
    SUBJECTS,
)
from enttui.demo.world_entries import (
    DEMO_PASSWORD,
    DEMO_PASSWORD_HASH,
    Planned,
    group_entry,
    person_entry,
    role_group_entry,
    structure_entry,
)
from enttui.demo.world_spec import (
    FAMILY_SIZES,
    PARENTS_PER_STUDENT,
    TWO_PARENTS,
    Entry,
    SchoolSpec,
    WorldSpec,
    base_entry,
    big_spec,
    containers,
    demo_spec,
    school_dn,
    school_siren,
)
from enttui.domain.logins import login_base

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_PASSWORD_HASH",
    "FAMILY_SIZES",
    "PARENTS_PER_STUDENT",
    "TWO_PARENTS",
    "Entry",
    "SchoolSpec",
    "World",
    "WorldSpec",
    "base_entry",
    "big_spec",
    "class_label",
    "containers",
    "demo_entries",
    "demo_spec",
    "generate",
    "injected_defects",
    "school_dn",
    "school_siren",
]


def class_label(i: int) -> str:
    """0 → A, 25 → Z, 26 → AA (bijective base 26)."""
    s, i = "", i + 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


@dataclass
class World:
    """One generation run. :meth:`entries` streams; ``defects`` and ``counts`` fill as it goes."""

    spec: WorldSpec
    defects: dict[str, list[str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        base = self.spec.base_dn
        self.people_dn = f"ou=people,{base}"
        self.groups_dn = f"ou=groups,{base}"
        self.roles_dn = f"ou=roles,ou=groups,{base}"
        self._reset()

    def _reset(self) -> None:
        self.defects.clear()
        self.counts.clear()
        self._logins: dict[str, int] = {}
        self._uid = 8_001_000
        self._jointure = 1_200_000
        self._local = 500
        self._principals: list[str] = []
        self._creators: list[str] = []

    # -- streaming --------------------------------------------------------------------------------
    def entries(self) -> Iterator[Entry]:
        """Stream the entries (each call starts over and gives the same sequence)."""
        self._reset()
        for i, school in enumerate(self.spec.schools):
            yield structure_entry(self.spec.base_dn, i, school)
        for i, school in enumerate(self.spec.schools):
            yield from self._school(i, school)
        if self.spec.role_groups:
            if self._principals:
                yield role_group_entry(
                    self.roles_dn, "manager:system:", self._principals, "Gestionnaires du site Moodle"
                )
            if self._creators:
                key = "coursecreator:coursecat:CAT-COLLEGE"
                yield role_group_entry(self.roles_dn, key, self._creators, "Créateurs de cours de la catégorie Collège")

    # -- identities -------------------------------------------------------------------------------
    def _new(self, rng: random.Random, pop: str, sn: str, given: str, sex: str, birth_year: int) -> Planned:
        p = Planned(pop)
        self._uid += rng.randint(1, 9)
        p.uid = f"F{self._uid:08d}"
        p.dn = f"uid={p.uid},{self.people_dn}"
        p.sn, p.given, p.sex = sn, given, sex
        p.birth = (datetime(birth_year, 1, 1) + timedelta(days=rng.randrange(365))).strftime("%d/%m/%Y")
        p.login = self._login(given, sn)
        if pop == "autre":
            self._local += 1
            p.jointure = f"ENT${self._local}"
        else:
            self._jointure += rng.randint(1, 3)
            p.jointure = f"AC-GRIS${self._jointure}"
        ref = self.spec.reference
        created = ref - timedelta(seconds=rng.randrange(86_400, 70 * 86_400))
        modified = created + timedelta(seconds=rng.randrange(int((ref - created).total_seconds())))
        p.created, p.modified = created.strftime("%Y%m%d%H%M%SZ"), modified.strftime("%Y%m%d%H%M%SZ")
        p.activated = pop in ("enseignant", "non-enseignant") or rng.random() >= (0.3 if pop == "autre" else 0.4)
        return p

    def _login(self, given: str, sn: str) -> str:
        base = login_base(given, sn)
        n = self._logins.get(base, 0) + 1
        self._logins[base] = n
        return base if n == 1 else f"{base}{n}"

    @staticmethod
    def _first_name(rng: random.Random, sex: str, young: bool) -> str:
        if sex == "F":
            return rng.choice(names.FEMALE_YOUNG if young else names.FEMALE_ADULT)
        return rng.choice(names.MALE_YOUNG if young else names.MALE_ADULT)

    def _adult(self, rng: random.Random, pop: str, sn: str | None = None, sex: str | None = None) -> Planned:
        sex = sex or rng.choice("MF")
        year = self.spec.reference.year - rng.randint(28, 62)
        return self._new(rng, pop, sn or rng.choice(names.LAST_NAMES), self._first_name(rng, sex, False), sex, year)

    # -- one school -------------------------------------------------------------------------------
    def _school(self, index: int, school: SchoolSpec) -> Iterator[Entry]:
        rng = random.Random(f"enttui-world:{self.spec.seed}:{index}:{school.uai}")
        sdn = school_dn(self.spec.base_dn, school)
        defects = self.spec.with_defects and index == 0
        classes = [f"{lvl}{class_label(i)}" for lvl in LEVELS for i in range(max(1, school.classes_per_level))]
        students, parents = self._families(rng, school, classes, index == 0)
        teachers = self._teachers(rng, school, classes)
        staff = [self._staff(rng, school, i) for i in range(school.staff)]
        others = [self._other(rng, i) for i in range(school.others)]
        extra_groups: list[tuple[str, str, list[str]]] = []
        if defects:
            extra_groups = self._inject(school, students, parents, teachers, others)
        members: dict[str, list[str]] = {c: [] for c in classes}
        for s in students:
            if s.klass in members:
                members[s.klass].append(s.dn)
        group_members = self._student_groups(rng, students)
        group_teachers: dict[str, list[str]] = {}
        for g, _levels, _share, subject in GROUPS:
            t = next((t for t in teachers if t.subject[0] == subject), None)
            if t is not None and group_members.get(g):
                t.groups.append(g)
                group_teachers[g] = [t.dn]
        for t in teachers:
            for c in t.classes:
                members[c].append(t.dn)

        for pop, people in (
            ("eleve", students),
            ("parent", parents),
            ("enseignant", teachers),
            ("non-enseignant", staff),
            ("autre", others),
        ):
            self.counts[pop] += len(people)
            for p in people:
                yield person_entry(p, sdn)
        for c in classes:
            if members[c]:
                yield group_entry(self.groups_dn, school, c, "ENTClasse", f"Classe de {c}", members[c])
        for name, desc, dns in extra_groups:
            yield group_entry(self.groups_dn, school, name, "ENTClasse", desc, dns)
        for g, dns in group_members.items():
            if dns:
                yield group_entry(
                    self.groups_dn, school, g, "ENTGroupe", f"Groupe {g}", dns + group_teachers.get(g, [])
                )
        if self.spec.role_groups:
            yield from self._school_roles(index, school, teachers, staff)

    def _families(
        self, rng: random.Random, school: SchoolSpec, classes: list[str], first: bool
    ) -> tuple[list[Planned], list[Planned]]:
        n = school.students
        slots = [classes[i * len(classes) // n] for i in range(n)] if n else []
        order = list(range(n))
        rng.shuffle(order)
        families: list[list[int]] = []
        while order:
            r, size = rng.random(), 1
            for k, share in FAMILY_SIZES:
                if r < share:
                    size = k
                    break
                r -= share
            families.append(order[:size])
            del order[:size]
        students: list[Planned | None] = [None] * n
        parents: list[Planned] = []
        homonyms = 2 if first else 0
        ref_year = self.spec.reference.year
        for fam in families:
            sn = rng.choice(names.LAST_NAMES)
            forced = homonyms > 0 and len(fam) == 1
            if forced:
                sn, homonyms = "Martin", homonyms - 1
            two = rng.random() < TWO_PARENTS
            mother_sn = sn if rng.random() < 0.6 else rng.choice(names.LAST_NAMES)
            child_sn = sn
            if two and mother_sn != sn and " " not in sn + mother_sn and rng.random() < 0.1:
                child_sn = f"{sn}-{mother_sn}"
            kids: list[Planned] = []
            for i in fam:
                sex = "F" if forced else rng.choice("MF")
                given = "Léa" if forced else self._first_name(rng, sex, True)
                level = slots[i][0]
                year = ref_year - 11 - LEVELS.index(level) - (1 if rng.random() < 0.08 else 0)
                kid = self._new(rng, "eleve", child_sn, given, sex, year)
                kid.klass, kid.level = slots[i], level
                kid.mail = "" if rng.random() < 0.12 else f"{kid.login}@{ENT_DOMAIN}"
                students[i] = kid
                kids.append(kid)
            if two:
                adults = [self._adult(rng, "parent", sn, "M"), self._adult(rng, "parent", mother_sn, "F")]
            else:
                adults = [self._adult(rng, "parent", sn, "F" if rng.random() < 0.8 else "M")]
            for a in adults:
                a.mail = "" if rng.random() < 0.06 else f"{a.login}@{rng.choice(PARENT_DOMAINS)}"
                a.children = [k.dn for k in kids]
            if two and adults[1].mail and rng.random() < 0.05:
                adults[0].mail = adults[1].mail  # a family address shared by both parents
            for child in kids:
                child.parents = list(adults)
            parents.extend(adults)
        return [s for s in students if s is not None], parents

    def _teachers(self, rng: random.Random, school: SchoolSpec, classes: list[str]) -> list[Planned]:
        total = school.teachers
        n_doc = round(total * 2 / 50) if total >= 10 else 0
        rest = total - n_doc
        weight = sum(w for _, _, w in SUBJECTS)
        quotas = [rest * w / weight for _, _, w in SUBJECTS]
        counts = [int(q) for q in quotas]
        by_fraction = sorted(range(len(SUBJECTS)), key=lambda i: (-(quotas[i] - counts[i]), i))
        for i in by_fraction[: rest - sum(counts)]:
            counts[i] += 1
        teachers: list[Planned] = []
        for (code, label, _), count in zip(SUBJECTS, counts, strict=True):
            team = [self._adult(rng, "enseignant") for _ in range(count)]
            for t in team:
                t.subject, t.profile = (code, label), "National_ENS"
                t.fonction = f"{school.uai}$ENS$ENSEIGNEMENT${code}${label}"
            shuffled = classes[:]
            rng.shuffle(shuffled)
            for c in shuffled:
                free = [t for t in team if len(t.classes) < 5]
                if free:
                    min(free, key=lambda t: len(t.classes)).classes.append(c)
            for t in team:
                while len(t.classes) < min(2, len(classes)):
                    c = rng.choice(classes)
                    if c not in t.classes:
                        t.classes.append(c)
            teachers.extend(team)
        for _ in range(n_doc):
            t = self._adult(rng, "enseignant")
            t.subject, t.profile = ("L0080", "DOCUMENTATION"), "National_DOC"
            t.fonction = f"{school.uai}$DOC$DOCUMENTATION$L0080$DOCUMENTATION"
            teachers.append(t)
        for t in teachers:
            t.mail = "" if rng.random() < 0.02 else f"{t.login}@{ACADEMY_DOMAIN}"
        return teachers

    def _staff(self, rng: random.Random, school: SchoolSpec, i: int) -> Planned:
        if i < len(STAFF_ROLES):
            code, label, profile, service, title = STAFF_ROLES[i]
        else:
            code, label, profile, service, title = STAFF_AED if i % 2 else STAFF_AGENT
        p = self._adult(rng, "non-enseignant")
        p.profile, p.service = profile, service
        p.fonction = f"{school.uai}${code}${label}$$"
        p.extra["title"] = [title]
        p.mail = "" if rng.random() < 0.02 else f"{p.login}@{ACADEMY_DOMAIN}"
        return p

    def _other(self, rng: random.Random, i: int) -> Planned:
        if i == 0:
            p = self._new(rng, "autre", "Test [démo]", "Compte", "M", self.spec.reference.year - 30)
            p.extra["description"] = ["Compte de test"]
        else:
            p = self._adult(rng, "autre")
            p.extra["description"] = [OTHER_ROLES[(i - 1) % len(OTHER_ROLES)]]
        if rng.random() >= 0.3:
            p.mail = f"{p.login}@{rng.choice(OTHER_DOMAINS)}"
        return p

    @staticmethod
    def _student_groups(rng: random.Random, students: list[Planned]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {g: [] for g, *_ in GROUPS}
        for s in students:
            for g, levels, share, _ in GROUPS:
                if s.level in levels and rng.random() < share:
                    s.groups.append(g)
                    out[g].append(s.dn)
        return out

    # -- defects ----------------------------------------------------------------------------------
    def _inject(
        self,
        school: SchoolSpec,
        students: list[Planned],
        parents: list[Planned],
        teachers: list[Planned],
        others: list[Planned],
    ) -> list[tuple[str, str, list[str]]]:
        """A few coherence defects (≤ 2 each) for the "Rapports de cohérence", recorded in ``defects``."""
        d = self.defects
        if len(students) < 10 or len(parents) < 10 or len(teachers) < 3:
            return []  # too small a school to hide defects in
        ghost = f"uid=F07999999,{self.people_dn}"
        # a student with no parent link at all (their parents leave the directory)
        orphan = next(
            (
                s
                for s in students[len(students) // 2 : -1]
                if len(s.parents) >= 1 and all(len(p.children) == 1 for p in s.parents)
            ),
            None,
        )
        if orphan is not None:
            for p in orphan.parents:
                parents.remove(p)
            orphan.parents = []
            d["student_without_parent"] = [orphan.dn]
        # a parent whose child DN points nowhere (an extra link to a deleted student)
        parents[3].children.append(ghost)
        d["dangling_child"] = [parents[3].dn]
        # two parents sharing one ENTPersonJointure (an AAF feed hiccup)
        parents[7].jointure = parents[6].jointure
        d["duplicate_jointure"] = [parents[6].dn, parents[7].dn]
        # a student whose class is not a class of the school (and who is in no class group)
        misplaced = students[-1]
        misplaced.klass = "2NDE3"
        d["class_not_in_school"] = [misplaced.dn]
        # a teacher entry with a student's profile
        teachers[1].profile = "National_ELV"
        d["profile_contradiction"] = [teachers[1].dn]
        if len(others) >= 3:
            # a local account whose login is a student's, in another case
            dup = others[-1]
            dup.login = students[0].login.capitalize()
            d["duplicate_login"] = [students[0].dn, dup.dn]
            # a local account for a teacher who already has one: same name and birth date
            twin, model = others[-2], teachers[2]
            twin.sn, twin.given, twin.birth, twin.sex = model.sn, model.given, model.birth, model.sex
            twin.login = self._login(model.given, model.sn)
            twin.mail = f"{twin.login}@{OTHER_DOMAINS[0]}" if twin.mail else ""
            d["same_name_birthdate"] = [model.dn, twin.dn]
        # a class whose only member points nowhere
        empty = f"{LEVELS[-1]}{class_label(max(1, school.classes_per_level))}"
        dn = f"cn={school.uai}${empty},{self.groups_dn}"
        d["empty_class"] = [dn]
        d["dangling_member"] = [dn]
        return [(empty, f"Classe de {empty}", [f"uid=F07999998,{self.people_dn}"])]

    # -- role groups ------------------------------------------------------------------------------
    def _school_roles(
        self, index: int, school: SchoolSpec, teachers: list[Planned], staff: list[Planned]
    ) -> Iterator[Entry]:
        """``editingteacher:course:MATH-3A`` per 3e class (key suffixed ``-<UAI>`` after the first school)."""
        if staff:
            self._principals.append(staff[0].dn)
        math = [t for t in teachers if t.subject[0] == "L1300"]
        if index == 0:
            self._creators = [t.dn for t in teachers if t.profile == "National_ENS"][:2]
        if not math:
            return
        suffix = "" if index == 0 else f"-{school.uai}"
        third = sorted({c for t in teachers for c in t.classes if c.startswith(LEVELS[-1])})
        for c in third:
            dns = [t.dn for t in math if c in t.classes] or [math[0].dn]
            key = f"MATH-{c}{suffix}"
            yield role_group_entry(self.roles_dn, f"editingteacher:course:{key}", dns, f"Enseignants du cours {key}")


def generate(spec: WorldSpec) -> Iterator[Entry]:
    """Stream the world's entries: schools first, then each school's people and groups, then roles."""
    return World(spec).entries()


def injected_defects(spec: WorldSpec) -> dict[str, list[str]]:
    """Check name → the DNs that carry each deliberate defect (empty without ``with_defects``)."""
    if not spec.with_defects or not spec.schools:
        return {}
    world = World(spec)
    for _ in world.entries():
        pass
    return {k: list(v) for k, v in world.defects.items()}


def demo_entries(base_dn: str = "dc=ent,dc=demo") -> list[Entry]:
    """The whole demo world in memory: containers, then every generated entry."""
    return [*containers(base_dn), *generate(demo_spec(base_dn))]
