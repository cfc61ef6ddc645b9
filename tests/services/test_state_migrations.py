"""The state store's schema version: a store of 0.1.0 (tests/data/state-0.1.0.sql) is brought up
to date when it is opened, on SQLite, PostgreSQL and MariaDB; a newer store is refused."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, make_url, text, update
from sqlalchemy.engine import Connection

from enttui.config import StateConfig
from enttui.errors import StateError
from enttui.services.state import FileRecord, StateStore
from enttui.services.state_migrations import SCHEMA_VERSION, STEPS, stored_version
from enttui.services.state_tables import metadata, schema_table

DUMP = Path(__file__).parents[1] / "data" / "state-0.1.0.sql"
AT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ID_TABLES = ("enttui_runs", "enttui_trace", "enttui_audit", "enttui_files", "enttui_journal")


# --------------------------------------------------------------------------------------------
# Loading the 0.1.0 dump (a SQLite .dump) into each engine, as 0.1.0 would have created it there
# --------------------------------------------------------------------------------------------


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";\n") if s.strip() and not s.strip().startswith("PRAGMA")]


def _for_postgres(sql: str) -> str:
    sql = sql.replace("DATETIME", "TIMESTAMP WITHOUT TIME ZONE")
    sql = re.sub(r"^\tuser ", '\t"user" ', sql, flags=re.M)
    return re.sub(r"^\tid INTEGER NOT NULL", "\tid SERIAL NOT NULL", sql, flags=re.M)


def _for_mariadb(sql: str) -> str:
    sql = sql.replace("BEGIN TRANSACTION", "START TRANSACTION")
    sql = re.sub(r"^\t(user|rows) ", r"\t`\1` ", sql, flags=re.M)
    return re.sub(r"^\tid INTEGER NOT NULL", "\tid INTEGER NOT NULL AUTO_INCREMENT", sql, flags=re.M)


def load_0_1_0(url: str) -> None:
    sql = DUMP.read_text(encoding="utf-8")
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        with sqlite3.connect(make_url(url).database or "") as db:
            db.executescript(sql)
        return
    sql = _for_postgres(sql) if backend == "postgresql" else _for_mariadb(sql)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for statement in _statements(sql):
                conn.exec_driver_sql(statement)
            conn.commit()
            if backend == "postgresql":  # the serials go on after the rows, as they did in 0.1.0
                for table in ID_TABLES:
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                conn.commit()
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database on each engine (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    server = request.getfixturevalue("postgres_server" if request.param == "postgresql" else "mariadb_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(make_url(url).database or "")


def _with_engine(url: str, fn: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return fn(conn)
    finally:
        engine.dispose()


def _schema(conn: Connection) -> dict[str, Any]:
    """Tables, columns (type, nullability), indexes, unique constraints and foreign keys."""
    inspector = inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(t for t in inspector.get_table_names() if t.startswith("enttui_")):
        out[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
                if not i.get("duplicates_constraint")
            ),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], (f.get("options") or {}).get("ondelete"))
                for f in inspector.get_foreign_keys(table)
            ),
        }
    return out


# --------------------------------------------------------------------------------------------
# The steps
# --------------------------------------------------------------------------------------------


def test_steps_are_numbered_in_order() -> None:
    assert [s.version for s in STEPS] == list(range(1, SCHEMA_VERSION + 1))
    assert SCHEMA_VERSION >= 2 and all(s.what for s in STEPS)


def test_step_1_is_the_0_1_0_schema(tmp_path: Path) -> None:
    """The first step creates exactly the tables of the 0.1.0 dump (SQLite)."""
    dumped, stepped = f"sqlite:///{tmp_path / 'dump.db'}", f"sqlite:///{tmp_path / 'step1.db'}"
    load_0_1_0(dumped)
    _with_engine(stepped, STEPS[0].apply)
    assert _with_engine(stepped, _schema) == _with_engine(dumped, _schema)
    assert _with_engine(dumped, stored_version) == 1


async def test_steps_end_with_the_current_tables(empty_url: str) -> None:
    """A store brought up by the steps has the tables of state_tables, nothing more, nothing less."""
    store = StateStore(StateConfig(url=empty_url))
    await store.open()
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert store.upgraded_from == 0
    finally:
        await store.close()
    migrated = _with_engine(empty_url, _schema)
    _with_engine(empty_url, lambda conn: metadata.drop_all(conn))
    _with_engine(empty_url, lambda conn: metadata.create_all(conn))
    assert migrated == _with_engine(empty_url, _schema)


# --------------------------------------------------------------------------------------------
# A store of 0.1.0, opened by this version
# --------------------------------------------------------------------------------------------


async def test_store_of_0_1_0_is_brought_up_to_date(empty_url: str) -> None:
    load_0_1_0(empty_url)
    assert _with_engine(empty_url, stored_version) == 1
    store = StateStore(StateConfig(url=empty_url))
    await store.open()
    try:
        assert store.upgraded_from == 1
        assert await store.schema_version() == SCHEMA_VERSION

        # the old records read as they were written
        runs = await store.list_runs()
        assert [(r.id, r.kind, r.status) for r in runs] == [
            (3, "regeneration", "en cours"),
            (2, "diffusion", "réussi"),
            (1, "sync", "réussi"),
        ]
        sync = await store.get_run(1)
        assert sync is not None
        assert sync.started_at == AT and sync.user == "admin" and sync.host == "ent-server"
        assert sync.options["users"] is True and sync.counts == {"users": {"created": 1, "updated": 0}}
        assert [(t.seq, t.level, t.text) for t in await store.trace(1)] == [
            (1, "info", "Lecture de l'annuaire"),
            (2, "change", "création de jean.martin"),
        ]
        assert await store.list_files() == [
            FileRecord("Identifiants-non-envoyes-20261120_080000.csv", "diffusion", 321, AT, 2, "admin", "0123456A", 1)
        ]
        upgrade, old = await store.list_audit()
        assert (upgrade.action, upgrade.target) == ("base.mise_a_jour", f"schéma en version {SCHEMA_VERSION}")
        assert upgrade.detail.startswith("depuis la version 1 : liste de reprise")
        assert (old.action, old.at, old.user) == ("fichier.generation", AT, "root")
        assert await store.get_watermark("users") == AT
        assert (await store.journal_get(2))["uid=b,ou=people,dc=ent,dc=test"] == ("in_file", "pas d'adresse")

        # new records go in, in the old tables and the new ones
        run_id = await store.start_run("sync", {"users": True}, user="admin")
        assert run_id == 4
        await store.add_trace(run_id, [("info", "users", "Lecture de l'annuaire")])
        await store.set_sync_retry("users", [("uid=x,ou=people,dc=ent,dc=test", "conflit")], examined=None)
        await store.set_sync_mark("users", AT, "empreinte", run_id)
        await store.finish_run(run_id, "avec erreurs", {"users": {"errors": 1}}, "1 erreur")
        await store.add_file(FileRecord("nouveau.csv", "regeneration", 10, AT, run_id))
        assert [r.id for r in await store.list_runs(kind="sync")] == [4, 1]
        assert [e.dn for e in await store.sync_retry("users")] == ["uid=x,ou=people,dc=ent,dc=test"]
        assert await store.sync_mark("users", "empreinte") == AT
        assert len(await store.list_files()) == 2
    finally:
        await store.close()

    # opening again changes nothing
    again = StateStore(StateConfig(url=empty_url))
    await again.open()
    try:
        assert again.upgraded_from is None
        assert await again.schema_version() == SCHEMA_VERSION
        assert [r.id for r in await again.list_runs()] == [4, 3, 2, 1]
        assert len(await again.list_audit(action="base.mise_a_jour")) == 1
    finally:
        await again.close()


async def test_two_stores_opening_at_once_migrate_once(empty_url: str) -> None:
    load_0_1_0(empty_url)
    stores = [StateStore(StateConfig(url=empty_url)) for _ in range(2)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        assert sorted((s.upgraded_from for s in stores), key=str) == [1, None]
        for store in stores:
            assert await store.schema_version() == SCHEMA_VERSION
            assert len(await store.list_runs()) == 3
    finally:
        for store in stores:
            await store.close()


OPEN_SCRIPT = """
import asyncio, sys
from enttui.config import StateConfig
from enttui.services.state import StateStore

