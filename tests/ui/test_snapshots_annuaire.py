"""Snapshots of the Annuaire screens at 80×24 and 120×40, on the demo world (frozen clock)."""

from __future__ import annotations

import pytest

from enttui.ui.screens.groupes import GroupesScreen, GroupMembersScreen
from enttui.ui.screens.person import PersonScreen
from enttui.ui.screens.utilisateurs import ClassPicker, SchoolPicker, UtilisateursScreen
from support.fixtures_ui import make_demo_app, settle
from support.perimetre_world import make_perimetre_app
from support.snapshots import IDS, SIZES, expect, page

_utilisateurs = page("utilisateurs", UtilisateursScreen)
_groupes = page("groupes", GroupesScreen)


async def _search(pilot, text: str) -> None:
    """Type in the table (type-to-search), then back to the table."""
    await pilot.press(*text, "enter")  # entrée searches at once
    await settle(pilot)


def _person(login: str):
    async def run_before(pilot) -> None:
        await _utilisateurs(pilot)
        await _search(pilot, login)
        await pilot.press("enter")
        await settle(pilot)
        await expect(pilot, PersonScreen)

    return run_before


def _group(name: str):
    async def run_before(pilot) -> None:
        await _groupes(pilot)
        names = [g.name for g in pilot.app.screen.groups]
        await pilot.press(*(["down"] * names.index(name)), "enter")
        await settle(pilot)
        await expect(pilot, GroupMembersScreen)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_user_list(snap_compare, tmp_path, size):
    """Utilisateurs: the search line, the filters, "1 593 résultats · page 1 sur 32"; the key
    columns Nom, Prénom, Identifiant, Profil, Classe whole at 80×24 (E-mail and État when there
    is room, at 120×40); the footer: / Chercher, F4 Profil, F5 Classe… then F1 Aide."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_utilisateurs)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_filtered_list(snap_compare, tmp_path, size):
    """ "ma" typed in the table (type-to-search), then F4 F4 (Parent) and F7 (avec e-mail): the
    search line shows "ma", the filter line "Profil : Parent · … · E-mail : avec", parents only."""

    async def run_before(pilot) -> None:
        await _utilisateurs(pilot)
        await _search(pilot, "ma")
        await pilot.press("f4", "f4", "f7")
        await settle(pilot)
        await expect(pilot, UtilisateursScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_class_picker(snap_compare, tmp_path):
    """F5 in Utilisateurs: the class picker (Toutes les classes, then the classes), its footer."""

    async def run_before(pilot) -> None:
        await _utilisateurs(pilot)
        await pilot.press("f5")
        await expect(pilot, ClassPicker, selector="#class-options")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_school_picker(snap_compare, tmp_path):
    """F9 in Utilisateurs on a périmètre of three schools, "coll" typed: the picker titled "Filtrer
    par établissement", the typed line "coll", "Tous les établissements" then the two collèges left
    (UAI and name), the first one highlighted, "2 sur 3 établissements · entrée choisit, échap
    annule"; its footer échap Annuler. Behind it, the filter line "Établissement : tous · …"."""

    async def run_before(pilot) -> None:
        await _utilisateurs(pilot)
        await pilot.press("f9")
        await expect(pilot, SchoolPicker, selector="#school-options")
        await pilot.press(*"coll")
        await settle(pilot)
        await expect(pilot, SchoolPicker, selector="#school-options")

    assert snap_compare(make_perimetre_app(tmp_path / "w"), terminal_size=(80, 24), run_before=run_before)


def test_list_filtered_by_school(snap_compare, tmp_path):
    """F9, "beta", entrée: the filter line reads "Établissement : 0654321B Lycée [Beta] * · Profil :
    tous · …" as typed (the brackets and the star are not markup), wrapped on two lines at 80×24; only
    the people of that school, their count in the status line."""

    async def run_before(pilot) -> None:
        await _utilisateurs(pilot)
        await pilot.press("f9")
        await expect(pilot, SchoolPicker, selector="#school-options")
        await pilot.press(*"beta", "enter")
        await settle(pilot)
        await expect(pilot, UtilisateursScreen)

    assert snap_compare(make_perimetre_app(tmp_path / "w"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_student_detail(snap_compare, tmp_path, size):
    """The fiche of a pupil (louise.joly), with the header and "Vous êtes ici : Annuaire >
    Utilisateurs > Joly Louise"; identity, school, Classe, Groupes, account, parents (1–9), Moodle;
    the footer: 1-9 Parent/enfant, g Sa classe, r Actualiser."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_person("louise.joly"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_parent_detail(snap_compare, tmp_path, size):
    """The fiche of a parent (pierre.gaudin) with his three children numbered 1 to 3."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_person("pierre.gaudin"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_teacher_detail(snap_compare, tmp_path, size):
    """The fiche of a teacher (coralie.pham): "Enseigne en" lists her classes."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_person("coralie.pham"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_group_list(snap_compare, tmp_path, size):
    """Groupes: "26 classes, 3 groupes. Entrée : les membres."; Nom, Type, the counts by profile
    and Total whole at 80×24 ("1 (1 ?)" for 3G, whose member is missing)."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_groupes)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_group_members(snap_compare, tmp_path, size):
    """The members of 6A, sorted by name, with "Vous êtes ici : Annuaire > Groupes > 6A"."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_group("6A"))


def test_group_with_a_dangling_member(snap_compare, tmp_path):
    """3G: its only member's entry is gone: one row "entrée absente" with the DN in red, and the
    status "1 résultat · 1 entrée absente de l'annuaire" (no "1 résultat" over an empty table)."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=_group("3G"))


def test_person_opened_from_a_group(snap_compare, tmp_path):
    """A pupil opened from Groupes › 3A: "Vous êtes ici : Annuaire > Groupes > 3A > <name>"."""

    async def run_before(pilot) -> None:
        await _group("3A")(pilot)
        people = pilot.app.screen.panel.table.page.people
        index = next(i for i, p in enumerate(people) if p.classes)
        await pilot.press(*(["down"] * index), "enter")
        await settle(pilot)
        await expect(pilot, PersonScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)
