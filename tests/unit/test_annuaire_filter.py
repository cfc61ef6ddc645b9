"""The people search filter of the Annuaire (pure): escaping, words, targets, filters."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.operation.search import parse_filter

from enttui.domain.annuaire import (
    PeopleQuery,
    activation_filter,
    classe_filter,
    fold_login,
    mail_filter,
    people_filter,
    school_filter,
    school_label,
    target_filter,
    text_filter,
)
from enttui.domain.logins import login_base
from enttui.domain.people import PROFILE_TARGETS, Structure, Target, resolve_target


def _valid(filt: str) -> None:
    parse_filter(filt, None, auto_escape=False, auto_encode=False, validator=None, check_names=False)


def test_empty_query_is_everybody():
    assert people_filter(PeopleQuery()) is None
    assert people_filter(PeopleQuery(text="   ")) is None


def test_one_word_matches_names_and_folded_login():
    filt = text_filter("Éloïse")
    assert filt == ("(|(sn=*Éloïse*)(givenName=*Éloïse*)(cn=*Éloïse*)(displayName=*Éloïse*)(ENTPersonLogin=*eloise*))")
    _valid(filt)


def test_several_words_are_anded():
    filt = text_filter("jean  DUPONT")
    assert filt is not None and filt.startswith("(&(|(sn=*jean*)")
    assert "(ENTPersonLogin=*dupont*)" in filt
    assert filt.count("(|") == 2


@pytest.mark.parametrize("typed", ["*)(objectClass=*", "a\\b", "(", "x)(uid=*", "nul\x00"])
def test_typed_filter_characters_are_escaped(typed):
    filt = text_filter(typed)
    assert filt is not None
    _valid(filt)
    # the only unescaped * are the ones around each value
    for part in filt.split(")("):
        inner = part.strip("(|&)")
        value = inner.split("=", 1)[1]
        assert "*" not in value[1:-1]
    assert "\\2a\\29\\28objectClass=\\2a" in text_filter("*)(objectClass=*")


def test_fold_login():
    assert fold_login("Éloïse") == "eloise"
    assert fold_login("N'Diaye") == "ndiaye"
    assert fold_login("Lecœur") == "lecoeur"
    assert fold_login("jean-baptiste.l") == "jean-baptiste.l"


@pytest.mark.parametrize(("given", "sn"), [("Maëlys", "Yılmaz"), ("Łukasz", "Søndergaard"), ("Þóra", "Đorđević")])
def test_a_typed_name_finds_the_login_derived_from_it(given, sn):
    """The search folds accents the way the login rule does: "Yılmaz" finds ``yilmaz``, not ``ylmaz``."""
    login = login_base(given, sn)
    assert fold_login(sn) in login
    assert fold_login(f"{given.lower()}.{sn}") == login
    assert f"(ENTPersonLogin=*{fold_login(sn)}*)" in text_filter(sn)


def test_classe_activation_mail():
    assert classe_filter("4B") == "(|(ENTEleveClasses=*$4B)(ENTAuxEnsClasses=*$4B))"
    assert classe_filter("a*") == "(|(ENTEleveClasses=*$a\\2a)(ENTAuxEnsClasses=*$a\\2a))"
    assert classe_filter(" ") is None
    assert activation_filter(None) is None
    # Not activated: the flag, or no password at all (a new account never given credentials).
    assert activation_filter(False) == "(|(!(userPassword=*))(pwdReset=TRUE))"
    assert activation_filter(True) == "(&(userPassword=*)(!(pwdReset=TRUE)))"
    assert activation_filter(False, "ENTPersonActif", "N") == "(|(!(userPassword=*))(ENTPersonActif=N))"
    assert mail_filter(True) == "(mail=*)"
    assert mail_filter(False) == "(!(mail=*))"
    assert mail_filter(None) is None


def test_whole_query_is_one_valid_and():
    query = PeopleQuery(text="mar", target=Target.ELEVE, classe="6A", activated=False, has_mail=True)
    filt = people_filter(query)
    assert filt is not None and filt.startswith("(&")
    _valid(filt)
    for piece in ("(ENTPersonProfils=National_ELV)", "$6A)", "(pwdReset=TRUE)", "(mail=*)", "*mar*"):
        assert piece in filt


# -- the target filter agrees with resolve_target ------------------------------------------------

CASES: list[tuple[list[str], list[str]]] = [
    (["National_ELV"], ["ENTPerson", "ENTEleve"]),
    (["National_TUT"], ["ENTPerson", "ENTAuxPersRelEleve"]),
    (["National_ENS"], ["ENTPerson", "ENTAuxEnseignant"]),
    (["National_DOC"], ["ENTPerson"]),
    (["National_DIR"], ["ENTPerson", "ENTAuxNonEnsEtab"]),
    (["National_3"], ["ENTPerson"]),
    ([], ["ENTPerson", "ENTEleve"]),
    ([], ["ENTPerson", "ENTAuxPersRelEleve"]),
    ([], ["ENTPerson", "ENTAuxEnseignant"]),
    ([], ["ENTPerson", "ENTAuxNonEnsServAc"]),
    ([], ["ENTPerson", "ENTAuxPersExt"]),
    ([], ["ENTPerson"]),
    (["Local_INV"], ["ENTPerson"]),
    (["National_TUT"], ["ENTPerson", "ENTAuxEnseignant"]),  # profile and classes disagree
    ([], ["ENTPerson", "ENTEleve", "ENTAuxPersRelEleve"]),  # the first class in order wins
]


def _matches(filt: str, profils: list[str], classes: list[str]) -> bool:
    """Evaluate a filter on one entry with ldap3's in-memory directory."""
    server = ldap3.Server("t")
    conn = ldap3.Connection(server, client_strategy=ldap3.MOCK_SYNC)
    conn.strategy.add_entry("cn=x,o=t", {"objectClass": classes, "cn": ["x"], "ENTPersonProfils": profils or []})
    conn.bind()
    conn.search("o=t", filt, attributes=["cn"])
    return bool(conn.entries)


