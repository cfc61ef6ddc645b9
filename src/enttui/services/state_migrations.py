"""The state store's schema version and the ordered steps that bring a store up to date.

``enttui_schema`` holds one row: the number of steps applied. A store of 0.1.0 (before this table)
is recognised by its tables and counts as version 1. Opening a store applies the missing steps in
order, in the transaction of the opening, with the version written after each step; a store whose
version is newer than this code is refused (an older enttui must not write into it).

Two processes opening the same store at once do not both migrate: SQLite's write transaction
starts with ``BEGIN IMMEDIATE`` (the second waits for the first to commit), PostgreSQL takes a
transaction-level advisory lock, MySQL/MariaDB a named lock. The second one then finds the store
up to date.

Rules for a new step: append it, never edit a released one; write its DDL with its own frozen
table definitions (not those of :mod:`enttui.services.state_tables`, which keep moving); then
change ``state_tables`` to match. A test checks that the steps end with ``state_tables``' schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine

from enttui.errors import StateError
from enttui.services.state_tables import schema_table

__all__ = ["SCHEMA_VERSION", "STEPS", "Step", "bring_up_to_date", "stored_version", "upgrade"]

LOCK_TIMEOUT_S = 60
_PG_LOCK_KEY = 0x656E_7474_7569  # "enttui": the advisory lock of the schema
_MYSQL_LOCK_NAME = "enttui_schema"


@dataclass(frozen=True)
class Step:
    version: int
    what: str  # French, for the trace of an upgrade
    apply: Callable[[Connection], None]


# --------------------------------------------------------------------------------------------
# The steps (frozen: each one creates what it created when it was released)
# --------------------------------------------------------------------------------------------


def _step_1_release_0_1_0(conn: Connection) -> None:
    """The tables of 0.1.0: runs, trace, audit, watermarks, identifier files, journal."""
    m = MetaData()
    Table(
        "enttui_runs",
        m,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(32), nullable=False),
        Column("status", String(32), nullable=False),
        Column("started_at", DateTime, nullable=False),
        Column("ended_at", DateTime, nullable=True),
        Column("user", String(128), nullable=False),
        Column("host", String(255), nullable=False),
        Column("pid", Integer, nullable=False),
        Column("options", Text, nullable=False),
        Column("counts", Text, nullable=False),
        Column("summary", Text, nullable=False),
        Column("trace_count", Integer, nullable=False),
        Column("trace_dropped", Integer, nullable=False),
        Index("ix_enttui_runs_kind_started", "kind", "started_at"),
        Index("ix_enttui_runs_status", "status"),
    )
    Table(
        "enttui_trace",
        m,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", Integer, ForeignKey("enttui_runs.id", ondelete="CASCADE"), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("at", DateTime, nullable=False),
        Column("level", String(16), nullable=False),
        Column("entity", String(128), nullable=False),
        Column("text", Text, nullable=False),
        UniqueConstraint("run_id", "seq", name="uq_enttui_trace_run_seq"),
    )
    Table(
        "enttui_audit",
        m,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", DateTime, nullable=False),
        Column("user", String(128), nullable=False),
        Column("action", String(128), nullable=False),
        Column("target", String(512), nullable=False),
        Column("detail", Text, nullable=False),
        Index("ix_enttui_audit_at", "at"),
    )
    Table(
        "enttui_watermarks",
        m,
        Column("entity", String(64), primary_key=True),
        Column("value", DateTime, nullable=False),
        Column("run_id", Integer, nullable=True),
    )
    Table(
        "enttui_files",
        m,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("name", String(255), nullable=False, unique=True),
        Column("kind", String(64), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("run_id", Integer, nullable=True),
        Column("user", String(128), nullable=False),
        Column("uai", String(16), nullable=False),
        Column("rows", Integer, nullable=False),
    )
    Table(
        "enttui_journal",
        m,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("run_id", Integer, ForeignKey("enttui_runs.id", ondelete="CASCADE"), nullable=False),
        Column("item_key", String(255), nullable=False),
        Column("status", String(32), nullable=False),
        Column("detail", Text, nullable=False),
        Column("at", DateTime, nullable=False),
        UniqueConstraint("run_id", "item_key", name="uq_enttui_journal_run_item"),
    )
    m.create_all(conn, checkfirst=True)


def _step_2_sync_retry(conn: Connection) -> None:
    """The Moodle sync's retry list and settings fingerprints (after 0.1.0).

    ``checkfirst``: stores written by a build between 0.1.0 and the schema version already have them.
    """
    m = MetaData()
    Table(
        "enttui_sync_retry",
        m,
        Column("entity", String(16), primary_key=True),
        Column("key_hash", String(64), primary_key=True),
        Column("dn", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("since", DateTime, nullable=False),
        Column("run_id", Integer, nullable=True),
    )
    Table(
        "enttui_sync_fingerprints",
        m,
        Column("entity", String(64), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
    )
    m.create_all(conn, checkfirst=True)


STEPS: tuple[Step, ...] = (
    Step(1, "tables de la version 0.1.0", _step_1_release_0_1_0),
    Step(2, "liste de reprise et empreintes des réglages de la synchronisation", _step_2_sync_retry),
)
SCHEMA_VERSION = STEPS[-1].version
assert [s.version for s in STEPS] == list(range(1, SCHEMA_VERSION + 1)), "steps numbered 1, 2, 3…"


# --------------------------------------------------------------------------------------------
# Version and upgrade
# --------------------------------------------------------------------------------------------


def stored_version(conn: Connection) -> int:
    """The store's schema version: 0 for an empty database, 1 for a store of 0.1.0."""
    inspector = inspect(conn)
    if inspector.has_table(schema_table.name):
        version = conn.execute(select(schema_table.c.version).where(schema_table.c.id == 1)).scalar()
        if version is not None:
            return int(version)
    if inspector.has_table("enttui_runs"):
        return 1  # 0.1.0 had no version table
    return 0


