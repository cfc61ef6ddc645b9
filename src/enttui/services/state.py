"""The console's own records: runs and their traces, audit, watermarks, identifier files, journals.

SQLAlchemy Core on a SQLite file by default (any SQLAlchemy URL works). The console in the
terminal and a cron job may use the same file at once: SQLite runs in WAL mode with a busy
timeout, and write transactions start with ``BEGIN IMMEDIATE`` so that two writers wait for each
other instead of failing. Every blocking call runs in :func:`asyncio.to_thread`.

Datetimes are stored in UTC and returned timezone-aware (UTC). Nothing here ever holds a password:
free texts (trace, audit, journal, summary) also go through :func:`enttui.errors.redact`.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from enttui.config import StateConfig
from enttui.domain.dn import lookup_key
from enttui.domain.health import SystemHealth
from enttui.errors import StateError, redact

__all__ = [
    "LEVELS",
    "RUN_KINDS",
    "RUN_STATUSES",
    "AuditRecord",
    "FileRecord",
    "RetryEntry",
    "RunRecord",
    "StateStore",
    "TraceLine",
]

RUN_KINDS = ("sync", "diffusion", "regeneration", "import", "export", "check")
RUNNING = "en cours"
SUCCESS = "réussi"
WITH_ERRORS = "avec erreurs"
INTERRUPTED = "interrompu"
SIMULATED = "simulé"
RUN_STATUSES = (RUNNING, SUCCESS, WITH_ERRORS, INTERRUPTED, SIMULATED)
LEVELS = ("info", "detail", "change", "warning", "error")

DEFAULT_TRACE_MAX_LINES = 20000
BUSY_TIMEOUT_S = 15.0
STALE_AFTER = timedelta(days=1)
_CHUNK = 500

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    id: int
    kind: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    user: str
    host: str
    pid: int
    options: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    trace_lines: int = 0  # lines kept
    trace_dropped: int = 0  # lines past the bound, not kept

    @property
    def duration(self) -> timedelta | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


@dataclass(frozen=True)
class TraceLine:
    seq: int
    at: datetime
    level: str
    entity: str
    text: str


@dataclass(frozen=True)
class FileRecord:
    name: str
    kind: str
    size: int
    created_at: datetime
    run_id: int | None = None
    user: str = ""
    uai: str = ""
    rows: int = 0


@dataclass(frozen=True)
class RetryEntry:
    """A directory entry the sync re-examines on every normal run (see the retry list)."""

    dn: str
    reason: str
    since: datetime


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    user: str
    action: str
    target: str
    detail: str


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, stored as naive UTC, aware UTC out (on every backend)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused by the state store: {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

runs_table = Table(
    "enttui_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("user", String(128), nullable=False, default=""),
    Column("host", String(255), nullable=False, default=""),
    Column("pid", Integer, nullable=False, default=0),
    Column("options", Text, nullable=False, default="{}"),
    Column("counts", Text, nullable=False, default="{}"),
    Column("summary", Text, nullable=False, default=""),
    Column("trace_count", Integer, nullable=False, default=0),
    Column("trace_dropped", Integer, nullable=False, default=0),
    Index("ix_enttui_runs_kind_started", "kind", "started_at"),
    Index("ix_enttui_runs_status", "status"),
)

trace_table = Table(
    "enttui_trace",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("enttui_runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("level", String(16), nullable=False),
    Column("entity", String(128), nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    UniqueConstraint("run_id", "seq", name="uq_enttui_trace_run_seq"),
)

audit_table = Table(
    "enttui_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("user", String(128), nullable=False, default=""),
    Column("action", String(128), nullable=False),
    Column("target", String(512), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_enttui_audit_at", "at"),
)

watermarks_table = Table(
    "enttui_watermarks",
    metadata,
    Column("entity", String(64), primary_key=True),
    Column("value", UTCDateTime, nullable=False),
    Column("run_id", Integer, nullable=True),
)

files_table = Table(
    "enttui_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("kind", String(64), nullable=False, default=""),
    Column("size", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("run_id", Integer, nullable=True),
    Column("user", String(128), nullable=False, default=""),
    Column("uai", String(16), nullable=False, default=""),
    Column("rows", Integer, nullable=False, default=0),
)

journal_table = Table(
    "enttui_journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("enttui_runs.id", ondelete="CASCADE"), nullable=False),
    Column("item_key", String(255), nullable=False),
    Column("status", String(32), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("run_id", "item_key", name="uq_enttui_journal_run_item"),
)

# -- Moodle sync: retry list and settings fingerprints (see the StateStore section of the same name)
sync_retry_table = Table(
    "enttui_sync_retry",
    metadata,
    Column("entity", String(16), primary_key=True),
    Column("key_hash", String(64), primary_key=True),  # sha256 of the entry's DN key
    Column("dn", Text, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("since", UTCDateTime, nullable=False),
    Column("run_id", Integer, nullable=True),
)
sync_fingerprints_table = Table(
    "enttui_sync_fingerprints",
    metadata,
    Column("entity", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is expected, not {value!r}")
    return value.astimezone(UTC)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (container, cron without $USER)
        return str(os.getuid())


def _dumps(value: dict[str, Any] | None) -> str:
    return json.dumps(value or {}, ensure_ascii=False, sort_keys=True, default=str)


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def pid_alive(pid: int) -> bool:
    """Is there a process ``pid`` on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _dropped_text(dropped: int, limit: int) -> str:
    what = "ligne de trace non conservée" if dropped == 1 else "lignes de trace non conservées"
    return f"… {dropped} {what} (limite : {limit} lignes par traitement)"


