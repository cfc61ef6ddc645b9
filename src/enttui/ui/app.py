"""The composition root: services injected, navigation, global keys, the one error path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from enttui.errors import EnttuiError, describe
from enttui.services.container import Services
from enttui.ui.commands import (
    THEME_PLACEHOLDER,
    FrenchCommandPalette,
    NavigationCommands,
    ScreenActionCommands,
    system_commands,
)
from enttui.ui.keys import key_label
from enttui.ui.navigation import PAGES_BY_KEY
from enttui.ui.quitting import request_quit
from enttui.ui.resources import stylesheet
from enttui.ui.screens import screen_class
from enttui.ui.screens.base import EntScreen, PageScreen
from enttui.ui.widgets.footer import help_keys
from enttui.ui.widgets.modals import ErrorModal, HelpModal

if TYPE_CHECKING:
    from enttui.config import Config

MAX_HISTORY = 50
OPENING = "Connexion aux systèmes en cours : la page s'ouvrira dès qu'elle sera établie."
UNEXPECTED = (
    "L'opération s'est arrêtée sur une erreur imprévue. Ce qui était déjà enregistré le reste ; "
    "réessayez, et si l'erreur revient, transmettez le détail ci-dessous à l'équipe technique."
)


class EntApp(App[int]):
    """enttui: the console. ``services`` are opened by the caller (CLI or tests)."""

    TITLE = "enttui"
    CSS = stylesheet()
    ENABLE_COMMAND_PALETTE = True
    # Below 110 columns the menu folds away (F2 brings it over the page); below 30 rows the page
    # title gives its line to the page (the breadcrumb names the page).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    COMMANDS = App.COMMANDS | {NavigationCommands, ScreenActionCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quitter", id="app.quit", tooltip="Quitter enttui", priority=True),
        Binding("f1", "help", "Aide", id="app.help", tooltip="Aide de l'écran courant et toutes ses touches"),
        Binding("f3", "go('accueil')", "Accueil", id="app.home", tooltip="Revenir à l'accueil (état des systèmes)"),
        Binding(
            "ctrl+p",
            "command_palette",
            "Palette",
            id="app.palette",
            tooltip="Toutes les pages et actions",
            priority=True,
        ),
        Binding("ctrl+c", "help_quit", show=False, system=True),
    ]

    def __init__(
        self,
        services: Services | None = None,
        *,
        opener: Callable[[], Awaitable[Services]] | None = None,
        config: Config | None = None,
        timer: Callable[[], float] = time.perf_counter,
        start_page: str = "accueil",
    ) -> None:
        """Give opened ``services``, or an ``opener`` that opens them on the app's own event loop
        (and the app closes them when it exits). With an opener and the ``config`` it opens, the
        first screen shows at once and the services open in a worker meanwhile (the pages that
        need them open once they are ready, see :meth:`go`)."""
        super().__init__()
        if services is None and opener is None:
            raise ValueError("services or opener is required")
        self._services = services
        self._opener = opener
        self._config = services.config if services is not None else config
        self._opened = asyncio.Event()
        if services is not None:
            self._opened.set()
        self._pending: tuple[str, bool] | None = None  # a page asked for before the services opened
        self.timer = timer
        self._history: list[str] = []
        self._current: str | None = None
        self._start_page = start_page
        self.animation_level = "none"
        self.data_version = 0  # bumped after every change of the data: lists reload when shown again

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are not open yet")
        return self._services

    @property
    def config(self) -> Config:
        """The configuration in force (known before the services are open when it was given)."""
        if self._services is not None:
            return self._services.config
        if self._config is None:
            raise RuntimeError("services are not open yet")
        return self._config

    async def opened(self) -> Services:
        """The services, once they are open (at once when they are)."""
        await self._opened.wait()
        return self.services

    @property
    def mode_label(self) -> str:
        cfg = self.config
        return "démo" if cfg.demo else cfg.path

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.services.clock

    async def on_mount(self) -> None:
        if self._services is None and self._config is not None:
            # The first screen now; the services open meanwhile, once it is drawn.
            self._apply_ui_settings()
            self.go(self._start_page, remember=False)
            self.call_after_refresh(lambda: self.run_worker(self._open_behind(), name="open", group="app:open"))
            return
        if self._services is None and not await self._open_services():
            return
        self._apply_ui_settings()
        self.go(self._start_page, remember=False)

    async def _open_services(self) -> bool:
        """Open the services with the opener; a known error ends the console with its message."""
        assert self._opener is not None
        try:
            services = await self._opener()
        except EnttuiError as exc:
            self.exit(return_code=exc.exit_code, message=exc.for_humans())
            return False
        self._services = services
        self._opened.set()
        return True

    async def _open_behind(self) -> None:
        """The services opening behind the first screen; then the page asked for meanwhile."""
        given = self.config.ui
        if not await self._open_services():
            return
        if self.config.ui != given:
            self._apply_ui_settings()
        pending, self._pending = self._pending, None
        if pending is not None:
            self.go(pending[0], remember=pending[1])

    def _apply_ui_settings(self) -> None:
        ui = self.config.ui
        self.animation_level = "full" if ui.animations else "none"
        if ui.theme in self.available_themes:
            self.theme = ui.theme
        if ui.keymap:
            self.set_keymap(dict(ui.keymap))

    async def on_unmount(self) -> None:
        if self._opener is not None and self._services is not None:
            await self._services.close()

    def note_change(self) -> None:
        """Something was written (import, edit, run): lists reload when they are shown again."""
        self.data_version += 1

    # navigation -----------------------------------------------------------------------------
    def _screen_for(self, key: str) -> str:
        if not self.is_screen_installed(key):
            self.install_screen(screen_class(key)(), key)
        return key

    def go(self, key: str, *, remember: bool = True) -> None:
        """Open a page of the navigation (keeps the page's state between visits)."""
        if key not in PAGES_BY_KEY:
            self.notify(f"Écran inconnu : {key}", severity="error", markup=False)
            return
        self._pending = None  # the last page asked for wins
        if key == self._current and isinstance(self.screen, PageScreen):
            return
        if self._services is None and not screen_class(key).SHOWN_BEFORE_SERVICES:
            # Opened once the services are (see _open_behind).
            self._pending = (key, remember)
            if self._current is not None:  # asked for from a page: say why it does not open yet
                self.notify(OPENING, markup=False)
            return
        # Close details or modals pushed on top of the current page first.
        while len(self.screen_stack) > 1 and not isinstance(self.screen, PageScreen):
            self.pop_screen()
        if remember and self._current is not None:
            self._history.append(self._current)
            del self._history[:-MAX_HISTORY]
        self._current = key
        name = self._screen_for(key)
        if len(self.screen_stack) <= 1:
            self.push_screen(name)
        else:
            self.switch_screen(name)

    def action_go(self, key: str) -> None:
        self.go(key)

    def open_person(self, dn: str) -> None:
        """Push the detail of the person at ``dn``; its breadcrumb continues the current screen's."""
        from enttui.ui.screens.person import PersonScreen

        screen = self.screen
        trail = screen.trail() if isinstance(screen, EntScreen) else ()
        self.push_screen(PersonScreen(dn, trail))

    def action_go_back(self) -> None:
        """Retour (escape): the previous page, else the home page."""
        if not isinstance(self.screen, PageScreen):
            self.pop_screen()
            return
        target = self._history.pop() if self._history else "accueil"
        if target == self._current:
            return
        self.go(target, remember=False)

    def action_menu(self) -> None:
        """F2 from a screen pushed over a page: back to the page, its menu open."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, PageScreen):
            self.pop_screen()
        if isinstance(self.screen, PageScreen):
            self.call_after_refresh(self.screen.action_open_menu)

    # help, palette, quitting -------------------------------------------------------------------
    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpModal):
            return
        page = getattr(screen, "page", None)
        title = getattr(page, "label", None) or (screen.trail()[-1] if isinstance(screen, EntScreen) else "enttui")
        text = screen.help_text() if isinstance(screen, EntScreen) else (getattr(screen, "HELP", "") or "")
        self.push_screen(HelpModal(title, text, help_keys(screen)))

    def get_key_display(self, binding: Binding) -> str:
        return binding.key_display or key_label(binding.key)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from system_commands(self, screen)

    def action_command_palette(self) -> None:
        if self.use_command_palette and not any(isinstance(s, FrenchCommandPalette) for s in self.screen_stack):
            self.push_screen(FrenchCommandPalette(id="--command-palette"))

    def search_themes(self) -> None:
        from textual.theme import ThemeProvider

        self.push_screen(FrenchCommandPalette(providers=[ThemeProvider], placeholder=THEME_PLACEHOLDER))

    def action_help_quit(self) -> None:
        """ctrl+c does not quit (it copies in a text field): say how to quit, in French."""
        self.notify("Pour quitter enttui, appuyez sur ctrl+q.", title="Quitter ?", markup=False)

    async def action_quit(self) -> None:
        """ctrl+q and the palette's "Quitter": asks first while a job writes (see ui/quitting.py)."""
        await request_quit(self)

    # errors -----------------------------------------------------------------------------------
    def report_error(self, exc: BaseException, *, details: bool = False) -> None:
        """The one error path: a notification for a known error, a modal for the details and for
        anything unexpected (never a raw exception line: the technical detail is labelled)."""
        if isinstance(exc, EnttuiError):
            if details:
                self.push_screen(ErrorModal(exc.title, exc.message, exc.detail))
            else:
                self.notify(exc.message, title=exc.title, severity="error", markup=False, timeout=8)
            return
        self.log.error("worker error", exc)
        self.push_screen(ErrorModal("Erreur inattendue", UNEXPECTED, f"Détail technique : {describe(exc)}"))
