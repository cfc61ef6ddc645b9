"""The state store's records: what its reads return (frozen values, datetimes aware in UTC)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from enttui.domain.runs import RunKind, RunStatus

__all__ = ["AuditRecord", "FileRecord", "RetryEntry", "RunRecord", "TraceLine", "dumps", "loads", "run_from_row"]


@dataclass(frozen=True)
class RunRecord:
    id: int
    kind: RunKind
    status: RunStatus
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


def dumps(value: dict[str, Any] | None) -> str:
    return json.dumps(value or {}, ensure_ascii=False, sort_keys=True, default=str)


def loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def run_from_row(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        kind=RunKind(row.kind),
        status=RunStatus(row.status),
        started_at=row.started_at,
        ended_at=row.ended_at,
        user=row.user,
        host=row.host,
        pid=row.pid,
        options=loads(row.options),
        counts=loads(row.counts),
        summary=row.summary or "",
        trace_lines=row.trace_count,
        trace_dropped=row.trace_dropped,
    )
