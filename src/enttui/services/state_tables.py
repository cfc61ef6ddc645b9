"""The state store's tables as this version of enttui uses them.

Changing a table here needs a migration step in :mod:`enttui.services.state_migrations` (a new
step, never an edit of an old one): existing installations only get what the steps create.
``tests/services/test_state_migrations.py`` checks that the steps end with these very tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UTCDateTime",
    "audit_table",
    "files_table",
    "journal_table",
    "metadata",
    "runs_table",
    "schema_table",
    "sync_fingerprints_table",
    "sync_retry_table",
    "trace_table",
    "watermarks_table",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, stored as naive UTC, aware UTC out (on every backend)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime refused by the state store: {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"the state store holds a datetime, not {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

# One row: the version of the schema (the number of migration steps applied).
schema_table = Table(
    "enttui_schema",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

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
