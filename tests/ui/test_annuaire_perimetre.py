"""The Annuaire's "Établissement" filter (F9) on a périmètre of three schools, keys only, at 80×24.

The world (:mod:`support.perimetre_world`) holds three small generated schools; one is named
``Lycée [Beta] *``, which must read as typed (never markup) and filter as a plain value.
"""

from __future__ import annotations

from enttui.domain.dn import lookup_key
from enttui.domain.people import Target
from enttui.ui.screens.utilisateurs import ClassPicker, SchoolPicker, UtilisateursScreen
from support.fixtures_ui import screen_text, settle, wait_for
from support.perimetre_world import SCHOOLS, make_perimetre_app

SIZE = (80, 24)


async def _utilisateurs(pilot) -> UtilisateursScreen:
    await settle(pilot)
    pilot.app.go("utilisateurs")
    await settle(pilot)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, UtilisateursScreen), "the Utilisateurs screen")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.panel.table.page is not None, "the first page")
    await settle(pilot)
    return screen


async def _picker(pilot) -> SchoolPicker:
    await pilot.press("f9")
    await wait_for(pilot, lambda: bool(pilot.app.screen.query("#school-options")), "the school picker")
    await settle(pilot)
    picker = pilot.app.screen
    assert isinstance(picker, SchoolPicker)
    return picker


def _filters(screen: UtilisateursScreen) -> str:
    return str(screen.query_one("#people-filters").render())


def _status(screen: UtilisateursScreen) -> str:
    return str(screen.panel.query_one(".people-status").render())


async def _people_of(app, uai: str) -> set[str]:
    """Every person attached to the school ``uai``, read from the directory (not through the screen)."""
    directory = app.services.directory
    school = next(s for s in await directory.structures() if s.uai == uai)
    found = set()
    async for page in directory.iter_people(attributes=["ENTPersonStructRattach"]):
        found |= {lookup_key(p.dn) for p in page if lookup_key(school.dn) in {lookup_key(d) for d in p.struct_dns}}
    return found


async def test_school_picker_filters_the_people_by_keys(tmp_path):
    app = make_perimetre_app(tmp_path / "w")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _utilisateurs(pilot)
        assert "Établissement : tous" in _filters(screen)
        everyone = int(_status(screen).split(" ")[0])

        picker = await _picker(pilot)
        text = screen_text(app)
        assert "Tous les établissements" in text and "0123456A Collège Jean Moulin" in text
        assert "0654321B Lycée [Beta] *" in text  # as typed: never markup
        assert "3 établissements" in text
        await pilot.press(*"beta")  # typed filtering: one school left, highlighted
        await wait_for(pilot, lambda: "1 sur 3" in screen_text(app), "the filtered list")
        assert "Collège Jean Moulin" not in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        assert screen.query_state.school is not None and screen.query_state.school.uai == "0654321B"
        assert "Établissement : 0654321B Lycée [Beta] *" in _filters(screen)
        beta = await _people_of(app, "0654321B")
        shown = {lookup_key(p.dn) for p in screen.panel.table.page.people}
        assert shown and shown <= beta
        assert _status(screen).startswith(f"{len(beta)} résultats")
        assert len(beta) < everyone

        # F5 lists that school's classes only
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, ClassPicker), "the class picker")
        await settle(pilot)
        groups = await app.services.directory.groups()
        beta_classes = {g.name for g in groups if g.kind == "classe" and g.uai == "0654321B"}
        assert app.screen._names and set(app.screen._names) == beta_classes
        await pilot.press("down", "enter")
        await settle(pilot)
        klass = screen.query_state.classe
        assert klass in beta_classes and screen.query_state.school.uai == "0654321B"
        people = screen.panel.table.page.people
        assert people and {lookup_key(p.dn) for p in people} <= beta
        assert all(klass in p.classes or klass in p.teacher_classes for p in people)

        # arrows in the picker, without typing: the first school; the class 6A exists there too
        picker = await _picker(pilot)
        assert picker.query_one("#school-options").highlighted == 2  # the current school
        await pilot.press("up", "enter")
        await settle(pilot)
        assert screen.query_state.school.uai == "0123456A"
        moulin = await _people_of(app, "0123456A")
        assert {lookup_key(p.dn) for p in screen.panel.table.page.people} <= moulin

        # escape keeps the filter; "Tous les établissements" removes it
        await _picker(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert screen.query_state.school.uai == "0123456A"
        await _picker(pilot)
        await pilot.press("home", "up", "up", "enter")
        await settle(pilot)
        assert screen.query_state.school is None and "Établissement : tous" in _filters(screen)

        # F8 clears the school with the rest
        await _picker(pilot)
        await pilot.press(*"gamma", "enter")
        await settle(pilot)
        assert screen.query_state.school.uai == "0777777C"
        await pilot.press("f4")  # Élève
        await settle(pilot)
        gamma = await _people_of(app, "0777777C")
        people = screen.panel.table.page.people
        assert people and all(p.target is Target.ELEVE for p in people)
        assert {lookup_key(p.dn) for p in people} <= gamma
        await pilot.press("f8")
        await settle(pilot)
        assert screen.query_state.school is None and screen.query_state.target is None
        assert _status(screen).startswith(f"{everyone} résultats")


async def test_one_school_in_the_perimetre_still_filters(tmp_path):
    """A périmètre of one school: the picker lists it (and "tous"), and choosing it keeps everyone."""
    from support import perimetre_world

    app = make_perimetre_app(tmp_path / "w", uais=(SCHOOLS[0].uai,))
    assert perimetre_world is not None
    async with app.run_test(size=SIZE) as pilot:
        screen = await _utilisateurs(pilot)
        everyone = _status(screen)
        picker = await _picker(pilot)
        assert picker.query_one("#school-options").option_count == 2
        assert "1 établissement ·" in screen_text(app)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert screen.query_state.school is not None and screen.query_state.school.uai == "0123456A"
        assert _status(screen) == everyone


async def test_the_palette_offers_the_school_filter(tmp_path):
    app = make_perimetre_app(tmp_path / "w")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _utilisateurs(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: "Chercher une page ou une commande" in screen_text(app), "the palette")
        await pilot.press(*"tablissement")
        await wait_for(pilot, lambda: "Établissement (F9)" in screen_text(app), "the palette command")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SchoolPicker), "the school picker")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen and screen.query_state.school is None
