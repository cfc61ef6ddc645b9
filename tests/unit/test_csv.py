"""CSV reading (encodings, separators), writing (BOM, neutralisation), validation, export formats."""

from __future__ import annotations

from datetime import date

import pytest

from enttui.domain.csv_formats import BUILTIN_FORMATS, ExportContext, custom_format
from enttui.domain.csv_read import read_table
from enttui.domain.csv_write import csv_bytes, neutralise
from enttui.domain.local_account_rows import map_columns, parse_import, validate_fields
from enttui.domain.people import person_from_entry

TEXT = 'jointure;nom;prénom;email\r\n1;"Lefèvre; dite ""Lou""";Chloé;\r\n\r\n2;Noël;Zoé;z@x.example\r\n'


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
)
def test_read_table_detects_encoding(data, encoding):
    table = read_table(data)
    assert table.encoding == encoding and table.delimiter == ";"
    assert table.header == ("jointure", "nom", "prénom", "email")
    assert table.rows[0] == (2, ("1", 'Lefèvre; dite "Lou"', "Chloé", ""))
    assert table.rows[1][0] == 4  # the blank line is skipped, numbering follows the file


def test_comma_separator_and_empty_file():
    assert read_table(b"nom,prenom,x;y\nA,B,c;d\n").delimiter == ","
    with pytest.raises(ValueError, match="vide"):
        read_table(b"\n\n")


def test_neutralise_and_bom():
    for bad in ("=HYPERLINK(1)", "+1", "-2", "@SUM", "\tx", "\rx"):
        assert neutralise(bad) == "'" + bad
    assert neutralise("Léa") == "Léa"
    data = csv_bytes(["A"], [["=1"]])
    assert data.startswith(b"\xef\xbb\xbf") and b'"\'=1"' in data
    assert not csv_bytes(["A"], [], bom=False).startswith(b"\xef\xbb\xbf")


def test_validation_reasons_in_french():
    fields, errors = validate_fields(
        sn="",
        given_name="Ch<loé>",
        mail="a@b",
        profile="élève",
        end_date="2020-01-01",
        uai="0000009Z",
        perimeter=["0000001A"],
        today=date(2026, 11, 21),
    )
    assert fields is None
    text = " | ".join(errors)
    for reason in ("nom manquant", "prénom invalide", "e-mail invalide", "profil inconnu", "date de fin déjà passée",
                   "hors du périmètre"):  # fmt: skip
        assert reason in text
    ok, errors = validate_fields(sn=" de  La Fontaine ", given_name="Jean-Baptiste", profile="Non enseignant")
    assert not errors and ok.sn == "de La Fontaine" and ok.profile == "personnel"


def test_parse_import_keeps_going_after_bad_rows():
    table = read_table(b"jointure;nom;prenom\n1;A;B\n;C;D\nAC-X$3;E;F\n1;G;H\n4;I;J\n")
    parsed = parse_import(table, local_source="ENT", perimeter=["0000001A"])
    assert [r.fields is not None for r in parsed.rows] == [True, False, False, False, True]
    assert parsed.rows[1].errors == ("jointure manquante",)
    with pytest.raises(ValueError, match="obligatoire"):
        map_columns(["nom", "prénom"])


def test_export_rows():
    person_attrs = {
        "objectClass": ["ENTPerson", "ENTEleve"],
        "sn": ["Lefèvre"],
        "givenName": ["Chloé"],
        "ENTPersonLogin": ["Chloe.Lefevre"],
        "ENTPersonJointure": ["AC-GRIS$42"],
        "ENTPersonProfils": ["National_ELV"],
        "ENTPersonStructRattach": ["ou=s,dc=x"],
        "ENTEleveClasses": ["ou=s,dc=x$3A"],
        "ENTEleveGroupes": ["ou=s,dc=x$LATIN"],
        "ENTPersonSexe": ["F"],
    }
    p = person_from_entry("uid=1,dc=x", person_attrs)
    ctx = ExportContext({"ou=s,dc=x": "0000001A"}, "cas", "2026")
    assert BUILTIN_FORMATS["moodle"].row(p, person_attrs, ctx) == [
        "chloe.lefevre", "Chloé", "Lefèvre", "", "42", "cas", "2026_0000001A$3A", "2026_0000001A$LATIN", "",
    ]  # fmt: skip
    assert BUILTIN_FORMATS["sacoche"].row(p, person_attrs, ctx)[:2] == ["42", "F"]
    assert custom_format("x", ["identifiant", "uai"]).row(p, person_attrs, ctx) == ["Chloe.Lefevre", "0000001A"]
    with pytest.raises(ValueError):
        custom_format("x", ["userPassword"])
