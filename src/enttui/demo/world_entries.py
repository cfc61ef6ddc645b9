"""The demo world's entries: a person being planned, and the SDET entries written from it.

The generator (:mod:`enttui.demo.world`) plans one school's people as :class:`Planned` records,
links them (families, classes, groups), then writes each as an entry here: a school's structure, a
person (with the attributes of their population), a class or group, a Moodle role group. The
accounts that have a password carry :data:`DEMO_PASSWORD_HASH` (the clear text is
:data:`DEMO_PASSWORD`).
"""

from __future__ import annotations

import base64
import hashlib

from enttui.demo.names import MEF
from enttui.demo.world_spec import Entry, SchoolSpec, school_dn, school_siren
from enttui.domain.people import TARGET_AUX_CLASSES, person_object_classes

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_PASSWORD_HASH",
    "Planned",
    "group_entry",
    "person_entry",
    "role_group_entry",
    "structure_entry",
]

DEMO_PASSWORD = "Demo-Ent-2026"  # the clear text of DEMO_PASSWORD_HASH (demo accounts that have a password)
_SALT = b"enttuiDm"
DEMO_PASSWORD_HASH = "{SSHA}" + base64.b64encode(hashlib.sha1(DEMO_PASSWORD.encode() + _SALT).digest() + _SALT).decode()

# The auxiliary class of each population (keyed by the population's name, ``Planned.pop``).
_AUX = {target.value: aux for target, aux in TARGET_AUX_CLASSES.items()}


class Planned:
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
    parents: list[Planned]
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


def structure_entry(base_dn: str, i: int, school: SchoolSpec) -> Entry:
    """The school's ``ENTEtablissement`` (``i``: its rank in the spec, for its jointure)."""
    return school_dn(base_dn, school), {
        "objectClass": ["top", "organizationalUnit", "ENTStructure", "ENTEtablissement"],
        "ou": [school.name],
        "ENTStructureSIREN": [school_siren(school)],
        "ENTStructureUAI": [school.uai],
        "ENTStructureNomCourant": [school.name],
        "ENTStructureJointure": [f"AC-GRIS${9100 + i}"],
        "ENTEtablissementMinistereTutelle": ["MENJ"],
        "ENTEtablissementContrat": ["PU"],
    }


def person_entry(p: Planned, sdn: str) -> Entry:
    """A person's entry below ``ou=people``; ``sdn``: the DN of the school they belong to."""
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


def group_entry(groups_dn: str, school: SchoolSpec, name: str, kind: str, description: str, member: list[str]) -> Entry:
    """A class (``ENTClasse``) or a group (``ENTGroupe``) of the school, ``cn=<UAI>$<name>``."""
    cn = f"{school.uai}${name}"
    return f"cn={cn},{groups_dn}", {
        "objectClass": ["top", "groupOfNames", kind],
        "cn": [cn],
        "description": [description],
        "member": member,
    }


def role_group_entry(roles_dn: str, cn: str, member: list[str], description: str) -> Entry:
    """A Moodle role group, ``cn=<role>:<level>:<key>`` below ``ou=roles``."""
    return f"cn={cn},{roles_dn}", {
        "objectClass": ["top", "groupOfNames"],
        "cn": [cn],
        "description": [description],
        "member": member,
    }
