"""Command palette (ctrl+p): every page, and every action of the current screen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Provider

from enttui.ui.navigation import PAGES

if TYPE_CHECKING:
    from enttui.ui.app import EntApp


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
    """The actions (with a key) of the screen the palette was opened from."""

    def _commands(self) -> list[tuple[str, str, object, str]]:
        screen = self.screen
        out: list[tuple[str, str, object, str]] = []
        seen: set[str] = set()
        for _key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.description or not binding.id or not active.enabled or binding.action in seen:
                continue
            if binding.action.startswith("app.command_palette"):
                continue
            seen.add(binding.action)
            key_display = self.app.get_key_display(binding)
            title = f"{binding.description} ({key_display})"
            out.append((title, binding.action, active.node, binding.tooltip))
        return out

    async def _run(self, action: str, node: object) -> None:
        await self.app.run_action(action, node)  # type: ignore[arg-type]

    async def discover(self) -> AsyncIterator[DiscoveryHit]:
        for title, action, node, tooltip in self._commands():
            yield DiscoveryHit(title, partial(self._run, action, node), help=tooltip or None)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for title, action, node, tooltip in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, action, node), help=tooltip or None)
