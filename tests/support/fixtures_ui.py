"""Fixtures for Pilot and snapshot tests: the console on the demo world, frozen in time."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.worker import WorkerCancelled

os.environ["TZ"] = "Europe/Paris"
time.tzset()

FROZEN_NOW = datetime(2026, 11, 21, 8, 30, 0, tzinfo=UTC)


def frozen_clock() -> datetime:
    return FROZEN_NOW


class FakeTimer:
    """perf_counter stand-in that never moves: latencies show as "< 1 ms", whatever the order in
    which concurrent probes finish (a counter would make snapshots depend on thread timing)."""

    def __call__(self) -> float:
        return 1000.0


def make_demo_app(root: Path, **kwargs):
    """The console as ``enttui --demo`` starts it: the config known at once, the first screen
    shown while the demo world opens in a worker."""
    from enttui.config import demo_config
    from enttui.demo.wiring import demo_services
    from enttui.ui.app import EntApp

    async def opener():
        return await demo_services(root, clock=frozen_clock)

    kwargs.setdefault("config", demo_config(root))
    return EntApp(opener=opener, timer=FakeTimer(), **kwargs)


async def settle(pilot, timeout: float = 120.0) -> None:
    """Wait until no worker is pending or running (workers may start others, or be started by a
    message still in the queue), then let the screen repaint. Robust on a loaded machine; fails
    with the workers still running when they do not finish within ``timeout``."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet = 0
    while quiet < 3:
        busy = [w for w in pilot.app.workers if not w.is_finished]
        if loop.time() > deadline:
            names = ", ".join(f"{w.group}:{w.name} ({w.state.name})" for w in busy) or "none"
            raise AssertionError(f"settle: workers still running after {timeout:.0f} s: {names}")
        # an exclusive worker replaced by a newer one of its group: the loop waits for that one
        with contextlib.suppress(WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        busy = [w for w in pilot.app.workers if not w.is_finished]
        quiet = 0 if busy else quiet + 1


async def wait_for(pilot, condition: Callable[[], object], what: str, timeout: float = 120.0) -> None:
    """Poll ``condition()`` (letting the app run) until it is true; fail loudly with ``what``
    after ``timeout`` seconds. For states a worker or a modal reaches later."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - a widget not composed yet: try again
            pass
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for: {what}")
        await pilot.pause(0.02)


def screen_text(app) -> str:
    """What the current screen shows, as plain text lines (what a person reads)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.fixture
def demo_app(tmp_path):
    """A factory: ``demo_app()`` → an EntApp on a fresh demo world below tmp_path."""

    def factory(**kwargs):
        return make_demo_app(tmp_path / "demo", **kwargs)

    return factory
