"""The state store's frame: its URL, opening (the schema brought up to date), closing, transactions.

:class:`enttui.services.state.StateStore` adds the records on top of it. Every blocking call runs
in :func:`asyncio.to_thread`, one statement batch at a time per store.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from enttui.config import StateConfig
from enttui.errors import StateError
from enttui.services.state_engine import create_state_engine, is_sqlite, reason
from enttui.services.state_migrations import bring_up_to_date, stored_version

__all__ = ["DEFAULT_TRACE_MAX_LINES", "StoreBase", "as_utc"]

DEFAULT_TRACE_MAX_LINES = 20000

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is expected, not {value!r}")
    return value.astimezone(UTC)


class StoreBase:
    """Configuration, opening (with the schema brought up to date), closing, transactions."""

    def __init__(
        self,
        config: StateConfig,
        *,
        clock: Callable[[], datetime] | None = None,
        trace_max_lines: int = DEFAULT_TRACE_MAX_LINES,
    ) -> None:
        self.config = config
        self._clock = clock or _utc_now
        self.trace_max_lines = max(1, int(trace_max_lines))
        self._engine: Engine | None = None
        self._write_engine: Engine | None = None
        self._lock = threading.Lock()  # one statement batch at a time per store (SQLite is single-writer)
        self._hostname = socket.gethostname()
        self.upgraded_from: int | None = None  # the schema version found, when opening upgraded it
        self._url: URL | None
        try:
            self._url = make_url(config.url)
            self.endpoint = self._url.render_as_string(hide_password=True)
        except (ArgumentError, ValueError):
            self._url = None
            self.endpoint = "URL invalide"
        if self._url is not None and self._is_sqlite:
            self.endpoint = self._url.database or ":memory:"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    @property
    def _is_sqlite(self) -> bool:
        return self._url is not None and is_sqlite(self._url)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StateError("Base d'état non ouverte")
        return self._engine

    def now(self) -> datetime:
        return as_utc(self._clock())

    # -- opening ---------------------------------------------------------------------------

    def _open_sync(self) -> None:
        if self._url is None:
            raise StateError(f"[state] url : URL SQLAlchemy invalide ({self.config.url!r})")
        engine = create_state_engine(self._url)
        write_engine = engine.execution_options(enttui_write=True)
        try:
            found, now = bring_up_to_date(write_engine)
        except BaseException:
            with contextlib.suppress(Exception):
                engine.dispose()
            raise
        self._engine, self._write_engine = engine, write_engine
        self.upgraded_from = found if found != now else None

    async def open(self) -> None:
        """Create the file's folder (0700), and the tables or bring them up to date (see
        :mod:`enttui.services.state_migrations`); a store newer than this code is refused."""
        if self._engine is not None:
            return
        try:
            await asyncio.to_thread(self._locked_open)
        except StateError:
            raise
        except (OSError, SQLAlchemyError, sqlite3.Error) as exc:
            self._dispose()
            raise StateError(
                f"Base d'état {self.endpoint} inaccessible : {reason(exc)}", detail=f"{type(exc).__name__}: {exc}"
            ) from None

    def _locked_open(self) -> None:
        with self._lock:
            if self._engine is None:
                self._open_sync()

    def _dispose(self) -> None:
        engine, self._engine, self._write_engine = self._engine, None, None
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.dispose()

    async def close(self) -> None:
        await asyncio.to_thread(self._locked_dispose)

    def _locked_dispose(self) -> None:
        with self._lock:
            self._dispose()

    async def schema_version(self) -> int:
        """The version of the store's tables (:data:`SCHEMA_VERSION` once opened)."""
        return await self._run(stored_version, write=False, what="lecture de la version du schéma")

    # -- transactions ----------------------------------------------------------------------

    def _tx(self, fn: Callable[[Connection], T], write: bool) -> T:
        with self._lock:
            engine = self._write_engine if write else self._engine
            if engine is None:
                raise StateError("Base d'état non ouverte")
            with engine.begin() as conn:
                return fn(conn)

    async def _run(self, fn: Callable[[Connection], T], *, write: bool, what: str) -> T:
        try:
            return await asyncio.to_thread(self._tx, fn, write)
        except StateError:
            raise
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StateError(
                f"Base d'état {self.endpoint} : {what} impossible ({reason(exc)})",
                detail=f"{type(exc).__name__}: {exc}",
            ) from None
