"""The export formats: which columns a CSV export has and how each cell is read from a person.

Built in: generic, Moodle's tool_uploaduser, SACoche, Gepi; and the custom formats an administrator
composes from :data:`CATALOGUE`. The rows are written by :mod:`enttui.domain.csv_write`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from enttui.domain.dn import lookup_key
from enttui.domain.local_account_rows import end_date_from_ldap, format_date
from enttui.domain.people import Person, Target


@dataclass(frozen=True)
class ExportContext:
    """What a row needs beyond the entry: school UAIs by DN, Moodle's auth and cohort prefix."""

    uai_by_dn: Mapping[str, str]
    auth: str = "cas"
    cohort_prefix: str = ""


def _lower_keys(attrs: Mapping[str, Sequence[str]]) -> dict[str, Sequence[str]]:
    return {k.lower(): v for k, v in attrs.items()}


def _first(attrs: Mapping[str, Sequence[str]], name: str) -> str:
    values = attrs.get(name.lower()) or ()
    return str(values[0]) if values else ""


def _uai(person: Person, ctx: ExportContext) -> str:
    for dn in person.struct_dns:
        uai = ctx.uai_by_dn.get(lookup_key(dn))
        if uai:
            return uai
    return ""


def _cohorts(person: Person, ctx: ExportContext) -> list[str]:
    uai = _uai(person, ctx)
    names = [*person.classes, *person.groups, *person.teacher_classes, *person.teacher_groups]
    prefix = f"{ctx.cohort_prefix}_" if ctx.cohort_prefix else ""
    return [f"{prefix}{uai}${n}" if uai else f"{prefix}{n}" for n in dict.fromkeys(names)]


def _sexe(attrs: Mapping[str, Sequence[str]]) -> str:
    value = _first(attrs, "ENTPersonSexe").upper()
    return {"M": "M", "F": "F", "1": "M", "2": "F"}.get(value, "")


def column_value(key: str, person: Person, attrs: Mapping[str, Sequence[str]], ctx: ExportContext) -> str:
    """One cell of the export for ``person`` (``attrs``: the entry, attribute names in lower case)."""
    if key == "uai":
        return _uai(person, ctx)
    if key == "profil":
        return person.target.label
    if key in ("nom",):
        return person.sn
    if key == "prenom":
        return person.given_name
    if key == "identifiant":
        return person.login
    if key == "mail":
        return person.mail
    if key == "classes":
        return ", ".join(person.classes or person.teacher_classes)
    if key == "groupes":
        return ", ".join(person.groups or person.teacher_groups)
    if key == "jointure":
        return person.jointure
    if key == "cle":
        return person.idnumber
    if key == "etat":
        return person.state_label
    if key == "date_creation":
        return person.created.strftime("%d/%m/%Y") if person.created else ""
    if key == "date_naissance":
        return person.birth_date
    if key == "sexe":
        return _sexe(attrs)
    if key == "uid":
        return person.uid
    if key == "date_fin":
        return format_date(end_date_from_ldap(_first(attrs, "pwdEndTime")))
    if key == "description":
        return _first(attrs, "description")
    if key == "ine":
        return _first(attrs, "ENTEleveINE")
    # Moodle (tool_uploaduser)
    if key == "m_username":
        return person.login.lower()
    if key == "m_auth":
        return ctx.auth
    if key.startswith("m_cohort"):
        cohorts = _cohorts(person, ctx)
        i = int(key[len("m_cohort") :]) - 1
        return cohorts[i] if 0 <= i < len(cohorts) else ""
    # SACoche: groups separated by "|"
    if key == "s_groupes":
        return "|".join(person.groups or person.teacher_groups)
    if key == "s_classe":
        return (person.classes or person.teacher_classes or ("",))[0]
    if key == "empty":
        return ""
    raise KeyError(key)


# Columns the admin can pick for a custom export (key -> header).
CATALOGUE: dict[str, str] = {
    "uai": "UAI",
    "profil": "Profil",
    "nom": "Nom",
    "prenom": "Prénom",
    "identifiant": "Identifiant",
    "mail": "Mail",
    "classes": "Classe(s)",
    "groupes": "Groupe(s)",
    "jointure": "Jointure",
    "cle": "Clé de jointure",
    "etat": "État",
    "date_creation": "Date de création",
    "date_naissance": "Date de naissance",
    "sexe": "Sexe",
    "uid": "uid",
    "date_fin": "Date de fin",
    "description": "Description",
}


