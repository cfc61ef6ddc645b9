"""Writing CSV that spreadsheets open safely (exports, reports).

``;``-separated, every field quoted, CRLF, UTF-8 with a BOM (what French Excel opens) unless a
format says otherwise; a cell that a spreadsheet would read as a formula (starting with
``= + - @``, a tab or a carriage return) is prefixed with ``'``. No password is ever a column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

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
