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
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from enttui.demo import names
from enttui.demo.names import (
    ACADEMY_DOMAIN,
    ENT_DOMAIN,
    GROUPS,
    LEVELS,
    MEF,
    OTHER_DOMAINS,
    OTHER_ROLES,
    PARENT_DOMAINS,
    STAFF_AED,
    STAFF_AGENT,
    STAFF_ROLES,
    SUBJECTS,
)
from enttui.domain.logins import login_base
from enttui.domain.people import TARGET_AUX_CLASSES, person_object_classes

Entry = tuple[str, dict[str, list[str]]]

# Families: 1, 2 or 3 children; two parents in 97 % of them.
FAMILY_SIZES = ((1, 0.75), (2, 0.20), (3, 0.05))
TWO_PARENTS = 0.97
PARENTS_PER_STUDENT = (1 + TWO_PARENTS) / sum(k * p for k, p in FAMILY_SIZES)  # ≈ 1.515

DEMO_PASSWORD = "Demo-Ent-2026"  # the clear text of DEMO_PASSWORD_HASH (demo accounts that have a password)
_SALT = b"enttuiDm"
DEMO_PASSWORD_HASH = "{SSHA}" + base64.b64encode(hashlib.sha1(DEMO_PASSWORD.encode() + _SALT).digest() + _SALT).decode()

# The auxiliary class of each population (keyed by the population's name, ``_P.pop``).
_AUX = {target.value: aux for target, aux in TARGET_AUX_CLASSES.items()}


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


def class_label(i: int) -> str:
    """0 → A, 25 → Z, 26 → AA (bijective base 26)."""
    s, i = "", i + 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


