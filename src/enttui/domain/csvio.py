"""CSV in and out: reading what French spreadsheets write, writing what they open safely.

Reading (imports): the encoding is detected (UTF-8 with BOM, UTF-8, else Windows-1252 as French
Excel writes it), then the separator (``;`` or ``,``, from the header line). The header names are
matched without case, accents or punctuation, with French aliases (``Prénom``, ``Courriel``…).

Writing (exports): ``;``-separated, every field quoted, UTF-8 with a BOM (what French Excel opens)
unless a format says otherwise; a cell that a spreadsheet would read as a formula (starting with
``= + - @``, a tab or a carriage return) is prefixed with ``'``. No password is ever a column.

Also here: the local-account fields (form and import) with their validation, each reason in
French, and the export column sets (generic, Moodle's tool_uploaduser, SACoche, Gepi, custom).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from enttui.domain.logins import derivable
from enttui.domain.people import Person, Target, jointure_key, jointure_source

# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------

ENCODING_LABELS = {"utf-8-sig": "UTF-8 avec BOM", "utf-8": "UTF-8", "cp1252": "Windows-1252"}
MAX_IMPORT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class CsvTable:
    encoding: str  # "utf-8-sig", "utf-8" or "cp1252"
    delimiter: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]  # (line number in the file, cells)

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding, self.encoding)

    @property
    def delimiter_label(self) -> str:
        return "point-virgule (;)" if self.delimiter == ";" else "virgule (,)"


def decode(data: bytes) -> tuple[str, str]:
    """``(text, encoding)``: UTF-8 with BOM, UTF-8, else Windows-1252 (undefined bytes as Latin-1)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    out = []
    for byte in data:  # cp1252 leaves 0x81, 0x8D, 0x8F, 0x90, 0x9D undefined: keep them as Latin-1
        try:
            out.append(bytes((byte,)).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out), "cp1252"


def detect_delimiter(text: str) -> str:
    """``;`` or ``,``: whichever appears more often outside quotes on the first non-empty line."""
    for line in text.splitlines():
        if not line.strip():
            continue
        counts = {";": 0, ",": 0}
        quoted = False
        for ch in line:
            if ch == '"':
                quoted = not quoted
            elif not quoted and ch in counts:
                counts[ch] += 1
        return "," if counts[","] > counts[";"] else ";"
    return ";"


def read_table(data: bytes) -> CsvTable:
    """Parse a CSV file's bytes; blank lines are skipped. Raises ``ValueError`` (French) if unusable."""
    if len(data) > MAX_IMPORT_BYTES:
        raise ValueError(f"fichier trop volumineux ({len(data)} octets ; {MAX_IMPORT_BYTES} au plus)")
    text, encoding = decode(data)
    if "\x00" in text:
        raise ValueError("ce n'est pas un fichier texte CSV (octets nuls)")
    delimiter = detect_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    header: tuple[str, ...] | None = None
    rows: list[tuple[int, tuple[str, ...]]] = []
    start = 1
    try:
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            cleaned = tuple(c.strip() for c in cells)
            if header is None:
                header = cleaned
            else:
                rows.append((line, cleaned))
    except csv.Error as exc:
        raise ValueError(f"CSV illisible ligne {reader.line_num} ({exc})") from None
    if header is None:
        raise ValueError("le fichier est vide (aucune ligne d'en-tête)")
    return CsvTable(encoding, delimiter, header, tuple(rows))


def header_key(name: str) -> str:
    """``Prénom`` → ``prenom``; ``Date de fin`` → ``date_de_fin``; ``E-mail`` → ``e_mail``."""
    text = unicodedata.normalize("NFKD", name.strip().lower().lstrip("\ufeff"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def neutralise(value: object) -> str:
    """Prefix a cell that a spreadsheet would read as a formula with ``'`` (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_lines(rows: Iterable[Sequence[object]], delimiter: str = ";") -> str:
    """Rows as CSV text (every field quoted, CRLF, formulas neutralised)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return buf.getvalue()


def csv_bytes(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, delimiter: str = ";", bom: bool = True
) -> bytes:
    """A whole file: optional BOM, header, rows (UTF-8)."""
    return ((BOM if bom else "") + csv_lines([header], delimiter) + csv_lines(rows, delimiter)).encode("utf-8")


# ------------------------------------------------------------------------------------------------
# Local accounts: fields and validation
# ------------------------------------------------------------------------------------------------


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
        return f"{what} invalide : caractère(s) interdit(s) {shown}"
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
            "colonne(s) obligatoire(s) absente(s) : "
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


# ------------------------------------------------------------------------------------------------
# Export column sets
# ------------------------------------------------------------------------------------------------


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
        uai = ctx.uai_by_dn.get(dn.lower())
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
        raise ValueError(f"colonne(s) inconnue(s) : {', '.join(unknown)}")
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
