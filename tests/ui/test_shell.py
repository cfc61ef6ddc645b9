"""The console shell, driven by keys only."""

from __future__ import annotations

from enttui.ui.navigation import PAGES
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.modals import ConfirmModal, HelpModal
from support.fixtures_ui import screen_text, settle, wait_for


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
        await wait_for(pilot, lambda: "Aller à : Moodle › Synchroniser" in screen_text(app), "the hit")
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


async def test_escape_in_the_menu_closes_it_and_stays_on_the_page(demo_app):
    """F2 brings the folded menu over the page (80 columns); escape closes it (it used to go back
    a page); the focus comes back to where it was."""
    from enttui.ui.widgets.nav import NavMenu

    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.go("groupes")
        await settle(pilot)
        page = app.screen
        table = page.query_one("#groups")
        assert table.has_focus
        nav = page.query_one(NavMenu)
        assert not nav.display or nav.region.width == 0  # folded away at 80 columns
        await pilot.press("f2")
        await pilot.pause()
        assert nav.has_focus and page.has_class("-menu-open") and nav.region.width > 0
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is page and app.screen.PAGE_KEY == "groupes"
        assert not page.has_class("-menu-open") and table.has_focus


async def test_tab_stays_in_the_page(demo_app):
    """Tab walks the page's fields, never the menu (wide terminal: the menu is on screen)."""
    from enttui.ui.widgets.nav import NavMenu

    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.go("imports")
        await settle(pilot)
        for _ in range(12):
            await pilot.press("tab")
            assert not isinstance(app.focused, NavMenu)
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.focused, NavMenu)
        await pilot.press("tab")  # leaving the menu folds it, the focus goes into the page
        await pilot.pause()
        assert not isinstance(app.focused, NavMenu)


async def test_palette_and_ctrl_c_speak_french(demo_app):
    from support.fixtures_ui import screen_text

    app = demo_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+c")
        await pilot.pause()
        notes = [(n.title, n.message) for n in app._notifications]
        assert notes and notes[-1] == ("Quitter ?", "Pour quitter enttui, appuyez sur ctrl+q.")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: "Chercher une page ou une commande" in screen_text(app), "the palette")
        await pilot.press(*"qui")
        await wait_for(pilot, lambda: "Quitter enttui" in screen_text(app), "the French Quitter")
        text = screen_text(app)
        for english in ("Search for commands", "Quit the application", "Keys", "Theme", "Screenshot", "Maximize"):
            assert english not in text, english
        await pilot.press(*"zzzz")
        await wait_for(pilot, lambda: "Aucune commande ne correspond" in screen_text(app), "the French no-match")


async def test_f1_opens_on_the_key_list(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.go("referentiel")
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, HelpModal)
        assert modal.focused is not None and modal.focused.id == "dialog-body"  # not a button
        keys = str(modal.query_one("#help-keys").content)
        assert "Créer un compte local" in keys and "Quitter enttui" in keys
        assert keys.index("Créer un compte local") < keys.index("Quitter enttui")  # the screen's own first


async def test_every_checkbox_reads_without_colour(demo_app):
    """[X] ticked, [ ] not: the state reads on a monochrome terminal."""
    from textual.widgets import Checkbox

    from support.fixtures_ui import screen_text

    app = demo_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for key in ("diffusion", "moodle_sync"):
            app.go(key)
            await settle(pilot)
            boxes = list(app.screen.query(Checkbox))
            assert boxes
            for box in boxes:
                rendered = str(box.render())
                assert rendered.startswith("[X]" if box.value else "[ ]"), rendered
        text = screen_text(app)
        assert "[X] Comptes utilisateur" in text and "[ ] Mode simulation" in text
        assert "[ ]" in text


async def test_an_unexpected_worker_error_reaches_the_admin(demo_app, monkeypatch):
    """A worker that raises something unexpected: a French modal with the technical detail
    labelled, the screen's own line says so; never "Recherche…" for ever, never silent."""
    from enttui.services import annuaire
    from enttui.ui.widgets.modals import ErrorModal

    async def broken(self):
        raise RuntimeError("boom in the pager")

    monkeypatch.setattr(annuaire.PeopleSearch, "first_page", broken)
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.go("utilisateurs")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ErrorModal)
        assert str(modal.query_one("#dialog-title").render()) == "Erreur inattendue"
        message = str(modal.query_one("#dialog-message").content)
        assert "erreur imprévue" in message and "RuntimeError" not in message
        assert "Détail technique : RuntimeError: boom in the pager" in str(modal.query_one("#dialog-detail").content)
        await pilot.press("escape")
        await pilot.pause()
        status = str(app.screen.panel.query_one(".people-status").render())
        assert status.startswith("Recherche impossible"), status


