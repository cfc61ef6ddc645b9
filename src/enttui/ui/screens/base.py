"""The frame every screen shares, and the one route for worker errors.

:class:`EntScreen` draws the title bar, the breadcrumb ("Vous êtes ici : …", the path the admin
really took), the body and the footer, and routes every failed worker of the screen to the app's
error path (:meth:`EntApp.report_error`) after the screen's own hook (:meth:`worker_failed`) has
put its error line (so no screen stays on "Recherche…"). :class:`PageScreen` adds the left menu
(a page of the navigation); :class:`DetailScreen` is pushed over a page (a person, a group's
members, a run's report…), full width, with the breadcrumb of the screen it was opened from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Label
from textual.worker import Worker, WorkerState

from enttui.ui.navigation import PAGES_BY_KEY, Page
from enttui.ui.widgets.footer import KeyFooter
from enttui.ui.widgets.nav import NavMenu

if TYPE_CHECKING:
    from enttui.ui.app import EntApp

TRAIL_SEPARATOR = " > "


class Breadcrumb(Widget):
    """ "Vous êtes ici : A > B > C", cut from the left ("… > B > C") when it does not fit."""

    DEFAULT_CSS = "Breadcrumb { height: 1; }"

    def __init__(self, trail: tuple[str, ...], *, id: str | None = "breadcrumb") -> None:
        super().__init__(id=id)
        self.trail = trail

    def set_trail(self, trail: tuple[str, ...]) -> None:
        self.trail = trail
        self.refresh()

    @property
    def text(self) -> str:
        return "Vous êtes ici : " + TRAIL_SEPARATOR.join(self.trail)

    def render(self) -> RenderResult:
        width = max(1, self.size.width - 2)
        head = "Vous êtes ici : "
        items = list(self.trail)
        text = head + TRAIL_SEPARATOR.join(items)
        while len(text) > width and len(items) > 1:
            items.pop(0)
            text = head + "…" + TRAIL_SEPARATOR + TRAIL_SEPARATOR.join(items)
        return Text(text, no_wrap=True, overflow="ellipsis")


class EntScreen(Screen):
    """A screen of the console (see module docstring). Subclasses yield their body in
    :meth:`compose_frame` and say where they are in :meth:`trail`."""

    HELP: ClassVar[str] = ""

    @property
    def ent_app(self) -> EntApp:
        return self.app  # type: ignore[return-value]

    def trail(self) -> tuple[str, ...]:
        return ()

    def compose(self) -> ComposeResult:
        portal = self.ent_app.config.ent.portal
        with Horizontal(id="topbar"):
            yield Label(Text(f"enttui · {portal}"), id="app-title")
            yield Label(Text(self.ent_app.mode_label), id="app-mode")
        yield Breadcrumb(self.trail())
        yield from self.compose_frame()
        yield KeyFooter()

    def compose_frame(self) -> ComposeResult:
        yield from ()

    def update_trail(self) -> None:
        """Call when :meth:`trail` changed (a name read after the screen opened)."""
        for crumb in self.query(Breadcrumb):
            crumb.set_trail(self.trail())

    def help_text(self) -> str:
        return self.HELP

    # -- data changed elsewhere (an import, an edit, a run) -----------------------------------
    _data_version: int | None = None

    def on_mount(self) -> None:
        self._data_version = self.ent_app.data_version

    def on_screen_resume(self) -> None:
        version = self.ent_app.data_version
        if self._data_version is not None and version != self._data_version:
            self.refresh_data()
        self._data_version = version

    def refresh_data(self) -> None:
        """Hook: the data changed since this screen was last shown (reload, cursor kept)."""

    # -- the one route for worker errors ----------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        details = self.worker_failed(event.worker.group, error)
        self.ent_app.report_error(error, details=bool(details))

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        """Hook: put the screen's own error line (status, form error) for a failed worker.
        Return True to show the error in a modal (to acknowledge) rather than a notification."""
        return None


class PageScreen(EntScreen):
    """A page of the navigation. Subclasses set ``PAGE_KEY``, ``HELP`` and implement ``compose_body``."""

    PAGE_KEY: ClassVar[str] = "accueil"
    # True for a page that can show while the services open (it waits for them: EntApp.opened).
    SHOWN_BEFORE_SERVICES: ClassVar[bool] = False
    BINDINGS = [
        Binding("escape", "app.go_back", "Retour", id="page.back", tooltip="Revenir à l'écran précédent"),
        # priority: the menu takes the focus before the next key is routed (keys typed ahead go to it).
        Binding(
            "f2",
            "open_menu",
            "Menu",
            id="page.menu",
            tooltip="Ouvrir le menu de navigation (échap le ferme)",
            priority=True,
        ),
    ]

    @property
    def page(self) -> Page:
        return PAGES_BY_KEY[self.PAGE_KEY]

    def trail(self) -> tuple[str, ...]:
        return self.page.breadcrumb

    def compose_frame(self) -> ComposeResult:
        with Horizontal(id="frame"):
            yield NavMenu(self.PAGE_KEY)
            with Vertical(id="body"):
                yield Label(Text(self.page.label), id="page-title", classes="page-title")
                yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_nav_menu_navigate(self, message: NavMenu.Navigate) -> None:
        message.stop()
        self.ent_app.go(message.key)

    def action_open_menu(self) -> None:
        self.query_one(NavMenu).open()

    def help_text(self) -> str:
        return self.HELP or self.page.summary


class DetailScreen(EntScreen):
    """A screen pushed over a page; ``trail`` is where it was opened from (escape goes back)."""

    TITLE_LABEL: ClassVar[str] = ""
    BINDINGS = [
        Binding(
            "escape", "app.go_back", "Retour", id="page.back", tooltip="Revenir à l'écran d'où celui-ci a été ouvert"
        ),
        Binding("f2", "app.menu", "Menu", id="page.menu", tooltip="Revenir à la page et ouvrir le menu"),
    ]

    def __init__(self, trail: tuple[str, ...] = (), *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.parent_trail = trail

    def crumb(self) -> str:
        """The last item of the breadcrumb (this screen)."""
        return self.TITLE_LABEL

    def trail(self) -> tuple[str, ...]:
        return (*self.parent_trail, self.crumb())

    def compose_frame(self) -> ComposeResult:
        with Vertical(id="detail-body"):
            yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        yield from ()