def bring_up_to_date(write_engine: Engine) -> tuple[int, int]:
    """Open a write transaction and :func:`upgrade` in it; (version found, version now).

    MySQL/MariaDB commit every DDL statement at once: there the named lock is taken before the
    transaction and released after its commit, so that the next opener sees the version written.
    """
    with write_engine.connect() as conn:
        named = conn.dialect.name in ("mysql", "mariadb")
        if named:
            got = conn.execute(
                text("SELECT GET_LOCK(:name, :timeout)"), {"name": _MYSQL_LOCK_NAME, "timeout": LOCK_TIMEOUT_S}
            ).scalar()
            conn.commit()
            if got != 1:
                raise StateError("Base d'état occupée : une autre ouverture la met à jour, réessayez")
        try:
            with conn.begin():
                return upgrade(conn)
        finally:
            if named:
                conn.rollback()  # whatever a failed step left, before the lock goes
                conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _MYSQL_LOCK_NAME})
                conn.commit()


def upgrade(conn: Connection) -> tuple[int, int]:
    """Apply the missing steps in order, in the caller's write transaction; (version found, version now).

    SQLite: the write transaction (``BEGIN IMMEDIATE``) keeps other openers out; PostgreSQL: a
    transaction-level advisory lock; MySQL/MariaDB: see :func:`bring_up_to_date`.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    found = stored_version(conn)
    if found > SCHEMA_VERSION:
        raise StateError(
            f"Base d'état en version {found}, plus récente que ce logiciel ({SCHEMA_VERSION}) : mettez enttui à jour"
        )
    if found == SCHEMA_VERSION:
        return found, found
    schema_table.create(conn, checkfirst=True)
    for step in STEPS[found:]:
        step.apply(conn)
        _set_version(conn, step.version)
    return found, SCHEMA_VERSION


def _set_version(conn: Connection, version: int) -> None:
    where = schema_table.c.id == 1
    if conn.execute(update(schema_table).where(where).values(version=version)).rowcount == 0:
        conn.execute(insert(schema_table).values(id=1, version=version))
