"""The identifier files ("Fichiers des identifiants"): names, CSV rows, safe names.

French Excel opens ``;``-separated UTF-8 files with a BOM. Every field is quoted; a cell that
starts with ``= + - @`` (or a tab / carriage return) is prefixed with ``'`` so that no spreadsheet
evaluates it as a formula (CSV injection: names come from the directory).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from enttui.errors import ValidationError

BOM = "\ufeff"
COLUMNS: tuple[str, ...] = (
    "UAI",
    "Profil",
    "Nom",
    "Prénom",
    "Classe(s)/Enfant(s)",
    "Identifiant",
    "Mot de passe provisoire",
    "Date de génération",
    "Motif",
)
KIND_DIFFUSION = "diffusion"
KIND_REGENERATION = "regeneration"
PREFIXES = {KIND_DIFFUSION: "Identifiants-non-envoyes", KIND_REGENERATION: "Identifiants-regeneres"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,150}(?:\.[A-Za-z0-9]{1,8})?")

# Reasons written in the "Motif" column.
MOTIF_NO_MAIL = "pas d'adresse électronique"
MOTIF_REFUSED = "adresse refusée par le serveur de messagerie"
MOTIF_TEMPORARY = "refus temporaire persistant du serveur de messagerie"
MOTIF_REGENERATION = "régénération"


@dataclass(frozen=True, slots=True)
class IdRow:
    """One line of an identifier file (the password only ever lives here and in the file)."""

    uai: str
    profil: str
    nom: str
    prenom: str
    detail: str  # classes (students) or children (parents)
    login: str
    password: str
    generated: datetime
    motif: str = ""

    def __repr__(self) -> str:  # never show the password
        return f"IdRow(login={self.login!r}, motif={self.motif!r})"

    def cells(self) -> list[str]:
        return [
            self.uai,
            self.profil,
            self.nom,
            self.prenom,
            self.detail,
            self.login,
            self.password,
            format_generated(self.generated),
            self.motif,
        ]


def neutralise(value: str) -> str:
    """Prefix a cell that a spreadsheet would read as a formula with ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _line(cells: Iterable[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerow(
        [neutralise(c) for c in cells]
    )
    return buf.getvalue()


def header_bytes() -> bytes:
    """The BOM and the header line."""
    return (BOM + _line(COLUMNS)).encode("utf-8")


def row_bytes(row: IdRow) -> bytes:
    return _line(row.cells()).encode("utf-8")


def complete_length(data: bytes) -> int:
    """Bytes of ``data`` up to the end of its last complete line (a killed writer may leave half a row).

    Every field is quoted, so a line ends at a CR LF with an even number of ``"`` before it (a
    quote inside a field is doubled). Returns 0 when not even the header is complete.
    """
    end = quotes = pos = 0
    while True:
        i = data.find(b"\r\n", pos)
        if i < 0:
            return end
        quotes += data.count(b'"', pos, i)
        if quotes % 2 == 0:
            end = i + 2
        pos = i + 2


def parse_rows(data: bytes) -> list[list[str]]:
    """The rows of a file's complete lines (header left out): lists of cells as written."""
    text = data[: complete_length(data)].decode("utf-8-sig", errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    return [r for r in rows[1:] if r]


def row_key(login: str, password: str) -> tuple[str, str]:
    """What identifies an account's row in a file: its login (as written) and its password."""
    return neutralise(login).lower(), neutralise(password)


def render_csv(rows: Iterable[IdRow]) -> bytes:
    """A whole file: BOM, header, rows."""
    return header_bytes() + b"".join(row_bytes(r) for r in rows)


def format_generated(moment: datetime) -> str:
    """``28/06/2019 à 09:13`` (local time), as the ENT shows it."""
    return moment.astimezone().strftime("%d/%m/%Y à %H:%M")


def file_name(kind: str, moment: datetime) -> str:
    """``Identifiants-non-envoyes-YYYYMMDD_HHMMSS.csv`` (diffusion) or ``Identifiants-regeneres-…``."""
    return f"{PREFIXES[kind]}-{moment.astimezone().strftime('%Y%m%d_%H%M%S')}.csv"


def check_name(name: str) -> str:
    """A file name from input: one plain component, no path, no ``..``; else ValidationError."""
    text = (name or "").strip()
    if not text:
        raise ValidationError("Nom de fichier vide.")
    if "/" in text or "\\" in text or "\x00" in text or ".." in text or not SAFE_NAME.fullmatch(text):
        raise ValidationError(f"Nom de fichier refusé : « {text} » (un nom de la liste, sans chemin).")
    return text


def parse_search_date(text: str) -> datetime | None:
    """The "Date de recherche" (``dd/mm/yyyy``; empty = none) as a local midnight; ValidationError else."""
    value = (text or "").strip()
    if not value:
        return None
    if not re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value):
        raise ValidationError(f"Date de recherche invalide : « {value} » (format attendu jj/mm/aaaa).")
    try:
        day = datetime.strptime(value, "%d/%m/%Y")
    except ValueError:
        raise ValidationError(f"Date de recherche invalide : « {value} » n'existe pas au calendrier.") from None
    return day.astimezone()
