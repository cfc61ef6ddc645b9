"""Helpers for the snapshot tests: open a page, wait for a screen, assert which screen is active.

A snapshot must show the screen its docstring describes: every ``run_before`` ends with
:func:`expect`, which waits (with a deadline) until the active screen is of the expected class
and has composed, and fails loudly otherwise. It also stops the cursors blinking: a focused field
blinks on a 0.5 s wall-clock timer, and a screenshot taken on a loaded machine would otherwise catch
either phase (the cursor is left drawn, as in the first half-second after the focus moves).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from support.fixtures_ui import settle, wait_for

SIZES = [(80, 24), (120, 40)]
IDS = ["80x24", "120x40"]


async def expect(pilot, cls: type, *, selector: str | None = None) -> None:
    """The active screen is a ``cls`` (and ``selector`` found in it, when given)."""

    def ready() -> bool:
        screen = pilot.app.screen
        if not isinstance(screen, cls):
            return False
        return not selector or bool(screen.query(selector))

    await wait_for(pilot, ready, f"the screen {cls.__name__}" + (f" with {selector}" if selector else ""))
    still_cursors(pilot.app)
    await pilot.pause()


def still_cursors(app) -> None:
    """Every text field of the screen stack stops blinking; the focused one keeps its cursor drawn."""
    from textual.widgets import Input, TextArea

    for screen in app.screen_stack:
        for field in screen.query(Input):
            field.cursor_blink = False
        for area in screen.query(TextArea):
            area.cursor_blink = False


def page(key: str, cls: type) -> Callable[..., Awaitable[None]]:
    """``run_before`` that opens the page ``key`` and checks it is on screen."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.go(key)
        await settle(pilot)
        await expect(pilot, cls)

    return run_before