@pytest.mark.parametrize("prefer", ["profils", "classes"])
@pytest.mark.parametrize(("profils", "classes"), CASES)
def test_target_filter_is_consistent_with_resolve_target(prefer, profils, classes):
    expected = resolve_target(profils, classes, prefer)
    for target in Target:
        filt = target_filter(target, prefer)
        _valid(filt)
        assert _matches(filt, profils, classes) is (target is expected), (target, expected, filt)


def test_every_profile_code_is_in_its_target_filter():
    for code, target in PROFILE_TARGETS.items():
        assert f"(ENTPersonProfils={code})" in target_filter(target)


# -- the établissement filter (F9) -------------------------------------------------------------

_ODD = Structure(dn="ou=05*4[B]\\2C(x),ou=structures,dc=ent,dc=test", uai="05*4[B]", name="Lycée [Beta] *")


def test_school_filter_is_the_school_dn_escaped():
    filt = school_filter(_ODD)
    assert filt == "(ENTPersonStructRattach=ou=05\\2a4[B]\\5c2C\\28x\\29,ou=structures,dc=ent,dc=test)"
    _valid(filt)
    assert school_filter(None) is None
    whole = people_filter(PeopleQuery(classe="3A", school=_ODD))
    assert whole is not None and whole.startswith("(&(ENTPersonStructRattach=") and "$3A)" in whole
    _valid(whole)


def test_school_filter_matches_only_that_school():
    """Evaluated by ldap3's in-memory directory: the ``*`` of the DN is a character, not a wildcard."""
    other = "ou=0554[B]xx(x),ou=structures,dc=ent,dc=test"  # what the * would match as a wildcard
    conn = ldap3.Connection(ldap3.Server("t"), client_strategy=ldap3.MOCK_SYNC)
    for cn, school in (("in", _ODD.dn), ("out", other)):
        conn.strategy.add_entry(
            f"cn={cn},o=t", {"objectClass": ["ENTPerson"], "cn": [cn], "ENTPersonStructRattach": [school]}
        )
    conn.bind()
    conn.search("o=t", school_filter(_ODD), attributes=["cn"])
    assert [str(e.cn) for e in conn.entries] == ["in"]


def test_describe_names_the_school():
    assert PeopleQuery().describe().startswith("Établissement : tous · Profil : tous")
    assert PeopleQuery(school=_ODD).describe().startswith("Établissement : 05*4[B] Lycée [Beta] * · ")
    assert school_label(Structure(dn="ou=x", uai="0123456A")) == "0123456A"
    assert school_label(Structure(dn="ou=x", uai="0123456A", name="0123456A")) == "0123456A"