@dataclass(frozen=True)
class ExportFormat:
    name: str
    label: str
    columns: tuple[tuple[str, str], ...]  # (column key, header)
    delimiter: str = ";"
    bom: bool = True
    targets: tuple[Target, ...] = ()  # default population (empty: everyone)
    note: str = ""

    @property
    def header(self) -> list[str]:
        return [h for _, h in self.columns]

    def row(self, person: Person, attrs: Mapping[str, Sequence[str]], ctx: ExportContext) -> list[str]:
        low = _lower_keys(attrs)
        return [column_value(k, person, low, ctx) for k, _ in self.columns]


BUILTIN_FORMATS: dict[str, ExportFormat] = {
    "personnes": ExportFormat(
        "personnes",
        "Personnes (export générique)",
        tuple(
            (k, CATALOGUE[k])
            for k in (
                "uai",
                "profil",
                "nom",
                "prenom",
                "identifiant",
                "mail",
                "classes",
                "jointure",
                "etat",
                "date_creation",
            )
        ),
        note="point-virgule, UTF-8 avec BOM (Excel)",
    ),
    "moodle": ExportFormat(
        "moodle",
        "Moodle (Téléverser des utilisateurs, tool_uploaduser)",
        (
            ("m_username", "username"),
            ("prenom", "firstname"),
            ("nom", "lastname"),
            ("mail", "email"),
            ("cle", "idnumber"),
            ("m_auth", "auth"),
            ("m_cohort1", "cohort1"),
            ("m_cohort2", "cohort2"),
            ("m_cohort3", "cohort3"),
        ),
        delimiter=",",
        bom=False,
        note="virgule, UTF-8 (réglages par défaut de Moodle) ; pas de mot de passe : authentification « auth »",
    ),
    "sacoche": ExportFormat(
        "sacoche",
        "SACoche (import des élèves avec un tableur)",
        (
            ("cle", "numéro"),
            ("sexe", "genre"),
            ("nom", "nom"),
            ("prenom", "prenom"),
            ("date_naissance", "date naiss."),
            ("mail", "courriel"),
            ("s_classe", "classe"),
            ("s_groupes", "groupes"),
        ),
        targets=(Target.ELEVE,),
        note="élèves ; groupes séparés par « | »",
    ),
    "gepi": ExportFormat(
        "gepi",
        "Gepi (initialisation CSV : ELEVES.CSV)",
        (
            ("nom", "Nom"),
            ("prenom", "Prénom"),
            ("sexe", "Sexe"),
            ("date_naissance", "Date de naissance"),
            ("cle", "n° identifiant interne"),
            ("ine", "n° identifiant national"),
            ("empty", "Code établissement précédent"),
            ("empty", "Doublement"),
            ("empty", "Régime"),
            ("s_classe", "Classe"),
        ),
        targets=(Target.ELEVE,),
        note="élèves",
    ),
}


def custom_format(name: str, columns: Sequence[str], targets: Sequence[Target] = ()) -> ExportFormat:
    """A format the admin built (columns from :data:`CATALOGUE`, in their order)."""
    unknown = [c for c in columns if c not in CATALOGUE]
    if unknown:
        raise ValueError(f"{'colonne inconnue' if len(unknown) == 1 else 'colonnes inconnues'} : {', '.join(unknown)}")
    if not columns:
        raise ValueError("choisissez au moins une colonne")
    return ExportFormat(
        name, f"Profil personnalisé « {name} »", tuple((c, CATALOGUE[c]) for c in columns), targets=tuple(targets)
    )


PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def profile_name_problem(name: str) -> str | None:
    if not PROFILE_NAME.match(name):
        return "nom de profil invalide (minuscules, chiffres, - et _, 32 caractères au plus)"
    if name in BUILTIN_FORMATS:
        return f"« {name} » est le nom d'un export prédéfini"
    return None
