"""Login derivation: prenom.nom, lower case, no accents, suffix from 2 on collision."""

from __future__ import annotations

import pytest

from enttui.domain.logins import derivable, login_base, next_free_login


@pytest.mark.parametrize(
    ("given", "sn", "login"),
    [
        ("Éloïse", "Müller", "eloise.muller"),
        ("Jean-Baptiste", "de La Fontaine", "jean-baptiste.delafontaine"),
        ("Aïcha", "N'Diaye", "aicha.ndiaye"),
        ("Zoé", "Lecœur", "zoe.lecoeur"),
        ("Thi Hoa", "Yılmaz", "thihoa.yilmaz"),
        ("ÉMILIE", "LE FLOC’H", "emilie.lefloch"),
        ("Noé", "L'Hôte", "noe.lhote"),
        ("Maëlys", "Yılmaz", "maelys.yilmaz"),
        ("Compte", "Test [démo]", "compte.testdemo"),
        ("Marie-Claire", "Martin-Lefèvre", "marie-claire.martin-lefevre"),
        ("Łukasz", "Søndergaard", "lukasz.sondergaard"),
        ("Þóra", "Đorđević", "thora.dordevic"),
        ("Jean--Paul", "-Martin-", "jean-paul.martin"),
    ],
)
def test_login_base(given, sn, login):
    assert login_base(given, sn) == login


def test_suffix_from_two_and_predicate():
    taken = {"lea.martin", "lea.martin2"}
    assert next_free_login("Léa", "Martin", taken) == "lea.martin3"
    assert next_free_login("Léo", "Martin", taken) == "leo.martin"
    assert next_free_login("Léa", "Martin", lambda login: login == "lea.martin") == "lea.martin2"


def test_derivable():
    assert derivable("Léa", "Martin")
    assert not derivable("宮崎", "Hayao")
