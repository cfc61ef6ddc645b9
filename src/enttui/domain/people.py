"""People, groups and structures of the SDET directory, and the five targets of the seeds.

Pure logic: entries arrive as ``(dn, {attribute: [values]})`` with string values, exactly what the
directory service hands over, and leave as frozen domain objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from sys import intern

from enttui.domain.dn import lookup_key


class Target(StrEnum):
    """The five populations of the diffusion form (Cible)."""

    ELEVE = "eleve"
    PARENT = "parent"
    ENSEIGNANT = "enseignant"
    NON_ENSEIGNANT = "non-enseignant"
    AUTRE = "autre"

    @property
    def label(self) -> str:
        return TARGET_LABELS[self]

    @property
    def gets_ent_credentials(self) -> bool:
        """Only Élèves, Parents and Autres get ENT-generated credentials."""
        return self in (Target.ELEVE, Target.PARENT, Target.AUTRE)


TARGET_LABELS: dict[Target, str] = {
    Target.ELEVE: "Élève",
    Target.PARENT: "Parent",
    Target.ENSEIGNANT: "Enseignant",
    Target.NON_ENSEIGNANT: "Non enseignant",
    Target.AUTRE: "Autre",
}

PROFILE_TARGETS: dict[str, Target] = {
    "National_ELV": Target.ELEVE,
    "National_TUT": Target.PARENT,
    "National_ENS": Target.ENSEIGNANT,
    "National_DOC": Target.ENSEIGNANT,
    "National_DIR": Target.NON_ENSEIGNANT,
    "National_EVS": Target.NON_ENSEIGNANT,
    "National_ETA": Target.NON_ENSEIGNANT,
    "National_ACA": Target.NON_ENSEIGNANT,
    "National_COL": Target.NON_ENSEIGNANT,
    # older directories
    "National_1": Target.ELEVE,
    "National_2": Target.PARENT,
    "National_3": Target.ENSEIGNANT,
    "National_4": Target.NON_ENSEIGNANT,
    "National_5": Target.NON_ENSEIGNANT,
    "National_6": Target.NON_ENSEIGNANT,
    "National_7": Target.NON_ENSEIGNANT,
    "National_8": Target.NON_ENSEIGNANT,
    "National_9": Target.NON_ENSEIGNANT,
}

# The object classes every person entry carries (SDET), before the auxiliary class of its population.
PERSON_CLASSES: tuple[str, ...] = ("top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson")

# The auxiliary class of a person of each target (the demo world's people; local accounts pick
# theirs by local profile, see :data:`enttui.domain.local_account_rows.LOCAL_PROFILES`).
TARGET_AUX_CLASSES: dict[Target, str] = {
    Target.ELEVE: "ENTEleve",
    Target.PARENT: "ENTAuxPersRelEleve",
    Target.ENSEIGNANT: "ENTAuxEnseignant",
    Target.NON_ENSEIGNANT: "ENTAuxNonEnsEtab",
    Target.AUTRE: "ENTAuxPersExt",
}


def person_object_classes(aux_class: str) -> list[str]:
    """The ``objectClass`` values of a new person entry whose population class is ``aux_class``."""
    return [*PERSON_CLASSES, aux_class]


# Object classes that decide the target when the profile attribute is missing (in order).
CLASS_TARGETS: tuple[tuple[str, Target], ...] = (
    ("enteleve", Target.ELEVE),
    ("entauxpersreleleve", Target.PARENT),
    ("entauxenseignant", Target.ENSEIGNANT),
    ("entauxnonensetab", Target.NON_ENSEIGNANT),
    ("entauxnonensservac", Target.NON_ENSEIGNANT),
    ("entauxnonenscollloc", Target.NON_ENSEIGNANT),
)


def resolve_target(profils: Iterable[str], object_classes: Iterable[str], prefer: str = "profils") -> Target:
    """The target of a person: from ``ENTPersonProfils``, else the object classes (or the reverse).

    ``prefer`` is ``"profils"`` (default) or ``"classes"``: which source wins when both say something.
    """
    by_profile = _target_from_profiles(profils)
    by_classes = _target_from_classes(object_classes)
    if prefer == "classes":
        return by_classes or by_profile or Target.AUTRE
    return by_profile or by_classes or Target.AUTRE


def _target_from_profiles(profils: Iterable[str]) -> Target | None:
    for code in profils:
        target = PROFILE_TARGETS.get(code.strip())
        if target is not None:
            return target
    return None


def _target_from_classes(object_classes: Iterable[str]) -> Target | None:
    lowered = {c.lower() for c in object_classes}
    for cls, target in CLASS_TARGETS:
        if cls in lowered:
            return target
    return None


def class_name(value: str) -> str:
    """``<structure>$<class name>`` → class name (the part after the last ``$``)."""
    return value.rsplit("$", 1)[-1].strip()


def jointure_key(jointure: str) -> str:
    """``AC-RENNES$128407`` → ``128407``: the part after the first ``$`` (Moodle idnumber)."""
    return jointure.split("$", 1)[1] if "$" in jointure else jointure


def jointure_source(jointure: str) -> str:
    return jointure.split("$", 1)[0] if "$" in jointure else ""


def parse_ldap_time(value: str | None) -> datetime | None:
    """``20261121083000Z`` (generalized time) → aware datetime, or None."""
    if not value:
        return None
    text = value.strip().rstrip("Z")
    text = text.split(".", 1)[0]
    try:
        return datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def format_ldap_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


def _first(attrs: Mapping[str, Sequence[str]], name: str) -> str:
    """The first value of ``name`` in attributes keyed in lower case (:func:`_lowered`)."""
    values = attrs.get(name.lower())
    return str(values[0]) if values else ""


def _all(attrs: Mapping[str, Sequence[str]], name: str) -> tuple[str, ...]:
    """Every value of ``name`` in attributes keyed in lower case (:func:`_lowered`)."""
    values = attrs.get(name.lower())
    return tuple(map(str, values)) if values else ()


def normalise_attrs(attrs: Mapping[str, object]) -> dict[str, list[str]]:
    """Attribute names as the schema spells them are kept; values become lists of ``str``."""
    out: dict[str, list[str]] = {}
    for key, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            vals = [_to_str(v) for v in value]
        else:
            vals = [_to_str(value)]
        if vals:
            out[key] = vals
    return out


def _to_str(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return format_ldap_time(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _lowered(attrs: Mapping[str, Sequence[str]]) -> dict[str, Sequence[str]]:
    """The attributes keyed by their lower-case name (read with :func:`_first` and :func:`_all`)."""
    return {k.lower(): v for k, v in attrs.items()}


@dataclass(frozen=True, slots=True)
class Person:
    dn: str
    login: str
    sn: str = ""
    given_name: str = ""
    display_name: str = ""
    uid: str = ""
    mail: str = ""
    jointures: tuple[str, ...] = ()
    profils: tuple[str, ...] = ()
    object_classes: tuple[str, ...] = ()
    target: Target = Target.AUTRE
    struct_dns: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    parent_dns: tuple[str, ...] = ()
    child_dns: tuple[str, ...] = ()
    teacher_classes: tuple[str, ...] = ()
    teacher_groups: tuple[str, ...] = ()
    fonctions: tuple[str, ...] = ()
    birth_date: str = ""
    service: str = ""
    activated: bool = False
    has_password: bool = True  # False: no userPassword at all (read it: PERSON_ATTRIBUTES has it)
    created: datetime | None = None
    modified: datetime | None = None

    @property
    def jointure(self) -> str:
        """The key jointure (the first value)."""
        return self.jointures[0] if self.jointures else ""

    @property
    def idnumber(self) -> str:
        return jointure_key(self.jointure) if self.jointure else ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.sn, self.given_name) if p) or self.display_name or self.login

    def is_local(self, local_source: str) -> bool:
        return any(jointure_source(j) == local_source for j in self.jointures)

    @property
    def state_label(self) -> str:
        return "activé" if self.activated else "non activé"

    @property
    def password_state(self) -> str:
        """Why the account is (not) activated, in the words of the directory."""
        if not self.has_password:
            return "aucun mot de passe"
        return "pwdReset absent" if self.activated else "pwdReset TRUE"


def person_from_entry(
    dn: str,
    attrs: Mapping[str, Sequence[str]],
    *,
    prefer: str = "profils",
    inactive_attribute: str = "pwdReset",
    inactive_value: str = "TRUE",
) -> Person:
    """Build a :class:`Person` from a directory entry (attribute names case-insensitive)."""
    a = {k.lower(): v for k, v in attrs.items()}
    get = a.get

    def every(key: str) -> tuple[str, ...]:  # key in lower case
        values = get(key)
        return tuple(map(str, values)) if values else ()

    def first(key: str) -> str:
        values = get(key)
        return str(values[0]) if values else ""

    # a few distinct values shared by everyone: one string each, not one per person (a million
    # people hold ~4 of them each)
    object_classes = tuple(map(intern, map(str, get("objectclass") or ())))
    profils = tuple(map(intern, map(str, get("entpersonprofils") or ())))
    parents = every("enteleveparents")
    relations = get("entelevepersreleleve")
    if relations:
        known = {lookup_key(p) for p in parents}
        extra = []
        for rel in map(str, relations):
            parent_dn = rel.split("$", 1)[0].strip()
            if parent_dn and lookup_key(parent_dn) not in known:
                known.add(lookup_key(parent_dn))
                extra.append(parent_dn)
        parents += tuple(extra)
    inactive = get(inactive_attribute.lower())
    # Only whether a password is there: the hash itself is never kept (nor asked for by the lists).
    has_password = bool(get("userpassword"))
    service = get("entauxnonensetabservice")
    classes = get("enteleveclasses")
    groups = get("entelevegroupes")
    teacher_classes = get("entauxensclasses")
    teacher_groups = get("entauxensgroupes")
    created = get("createtimestamp")
    modified = get("modifytimestamp")
    return Person(
        dn=dn,
        login=first("entpersonlogin"),
        sn=first("sn"),
        given_name=first("givenname"),
        display_name=first("displayname"),
        uid=first("uid"),
        mail=first("mail"),
        jointures=every("entpersonjointure"),
        profils=profils,
        object_classes=object_classes,
        target=resolve_target(profils, object_classes, prefer),
        struct_dns=every("entpersonstructrattach"),
        classes=tuple(class_name(str(v)) for v in classes) if classes else (),
        groups=tuple(class_name(str(v)) for v in groups) if groups else (),
        parent_dns=parents,
        child_dns=every("entauxpersreleleveeleve"),
        teacher_classes=tuple(class_name(str(v)) for v in teacher_classes) if teacher_classes else (),
        teacher_groups=tuple(class_name(str(v)) for v in teacher_groups) if teacher_groups else (),
        fonctions=tuple(map(intern, map(str, get("entpersonfonctions") or ()))),
        birth_date=first("entpersondatenaissance"),
        service=str(service[0]) if service else "",
        activated=has_password and not (inactive and inactive_value.upper() in {str(v).upper() for v in inactive}),
        has_password=has_password,
        created=parse_ldap_time(str(created[0])) if created else None,
        modified=parse_ldap_time(str(modified[0])) if modified else None,
    )


@dataclass(frozen=True, slots=True)
class Group:
    dn: str
    cn: str
    kind: str  # "classe" or "groupe" (or "autre")
    uai: str = ""
    name: str = ""
    description: str = ""
    members: tuple[str, ...] = ()
    modified: datetime | None = None

    @property
    def group_id(self) -> str:
        """Stable id used for the Moodle cohort idnumber: the cn."""
        return self.cn


def group_from_entry(dn: str, attrs: Mapping[str, Sequence[str]]) -> Group:
    """Groups are named ``<UAI>$<name>`` (cn); ``ENTClasse`` → classe, ``ENTGroupe`` → groupe."""
    a = _lowered(attrs)
    classes = {c.lower() for c in _all(a, "objectClass")}
    kind = "classe" if "entclasse" in classes else "groupe" if "entgroupe" in classes else "autre"
    cn = _first(a, "cn")
    uai, _, name = cn.partition("$") if "$" in cn else ("", "", cn)
    return Group(
        dn=dn,
        cn=cn,
        kind=kind,
        uai=uai,
        name=name or cn,
        description=_first(a, "description"),
        members=_all(a, "member"),
        modified=parse_ldap_time(_first(a, "modifyTimestamp")),
    )


@dataclass(frozen=True, slots=True)
class Structure:
    dn: str
    uai: str
    name: str = ""
    jointure: str = ""
    siren: str = ""


def structure_from_entry(dn: str, attrs: Mapping[str, Sequence[str]]) -> Structure:
    a = _lowered(attrs)
    return Structure(
        dn=dn,
        uai=_first(a, "ENTStructureUAI"),
        name=_first(a, "ENTStructureNomCourant") or _first(a, "ou"),
        jointure=_first(a, "ENTStructureJointure"),
        siren=_first(a, "ENTStructureSIREN"),
    )


@dataclass(slots=True)
class ProfileCounts:
    """People per target of the périmètre (home screen, status)."""

    counts: dict[Target, int] = field(default_factory=lambda: dict.fromkeys(Target, 0))

    def add(self, target: Target, n: int = 1) -> None:
        self.counts[target] = self.counts.get(target, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())