class _P:
    """A person being planned (only one school's people live at a time)."""

    __slots__ = (
        "activated", "birth", "children", "classes", "created", "dn", "extra", "fonction", "given",
        "groups", "jointure", "klass", "level", "login", "mail", "modified", "parents", "pop",
        "profile", "service", "sex", "sn", "subject", "uid",
    )  # fmt: skip

    activated: bool
    birth: str
    children: list[str]
    classes: list[str]
    created: str
    dn: str
    extra: dict[str, list[str]]
    fonction: str
    given: str
    groups: list[str]
    jointure: str
    klass: str
    level: str
    login: str
    mail: str
    modified: str
    parents: list[_P]
    pop: str
    profile: str
    service: str
    sex: str
    sn: str
    subject: tuple[str, str]
    uid: str

    def __init__(self, pop: str) -> None:
        self.pop = pop
        self.mail = ""
        self.profile = ""
        self.extra = {}
        self.children = []
        self.parents = []
        self.classes = []
        self.groups = []


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
            yield self._structure(i, school)
        for i, school in enumerate(self.spec.schools):
            yield from self._school(i, school)
        if self.spec.role_groups:
            if self._principals:
                yield self._role_group("manager:system:", self._principals, "Gestionnaires du site Moodle")
            if self._creators:
                key = "coursecreator:coursecat:CAT-COLLEGE"
                yield self._role_group(key, self._creators, "Créateurs de cours de la catégorie Collège")

    def _structure(self, i: int, school: SchoolSpec) -> Entry:
        return school_dn(self.spec.base_dn, school), {
            "objectClass": ["top", "organizationalUnit", "ENTStructure", "ENTEtablissement"],
            "ou": [school.name],
            "ENTStructureSIREN": [school_siren(school)],
            "ENTStructureUAI": [school.uai],
            "ENTStructureNomCourant": [school.name],
            "ENTStructureJointure": [f"AC-GRIS${9100 + i}"],
            "ENTEtablissementMinistereTutelle": ["MENJ"],
            "ENTEtablissementContrat": ["PU"],
        }

    # -- identities -------------------------------------------------------------------------------
    def _new(self, rng: random.Random, pop: str, sn: str, given: str, sex: str, birth_year: int) -> _P:
        p = _P(pop)
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

    def _adult(self, rng: random.Random, pop: str, sn: str | None = None, sex: str | None = None) -> _P:
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
                yield self._person_entry(p, school, sdn)
        for c in classes:
            if members[c]:
                yield self._group(school, c, "ENTClasse", f"Classe de {c}", members[c])
        for name, desc, dns in extra_groups:
            yield self._group(school, name, "ENTClasse", desc, dns)
        for g, dns in group_members.items():
            if dns:
                yield self._group(school, g, "ENTGroupe", f"Groupe {g}", dns + group_teachers.get(g, []))
        if self.spec.role_groups:
            yield from self._school_roles(index, school, teachers, staff)

    def _families(
        self, rng: random.Random, school: SchoolSpec, classes: list[str], first: bool
    ) -> tuple[list[_P], list[_P]]:
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
        students: list[_P | None] = [None] * n
        parents: list[_P] = []
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
            kids: list[_P] = []
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

    def _teachers(self, rng: random.Random, school: SchoolSpec, classes: list[str]) -> list[_P]:
        total = school.teachers
        n_doc = round(total * 2 / 50) if total >= 10 else 0
        rest = total - n_doc
        weight = sum(w for _, _, w in SUBJECTS)
        quotas = [rest * w / weight for _, _, w in SUBJECTS]
        counts = [int(q) for q in quotas]
        by_fraction = sorted(range(len(SUBJECTS)), key=lambda i: (-(quotas[i] - counts[i]), i))
        for i in by_fraction[: rest - sum(counts)]:
            counts[i] += 1
        teachers: list[_P] = []
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

    def _staff(self, rng: random.Random, school: SchoolSpec, i: int) -> _P:
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

    def _other(self, rng: random.Random, i: int) -> _P:
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
    def _student_groups(rng: random.Random, students: list[_P]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {g: [] for g, *_ in GROUPS}
        for s in students:
            for g, levels, share, _ in GROUPS:
                if s.level in levels and rng.random() < share:
                    s.groups.append(g)
                    out[g].append(s.dn)
        return out

    # -- defects ----------------------------------------------------------------------------------
    def _inject(
        self, school: SchoolSpec, students: list[_P], parents: list[_P], teachers: list[_P], others: list[_P]
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

    # -- entries ----------------------------------------------------------------------------------
    def _person_entry(self, p: _P, school: SchoolSpec, sdn: str) -> Entry:
        a: dict[str, list[str]] = {
            "objectClass": person_object_classes(_AUX[p.pop]),
            "uid": [p.uid],
            "cn": [f"{p.sn} {p.given}"],
            "sn": [p.sn],
            "givenName": [p.given],
            "displayName": [f"{p.given} {p.sn}"],
            "ENTPersonLogin": [p.login],
            "ENTPersonJointure": [p.jointure],
        }
        if p.pop == "eleve":
            a["ENTPersonProfils"] = ["National_ELV"]
        elif p.pop == "parent":
            a["ENTPersonProfils"] = ["National_TUT"]
        elif p.profile:
            a["ENTPersonProfils"] = [p.profile]
        a["ENTPersonStructRattach"] = [sdn]
        a["ENTPersonDateNaissance"] = [p.birth]
        a["ENTPersonSexe"] = [p.sex]
        if p.mail:
            a["mail"] = [p.mail]
        if p.pop == "eleve":
            mef, label = MEF[p.level]
            a["ENTEleveStatutEleve"] = ["SCOLAIRE"]
            a["ENTEleveMEF"] = [mef]
            a["ENTEleveLibelleMEF"] = [label]
            a["ENTEleveNivFormation"] = [label]
            a["ENTEleveFiliere"] = ["GENERALE"]
            a["ENTEleveClasses"] = [f"{sdn}${p.klass}"]
            a["ENTEleveMajeur"] = ["N"]
            if p.parents:
                a["ENTEleveParents"] = [q.dn for q in p.parents]
                a["ENTElevePersRelEleve"] = [f"{q.dn}${'10' if q.sex == 'M' else '20'}$1$1$1$0" for q in p.parents]
            if p.groups:
                a["ENTEleveGroupes"] = [f"{sdn}${g}" for g in p.groups]
        elif p.pop == "parent":
            a["ENTAuxPersRelEleveEleve"] = p.children
        elif p.pop == "enseignant":
            a["ENTPersonFonctions"] = [p.fonction]
            a["ENTAuxEnsMatiereEnseignEtab"] = [f"{sdn}${p.subject[1]}"]
            if p.classes:
                a["ENTAuxEnsClasses"] = [f"{sdn}${c}" for c in p.classes]
            if p.groups:
                a["ENTAuxEnsGroupes"] = [f"{sdn}${g}" for g in p.groups]
        elif p.pop == "non-enseignant":
            a["ENTPersonFonctions"] = [p.fonction]
            a["ENTAuxNonEnsEtabService"] = [p.service]
        a.update(p.extra)
        a["createTimestamp"] = [p.created]
        a["modifyTimestamp"] = [p.modified]
        # Three states of credentials: activated (a password, no pwdReset), a temporary password
        # never used (pwdReset: TRUE), never given credentials (no password at all: a new account
        # from the feed). The last two are "not activated"; which one is a fixed function of the uid.
        if p.activated:
            a["userPassword"] = [DEMO_PASSWORD_HASH]
        elif int(p.uid[1:]) % 2:
            a["userPassword"] = [DEMO_PASSWORD_HASH]
            a["pwdReset"] = ["TRUE"]
        return p.dn, a

    def _group(self, school: SchoolSpec, name: str, kind: str, description: str, member: list[str]) -> Entry:
        cn = f"{school.uai}${name}"
        return f"cn={cn},{self.groups_dn}", {
            "objectClass": ["top", "groupOfNames", kind],
            "cn": [cn],
            "description": [description],
            "member": member,
        }

    def _role_group(self, cn: str, member: list[str], description: str) -> Entry:
        return f"cn={cn},{self.roles_dn}", {
            "objectClass": ["top", "groupOfNames"],
            "cn": [cn],
            "description": [description],
            "member": member,
        }

    def _school_roles(self, index: int, school: SchoolSpec, teachers: list[_P], staff: list[_P]) -> Iterator[Entry]:
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
            yield self._role_group(f"editingteacher:course:{key}", dns, f"Enseignants du cours {key}")


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
