"""Small hand-made directories for the sync's tests: schools, people, classes, role groups.

Every entry is spelled out so that a test can set exactly the oddity it checks (a login with an
accent, a member DN in another case, two schools with the same class names…).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Entry = tuple[str, dict[str, list[str]]]

SCHOOLS = {"0123456A": "Collège Alpha", "0654321B": "Collège Beta"}


@dataclass
class Someone:
    uid: str
    login: str
    uai: str = "0123456A"
    kind: str = "eleve"  # "eleve" or "enseignant"
    sn: str = ""
    given: str = ""
    classes: Sequence[str] = ()
    jointure: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)


def school_dn(base: str, uai: str) -> str:
    return f"ou={uai},ou=structures,{base}"


def person_dn(base: str, uid: str) -> str:
    return f"uid={uid},ou=people,{base}"


def schools(base: str, uais: Iterable[str] = SCHOOLS) -> list[Entry]:
    return [
        (
            school_dn(base, uai),
            {
                "objectClass": ["ENTEtablissement"],
                "ou": [uai],
                "ENTStructureUAI": [uai],
                "ENTStructureNomCourant": [SCHOOLS.get(uai, uai)],
                "ENTStructureJointure": [f"AC-TEST${uai}"],
                "ENTStructureSIREN": ["19350000000000"],
                "ENTEtablissementMinistereTutelle": ["MENJ"],
                "ENTEtablissementContrat": ["PU"],
            },
        )
        for uai in uais
    ]


def person(base: str, p: Someone) -> Entry:
    school = school_dn(base, p.uai)
    attrs: dict[str, list[str]] = {
        "uid": [p.uid],
        "cn": [f"{p.given or 'Prénom'} {p.sn or p.uid}"],
        "sn": [p.sn or f"Nom{p.uid}"],
        "givenName": [p.given or "Prénom"],
        "ENTPersonLogin": [p.login],
        "ENTPersonJointure": [p.jointure or f"AC-TEST${p.uid}"],
        "ENTPersonStructRattach": [school],
        "mail": [f"{p.uid}@ent.test"],
    }
    if p.kind == "eleve":
        attrs.update(
            {
                "objectClass": ["ENTEleve"],
                "ENTPersonProfils": ["National_ELV"],
                "ENTEleveStatutEleve": ["SCOLAIRE"],
                "ENTEleveMEF": ["10310019110"],
                "ENTEleveLibelleMEF": ["3EME"],
                "ENTEleveNivFormation": ["3EME"],
                "ENTEleveFiliere": ["GENERALE"],
                "ENTEleveClasses": [f"{school}${c}" for c in p.classes] or [f"{school}$3A"],
                "ENTEleveMajeur": ["N"],
            }
        )
    else:
        attrs.update(
            {
                "objectClass": ["ENTPerson", "ENTAuxEnseignant"],
                "ENTPersonProfils": ["National_ENS"],
            }
        )
    attrs.update(p.extra)
    return person_dn(base, p.uid), attrs


def group(base: str, cn: str, members: Sequence[str], kind: str = "ENTClasse") -> Entry:
    return f"cn={cn},ou=groups,{base}", {"objectClass": [kind], "cn": [cn], "member": list(members)}


def roles_container(base: str) -> Entry:
    return f"ou=roles,ou=groups,{base}", {"objectClass": ["organizationalUnit"], "ou": ["roles"]}


def role_group(base: str, cn: str, members: Sequence[str]) -> Entry:
    return f"cn={cn},ou=roles,ou=groups,{base}", {"objectClass": ["groupOfNames"], "cn": [cn], "member": list(members)}
