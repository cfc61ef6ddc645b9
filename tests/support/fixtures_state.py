"""State-store fixtures: an opened :class:`StateStore` on a temporary SQLite file, frozen clock.

``state_clock`` is a :class:`FrozenClock`: call it for "now", ``.advance(minutes=5)`` to move it,
``.set(datetime)`` to jump. ``state_store`` is opened on ``tmp_path/state/state.db`` with that
clock and closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enttui.config import StateConfig
from enttui.services.state import StateStore

FROZEN_NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


class FrozenClock:
    """A clock that only moves when told to (always timezone-aware UTC)."""

    def __init__(self, now: datetime = FROZEN_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now


def state_config(tmp_path: Path) -> StateConfig:
    root = tmp_path / "state"
    return StateConfig(url=f"sqlite:///{root / 'state.db'}", files_dir=str(root / "identifiants"))


@pytest.fixture
def state_clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def state_store(tmp_path: Path, state_clock: FrozenClock) -> AsyncIterator[StateStore]:
    store = StateStore(state_config(tmp_path), clock=state_clock)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
