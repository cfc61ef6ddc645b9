"""Local accounts ("Référentiel local"): their fields, checked the same way from the form and from
an import file, each refusal a French reason.

- The local profiles (Autre, Tuteur de stage, Enseignant…) with their object class and profile code.
- :func:`validate_fields`: one account's fields cleaned, or the reasons they are refused.
- :func:`parse_import`: a CSV table (:mod:`enttui.domain.csv_read`) → one checked row per line, the
  columns matched with French aliases (``Prénom``, ``Courriel``…).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from enttui.domain.csv_read import CsvTable, header_key
from enttui.domain.logins import derivable
from enttui.domain.people import Person, jointure_key, jointure_source


@dataclass(frozen=True)
class LocalProfile:
    key: str
    label: str
    aux_class: str
    profil: str  # ENTPersonProfils value ("" = none: Autre)


LOCAL_PROFILES: tuple[LocalProfile, ...] = (
    LocalProfile("autre", "Autre (intervenant, externe)", "ENTAuxPersExt", ""),
    LocalProfile("tuteur", "Tuteur de stage", "ENTAuxTuteurStage", ""),
    LocalProfile("enseignant", "Enseignant", "ENTAuxEnseignant", "National_ENS"),
    LocalProfile("documentaliste", "Professeur documentaliste", "ENTAuxEnseignant", "National_DOC"),
    LocalProfile("vie-scolaire", "Vie scolaire", "ENTAuxNonEnsEtab", "National_EVS"),
    LocalProfile("personnel", "Personnel administratif ou technique", "ENTAuxNonEnsEtab", "National_ETA"),
    LocalProfile("direction", "Direction", "ENTAuxNonEnsEtab", "National_DIR"),
)
PROFILES_BY_KEY: dict[str, LocalProfile] = {p.key: p for p in LOCAL_PROFILES}
LOCAL_AUX_CLASSES: frozenset[str] = frozenset(p.aux_class.lower() for p in LOCAL_PROFILES)
_PROFILE_ALIASES: dict[str, str] = {
    "": "autre",
    "autre": "autre",
    "autres": "autre",
    "externe": "autre",
    "intervenant": "autre",
    "tuteur": "tuteur",
    "tuteur_de_stage": "tuteur",
    "enseignant": "enseignant",
    "national_ens": "enseignant",
    "documentaliste": "documentaliste",
    "professeur_documentaliste": "documentaliste",
    "national_doc": "documentaliste",
    "vie_scolaire": "vie-scolaire",
    "national_evs": "vie-scolaire",
    "personnel": "personnel",
    "non_enseignant": "personnel",
    "national_eta": "personnel",
    "direction": "direction",
    "national_dir": "direction",
}


def parse_profile(text: str) -> str | None:
    """The local profile key for a typed or imported value (``Non enseignant`` → ``personnel``)."""
    return _PROFILE_ALIASES.get(header_key(text))


def profile_of(person: Person) -> str:
    """The local profile key that best describes an existing entry."""
    classes = {c.lower() for c in person.object_classes}
    for p in LOCAL_PROFILES:
        if p.profil and p.profil in person.profils:
            return p.key
    if "entauxtuteurstage" in classes:
        return "tuteur"
    return "autre"


MAX_NAME = 64
MAX_MAIL = 254
MAX_DESCRIPTION = 200
_MAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_JOINTURE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_UAI = re.compile(r"^\d{7}[A-Z]$")
_NAME_EXTRA = frozenset(" '’-.")


def name_problem(value: str, what: str) -> str | None:
    """Why a name is refused (French), or None. ``what`` is ``nom`` or ``prénom``."""
    text = value.strip()
    if not text:
        return f"{what} manquant"
    if len(text) > MAX_NAME:
        return f"{what} trop long ({MAX_NAME} caractères au plus)"
    bad = sorted({c for c in text if not (c.isalpha() or c.isdigit() or c in _NAME_EXTRA)})
    if bad:
        shown = " ".join(repr(c)[1:-1] if c.isprintable() else f"U+{ord(c):04X}" for c in bad[:5])
        return f"{what} invalide : {'caractère interdit' if len(bad) == 1 else 'caractères interdits'} {shown}"
    if not any(c.isalpha() for c in text):
        return f"{what} invalide : aucune lettre"
    return None


def mail_problem(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_MAIL or not _MAIL.match(text):
        return f"e-mail invalide « {text[:60]} »"
    return None


def parse_date(value: str) -> date | None:
    """``jj/mm/aaaa`` or ``aaaa-mm-jj`` → date; empty → None; raises ``ValueError`` otherwise."""
    text = value.strip()
    if not text:
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def format_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def end_date_to_ldap(value: date) -> str:
    """The end date as ``pwdEndTime``: the password stops working after that day (23:59:59 UTC)."""
    return value.strftime("%Y%m%d") + "235959Z"


def end_date_from_ldap(value: str) -> date | None:
    text = (value or "").strip()
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date() if len(text) >= 8 else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AccountFields:
    """What the admin gives for a local account (form or one import row), cleaned."""

    sn: str
    given_name: str
    mail: str = ""
    profile: str = "autre"
    end_date: date | None = None
    birth_date: str = ""  # dd/mm/yyyy, as ENTPersonDateNaissance
    uai: str = ""
    description: str = ""
    jointure_key: str = ""  # the part after "<local source>$"
    present: frozenset[str] = frozenset()  # import columns given (absent = left as is on update)


def validate_fields(
    *,
    sn: str,
    given_name: str,
    mail: str = "",
    profile: str = "",
    end_date: str = "",
    birth_date: str = "",
    uai: str = "",
    description: str = "",
    jointure: str = "",
    local_source: str = "ENT",
    perimeter: Sequence[str] = (),
    today: date | None = None,
    require_jointure: bool = False,
    present: Iterable[str] = (),
) -> tuple[AccountFields | None, list[str]]:
    """Clean and check the fields; returns ``(fields, [])`` or ``(None, [French reasons])``."""
    errors: list[str] = []
    for value, what in ((sn, "nom"), (given_name, "prénom")):
        problem = name_problem(value, what)
        if problem:
            errors.append(problem)
    if not errors and not derivable(given_name, sn):
        errors.append("identifiant impossible à dériver : le nom ou le prénom n'a aucune lettre latine")
    problem = mail_problem(mail)
    if problem:
        errors.append(problem)
    profile_key = parse_profile(profile)
    if profile_key is None:
        errors.append(f"profil inconnu « {profile.strip()[:40]} » (valeurs : {', '.join(PROFILES_BY_KEY)})")
    end: date | None = None
    try:
        end = parse_date(end_date)
    except ValueError:
        errors.append(f"date de fin invalide « {end_date.strip()[:20]} » (jj/mm/aaaa)")
    if end is not None and today is not None and end < today:
        errors.append(f"date de fin déjà passée ({format_date(end)})")
    birth = ""
    try:
        born = parse_date(birth_date)
        birth = format_date(born)
        if born is not None and today is not None and born > today:
            errors.append("date de naissance dans le futur")
    except ValueError:
        errors.append(f"date de naissance invalide « {birth_date.strip()[:20]} » (jj/mm/aaaa)")
    uai_clean = uai.strip().upper()
    if uai_clean and not _UAI.match(uai_clean):
        errors.append(f"UAI invalide « {uai.strip()[:12]} » (7 chiffres et une lettre)")
    elif uai_clean and perimeter and uai_clean not in perimeter:
        errors.append(f"UAI {uai_clean} hors du périmètre ({', '.join(perimeter)})")
    desc = " ".join(description.split())
    if len(desc) > MAX_DESCRIPTION:
        errors.append(f"description trop longue ({MAX_DESCRIPTION} caractères au plus)")
    key = ""
    text = jointure.strip()
    foreign = False
    if "$" in text:
        source = jointure_source(text)
        if source != local_source:
            foreign = True
            errors.append(
                f"jointure « {text[:40]} » d'une autre source ({source}) : compte alimenté par l'académie, "
                "non modifiable ici"
            )
        text = jointure_key(text).strip()
    if not foreign:
        if text and not _JOINTURE_KEY.match(text):
            errors.append("jointure invalide (lettres, chiffres, . _ - ; 64 caractères au plus)")
        elif not text and require_jointure:
            errors.append("jointure manquante")
        key = text
    if errors:
        return None, errors
    return (
        AccountFields(
            sn=" ".join(sn.split()),
            given_name=" ".join(given_name.split()),
            mail=mail.strip(),
            profile=profile_key or "autre",
            end_date=end,
            birth_date=birth,
            uai=uai_clean,
            description=desc,
            jointure_key=key,
            present=frozenset(present),
        ),
        [],
    )


# -- import rows -------------------------------------------------------------------------------

IMPORT_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("jointure", "clé de jointure locale (ex. 1001 ou ENT$1001) : identifie le compte d'un import à l'autre", True),
    ("nom", "nom de famille", True),
    ("prenom", "prénom", True),
    ("email", "adresse électronique (facultative)", False),
    ("profil", "autre, tuteur, enseignant, documentaliste, vie-scolaire, personnel, direction (défaut : autre)", False),
    ("date_fin", "date de fin du compte, jj/mm/aaaa (facultative)", False),
    ("uai", "UAI de l'établissement de rattachement (défaut : le premier du périmètre)", False),
    ("date_naissance", "jj/mm/aaaa (facultative)", False),
    ("description", "fonction ou rôle, texte libre (facultatif)", False),
)
_COLUMN_ALIASES: dict[str, str] = {
    "jointure": "jointure",
    "cle": "jointure",
    "cle_de_jointure": "jointure",
    "cle_jointure": "jointure",
    "identifiant_externe": "jointure",
    "entpersonjointure": "jointure",
    "nom": "nom",
    "nom_de_famille": "nom",
    "sn": "nom",
    "prenom": "prenom",
    "givenname": "prenom",
    "email": "email",
    "e_mail": "email",
    "mail": "email",
    "courriel": "email",
    "adresse_mail": "email",
    "adresse_electronique": "email",
    "profil": "profil",
    "profile": "profil",
    "date_fin": "date_fin",
    "date_de_fin": "date_fin",
    "fin": "date_fin",
    "uai": "uai",
    "rne": "uai",
    "date_naissance": "date_naissance",
    "date_de_naissance": "date_naissance",
    "naissance": "date_naissance",
    "description": "description",
    "fonction": "description",
    "role": "description",
}
REQUIRED_COLUMNS = ("jointure", "nom", "prenom")


@dataclass(frozen=True)
class ParsedRow:
    line: int
    raw: Mapping[str, str]
    fields: AccountFields | None
    errors: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        name = f"{self.raw.get('nom', '')} {self.raw.get('prenom', '')}".strip()
        return name or "—"


@dataclass(frozen=True)
class ParsedFile:
    table: CsvTable
    columns: dict[str, int]  # canonical column -> index
    ignored: tuple[str, ...]
    rows: tuple[ParsedRow, ...] = field(default=())


def map_columns(header: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Canonical column → index, and the ignored header names; raises ``ValueError`` (French)."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for i, name in enumerate(header):
        key = _COLUMN_ALIASES.get(header_key(name))
        if key is None:
            if name.strip():
                ignored.append(name.strip())
            continue
        if key in columns:
            raise ValueError(f"colonne « {name} » en double (déjà donnée par « {header[columns[key]]} »)")
        columns[key] = i
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(
            ("colonne obligatoire absente : " if len(missing) == 1 else "colonnes obligatoires absentes : ")
            + ", ".join(missing)
            + " (en-tête attendu : "
            + ";".join(c for c, _, _ in IMPORT_COLUMNS)
            + ")"
        )
    return columns, ignored


def parse_import(
    table: CsvTable, *, local_source: str, perimeter: Sequence[str], today: date | None = None
) -> ParsedFile:
    """Validate every row (each keeps its own reasons; one bad row never hides the others)."""
    columns, ignored = map_columns(table.header)
    present = frozenset(columns)
    out: list[ParsedRow] = []
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        raw = {k: (cells[i] if i < len(cells) else "") for k, i in columns.items()}
        errors: list[str] = []
        if len(cells) > len(table.header) and any(c for c in cells[len(table.header) :]):
            errors.append(f"{len(cells)} cellules pour {len(table.header)} colonnes (séparateur dans une valeur ?)")
        fields, problems = validate_fields(
            sn=raw.get("nom", ""),
            given_name=raw.get("prenom", ""),
            mail=raw.get("email", ""),
            profile=raw.get("profil", ""),
            end_date=raw.get("date_fin", ""),
            birth_date=raw.get("date_naissance", ""),
            uai=raw.get("uai", ""),
            description=raw.get("description", ""),
            jointure=raw.get("jointure", ""),
            local_source=local_source,
            perimeter=perimeter,
            today=today,
            require_jointure=True,
            present=present,
        )
        errors.extend(problems)
        if fields is not None and not errors:
            first = seen.get(fields.jointure_key.lower())
            if first is not None:
                errors.append(f"jointure {fields.jointure_key} en double dans le fichier (déjà ligne {first})")
            else:
                seen[fields.jointure_key.lower()] = line
        out.append(ParsedRow(line, raw, None if errors else fields, tuple(errors)))
    return ParsedFile(table, columns, tuple(ignored), tuple(out))
