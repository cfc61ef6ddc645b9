"""The state store's engine: SQLite set up for two users at once, and errors told in French.

The console in the terminal and a cron job may use the same SQLite file at once: it runs in WAL
mode with a busy timeout, and write transactions (``enttui_write`` execution option) start with
``BEGIN IMMEDIATE`` so that two writers wait for each other instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool

__all__ = ["BUSY_TIMEOUT_S", "create_state_engine", "is_sqlite", "reason"]

BUSY_TIMEOUT_S = 15.0


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def create_state_engine(url: URL) -> Engine:
    """The engine of ``url``; a SQLite file is created 0600 (its folder 0700) if missing."""
    kwargs: dict[str, Any] = {}
    if is_sqlite(url):
        database = url.database or ""
        memory = database in ("", ":memory:") or database.startswith("file::memory:")
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
        if memory:
            kwargs["poolclass"] = StaticPool
        else:
            path = Path(database)
            if not path.parent.exists():
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
    engine = create_engine(url, **kwargs)
    if is_sqlite(url):
        _sqlite_setup(engine)
    return engine


def _sqlite_setup(engine: Engine) -> None:
    """WAL, busy timeout, foreign keys; BEGIN IMMEDIATE for writes (no upgrade deadlock)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _set_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("enttui_write") else "BEGIN")


def _set_wal(cursor: Any) -> None:
    """WAL is persistent in the file; switching needs a moment alone (no busy handler for it)."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def reason(exc: BaseException) -> str:
    if isinstance(exc, OperationalError | sqlite3.OperationalError):
        text = str(getattr(exc, "orig", exc) or exc)
        if "locked" in text or "busy" in text:
            return "base occupée par un autre traitement, réessayez"
        if "unable to open" in text:
            return "fichier impossible à ouvrir (dossier ou droits ?)"
        if "readonly" in text:
            return "base en lecture seule (droits du fichier ?)"
        if "disk" in text and "full" in text:
            return "disque plein"
        return text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, IntegrityError):
        return "contrainte d'unicité non respectée"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return type(exc).__name__
