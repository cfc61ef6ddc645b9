"""The Moodle sync's marks in the state store: watermarks, settings fingerprints and the retry list.

A watermark says up to when an entity's directory entries were synced; it is valid only with the
fingerprint of the settings it was taken with. The retry list holds, per entity, the directory
entries whose last processing ended in an error (a clash, a missing course…): normal runs re-read
them until they succeed or leave the directory. :class:`enttui.services.state.StateStore` is built
on this layer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from enttui.domain.dn import lookup_key
from enttui.errors import redact
from enttui.services.state_base import StoreBase, as_utc
from enttui.services.state_records import RetryEntry
from enttui.services.state_tables import sync_fingerprints_table, sync_retry_table, watermarks_table

_CHUNK = 500  # keys per IN (...) clause


class SyncMarks(StoreBase):
    """Watermarks, fingerprints and retry lists of the Moodle sync (one transaction per call)."""

    # -- watermarks ------------------------------------------------------------------------

    async def get_watermark(self, entity: str) -> datetime | None:
        def do(conn: Connection) -> datetime | None:
            return conn.execute(select(watermarks_table.c.value).where(watermarks_table.c.entity == entity)).scalar()

        return await self._run(do, write=False, what="lecture du point de reprise")

    async def set_watermark(self, entity: str, value: datetime, run_id: int | None = None) -> None:
        value = as_utc(value)

        def do(conn: Connection) -> None:
            where = watermarks_table.c.entity == entity
            if conn.execute(update(watermarks_table).where(where).values(value=value, run_id=run_id)).rowcount == 0:
                conn.execute(insert(watermarks_table).values(entity=entity, value=value, run_id=run_id))

        await self._run(do, write=True, what="écriture du point de reprise")

    # -- retry list and settings fingerprints ------------------------------------------

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
        value = as_utc(value)

        def do(conn: Connection) -> None:
            if conn.execute(update(w).where(w.c.entity == entity).values(value=value, run_id=run_id)).rowcount == 0:
                conn.execute(insert(w).values(entity=entity, value=value, run_id=run_id))
            if conn.execute(update(f).where(f.c.entity == entity).values(fingerprint=fingerprint)).rowcount == 0:
                conn.execute(insert(f).values(entity=entity, fingerprint=fingerprint))

        await self._run(do, write=True, what="écriture du point de reprise")
