from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from enttui.domain.idfiles import (
    BOM,
    COLUMNS,
    KIND_DIFFUSION,
    KIND_REGENERATION,
    IdRow,
    check_name,
    file_name,
    neutralise,
    parse_search_date,
    render_csv,
)
from enttui.errors import ValidationError

MOMENT = datetime(2019, 6, 28, 7, 13, 15, tzinfo=UTC)


def row(**kw: str) -> IdRow:
    values = {
        "uai": "0123456A",
        "profil": "Élève",
        "nom": "Durand",
        "prenom": "Zoé",
        "detail": "3A",
        "login": "zoe.durand",
        "password": "Abc#7xyzKMNP",
        "generated": MOMENT,
        "motif": "pas d'adresse électronique",
    }
    values.update(kw)
    return IdRow(**values)


@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formulas_are_neutralised(value: str) -> None:
    assert neutralise(value) == "'" + value


def test_plain_values_untouched() -> None:
    assert neutralise("Durand") == "Durand"
    assert neutralise("") == ""


def test_csv_bom_columns_quoting() -> None:
    data = render_csv([row(nom="=cmd", prenom='Jean "Jo"; fils')])
    assert data.startswith(BOM.encode("utf-8"))
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == ";".join(f'"{c}"' for c in COLUMNS)
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[1][2] == "'=cmd"
    assert rows[1][3] == 'Jean "Jo"; fils'
    assert rows[1][7] == MOMENT.astimezone().strftime("%d/%m/%Y à %H:%M")


def test_repr_hides_the_password() -> None:
    assert "Abc#7xyzKMNP" not in repr(row())


def test_file_names() -> None:
    local = MOMENT.astimezone().strftime("%Y%m%d_%H%M%S")
    assert file_name(KIND_DIFFUSION, MOMENT) == f"Identifiants-non-envoyes-{local}.csv"
    assert file_name(KIND_REGENERATION, MOMENT).startswith("Identifiants-regeneres-")
    assert check_name(file_name(KIND_DIFFUSION, MOMENT))


@pytest.mark.parametrize(
    "name", ["../x.csv", "/etc/passwd", "a/b.csv", "..", ".hidden", "x\x00.csv", "", "a..b.csv", "x\\y.csv"]
)
def test_unsafe_names_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        check_name(name)


def test_search_date() -> None:
    assert parse_search_date("") is None
    d = parse_search_date("01/09/2026")
    assert d is not None and (d.year, d.month, d.day) == (2026, 9, 1)
    for bad in ("31/02/2026", "2026-09-01", "1/9", "aa/bb/cccc"):
        with pytest.raises(ValidationError):
            parse_search_date(bad)
