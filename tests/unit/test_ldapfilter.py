"""Escaped LDAP filter builders (enttui.domain.ldapfilter)."""

from __future__ import annotations

import pytest

from enttui.domain import ldapfilter as lf


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("jean.dupont", "jean.dupont"),
        ("*", r"\2a"),
        ("(", r"\28"),
        (")", r"\29"),
        ("\\", r"\5c"),
        ("\x00", r"\00"),
        ("*)(uid=*", r"\2a\29\28uid=\2a"),
        ("a\\2a", r"a\5c2a"),  # an already escaped-looking value is escaped again, not trusted
        ("Élodie d'Été", "Élodie d'Été"),  # non-ASCII passes through (UTF-8 on the wire)
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert lf.escape(raw) == escaped


def test_injection_stays_inside_one_assertion() -> None:
    built = lf.and_(lf.eq("objectClass", "ENTPerson"), lf.eq("ENTPersonLogin", "*)(|(uid=*"))
    assert built == r"(&(objectClass=ENTPerson)(ENTPersonLogin=\2a\29\28|\28uid=\2a))"
    # exactly one opening and one closing parenthesis per assertion: nothing was injected
    assert built.count("(") == built.count(")") == 3


def test_builders() -> None:
    assert lf.eq("uid", "a") == "(uid=a)"
    assert lf.present("mail") == "(mail=*)"
    assert lf.contains("cn", "du*") == r"(cn=*du\2a*)"
    assert lf.startswith("cn", "Du") == "(cn=Du*)"
    assert lf.endswith("cn", "(x)") == r"(cn=*\28x\29)"
    assert lf.ge("modifyTimestamp", "20260101000000Z") == "(modifyTimestamp>=20260101000000Z)"
    assert lf.not_(lf.eq("uid", "a")) == "(!(uid=a))"


def test_and_or_with_empty_parts() -> None:
    assert lf.and_() == "(objectClass=*)"
    assert lf.and_(None, "", "(uid=a)") == "(uid=a)"
    assert lf.and_("(a=1)", None, "(b=2)") == "(&(a=1)(b=2))"
    assert lf.or_() == "(!(objectClass=*))"  # matches nothing: an empty périmètre selects nobody
    assert lf.or_("(a=1)") == "(a=1)"
    assert lf.or_("(a=1)", "(b=2)") == "(|(a=1)(b=2))"


def test_any_eq() -> None:
    assert lf.any_eq("ENTStructureUAI", []) == "(!(objectClass=*))"
    assert lf.any_eq("ENTStructureUAI", ["0123456A"]) == "(ENTStructureUAI=0123456A)"
    assert lf.any_eq("cn", ["a*", "b"]) == r"(|(cn=a\2a)(cn=b))"
