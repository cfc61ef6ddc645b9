"""Command palette (ctrl+p), in French: every page, every action of the current screen, and the
console's own commands (Quitter, Thème, Aide…) in place of Textual's English ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from functools import partial
from typing import TYPE_CHECKING

from rich.align import Align
from rich.text import Text
from textual.app import SystemCommand
from textual.command import CommandList, CommandPalette, DiscoveryHit, Hit, Provider, ProviderSource
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets.option_list import Option

from enttui.ui.navigation import PAGES

if TYPE_CHECKING:
    from enttui.ui.app import EntApp

PLACEHOLDER = "Chercher une page ou une commande…"
THEME_PLACEHOLDER = "Chercher un thème…"
NO_MATCH = "Aucune commande ne correspond"


class FrenchCommandPalette(CommandPalette):
    """Textual's palette with its texts in French."""

    def __init__(
        self,
        providers: ProviderSource | None = None,
        *,
        placeholder: str = PLACEHOLDER,
        id: str | None = None,
    ) -> None:
        super().__init__(providers, placeholder=placeholder, id=id)

    def _start_no_matches_countdown(self, search_value: str) -> None:
        # Textual's own method, with its "No matches found" in French (textual==8.2.8 is pinned).
        self._stop_no_matches_countdown()

        def _show_no_matches() -> None:
            if search_value:
                self.query_one(CommandList).add_option(
                    Option(Align.center(Text(NO_MATCH, style="not bold")), disabled=True, id=self._NO_MATCHES)
                )
                self._list_visible = True
            else:
                self._list_visible = False

        self._no_matches_timer = self.set_timer(self._NO_MATCHES_COUNTDOWN, _show_no_matches)


def system_commands(app: EntApp, screen: Screen) -> Iterable[SystemCommand]:
    """The console's own commands (they replace Textual's "Quit", "Theme", "Keys"…)."""
    yield SystemCommand("Quitter", "Quitter enttui (confirmation si un traitement est en cours)", app.action_quit)
    yield SystemCommand("Aide et touches", "L'aide de l'écran et toutes ses touches (F1)", app.action_help)
    yield SystemCommand(
        "Thème", "Changer les couleurs de la console (ansi-dark pour peu de couleurs)", app.search_themes
    )
    if screen.maximized is not None:
        yield SystemCommand("Réduire", "Rendre sa taille au panneau agrandi", screen.action_minimize)
    elif screen.focused is not None and screen.focused.allow_maximize:
        yield SystemCommand("Agrandir", "Agrandir le panneau sélectionné (échap le réduit)", screen.action_maximize)


class NavigationCommands(Provider):
    """ "Aller à : <page>" for every page of the navigation."""

    def _commands(self) -> list[tuple[str, str, str]]:
        out = []
        for page in PAGES:
            where = f"{page.section} › " if page.section else ""
            out.append((f"Aller à : {where}{page.label}", page.key, page.summary))
        return out

    async def discover(self) -> AsyncIterator[DiscoveryHit]:
        app: EntApp = self.app  # type: ignore[assignment]
        for title, key, help_text in self._commands():
            yield DiscoveryHit(title, partial(app.go, key), help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        app: EntApp = self.app  # type: ignore[assignment]
        matcher = self.matcher(query)
        for title, key, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(app.go, key), help=help_text)


class ScreenActionCommands(Provider):
    """The actions (with a key) of the screen the palette was opened from (the console-wide
    ones are the system commands and "Aller à")."""

    def _commands(self) -> list[tuple[str, str, DOMNode, str]]:
        screen = self.screen
        out: list[tuple[str, str, DOMNode, str]] = []
        seen: set[str] = set()
        for _key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or not binding.id or not active.enabled or binding.action in seen:
                continue
            if binding.id.startswith("app.") or binding.action.startswith("app.command_palette"):
                continue
            seen.add(binding.action)
            key_display = self.app.get_key_display(binding)
            title = f"{binding.description} ({key_display})"
            out.append((title, binding.action, active.node, binding.tooltip))
        return out

    async def _run(self, action: str, node: DOMNode) -> None:
        await self.app.run_action(action, node)

    async def discover(self) -> AsyncIterator[DiscoveryHit]:
        for title, action, node, tooltip in self._commands():
            yield DiscoveryHit(title, partial(self._run, action, node), help=tooltip or None)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for title, action, node, tooltip in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action, node), help=tooltip or None)
