"""Reading CSV files the way French spreadsheets write them (imports).

The encoding is detected (UTF-8 with BOM, UTF-8, else Windows-1252 as French Excel writes it), then
the separator (``;`` or ``,``, from the header line). Header names are compared by
:func:`header_key`: without case, accents or punctuation (``Prénom`` → ``prenom``).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from enttui.domain.folding import fold_accents

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
    text = fold_accents(name.strip().lower().lstrip("\ufeff"))
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")
