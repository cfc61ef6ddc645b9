"""Annuaire screens (Utilisateurs, fiche, Groupes) on the demo world, driven by keys only."""

from __future__ import annotations

from rich.text import Text

from enttui.domain.people import Target
from enttui.services.annuaire import PAGE_SIZE, GroupSummary
from enttui.ui.navigation import PAGES
from enttui.ui.screens.groupes import GroupesScreen, GroupMembersScreen, group_row
from enttui.ui.screens.person import PersonScreen
from enttui.ui.screens.utilisateurs import ClassPicker, UtilisateursScreen
from support.fixtures_ui import settle

SIZE = (100, 30)


async def _open_page(pilot, key: str) -> None:
    index = [p.key for p in PAGES].index(key)
    await pilot.press("f2", "home", *(["down"] * index), "enter")
    await settle(pilot)


async def _search(pilot, text: str) -> None:
    await pilot.press("slash", *text)
    await pilot.pause(0.35)  # the debounce
    await settle(pilot)
    await pilot.press("enter")  # back to the table
    await settle(pilot)


def _status(screen) -> str:
    return str(screen.panel.query_one(".people-status").render())


def _people(screen):
    return list(screen.panel.table.page.people)


async def test_search_filters_and_paging_by_keys(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        screen = app.screen
        assert isinstance(screen, UtilisateursScreen)
        assert screen.panel.table.row_count == PAGE_SIZE
        assert _status(screen).startswith("1 593 résultats · page 1 sur 32")

        await pilot.press("n")
        await settle(pilot)
        assert "page 2 sur 32" in _status(screen) and screen.panel.table.row_count == PAGE_SIZE
        second = [p.dn for p in _people(screen)]
        await pilot.press("pageup")
        await settle(pilot)
        assert "page 1" in _status(screen)
        assert not set(second) & {p.dn for p in _people(screen)}

        await pilot.press("p", "p")  # tous → Élève → Parent
        await settle(pilot)
        assert screen.query_state.target is Target.PARENT
        assert all(p.target is Target.PARENT for p in _people(screen))
        assert "Profil : Parent" in str(screen.query_one("#people-filters").render())
        await pilot.press("m", "m")  # e-mail: avec → sans
        await settle(pilot)
        assert screen.query_state.has_mail is False and all(not p.mail for p in _people(screen))
        await pilot.press("a")  # activé
        await settle(pilot)
        assert all(p.activated for p in _people(screen))
        await pilot.press("x")
        await settle(pilot)
        assert screen.query_state.target is None and screen.panel.table.row_count == PAGE_SIZE

        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, ClassPicker)
        await pilot.press("down", "enter")  # the first class
        await settle(pilot)
        assert app.screen is screen
        klass = screen.query_state.classe
        assert klass
        assert all(klass in p.classes or klass in p.teacher_classes for p in _people(screen))


async def test_typed_search_accents_and_filter_characters(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        screen = app.screen
        await _search(pilot, "eloise")
        people = _people(screen)
        assert people and all("eloise" in p.login.lower() for p in people)
        assert any("Éloïse" in p.given_name for p in people)

        screen.query_one("#people-search").value = ""
        await _search(pilot, "*)(objectClass=*")
        assert _people(screen) == [] and _status(screen) == "Aucun résultat"

        screen.query_one("#people-search").value = ""
        await _search(pilot, "[")
        people = _people(screen)
        assert [p.sn for p in people] == ["Test [démo]"]
        cell = screen.panel.table.get_cell_at((0, 0))
        assert isinstance(cell, Text) and cell.plain == "Test [démo]"


async def test_a_new_keystroke_replaces_the_stale_search(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        screen = app.screen
        await pilot.press("slash", *"lebon")
        await pilot.pause(0.35)  # a search starts…
        await pilot.press(*"-rodriguez")  # …and more typing replaces it
        await pilot.pause(0.35)
        await settle(pilot)
        assert screen.query_state.text == "lebon-rodriguez"
        assert _people(screen) and all("lebon-rodriguez" in p.login for p in _people(screen))


async def test_detail_relatives_and_back_with_search_and_cursor_kept(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        screen = app.screen
        await _search(pilot, "gaudin")
        rows = _people(screen)
        index = next(i for i, p in enumerate(rows) if p.login == "pierre.gaudin")
        await pilot.press(*(["down"] * index), "enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, PersonScreen)
        assert detail.details is not None and len(detail.details.children) == 3
        body = str(detail.query_one("#person-body").render())
        assert "Enfant" in body and "[3]" in body and "Parent" in body

        await pilot.press("2")  # the second child
        await settle(pilot)
        child = app.screen
        assert isinstance(child, PersonScreen) and child.details is not None
        assert child.details.person.dn == detail.details.children[1].dn
        assert child.details.person.target is Target.ELEVE
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        assert screen.query_one("#people-search").value == "gaudin"
        assert screen.panel.table.cursor_row == index
        assert screen.panel.table.has_focus


async def test_student_detail_shows_groups_and_moodle(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        await _search(pilot, "louise.joly")
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, PersonScreen) and detail.details is not None
        body = str(detail.query_one("#person-body").render())
        assert "LATIN, CHORALE" in body
        assert "Moodle" in body
        p = detail.details.person
        assert len(p.groups) == 2 and len(detail.details.parents) >= 1


async def test_groups_members_and_person(demo_app):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _open_page(pilot, "groupes")
        screen = app.screen
        assert isinstance(screen, GroupesScreen)
        names = [g.name for g in screen.groups]
        assert {"LATIN", "CHORALE", "6A"} <= set(names)
        assert all(g.counted for g in screen.groups)
        assert str(screen.query_one("#groups-status").render()).endswith("Entrée : les membres.")
        latin = names.index("LATIN")
        await pilot.press(*(["down"] * latin), "enter")
        await settle(pilot)
        members = app.screen
        assert isinstance(members, GroupMembersScreen) and members.group.name == "LATIN"
        assert members.panel.table.row_count == min(PAGE_SIZE, members.group.total)
        await pilot.press("n")
        await settle(pilot)
        assert members.panel.table.row_count == members.group.total - PAGE_SIZE
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PersonScreen)
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert app.screen is screen and screen.query_one("#groups").cursor_row == latin


def test_group_row_before_the_counts():
    members = ("uid=a,ou=people,dc=ent,dc=test", "uid=b,ou=people,dc=ent,dc=test")
    row = group_row(GroupSummary("k", "6A", "classe", "0123456A", "cn=x", members=members, counted=False))
    assert [c.plain for c in row] == ["6A", "Classe", "…", "…", "…", "…", "…", "2"]
    counted = GroupSummary("k", "6A", "classe", members=members, counts={Target.ELEVE: 1}, unknown=1)
    assert [c.plain for c in group_row(counted)][2:] == ["1", "0", "0", "0", "0", "2 (1 ?)"]
