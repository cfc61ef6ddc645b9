"""An explicit "à venir" panel for pages whose screen comes with a later issue."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from enttui.ui.screens.base import PageScreen


class ComingSoonScreen(PageScreen):
    """Says plainly that the page is not available yet, and what it will do."""

    def __init__(self, page_key: str) -> None:
        self.PAGE_KEY = page_key  # type: ignore[misc]
        super().__init__(name=page_key)

    def compose_body(self) -> ComposeResult:
        yield Static(
            Text.assemble(
                ("À venir\n\n", "bold"),
                (f"{self.page.summary}.\n\n", ""),
                (
                    "Cet écran n'est pas encore disponible dans cette version d'enttui. "
                    "Les autres écrans restent utilisables : F2 ouvre le menu, échap revient en arrière.",
                    "",
                ),
            ),
            classes="coming-soon panel",
        )

    def help_text(self) -> str:
        return f"{self.page.summary}.\nCet écran n'est pas encore disponible."
