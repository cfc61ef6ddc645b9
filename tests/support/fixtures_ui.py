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


async def settle(pilot) -> None:
    """Wait until every worker is done and the screen is repainted."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


@pytest.fixture
def demo_app(tmp_path):
    """A factory: ``demo_app()`` → an EntApp on a fresh demo world below tmp_path."""

    def factory(**kwargs):
        return make_demo_app(tmp_path / "demo", **kwargs)

    return factory
