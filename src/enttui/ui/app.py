"""The composition root: services injected, navigation, global keys, the one error path."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from textual.app import App
from textual.binding import Binding

from enttui.errors import EnttuiError, describe
from enttui.jobs.context import Services
from enttui.ui.commands import NavigationCommands, ScreenActionCommands
from enttui.ui.navigation import PAGES_BY_KEY
from enttui.ui.resources import stylesheets
from enttui.ui.screens import SCREENS
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.modals import ErrorModal, HelpModal

MAX_HISTORY = 50


class EntApp(App[int]):
    """enttui: the console. ``services`` are opened by the caller (CLI or tests)."""

    TITLE = "enttui"
    CSS_PATH = stylesheets()
    ENABLE_COMMAND_PALETTE = True
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    COMMANDS = App.COMMANDS | {NavigationCommands, ScreenActionCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quitter", id="app.quit", tooltip="Quitter enttui", priority=True),
        Binding("f1", "help", "Aide", id="app.help", tooltip="Aide de l'écran courant"),
        Binding("f3", "go('accueil')", "Accueil", id="app.home", tooltip="Revenir à l'accueil (état des systèmes)"),
    ]

    def __init__(
        self,
        services: Services | None = None,
        *,
        opener: Callable[[], Awaitable[Services]] | None = None,
        timer: Callable[[], float] = time.perf_counter,
        start_page: str = "accueil",
    ) -> None:
        """Give opened ``services``, or an ``opener`` that opens them on the app's own event loop
        (and the app closes them when it exits)."""
        super().__init__()
        if services is None and opener is None:
            raise ValueError("services or opener is required")
        self._services = services
        self._opener = opener
        self.timer = timer
        self._history: list[str] = []
        self._current: str | None = None
        self._start_page = start_page
        self.animation_level = "none"

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are not open yet")
        return self._services

    @property
    def mode_label(self) -> str:
        cfg = self.services.config
        return "démo" if cfg.demo else cfg.path

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.services.clock

    async def on_mount(self) -> None:
        if self._services is None and self._opener is not None:
            try:
                self._services = await self._opener()
            except EnttuiError as exc:
                self.exit(return_code=exc.exit_code, message=exc.for_humans())
                return
        ui = self.services.config.ui
        self.animation_level = "full" if ui.animations else "none"
        if ui.theme in self.available_themes:
            self.theme = ui.theme
        self.go(self._start_page, remember=False)

    async def on_unmount(self) -> None:
        if self._opener is not None and self._services is not None:
            await self._services.close()

    # navigation -----------------------------------------------------------------------------
    def _screen_for(self, key: str) -> str:
        if not self.is_screen_installed(key):
            self.install_screen(SCREENS[key](), key)
        return key

    def go(self, key: str, *, remember: bool = True) -> None:
        """Open a page of the navigation (keeps the page's state between visits)."""
        if key not in PAGES_BY_KEY:
            self.notify(f"Écran inconnu : {key}", severity="error", markup=False)
            return
        if key == self._current and isinstance(self.screen, PageScreen):
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
        """Push the detail of the person at ``dn`` (escape comes back to where it was opened)."""
        from enttui.ui.screens.person import PersonScreen

        self.push_screen(PersonScreen(dn))

    def action_back(self) -> None:
        """Retour (escape): the previous page, else the home page."""
        if not isinstance(self.screen, PageScreen):
            self.pop_screen()
            return
        target = self._history.pop() if self._history else "accueil"
        if target == self._current:
            return
        self.go(target, remember=False)

    # help and errors ------------------------------------------------------------------------
    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpModal):
            return
        title = getattr(getattr(screen, "page", None), "label", None) or "enttui"
        text = screen.help_text() if isinstance(screen, PageScreen) else (getattr(screen, "HELP", "") or "")
        keys: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            b = active.binding
            # Only the console's own bindings (they all carry an id), not Textual's widget internals.
            if not b.description or not b.id or b.action in seen:
                continue
            seen.add(b.action)
            keys.append((self.get_key_display(b), b.tooltip or b.description))
        keys.append(("ctrl+p", "Palette de commandes : toutes les pages et actions"))
        self.push_screen(HelpModal(title, text, keys))

    def report_error(self, exc: BaseException, *, details: bool = False) -> None:
        """The one error path: a notification for the recoverable, a modal for the details."""
        if isinstance(exc, EnttuiError):
            title, message, detail = exc.title, exc.message, exc.detail
        else:
            title, message, detail = "Erreur inattendue", describe(exc), None
        if details:
            self.push_screen(ErrorModal(title, message, detail))
        else:
            self.notify(message, title=title, severity="error", markup=False, timeout=8)