def _local(value: datetime) -> str:
    return value.astimezone().strftime("%d/%m/%Y %H:%M")


def _run_from_row(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        kind=row.kind,
        status=row.status,
        started_at=row.started_at,
        ended_at=row.ended_at,
        user=row.user,
        host=row.host,
        pid=row.pid,
        options=_loads(row.options),
        counts=_loads(row.counts),
        summary=row.summary or "",
        trace_lines=row.trace_count,
        trace_dropped=row.trace_dropped,
    )


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class StateStore:
    """Runs, traces, audit, watermarks, identifier files and per-run journals."""

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
        try:
            self._url = make_url(config.url)
            self.endpoint = self._url.render_as_string(hide_password=True)
        except (ArgumentError, ValueError):
            self._url = None
            self.endpoint = "URL invalide"
        if self._url is not None and self._is_sqlite:
            self.endpoint = self._url.database or ":memory:"

    def __repr__(self) -> str:
        return f"StateStore({self.endpoint!r})"

    @property
    def _is_sqlite(self) -> bool:
        return self._url is not None and self._url.get_backend_name() == "sqlite"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise StateError("Base d'état non ouverte")
        return self._engine

    def now(self) -> datetime:
        return _as_utc(self._clock())

    # -- opening ---------------------------------------------------------------------------

    def _open_sync(self) -> None:
        if self._url is None:
            raise StateError(f"[state] url : URL SQLAlchemy invalide ({self.config.url!r})")
        url = self._url
        kwargs: dict[str, Any] = {}
        if self._is_sqlite:
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
        if self._is_sqlite:
            _sqlite_setup(engine)
        self._engine = engine
        self._write_engine = engine.execution_options(enttui_write=True)
        with self._write_engine.begin() as conn:
            metadata.create_all(conn, checkfirst=True)

    async def open(self) -> None:
        """Create the file's folder (0700) and the tables."""
        if self._engine is not None:
            return
        try:
            await asyncio.to_thread(self._locked_open)
        except StateError:
            raise
        except (OSError, SQLAlchemyError, sqlite3.Error) as exc:
            self._dispose()
            raise StateError(
                f"Base d'état {self.endpoint} inaccessible : {_reason(exc)}", detail=f"{type(exc).__name__}: {exc}"
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
                f"Base d'état {self.endpoint} : {what} impossible ({_reason(exc)})",
                detail=f"{type(exc).__name__}: {exc}",
            ) from None

    # -- runs ------------------------------------------------------------------------------

    async def start_run(self, kind: str, options: dict[str, Any], *, user: str | None = None) -> int:
        if kind not in RUN_KINDS:
            raise ValueError(f"unknown run kind {kind!r}")
        values = {
            "kind": kind,
            "status": RUNNING,
            "started_at": self.now(),
            "user": user or _os_user(),
            "host": self._hostname,
            "pid": os.getpid(),
            "options": _dumps(options),
            "counts": "{}",
            "summary": "",
            "trace_count": 0,
            "trace_dropped": 0,
        }

        def do(conn: Connection) -> int:
            return int(conn.execute(insert(runs_table).values(**values)).inserted_primary_key[0])

        return await self._run(do, write=True, what="enregistrement du traitement")

    async def add_trace(self, run_id: int, lines: Sequence[tuple[str, str, str]]) -> None:
        """Append ``(level, entity, text)`` lines; past the bound, one line counts the dropped ones."""
        if not lines:
            return
        for level, _entity, _text in lines:
            if level not in LEVELS:
                raise ValueError(f"unknown trace level {level!r}")
        at = self.now()
        limit = self.trace_max_lines

        def do(conn: Connection) -> None:
            row = conn.execute(
                select(runs_table.c.trace_count, runs_table.c.trace_dropped).where(runs_table.c.id == run_id)
            ).first()
            if row is None:
                raise StateError(f"Traitement n° {run_id} inconnu dans la base d'état")
            count, dropped = row.trace_count, row.trace_dropped
            room = max(0, limit - count)
            kept = lines[:room]
            new_dropped = len(lines) - len(kept)
            if kept:
                conn.execute(
                    insert(trace_table),
                    [
                        {
                            "run_id": run_id,
                            "seq": count + i + 1,
                            "at": at,
                            "level": level,
                            "entity": redact(entity or ""),
                            "text": redact(text or ""),
                        }
                        for i, (level, entity, text) in enumerate(kept)
                    ],
                )
            conn.execute(
                update(runs_table)
                .where(runs_table.c.id == run_id)
                .values(trace_count=count + len(kept), trace_dropped=dropped + new_dropped)
            )
            if new_dropped:
                total = dropped + new_dropped
                marker = {"at": at, "level": "warning", "entity": "", "text": _dropped_text(total, limit)}
                where = (trace_table.c.run_id == run_id) & (trace_table.c.seq == limit + 1)
                if conn.execute(update(trace_table).where(where).values(**marker)).rowcount == 0:
                    conn.execute(insert(trace_table).values(run_id=run_id, seq=limit + 1, **marker))

        await self._run(do, write=True, what="écriture de la trace")

    async def finish_run(self, run_id: int, status: str, counts: dict[str, Any], summary: str = "") -> None:
        if status not in RUN_STATUSES or status == RUNNING:
            raise ValueError(f"invalid final status {status!r}")
        values = {"status": status, "ended_at": self.now(), "counts": _dumps(counts), "summary": redact(summary)}

        def do(conn: Connection) -> None:
            if conn.execute(update(runs_table).where(runs_table.c.id == run_id).values(**values)).rowcount == 0:
                raise StateError(f"Traitement n° {run_id} inconnu dans la base d'état")

        await self._run(do, write=True, what="clôture du traitement")

    async def mark_interrupted(self, *, dead_kinds: Collection[str] = ()) -> int:
        """Runs "en cours" whose process is gone (this host) or older than a day become "interrompu".

        ``dead_kinds``: kinds whose runs are known dead whatever host wrote them (the caller saw
        their lock free, and holds it or keeps it from being taken while this runs).
        """
        now = self.now()
        host = self._hostname
        dead = set(dead_kinds)

        def do(conn: Connection) -> int:
            rows = conn.execute(
                select(
                    runs_table.c.id, runs_table.c.kind, runs_table.c.host, runs_table.c.pid, runs_table.c.started_at
                ).where(runs_table.c.status == RUNNING)
            ).all()
            done = 0
            for row in rows:
                unlocked = row.kind in dead
                stale = now - row.started_at > STALE_AFTER
                gone = row.host == host and not pid_alive(row.pid)
                if not (unlocked or stale or gone):
                    continue
                if gone or unlocked:
                    why = f"processus {row.pid} disparu sur {row.host}"
                else:
                    why = f"commencé le {_local(row.started_at)}, sans nouvelles depuis plus d'un jour"
                done += conn.execute(
                    update(runs_table)
                    .where((runs_table.c.id == row.id) & (runs_table.c.status == RUNNING))
                    .values(status=INTERRUPTED, ended_at=now, summary=f"Traitement interrompu ({why})")
                ).rowcount
            return done

        return await self._run(do, write=True, what="mise à jour des traitements interrompus")

    async def list_runs(
        self, *, kind: str | None = None, status: str | None = None, limit: int = 200
    ) -> list[RunRecord]:
        query = select(runs_table)
        if kind:
            query = query.where(runs_table.c.kind == kind)
        if status:
            query = query.where(runs_table.c.status == status)
        query = query.order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc()).limit(max(0, limit))

        def do(conn: Connection) -> list[RunRecord]:
            return [_run_from_row(r) for r in conn.execute(query)]

        return await self._run(do, write=False, what="lecture des traitements")

    async def get_run(self, run_id: int) -> RunRecord | None:
        def do(conn: Connection) -> RunRecord | None:
            row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).first()
            return _run_from_row(row) if row is not None else None

        return await self._run(do, write=False, what="lecture du traitement")

    async def last_run(self, kind: str, *, statuses: Sequence[str] | None = None) -> RunRecord | None:
        query = select(runs_table).where(runs_table.c.kind == kind)
        if statuses:
            query = query.where(runs_table.c.status.in_(list(statuses)))
        query = query.order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc()).limit(1)

        def do(conn: Connection) -> RunRecord | None:
            row = conn.execute(query).first()
            return _run_from_row(row) if row is not None else None

        return await self._run(do, write=False, what="lecture du dernier traitement")

    async def trace(
        self, run_id: int, *, search: str | None = None, levels: Sequence[str] | None = None
    ) -> list[TraceLine]:
        """Lines in order; ``search`` matches text or entity, case- and accent-case-insensitively."""
        query = select(
            trace_table.c.seq, trace_table.c.at, trace_table.c.level, trace_table.c.entity, trace_table.c.text
        ).where(trace_table.c.run_id == run_id)
        if levels:
            query = query.where(trace_table.c.level.in_(list(levels)))
        query = query.order_by(trace_table.c.seq)
        needle = search.casefold() if search else ""

        def do(conn: Connection) -> list[TraceLine]:
            out = []
            for r in conn.execute(query):
                if needle and needle not in r.text.casefold() and needle not in r.entity.casefold():
                    continue
                out.append(TraceLine(seq=r.seq, at=r.at, level=r.level, entity=r.entity, text=r.text))
            return out

        return await self._run(do, write=False, what="lecture de la trace")

    async def prune_runs(self, older_than_days: int) -> int:
        """Delete finished runs started more than ``older_than_days`` ago (with traces and journals)."""
        cutoff = self.now() - timedelta(days=older_than_days)

        def do(conn: Connection) -> int:
            ids = [
                r.id
                for r in conn.execute(
                    select(runs_table.c.id).where((runs_table.c.started_at < cutoff) & (runs_table.c.status != RUNNING))
                )
            ]
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                conn.execute(delete(trace_table).where(trace_table.c.run_id.in_(chunk)))
                conn.execute(delete(journal_table).where(journal_table.c.run_id.in_(chunk)))
                conn.execute(delete(runs_table).where(runs_table.c.id.in_(chunk)))
            return len(ids)

        return await self._run(do, write=True, what="purge des traitements")

    # -- audit -----------------------------------------------------------------------------

    async def audit(self, action: str, target: str, detail: str = "", *, user: str | None = None) -> None:
        values = {
            "at": self.now(),
            "user": user or _os_user(),
            "action": action,
            "target": redact(target),
            "detail": redact(detail),
        }

        def do(conn: Connection) -> None:
            conn.execute(insert(audit_table).values(**values))

        await self._run(do, write=True, what="écriture du journal d'audit")

    async def list_audit(
        self, limit: int = 200, *, action: str | None = None, target: str | None = None
    ) -> list[AuditRecord]:
        """The newest audit records first, those of one ``action`` and/or ``target`` if given."""
        query = select(audit_table).order_by(audit_table.c.at.desc(), audit_table.c.id.desc()).limit(max(0, limit))
        if action is not None:
            query = query.where(audit_table.c.action == action)
        if target is not None:
            query = query.where(audit_table.c.target == redact(target))

        def do(conn: Connection) -> list[AuditRecord]:
            return [
                AuditRecord(at=r.at, user=r.user, action=r.action, target=r.target, detail=r.detail)
                for r in conn.execute(query)
            ]

        return await self._run(do, write=False, what="lecture du journal d'audit")

    # -- watermarks ------------------------------------------------------------------------

    async def get_watermark(self, entity: str) -> datetime | None:
        def do(conn: Connection) -> datetime | None:
            return conn.execute(select(watermarks_table.c.value).where(watermarks_table.c.entity == entity)).scalar()

        return await self._run(do, write=False, what="lecture du point de reprise")

    async def set_watermark(self, entity: str, value: datetime, run_id: int | None = None) -> None:
        value = _as_utc(value)

        def do(conn: Connection) -> None:
            where = watermarks_table.c.entity == entity
            if conn.execute(update(watermarks_table).where(where).values(value=value, run_id=run_id)).rowcount == 0:
                conn.execute(insert(watermarks_table).values(entity=entity, value=value, run_id=run_id))

        await self._run(do, write=True, what="écriture du point de reprise")

    # -- identifier files ------------------------------------------------------------------

    async def add_file(self, record: FileRecord) -> None:
        """Index a file (a second record with the same name replaces the first)."""
        values = {
            "kind": record.kind,
            "size": int(record.size),
            "created_at": _as_utc(record.created_at),
            "run_id": record.run_id,
            "user": record.user,
            "uai": record.uai,
            "rows": int(record.rows),
        }

        def do(conn: Connection) -> None:
            where = files_table.c.name == record.name
            if conn.execute(update(files_table).where(where).values(**values)).rowcount == 0:
                conn.execute(insert(files_table).values(name=record.name, **values))

        await self._run(do, write=True, what="indexation du fichier")

    async def list_files(self) -> list[FileRecord]:
        """Newest first."""
        query = select(files_table).order_by(files_table.c.created_at.desc(), files_table.c.name)

        def do(conn: Connection) -> list[FileRecord]:
            return [
                FileRecord(
                    name=r.name,
                    kind=r.kind,
                    size=r.size,
                    created_at=r.created_at,
                    run_id=r.run_id,
                    user=r.user,
                    uai=r.uai,
                    rows=r.rows,
                )
                for r in conn.execute(query)
            ]

        return await self._run(do, write=False, what="lecture de l'index des fichiers")

    async def remove_file(self, name: str) -> None:
        def do(conn: Connection) -> None:
            conn.execute(delete(files_table).where(files_table.c.name == name))

        await self._run(do, write=True, what="retrait du fichier de l'index")

    # -- per-run journal (resumable jobs) --------------------------------------------------

    async def journal_set(self, run_id: int, items: Sequence[tuple[str, str, str]]) -> None:
        """Upsert ``(item_key, status, detail)``; never put a password in ``detail``."""
        if not items:
            return
        at = self.now()
        latest: dict[str, tuple[str, str]] = {}
        for key, status, detail in items:
            latest[key] = (status, redact(detail or ""))

        def do(conn: Connection) -> None:
            keys = list(latest)
            existing: set[str] = set()
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                existing.update(
                    r.item_key
                    for r in conn.execute(
                        select(journal_table.c.item_key).where(
                            (journal_table.c.run_id == run_id) & journal_table.c.item_key.in_(chunk)
                        )
                    )
                )
            new = [
                {"run_id": run_id, "item_key": k, "status": s, "detail": d, "at": at}
                for k, (s, d) in latest.items()
                if k not in existing
            ]
            if new:
                conn.execute(insert(journal_table), new)
            if existing:  # one executemany, not one UPDATE per row
                conn.execute(
                    update(journal_table)
                    .where((journal_table.c.run_id == run_id) & (journal_table.c.item_key == bindparam("k_key")))
                    .values(status=bindparam("k_status"), detail=bindparam("k_detail"), at=at),
                    [{"k_key": k, "k_status": latest[k][0], "k_detail": latest[k][1]} for k in existing],
                )

        try:
            await self._run(do, write=True, what="écriture du journal de reprise")
        except StateError as exc:
            if "IntegrityError" not in (exc.detail or ""):
                raise
            await self._run(do, write=True, what="écriture du journal de reprise")  # lost an insert race: once more

    async def journal_latest(self, kind: str, key_prefix: str) -> dict[str, str]:
        """The latest status of every journal key starting with ``key_prefix``, across the runs of
        ``kind`` (e.g. which Moodle users the sync itself suspended)."""
        j, r = journal_table, runs_table
        query = (
            select(j.c.item_key, j.c.status)
            .join(r, r.c.id == j.c.run_id)
            .where(r.c.kind == kind, j.c.item_key.startswith(key_prefix, autoescape=True))
            .order_by(j.c.at, j.c.id)
        )

        def do(conn: Connection) -> dict[str, str]:
            return {key: status for key, status in conn.execute(query)}

        return await self._run(do, write=False, what="lecture du journal")

    async def journal_get(self, run_id: int) -> dict[str, tuple[str, str]]:
        query = select(journal_table.c.item_key, journal_table.c.status, journal_table.c.detail).where(
            journal_table.c.run_id == run_id
        )

        def do(conn: Connection) -> dict[str, tuple[str, str]]:
            return {r.item_key: (r.status, r.detail) for r in conn.execute(query)}

        return await self._run(do, write=False, what="lecture du journal de reprise")

    # -- Moodle sync: retry list and settings fingerprints --------------------------------
    # The retry list holds, per entity, the directory entries whose last processing ended in an
    # error (a clash, a missing course…): normal runs re-read them until they succeed or leave the
    # directory. A watermark is valid only with the fingerprint of the settings it was taken with.

    async def sync_retry(self, entity: str) -> list[RetryEntry]:
        t = sync_retry_table
        query = select(t.c.dn, t.c.reason, t.c.since).where(t.c.entity == entity).order_by(t.c.since, t.c.dn)

        def do(conn: Connection) -> list[RetryEntry]:
            return [RetryEntry(r.dn, r.reason, r.since) for r in conn.execute(query)]

        return await self._run(do, write=False, what="lecture de la liste de reprise")

    async def set_sync_retry(
        self,
        entity: str,
        failed: Sequence[tuple[str, str]],
        *,
        examined: Sequence[str] | None,
        run_id: int | None = None,
    ) -> None:
        """``failed``: (DN, reason) of this run's errors. ``examined``: DNs this run re-read (their old
        entries go, unless they failed again); None: the run read everything, the list is replaced."""
        t = sync_retry_table
        at = self.now()

        def key(dn: str) -> str:
            return hashlib.sha256(lookup_key(dn).encode()).hexdigest()

        rows = {key(dn): {"dn": dn, "reason": redact(reason)} for dn, reason in failed}

        def do(conn: Connection) -> None:
            kept: dict[str, Any] = {}  # entries failing again keep the date of their first failure
            hashes = list(rows)
            for start in range(0, len(hashes), _CHUNK):
                chunk = hashes[start : start + _CHUNK]
                q = select(t.c.key_hash, t.c.since).where(t.c.entity == entity, t.c.key_hash.in_(chunk))
                kept.update({r.key_hash: r.since for r in conn.execute(q)})
            if examined is None:
                conn.execute(delete(t).where(t.c.entity == entity))
            else:
                gone = list({key(dn) for dn in examined} | set(kept))
                for start in range(0, len(gone), _CHUNK):
                    chunk = gone[start : start + _CHUNK]
                    conn.execute(delete(t).where(t.c.entity == entity, t.c.key_hash.in_(chunk)))
            if rows:
                conn.execute(
                    insert(t),
                    [
                        {"entity": entity, "key_hash": h, **v, "since": kept.get(h, at), "run_id": run_id}
                        for h, v in rows.items()
                    ],
                )

        await self._run(do, write=True, what="écriture de la liste de reprise")

    async def sync_mark(self, entity: str, fingerprint: str) -> datetime | None:
        """The watermark of ``entity``, or None when there is none or it was taken with other settings."""
        w, f = watermarks_table, sync_fingerprints_table

        def do(conn: Connection) -> datetime | None:
            stored = conn.execute(select(f.c.fingerprint).where(f.c.entity == entity)).scalar()
            if stored != fingerprint:
                return None
            return conn.execute(select(w.c.value).where(w.c.entity == entity)).scalar()

        return await self._run(do, write=False, what="lecture du point de reprise")

    async def sync_fingerprint(self, entity: str) -> str | None:
        f = sync_fingerprints_table
        query = select(f.c.fingerprint).where(f.c.entity == entity)
        return await self._run(lambda conn: conn.execute(query).scalar(), write=False, what="lecture des réglages")

    async def set_sync_mark(self, entity: str, value: datetime, fingerprint: str, run_id: int | None = None) -> None:
        """Watermark and settings fingerprint of ``entity``, in one transaction."""
        w, f = watermarks_table, sync_fingerprints_table
        value = _as_utc(value)

        def do(conn: Connection) -> None:
            if conn.execute(update(w).where(w.c.entity == entity).values(value=value, run_id=run_id)).rowcount == 0:
                conn.execute(insert(w).values(entity=entity, value=value, run_id=run_id))
            if conn.execute(update(f).where(f.c.entity == entity).values(fingerprint=fingerprint)).rowcount == 0:
                conn.execute(insert(f).values(entity=entity, fingerprint=fingerprint))

        await self._run(do, write=True, what="écriture du point de reprise")

    # -- health ----------------------------------------------------------------------------

    async def health(self) -> SystemHealth:
        name, key = "Base d'état", "state"
        start = time.perf_counter()
        try:
            await self.open()

            def do(conn: Connection) -> tuple[int, Any, int, str]:
                runs = conn.execute(select(func.count()).select_from(runs_table)).scalar() or 0
                last = conn.execute(
                    select(runs_table.c.started_at, runs_table.c.status)
                    .where(runs_table.c.kind == "sync")
                    .order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc())
                    .limit(1)
                ).first()
                files = conn.execute(select(func.count()).select_from(files_table)).scalar() or 0
                if self._is_sqlite:
                    version = f"SQLite {sqlite3.sqlite_version}"
                else:
                    info = conn.dialect.server_version_info or ()
                    version = f"{conn.dialect.name} {'.'.join(str(p) for p in info)}".strip()
                return int(runs), last, int(files), version

            runs, last, files, version = await self._run(do, write=False, what="lecture")
        except Exception as exc:  # noqa: BLE001 - health never raises
            message = exc.message if isinstance(exc, StateError) else f"erreur inattendue ({type(exc).__name__})"
            return SystemHealth(name=name, key=key, ok=False, endpoint=self.endpoint, message=message)
        last_text = f"{_local(last.started_at)} ({last.status})" if last is not None else "aucune"
        return SystemHealth(
            name=name,
            key=key,
            ok=True,
            latency_ms=(time.perf_counter() - start) * 1000.0,
            version=version,
            endpoint=self.endpoint,
            counts={"traitements": runs, "dernière synchronisation": last_text, "fichiers d'identifiants": files},
        )


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


def _reason(exc: BaseException) -> str:
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