async def main():
    store = StateStore(StateConfig(url=sys.argv[1]))
    await store.open()
    print(store.upgraded_from, await store.schema_version(), len(await store.list_runs()))
    await store.close()

asyncio.run(main())
"""


async def test_two_processes_opening_at_once_migrate_once(empty_url: str) -> None:
    load_0_1_0(empty_url)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", OPEN_SCRIPT, empty_url, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        outs = [(await asyncio.wait_for(p.communicate(), 120))[0].decode().split() for p in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert [p.returncode for p in procs] == [0, 0]
    assert sorted(outs) == [["1", str(SCHEMA_VERSION), "3"], ["None", str(SCHEMA_VERSION), "3"]]


async def test_newer_store_is_refused(empty_url: str) -> None:
    store = StateStore(StateConfig(url=empty_url))
    await store.open()
    await store.close()
    newer = SCHEMA_VERSION + 1
    _with_engine(empty_url, lambda conn: conn.execute(update(schema_table).values(version=newer)))

    store = StateStore(StateConfig(url=empty_url))
    with pytest.raises(StateError) as caught:
        await store.open()
    assert caught.value.message == (
        f"Base d'état en version {newer}, plus récente que ce logiciel ({SCHEMA_VERSION}) : mettez enttui à jour"
    )
    with pytest.raises(StateError, match="non ouverte"):
        await store.list_runs()  # the store did not stay half open
    assert _with_engine(empty_url, stored_version) == newer  # and nothing was written
    assert _with_engine(empty_url, lambda conn: conn.execute(text("SELECT count(*) FROM enttui_runs")).scalar()) == 0


async def test_store_of_a_build_before_the_schema_version(empty_url: str) -> None:
    """A store written between 0.1.0 and the schema version already has the later tables."""
    store = StateStore(StateConfig(url=empty_url))
    await store.open()
    run_id = await store.start_run("sync", {})
    await store.close()
    _with_engine(empty_url, lambda conn: schema_table.drop(conn))

    store = StateStore(StateConfig(url=empty_url))
    await store.open()
    try:
        assert store.upgraded_from == 1
        assert await store.schema_version() == SCHEMA_VERSION
        assert [r.id for r in await store.list_runs()] == [run_id]
    finally:
        await store.close()
