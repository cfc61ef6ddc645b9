"""Moodle usernames from ENT logins: what PARAM_USERNAME accepts, by one documented rule."""

from __future__ import annotations

import pytest

from enttui.domain.usernames import REFUSE, UsernameRule, moodle_clean, transliterate


@pytest.mark.parametrize(
    ("login", "username"),
    [
        ("Jean.Dupont", "jean.dupont"),
        ("  marie-curie@ent  ", "marie-curie@ent"),
        ("Zoé.Müller", "zoe.muller"),
        ("jean martin", "jeanmartin"),
        ("o'brien.kelly", "obrien.kelly"),
        ("o’brien.kelly", "obrien.kelly"),
        ("Œdipe.Lætitia", "oedipe.laetitia"),
        ("straße_ç", "strasse_c"),
        ("Łukasz.Øster", "lukasz.oster"),
        ("renamed.person(1)", "renamed.person1"),
    ],
)
def test_transliteration_rule(login, username):
    got, problem = UsernameRule().username(login)
    assert (got, problem) == (username, "")
    assert moodle_clean(got) == got  # what Moodle's clean_param(PARAM_USERNAME) leaves unchanged


def test_nothing_usable_is_an_error():
    username, problem = UsernameRule().username("Иван")
    assert username == "" and "aucun caractère utilisable" in problem


def test_refuse_policy():
    rule = UsernameRule(REFUSE)
    assert rule.username("jean.dupont") == ("jean.dupont", "")
    username, problem = rule.username("Zoé.Müller")
    assert username == "" and "refusé par Moodle" in problem and "Zoé.Müller" in problem


def test_extended_username_chars():
    """With $CFG->extendedusernamechars, Moodle only trims and lowers: so does the rule."""
    assert UsernameRule(extended=True).username(" Zoé Müller ") == ("zoé müller", "")
    assert moodle_clean(" Zoé Müller ", extended=True) == "zoé müller"


def test_moodle_clean_is_moodles():
    assert moodle_clean(" A b'C@d-e_f.g!h ") == "abc@d-e_f.gh"
    assert transliterate("ÉCOLE") == "ecole"


def test_long_logins_are_cut_to_moodles_column():
    username, _ = UsernameRule().username("é" * 150)
    assert username == "e" * 100
