"""The console's start: the Accueil shows at once and fills in once the services are open; a page
asked for meanwhile opens then. Keys only; no timing is asserted (``bench/startup.py`` prints it)."""

from __future__ import annotations

import asyncio

from enttui.config import demo_config
from enttui.demo.wiring import demo_services
from enttui.ui.app import EntApp
from enttui.ui.screens.home import HomeScreen
from support.fixtures_ui import FakeTimer, frozen_clock, screen_text, settle, wait_for


def _gated_app(tmp_path):
    """The demo console whose services open only once ``gate`` is set."""
    gate = asyncio.Event()
    root = tmp_path / "demo"

    async def opener():
        await gate.wait()
        return await demo_services(root, clock=frozen_clock)

    return EntApp(opener=opener, config=demo_config(root), timer=FakeTimer()), gate


async def test_the_accueil_shows_before_the_services_open_then_fills_in(tmp_path):
    app, gate = _gated_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "Vérification des systèmes" in screen_text(app), "the Accueil, checking")
        home = app.screen
        assert isinstance(home, HomeScreen)
        text = screen_text(app)
        assert "Vous êtes ici : Accueil" in text and "démo" in text and "F1" in text.splitlines()[-1]
        assert home.query_one("#health").row_count == 0
        await pilot.press("r")  # a refresh while the services open waits for them too
        await pilot.press("enter")  # no detail yet: nothing to show
        assert app.screen is home
        gate.set()
        await settle(pilot)
        assert home.checks == 1 and home.query_one("#health").row_count == 4
        assert "Vérifié à l'instant" in screen_text(app)


async def test_a_page_asked_for_while_the_services_open_opens_once_they_are(tmp_path):
    app, gate = _gated_app(tmp_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: "Vérification des systèmes" in screen_text(app), "the Accueil, checking")
        await pilot.press("f2", "down", "enter")  # the menu: Annuaire › Utilisateurs
        await wait_for(pilot, lambda: "Connexion aux systèmes en cours" in screen_text(app), "the notice")
        assert isinstance(app.screen, HomeScreen)
        gate.set()
        await settle(pilot)
        assert app.screen.PAGE_KEY == "utilisateurs"
        await pilot.press("escape")  # back where the admin came from, checked meanwhile
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen) and app.screen.query_one("#health").row_count == 4


async def test_a_broken_opening_ends_the_console_with_its_message(tmp_path):
    from enttui.errors import StateError

    async def opener():
        raise StateError("la base d'état ne s'ouvre pas")

    app = EntApp(opener=opener, config=demo_config(tmp_path / "demo"), timer=FakeTimer())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.return_code is not None, "the console to end")
    assert app.return_code == StateError.exit_code
