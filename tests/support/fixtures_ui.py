"""Fixtures for Pilot and snapshot tests: the console on the demo world, frozen in time."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

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
    from enttui.jobs.context import demo_services
    from enttui.ui.app import EntApp

    async def opener():
        return await demo_services(root, clock=frozen_clock)

    return EntApp(opener=opener, timer=FakeTimer(), **kwargs)


async def settle(pilot, timeout: float = 30.0) -> None:
    """Wait until no worker is pending or running (workers may start others, or be started by a
    message still in the queue), then let the screen repaint. Robust on a loaded machine."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet = 0
    while quiet < 3 and loop.time() < deadline:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        busy = any(not w.is_finished for w in pilot.app.workers)
        quiet = 0 if busy else quiet + 1


@pytest.fixture
def demo_app(tmp_path):
    """A factory: ``demo_app()`` → an EntApp on a fresh demo world below tmp_path."""

    def factory(**kwargs):
        return make_demo_app(tmp_path / "demo", **kwargs)

    return factory