async def test_home_refreshes_by_itself_and_says_how_old_its_check_is(tmp_path):
    """With a clock the test moves: "vérifié à l'instant", then "il y a 3 min"; the periodic
    check runs by itself (the _auto_refresh name clash made it never run)."""
    from datetime import timedelta

    from enttui.demo.wiring import demo_services
    from enttui.ui.app import EntApp
    from enttui.ui.screens.home import HomeScreen
    from support.fixtures_ui import FROZEN_NOW, FakeTimer, wait_for

    now = [FROZEN_NOW]

    async def opener():
        return await demo_services(tmp_path / "demo", clock=lambda: now[0])

    app = EntApp(opener=opener, timer=FakeTimer())
    old = (HomeScreen.REFRESH_SECONDS, HomeScreen.AGE_TICK_SECONDS)
    HomeScreen.REFRESH_SECONDS, HomeScreen.AGE_TICK_SECONDS = 0.5, 0.05
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            home = app.screen
            assert isinstance(home, HomeScreen)
            label = home.query_one("#checked-at")
            assert str(label.render()).startswith("Vérifié à l'instant")
            checks = home.checks
            home.REFRESH_SECONDS = 3600.0  # no new check while the clock moves
            now[0] = FROZEN_NOW + timedelta(minutes=3)
            await wait_for(pilot, lambda: str(label.render()).startswith("Vérifié il y a 3 min"), "the age")
            home.REFRESH_SECONDS = 0.5
            await wait_for(pilot, lambda: home.checks > checks, "a check by itself")
            await wait_for(pilot, lambda: str(label.render()).startswith("Vérifié à l'instant"), "a fresh check")
    finally:
        HomeScreen.REFRESH_SECONDS, HomeScreen.AGE_TICK_SECONDS = old


async def test_quitting_while_a_sync_writes_asks_then_stops_it(demo_app, monkeypatch):
    """ctrl+q while the sync runs asks first; "n" keeps it running; "y" stops it at a batch
    boundary (recorded "interrompu"), then quits."""
    import asyncio

    from enttui.jobs import sync as sync_job
    from enttui.ui.screens.moodle_sync import MoodleSyncScreen
    from support.fixtures_ui import wait_for

    real = sync_job.run_sync
    gate = asyncio.Event()

    async def gated(*args, **kwargs):
        await gate.wait()  # the run is "in progress" until the test lets it go on
        return await real(*args, **kwargs)

    monkeypatch.setattr(sync_job, "run_sync", gated)
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.go("moodle_sync")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MoodleSyncScreen)
        await pilot.press("l")
        await wait_for(pilot, lambda: screen.running, "the sync to start")
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the quit confirmation")
        assert "la synchronisation Moodle" in str(app.screen.query_one("#dialog-message").content)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, "back on the sync")
        assert screen.running and app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the quit confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen._stop, "the stop request")
        gate.set()
        await wait_for(pilot, lambda: not screen.running, "the sync to stop")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to quit")
    assert screen.result is not None and screen.result.status == "interrompu"


async def test_the_ui_keymap_of_the_configuration_changes_a_key(tmp_path):
    """[ui] keymap = { "utilisateurs.profil" = "f9" }: F9 filters by profile, F4 no longer does,
    and the F1 help shows F9."""
    import dataclasses

    from enttui.config import UiConfig
    from enttui.demo.wiring import demo_services
    from enttui.ui.app import EntApp
    from support.fixtures_ui import FakeTimer, frozen_clock, screen_text

    async def opener():
        services = await demo_services(tmp_path / "demo", clock=frozen_clock)
        services.config = dataclasses.replace(services.config, ui=UiConfig(keymap={"utilisateurs.profil": "f9"}))
        return services

    app = EntApp(opener=opener, timer=FakeTimer(), start_page="utilisateurs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        await pilot.press("f4")
        await settle(pilot)
        assert screen.query_state.target is None
        await pilot.press("f9")
        await settle(pilot)
        assert screen.query_state.target is not None
        from enttui.ui.widgets.footer import help_keys

        assert ("F9", "Filtrer par profil (cycle)") in help_keys(screen)
        assert "F4  Profil" not in screen_text(app)
