"""Helpers for the snapshot tests: open a page, wait for a screen, assert which screen is active.

A snapshot must show the screen its docstring describes: every ``run_before`` ends with
:func:`expect`, which waits (with a deadline) until the active screen is of the expected class
and has composed, and fails loudly otherwise.
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
    await pilot.pause()


def page(key: str, cls: type) -> Callable[..., Awaitable[None]]:
    """``run_before`` that opens the page ``key`` and checks it is on screen."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        pilot.app.go(key)
        await settle(pilot)
        await expect(pilot, cls)

    return run_before
