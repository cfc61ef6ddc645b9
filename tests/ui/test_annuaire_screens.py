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
    await pilot.press("slash", *text, "enter")  # entrée searches at once and goes back to the table
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

        await pilot.press("pagedown")
        await settle(pilot)
        assert "page 2 sur 32" in _status(screen) and screen.panel.table.row_count == PAGE_SIZE
        second = [p.dn for p in _people(screen)]
        await pilot.press("pageup")
        await settle(pilot)
        assert "page 1" in _status(screen)
        assert not set(second) & {p.dn for p in _people(screen)}

        await pilot.press("f4", "f4")  # tous → Élève → Parent
        await settle(pilot)
        assert screen.query_state.target is Target.PARENT
        assert all(p.target is Target.PARENT for p in _people(screen))
        assert "Profil : Parent" in str(screen.query_one("#people-filters").render())
        await pilot.press("f7", "f7")  # e-mail: avec → sans
        await settle(pilot)
        assert screen.query_state.has_mail is False and all(not p.mail for p in _people(screen))
        await pilot.press("f6")  # activé
        await settle(pilot)
        assert all(p.activated for p in _people(screen))
        await pilot.press("f8")
        await settle(pilot)
        assert screen.query_state.target is None and screen.panel.table.row_count == PAGE_SIZE

        await pilot.press("f5")
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
        await pilot.press("slash", *"lebon", "enter")  # a search starts…
        await pilot.press("slash", *"-rodriguez", "enter")  # …and more typing replaces it
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
        await pilot.press("home")
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


async def test_typing_in_the_table_searches_and_never_changes_a_filter(demo_app):
    """Letters typed with the table focused go to the search line (type-to-search): "martin"
    used to set Compte : activé, E-mail : avec and turn a page."""
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        screen = app.screen
        assert screen.panel.table.has_focus
        await pilot.press(*"martin")
        await pilot.press("enter")  # back to the table
        await settle(pilot)
        assert screen.query_one("#people-search").value == "martin"
        assert screen.query_state.text == "martin"
        assert screen.query_state.activated is None and screen.query_state.has_mail is None
        assert screen.query_state.target is None
        assert screen.panel.table.has_focus
        people = _people(screen)
        assert people and all("martin" in (p.login + p.sn + p.given_name).lower() for p in people)
        assert "page 1" in _status(screen)
        await pilot.press("a")  # typed again: appended to the search, never the filter
        await pilot.press("enter")
        await settle(pilot)
        assert screen.query_one("#people-search").value == "martina"
        assert screen.query_state.activated is None


async def test_five_quick_page_keys_turn_five_pages(demo_app):
    """Page keys are never lost: five presses without waiting move five pages, in order."""
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        screen = app.screen
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown", "pagedown")
        await settle(pilot)
        assert "page 6 sur 32" in _status(screen)
        await pilot.press("pageup", "pageup")
        await settle(pilot)
        assert "page 4 sur 32" in _status(screen)


async def test_home_and_end_go_to_the_first_and_last_row(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        table = app.screen.panel.table
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 == PAGE_SIZE - 1
        assert table.scroll_x == 0
        await pilot.press("home")
        assert table.cursor_row == 0


async def test_the_key_columns_fit_80_columns(demo_app):
    """Nom, Prénom, Identifiant, Profil and Classe are on screen, whole, at 80×24."""
    from support.fixtures_ui import screen_text

    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_page(pilot, "utilisateurs")
        text = screen_text(app)
        header = next(line for line in text.splitlines() if "Nom" in line and "Identifiant" in line)
        for label in ("Nom", "Prénom", "Identifiant", "Profil", "Classe"):
            assert label in header
        first = _people(app.screen)[0]
        row = next(line for line in text.splitlines() if first.login in line)
        assert first.given_name in row and first.target.label in row


async def test_members_are_sorted_and_a_dangling_member_is_shown_as_such(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_page(pilot, "groupes")
        screen = app.screen
        names = [g.name for g in screen.groups]
        await pilot.press(*(["down"] * names.index("3B")), "enter")
        await settle(pilot)
        members = app.screen
        assert isinstance(members, GroupMembersScreen)
        people = _people(members)
        from enttui.services.annuaire import name_key

        assert people == sorted(people, key=name_key)
        assert "Groupes > 3B" in str(members.query_one("#breadcrumb").render())
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("home", *(["down"] * names.index("3G")), "enter")  # one member, whose entry is gone
        await settle(pilot)
        members = app.screen
        assert members.group.name == "3G"
        assert members.panel.table.row_count == 1
        assert "entrée absente" in _status(members)
        cell = members.panel.table.get_cell_at((0, 0))
        assert cell.plain == "entrée absente"


async def test_a_person_opened_from_a_group_says_so_and_g_opens_the_class(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await _open_page(pilot, "groupes")
        names = [g.name for g in app.screen.groups]
        await pilot.press(*(["down"] * names.index("3A")), "enter")
        await settle(pilot)
        people = _people(app.screen)
        index, first = next((i, p) for i, p in enumerate(people) if p.classes)  # a pupil
        await pilot.press(*(["down"] * index), "enter")
        await settle(pilot)
        person = app.screen
        assert isinstance(person, PersonScreen)
        crumb = str(person.query_one("#breadcrumb").render())
        assert crumb.endswith(f"Groupes > 3A > {first.full_name}"), crumb
        assert "enttui" in str(person.query_one("#app-title").render())  # the header is there too
        await pilot.press("g")
        await settle(pilot)
        klass = app.screen
        assert isinstance(klass, GroupMembersScreen) and klass.group.name == first.classes[0]
        assert str(klass.query_one("#breadcrumb").render()).endswith(f"{first.full_name} > {first.classes[0]}")
