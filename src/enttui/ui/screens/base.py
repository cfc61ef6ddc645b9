"""The frame every page shares: title bar, breadcrumb, left navigation, body, footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label

from enttui.ui.navigation import PAGES_BY_KEY, Page
from enttui.ui.widgets.nav import NavMenu

if TYPE_CHECKING:
    from enttui.ui.app import EntApp


class PageScreen(Screen):
    """A page of the console. Subclasses set ``PAGE_KEY``, ``HELP`` and implement ``compose_body``."""

    PAGE_KEY: ClassVar[str] = "accueil"
    HELP: ClassVar[str] = ""
    BINDINGS = [
        Binding("escape", "app.back", "Retour", id="page.back", tooltip="Revenir à l'écran précédent"),
        Binding("f2", "focus_menu", "Menu", id="page.menu", tooltip="Aller dans le menu de navigation"),
    ]

    @property
    def page(self) -> Page:
        return PAGES_BY_KEY[self.PAGE_KEY]

    @property
    def ent_app(self) -> EntApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        portal = self.ent_app.services.config.ent.portal
        with Horizontal(id="topbar"):
            yield Label(Text(f"enttui · {portal}"), id="app-title")
            yield Label(Text(self.ent_app.mode_label), id="app-mode")
        yield Label(Text("Vous êtes ici : " + " > ".join(self.page.breadcrumb)), id="breadcrumb")
        with Horizontal(id="frame"):
            yield NavMenu(self.PAGE_KEY)
            with Vertical(id="body"):
                yield Label(Text(self.page.label), id="page-title", classes="page-title")
                yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_nav_menu_navigate(self, message: NavMenu.Navigate) -> None:
        message.stop()
        self.ent_app.go(message.key)

    def action_focus_menu(self) -> None:
        self.query_one(NavMenu).focus()

    def help_text(self) -> str:
        return self.HELP or self.page.summary
