"""The console shell, driven by keys only."""

from __future__ import annotations

from enttui.ui.navigation import PAGES
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.modals import ConfirmModal, HelpModal
from support.fixtures_ui import settle


async def test_every_navigation_entry_is_reachable_by_keys(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.PAGE_KEY == "accueil"
        selectable = [p for p in PAGES]
        for index, page in enumerate(selectable):
            await pilot.press("f2")  # focus the menu
            await pilot.press("home")
            # Section titles are disabled options: the cursor skips them.
            for _ in range(index):
                await pilot.press("down")
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, PageScreen)
            assert page.key == app.screen.PAGE_KEY, f"expected {page.key}"
            breadcrumb = str(app.screen.query_one("#breadcrumb").render())
            assert breadcrumb.startswith("Vous êtes ici : ")
            assert page.breadcrumb[-1] in breadcrumb


async def test_escape_goes_back_then_home(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.go("groupes")
        await settle(pilot)
        app.go("fichiers")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.PAGE_KEY == "groupes"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.PAGE_KEY == "accueil"


async def test_palette_reaches_a_page(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"synchroniser")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.PAGE_KEY == "moodle_sync"


async def test_f1_shows_help_and_escape_closes_it(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.PAGE_KEY == "accueil"


async def test_home_shows_every_system(demo_app):
    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#health")
        assert table.row_count == 4
        names = [str(table.get_row_at(i)[0]) for i in range(4)]
        assert names == ["Annuaire (LDAP)", "Moodle", "SMTP", "Base d'état"]
        states = [str(table.get_row_at(i)[1]) for i in range(4)]
        assert all(s.startswith("OK") for s in states), states
        figures = str(app.screen.query_one("#key-figures").render())
        assert "Élève" in figures
        await pilot.press("enter")
        await pilot.pause()
        assert "Annuaire" in str(app.screen.query_one("#dialog-title").render())


async def test_confirm_modal_defaults_to_the_safe_choice(demo_app):
    app = demo_app()
    answers: list[bool] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ConfirmModal("Supprimer ?", "Supprimer [3] fichiers ?"), answers.append)
        await pilot.pause()
        await pilot.press("enter")  # the focused button is "Non"
        await pilot.pause()
        app.push_screen(ConfirmModal("Supprimer ?", "Supprimer 3 fichiers ?"), answers.append)
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        app.push_screen(ConfirmModal("Supprimer ?", "x"), answers.append)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
    assert answers == [False, True, False]


def test_every_navigation_page_has_its_screen():
    from enttui.ui.screens import SCREENS

    assert set(SCREENS) == {p.key for p in PAGES}
