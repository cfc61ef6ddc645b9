"""The console's own records: runs and their traces, audit, watermarks, identifier files, journals.

SQLAlchemy Core on a SQLite file by default (any SQLAlchemy URL works: PostgreSQL, MySQL/MariaDB).
The tables are in :mod:`enttui.services.state_tables`, the steps that bring an existing store up to
date in :mod:`enttui.services.state_migrations`, the engine (SQLite in WAL mode, ``BEGIN IMMEDIATE``
for writes, so the console and a cron job can share the file) in :mod:`enttui.services.state_engine`,
opening and transactions in :mod:`enttui.services.state_base`, the records the reads return in
:mod:`enttui.services.state_records`, the Moodle sync's watermarks and retry lists in
:mod:`enttui.services.state_sync`. Every blocking call runs in :func:`asyncio.to_thread`.

Datetimes are stored in UTC and returned timezone-aware (UTC). Nothing here ever holds a password:
free texts (trace, audit, journal, summary) also go through :func:`enttui.errors.redact`.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from enttui.domain.health import SystemHealth
from enttui.domain.runs import RunKind, RunStatus
from enttui.errors import StateError, redact
from enttui.services.state_base import DEFAULT_TRACE_MAX_LINES, as_utc
from enttui.services.state_engine import BUSY_TIMEOUT_S
from enttui.services.state_migrations import SCHEMA_VERSION, STEPS
from enttui.services.state_records import (
    AuditRecord,
    FileRecord,
    RetryEntry,
    RunRecord,
    TraceLine,
    dumps,
    run_from_row,
)
from enttui.services.state_sync import SyncMarks
from enttui.services.state_tables import (
    audit_table,
    files_table,
    journal_table,
    metadata,
    runs_table,
    trace_table,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "DEFAULT_TRACE_MAX_LINES",
    "INTERRUPTED",
    "LEVELS",
    "RUNNING",
    "RUN_KINDS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "SIMULATED",
    "SUCCESS",
    "WITH_ERRORS",
    "AuditRecord",
    "FileRecord",
    "RetryEntry",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "StateStore",
    "TraceLine",
    "metadata",
    "runs_table",
]

# The kinds and statuses are the domain's (enttui.domain.runs); these names stay for the callers.
RUN_KINDS: tuple[RunKind, ...] = tuple(RunKind)
RUN_STATUSES: tuple[RunStatus, ...] = tuple(RunStatus)
RUNNING = RunStatus.RUNNING
_RUNNING = RunStatus.RUNNING.value  # what queries bind (a plain str, for every driver)
SUCCESS = RunStatus.SUCCESS
WITH_ERRORS = RunStatus.WITH_ERRORS
INTERRUPTED = RunStatus.INTERRUPTED
SIMULATED = RunStatus.SIMULATED
LEVELS = ("info", "detail", "change", "warning", "error")
KEPT_PAST_BOUND = frozenset({"warning", "error"})  # still kept past trace_max_lines (see add_trace)

STALE_AFTER = timedelta(days=1)
# One journal row, inserted or brought up to date (SQLite >= 3.24; the unique key is (run_id, item_key)).
_JOURNAL_UPSERT = (
    "INSERT INTO enttui_journal (run_id, item_key, status, detail, at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, item_key) DO UPDATE SET status = excluded.status, detail = excluded.detail, at = excluded.at"
)
_CHUNK = 500


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (container, cron without $USER)
        return str(os.getuid())


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
    return f"… {dropped} {what} (limite : {limit} lignes par traitement ; erreurs et avertissements gardés)"


def _local(value: datetime) -> str:
    return value.astimezone().strftime("%d/%m/%Y %H:%M")


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


class StateStore(SyncMarks):
    """Runs, traces, audit, watermarks, identifier files and per-run journals."""

    _upgrade_audited = False
    _journal_sql: tuple[str, Callable[[datetime], Any]] | Literal[False] | None = None  # see _journal_upsert

    async def open(self) -> None:
        """Open (see :meth:`StoreBase.open`); an upgrade of an existing store goes to the audit."""
        await super().open()
        found = self.upgraded_from
        if found and not self._upgrade_audited:  # None: up to date, 0: a new store
            self._upgrade_audited = True
            steps = " ; ".join(step.what for step in STEPS[found:])
            await self.audit(
                "base.mise_a_jour", f"schéma en version {SCHEMA_VERSION}", f"depuis la version {found} : {steps}"
            )

    # -- runs ------------------------------------------------------------------------------

    async def start_run(self, kind: RunKind | str, options: dict[str, Any], *, user: str | None = None) -> int:
        if kind not in RUN_KINDS:
            raise ValueError(f"unknown run kind {kind!r}")
        values = {
            "kind": RunKind(kind).value,
            "status": _RUNNING,
            "started_at": self.now(),
            "user": user or _os_user(),
            "host": self._hostname,
            "pid": os.getpid(),
            "options": dumps(options),
            "counts": "{}",
            "summary": "",
            "trace_count": 0,
            "trace_dropped": 0,
        }

        def do(conn: Connection) -> int:
            key = conn.execute(insert(runs_table).values(**values)).inserted_primary_key
            if key is None:
                raise StateError("Base d'état : le traitement enregistré n'a pas reçu de numéro")
            return int(key[0])

        return await self._run(do, write=True, what="enregistrement du traitement")

    async def add_trace(self, run_id: int, lines: Sequence[tuple[str, str, str]]) -> None:
        """Append ``(level, entity, text)`` lines, the first ``trace_max_lines`` of a run whatever
        their level; past that bound, its errors and warnings still (up to as many again: a run of
        a million creations keeps the failures that came late), and one line counts the dropped
        ones (at seq bound + 1, before the errors kept past the bound)."""
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
            kept = list(lines[:room])
            rest = lines[room:]
            late_room = max(0, 2 * limit - max(count, limit))
            late = [line for line in rest if line[0] in KEPT_PAST_BOUND][:late_room]
            new_dropped = len(rest) - len(late)
            # seq: 1..limit for the first lines, limit + 1 for the marker, then the late ones
            numbered = [(count + i + 1, line) for i, line in enumerate(kept)]
            numbered += [(max(count, limit) + i + 2, line) for i, line in enumerate(late)]
            if numbered:
                conn.execute(
                    insert(trace_table),
                    [
                        {
                            "run_id": run_id,
                            "seq": seq,
                            "at": at,
                            "level": level,
                            "entity": redact(entity or ""),
                            "text": redact(text or ""),
                        }
                        for seq, (level, entity, text) in numbered
                    ],
                )
            conn.execute(
                update(runs_table)
                .where(runs_table.c.id == run_id)
                .values(trace_count=count + len(numbered), trace_dropped=dropped + new_dropped)
            )
            if new_dropped:
                total = dropped + new_dropped
                marker = {"at": at, "level": "warning", "entity": "", "text": _dropped_text(total, limit)}
                where = (trace_table.c.run_id == run_id) & (trace_table.c.seq == limit + 1)
                if conn.execute(update(trace_table).where(where).values(**marker)).rowcount == 0:
                    conn.execute(insert(trace_table).values(run_id=run_id, seq=limit + 1, **marker))

        await self._run(do, write=True, what="écriture de la trace")

    async def finish_run(self, run_id: int, status: RunStatus | str, counts: dict[str, Any], summary: str = "") -> None:
        if status not in RUN_STATUSES or status == RUNNING:
            raise ValueError(f"invalid final status {status!r}")
        values = {
            "status": RunStatus(status).value,
            "ended_at": self.now(),
            "counts": dumps(counts),
            "summary": redact(summary),
        }

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
                ).where(runs_table.c.status == _RUNNING)
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
                    .where((runs_table.c.id == row.id) & (runs_table.c.status == _RUNNING))
                    .values(status=INTERRUPTED.value, ended_at=now, summary=f"Traitement interrompu ({why})")
                ).rowcount
            return done

        return await self._run(do, write=True, what="mise à jour des traitements interrompus")

    async def list_runs(
        self, *, kind: RunKind | str | None = None, status: RunStatus | str | None = None, limit: int = 200
    ) -> list[RunRecord]:
        query = select(runs_table)
        if kind:
            query = query.where(runs_table.c.kind == str(kind))
        if status:
            query = query.where(runs_table.c.status == str(status))
        query = query.order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc()).limit(max(0, limit))

        def do(conn: Connection) -> list[RunRecord]:
            return [run_from_row(r) for r in conn.execute(query)]

        return await self._run(do, write=False, what="lecture des traitements")

    async def get_run(self, run_id: int) -> RunRecord | None:
        def do(conn: Connection) -> RunRecord | None:
            row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).first()
            return run_from_row(row) if row is not None else None

        return await self._run(do, write=False, what="lecture du traitement")

    async def last_run(
        self, kind: RunKind | str, *, statuses: Sequence[RunStatus | str] | None = None
    ) -> RunRecord | None:
        query = select(runs_table).where(runs_table.c.kind == str(kind))
        if statuses:
            query = query.where(runs_table.c.status.in_([str(s) for s in statuses]))
        query = query.order_by(runs_table.c.started_at.desc(), runs_table.c.id.desc()).limit(1)

        def do(conn: Connection) -> RunRecord | None:
            row = conn.execute(query).first()
            return run_from_row(row) if row is not None else None

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
                    select(runs_table.c.id).where(
                        (runs_table.c.started_at < cutoff) & (runs_table.c.status != _RUNNING)
                    )
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

    # -- identifier files ------------------------------------------------------------------

    async def add_file(self, record: FileRecord) -> None:
        """Index a file (a second record with the same name replaces the first)."""
        values = {
            "kind": record.kind,
            "size": int(record.size),
            "created_at": as_utc(record.created_at),
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
        """Upsert ``(item_key, status, detail)``; never put a password in ``detail``.

        On SQLite (3.24 or later) one prepared ``INSERT … ON CONFLICT DO UPDATE`` runs for all the
        items (a diffusion commits thousands of small batches: about 0.1 ms each instead of about
        1 ms through a SELECT of the existing keys and an UPDATE built by SQLAlchemy); other
        databases take the portable path. Same transaction either way (``BEGIN IMMEDIATE``).
        """
        if not items:
            return
        at = self.now()
        latest: dict[str, tuple[str, str]] = {}
        for key, status, detail in items:
            latest[key] = (status, redact(detail) if detail else "")
        upsert = self._journal_upsert()
        if upsert is not None:
            sql, at_bind = upsert
            stamp = at_bind(at)
            rows = [(run_id, k, s, d, stamp) for k, (s, d) in latest.items()]

            def fast(conn: Connection) -> None:
                conn.connection.driver_connection.executemany(sql, rows)  # type: ignore[union-attr]

            await self._run(fast, write=True, what="écriture du journal de reprise")
            return

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

    def _journal_upsert(self) -> tuple[str, Callable[[datetime], Any]] | None:
        """The SQLite upsert of journal rows and the converter of its ``at`` (None: not SQLite,
        or a SQLite older than 3.24, without ``ON CONFLICT``)."""
        if self._journal_sql is None:
            found: tuple[str, Callable[[datetime], Any]] | None = None
            if self._is_sqlite and sqlite3.sqlite_version_info >= (3, 24):
                dialect = self.engine.dialect
                process = journal_table.c.at.type.dialect_impl(dialect).bind_processor(dialect)
                found = (_JOURNAL_UPSERT, process if process is not None else (lambda value: value))
            self._journal_sql = found or False
        return self._journal_sql if isinstance(self._journal_sql, tuple) else None

    async def journal_latest(self, kind: str, key_prefix: str) -> dict[str, str]:
        """The latest status of every journal key starting with ``key_prefix``, across the runs of
        ``kind`` (e.g. which Moodle users the sync itself suspended)."""
        j, r = journal_table, runs_table
        query = (
            select(j.c.item_key, j.c.status)
            .join(r, r.c.id == j.c.run_id)
            .where(r.c.kind == str(kind), j.c.item_key.startswith(key_prefix, autoescape=True))
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
