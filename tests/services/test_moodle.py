"""The Moodle database service, on MariaDB, PostgreSQL and SQLite (real servers).

``tests/data/moodle_columns.json`` holds the column, index and table facts of Moodle 4.5's own
tables, extracted from the dumps of a fresh site made by Moodle's installer (MariaDB and
PostgreSQL). To regenerate it from the dumps::

    .venv/bin/python tests/services/test_moodle.py --regen /work/shared/moodle
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, inspect, select, text

from enttui.config import MoodleConfig, Secret
from enttui.domain.people import Person, Target
from enttui.errors import LockHeldError, MoodleError
from enttui.services.moodle import Moodle
from enttui.services.moodle_site import RELEASE, ROLES
from enttui.services.moodle_tables import TABLE_NAMES, moodle_tables

DATA = Path(__file__).resolve().parent.parent / "data" / "moodle_columns.json"


# -- the facts of a database, as the server reports them ----------------------------------------
def describe(conn: Connection, prefix: str = "mdl_") -> dict:
    """Columns (type as the server spells it, NOT NULL, default), indexes, primary key, options."""
    dialect = conn.dialect.name
    insp = inspect(conn)
    out = {}
    for short in sorted(TABLE_NAMES):
        name = prefix + short
        if dialect in ("mysql", "mariadb"):
            rows = conn.execute(
                text(
                    "SELECT column_name, column_type, is_nullable, column_default, extra "
                    "FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = :t "
                    "ORDER BY ordinal_position"
                ),
                {"t": name},
            ).all()
            columns = [
                {"name": r[0], "type": r[1], "nullable": r[2] == "YES", "default": r[3], "extra": r[4]} for r in rows
            ]
            opts = conn.execute(
                text(
                    "SELECT engine, table_collation, row_format FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name = :t"
                ),
                {"t": name},
            ).one()
            extra = {"options": {"engine": opts[0], "collation": opts[1], "row_format": opts[2]}}
        else:
            rows = conn.execute(
                text(
                    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, "
                    "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
                    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                    "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped "
                    "ORDER BY a.attnum"
                ),
                {"t": name},
            ).all()
            columns = [{"name": r[0], "type": r[1], "nullable": r[2], "default": r[3]} for r in rows]
            seq = conn.execute(
                text("SELECT data_type::text FROM pg_sequences WHERE sequencename = :s"), {"s": f"{name}_id_seq"}
            ).all()
            pk_name = insp.get_pk_constraint(name)["name"]
            extra = {"sequence": [f"{name}_id_seq", seq[0][0]] if seq else None, "primary_key_name": pk_name}
        indexes = {
            i["name"]: {"columns": list(i["column_names"]), "unique": bool(i["unique"])} for i in insp.get_indexes(name)
        }
        out[short] = {
            "columns": columns,
            "indexes": dict(sorted(indexes.items())),
            "primary_key": insp.get_pk_constraint(name)["constrained_columns"],
            **extra,
        }
    return out


def regenerate(dumps: Path) -> None:  # pragma: no cover - run by hand
    """Load Moodle's dumps into private servers and write tests/data/moodle_columns.json."""
    import subprocess

    from sqlalchemy import create_engine

    from support.mariadb import MariaDBServer
    from support.postgres import PostgresServer, find_pg_bin

    with MariaDBServer() as maria, PostgresServer() as pg:
        subprocess.run(
            f"zcat {dumps / 'moodle-mariadb.sql.gz'} | mariadb --no-defaults --socket={maria.socket} -uroot moodle",
            shell=True,
            check=True,
        )
        env = dict(os.environ, PGPASSWORD="moodle-test-pw")
        subprocess.run(
            f"zcat {dumps / 'moodle-pgsql.sql.gz'} | {find_pg_bin('psql')} -q -v ON_ERROR_STOP=1 "
            f"-h 127.0.0.1 -p {pg.port} -U moodle moodle >/dev/null",
            shell=True,
            check=True,
            env=env,
        )
        result = {"_source": "Moodle 4.5+ (Build: 20241205) fresh-site dumps, MariaDB 10.11 and PostgreSQL 15"}
        for key, url in (("mariadb", maria.url), ("postgresql", pg.url)):
            engine = create_engine(url)
            with engine.connect() as conn:
                result[key] = describe(conn)
            engine.dispose()
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(_dump(result) + "\n")


def _dump(value: object, depth: int = 0) -> str:
    """JSON with one line per column / index (readable diffs)."""
    if isinstance(value, dict) and depth < 3:
        pad = " " * (depth + 1)
        items = [f"{pad}{json.dumps(k)}: {_dump(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        pad = " " * (depth + 1)
        return "[\n" + ",\n".join(pad + json.dumps(v, ensure_ascii=False) for v in value) + "\n" + " " * depth + "]"
    return json.dumps(value, ensure_ascii=False)


def expected(key: str) -> dict:
    return json.loads(DATA.read_text())[key]


def _diff(real: dict, mine: dict) -> list[str]:
    problems = []
    for table in real:
        for part in real[table]:
            if part == "columns":
                real_cols = {c["name"]: c for c in real[table]["columns"]}
                mine_cols = {c["name"]: c for c in mine[table]["columns"]}
                for name in real_cols.keys() | mine_cols.keys():
                    if real_cols.get(name) != mine_cols.get(name):
                        problems.append(f"{table}.{name}: Moodle {real_cols.get(name)} / ours {mine_cols.get(name)}")
                if list(real_cols) != list(mine_cols):
                    problems.append(f"{table}: column order differs")
            elif real[table][part] != mine[table].get(part):
                problems.append(f"{table} {part}: Moodle {real[table][part]} / ours {mine[table].get(part)}")
    return problems


# -- schema -------------------------------------------------------------------------------------
async def test_schema_matches_moodle_installer_mariadb(moodle_mariadb: Moodle) -> None:
    mine = await moodle_mariadb.read(describe)
    assert _diff(expected("mariadb"), mine) == []


async def test_schema_matches_moodle_installer_postgresql(moodle_postgres: Moodle) -> None:
    mine = await moodle_postgres.read(describe)
    assert _diff(expected("postgresql"), mine) == []


def test_expected_json_covers_every_table() -> None:
    for key in ("mariadb", "postgresql"):
        assert sorted(expected(key)) == sorted(TABLE_NAMES)
    user = {c["name"]: c for c in expected("postgresql")["user"]["columns"]}
    assert user["id"]["default"] == "nextval('mdl_user_id_seq'::regclass)"
    assert user["auth"]["default"] == "'manual'::character varying"


def test_prefix_is_applied() -> None:
    tables = moodle_tables("m45_")
    assert tables.user.name == "m45_user"
    assert {i.name for i in tables.user.indexes} >= {"m45_user_mneuse_uix"}
    assert [t.name for t in tables.all()] == [f"m45_{n}" for n in TABLE_NAMES]


async def test_base_rows_of_a_fresh_site(moodle_db: Moodle) -> None:
    t = moodle_db.tables

    def facts(conn: Connection) -> dict:
        return {
            "config": dict(conn.execute(select(t.config.c.name, t.config.c.value)).all()),
            "roles": conn.execute(
                select(t.role.c.id, t.role.c.shortname, t.role.c.archetype, t.role.c.sortorder)
            ).all(),
            "users": conn.execute(
                select(t.user.c.id, t.user.c.username, t.user.c.auth, t.user.c.mnethostid, t.user.c.confirmed).order_by(
                    t.user.c.id
                )
            ).all(),
            "contexts": conn.execute(
                select(
                    t.context.c.id,
                    t.context.c.contextlevel,
                    t.context.c.instanceid,
                    t.context.c.path,
                    t.context.c.depth,
                ).order_by(t.context.c.id)
            ).all(),
            "course": conn.execute(select(t.course.c.id, t.course.c.category, t.course.c.format)).all(),
            "category": conn.execute(select(t.course_categories.c.id, t.course_categories.c.path)).all(),
            "rcl": conn.execute(
                select(t.role.c.shortname, t.role_context_levels.c.contextlevel).join(
                    t.role_context_levels, t.role_context_levels.c.roleid == t.role.c.id
                )
            ).all(),
            "user_defaults": conn.execute(
                select(
                    t.user.c.lang, t.user.c.calendartype, t.user.c.timezone, t.user.c.maildisplay, t.user.c.password
                ).where(t.user.c.username == "admin")
            ).one(),
        }

    f = await moodle_db.read(facts)
    assert f["config"]["mnet_localhost_id"] == "1"
    assert f["config"]["auth"] == "email"
    assert f["config"]["release"] == RELEASE
    assert [(r[1], r[2], r[3]) for r in sorted(f["roles"])] == [(s, s, i) for i, s in enumerate(ROLES, 1)]
    assert [r[0] for r in sorted(f["roles"])] == list(range(1, 9))
    assert f["users"] == [(1, "guest", "manual", 1, 1), (2, "admin", "manual", 1, 1)]
    assert f["contexts"][:3] == [(1, 10, 0, "/1", 1), (2, 50, 1, "/1/2", 2), (3, 40, 1, "/1/3", 2)]
    assert {(c[1], c[2]) for c in f["contexts"][3:]} == {(30, 1), (30, 2)}
    assert f["course"] == [(1, 0, "site")]
    assert f["category"] == [(1, "/1")]
    assert sorted(f["rcl"]) == sorted(
        [("manager", 10), ("manager", 40), ("manager", 50), ("coursecreator", 10), ("coursecreator", 40)]
        + [(r, lvl) for r in ("editingteacher", "teacher", "student") for lvl in (50, 70)]
    )
    assert tuple(f["user_defaults"]) == ("en", "gregorian", "99", 2, "")
    assert await moodle_db.mnet_localhost_id() == 1
    assert await moodle_db.system_context_id() == 1


async def test_create_schema_refuses_a_real_database_without_allow(mariadb_server) -> None:
    from support.fixtures_db import moodle_config_for

    moodle = Moodle(moodle_config_for(mariadb_server.create_database()))
    await moodle.open()
    try:
        with pytest.raises(MoodleError, match="refusée"):
            await moodle.create_schema()
        assert await moodle.read(lambda c: inspect(c).get_table_names()) == []
        await moodle.create_schema(allow=True)
        with pytest.raises(MoodleError, match="déjà des tables"):
            await moodle.create_schema(allow=True)
    finally:
        await moodle.close()


async def test_endpoint_and_repr_hide_the_password(mariadb_server) -> None:
    from support.fixtures_db import moodle_config_for

    moodle = Moodle(moodle_config_for(mariadb_server.url))
    assert "moodle-test-pw" not in moodle.endpoint
    assert "moodle-test-pw" not in repr(moodle)
    assert moodle.endpoint.startswith("mysql+pymysql://moodle@127.0.0.1:")
    assert moodle.dialect == "mysql"
    await moodle.open()  # the password from the Secret is used
    await moodle.close()


# -- health ---------------------------------------------------------------------------------------
async def test_health_ok_with_version_counts_and_auth_warning(moodle_db: Moodle) -> None:
    t = moodle_db.tables
    rows = [
        {"auth": "cas", "username": f"u{i}", "mnethostid": 1, "confirmed": 1, "suspended": int(i < 2), "deleted": 0}
        for i in range(5)
    ] + [{"auth": "cas", "username": "gone", "mnethostid": 1, "confirmed": 1, "suspended": 0, "deleted": 1}]
    await moodle_db.run(lambda c: c.execute(insert(t.user), rows))
    health = await moodle_db.health("cas")
    assert health.ok, health.message
    assert health.key == "moodle" and health.name == "Moodle"
    assert health.version == RELEASE
    assert health.counts == {"users": 5, "suspended": 2}
    assert health.latency_ms is not None and health.latency_ms >= 0
    assert len(health.warnings) == 1
    assert "l'authentification cas n'est pas activée dans Moodle" in health.warnings[0]
    await moodle_db.run(
        lambda c: c.execute(t.config.update().where(t.config.c.name == "auth").values(value="email,cas"))
    )
    health = await moodle_db.health("cas")
    assert health.ok and health.warnings == ()


async def test_health_when_the_tables_are_missing(mariadb_server) -> None:
    from support.fixtures_db import moodle_config_for

    moodle = Moodle(moodle_config_for(mariadb_server.create_database()))
    health = await moodle.health("cas")
    await moodle.close()
    assert health.ok
    assert health.warnings and "tables Moodle introuvables" in health.warnings[0]


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "postgresql+psycopg"])
async def test_health_when_the_server_is_down(scheme: str) -> None:
    from support.dbserver import free_port

    port = free_port()  # nothing listens there
    config = MoodleConfig(
        url=f"{scheme}://moodle@127.0.0.1:{port}/moodle", password=Secret("Zq9-down-secret"), connect_timeout=2
    )
    moodle = Moodle(config)
    health = await moodle.health("cas")
    assert not health.ok
    assert "injoignable" in health.message
    assert "Zq9-down-secret" not in health.message
    assert "Zq9-down-secret" not in json.dumps(health.as_dict())
    with pytest.raises(MoodleError) as info:
        await moodle.open()
    assert "connexion à la base Moodle impossible" in info.value.message
    assert "Zq9-down-secret" not in (info.value.detail or "") + info.value.message


async def test_open_reports_unknown_database_and_bad_password(mariadb_server, postgres_server) -> None:
    for server, scheme in ((mariadb_server, "mysql+pymysql"), (postgres_server, "postgresql+psycopg")):
        wrong_db = Moodle(
            MoodleConfig(url=f"{scheme}://moodle@127.0.0.1:{server.port}/nope", password=Secret("moodle-test-pw"))
        )
        with pytest.raises(MoodleError, match="base de données « nope » inconnue"):
            await wrong_db.open()
        wrong_pw = Moodle(
            MoodleConfig(url=f"{scheme}://moodle@127.0.0.1:{server.port}/moodle", password=Secret("Bad-pw-123"))
        )
        with pytest.raises(MoodleError, match="mot de passe refusé") as info:
            await wrong_pw.open()
        assert "Bad-pw-123" not in str(info.value) + (info.value.detail or "")


async def test_invalid_url_is_a_french_error() -> None:
    moodle = Moodle(MoodleConfig(url="pas une url"))
    with pytest.raises(MoodleError, match="URL de la base Moodle invalide"):
        await moodle.open()
    health = await moodle.health("cas")
    assert not health.ok and "URL" in health.message


# -- run / read -----------------------------------------------------------------------------------
async def test_read_is_read_only(moodle_db: Moodle) -> None:
    t = moodle_db.tables
    with pytest.raises(MoodleError):
        await moodle_db.read(lambda c: c.execute(insert(t.config).values(name="x", value="y")))
    assert await moodle_db.read(lambda c: c.execute(select(func.count()).select_from(t.config)).scalar()) == len(
        await moodle_db.read(lambda c: c.execute(select(t.config.c.name)).all())
    )
    assert await moodle_db.config_value("x") is None
    # the pooled connection is usable for writes afterwards
    await moodle_db.run(lambda c: c.execute(insert(t.config).values(name="x", value="y")))
    assert await moodle_db.config_value("x") == "y"


async def test_run_rolls_back_on_error(moodle_db: Moodle) -> None:
    t = moodle_db.tables

    def work(conn: Connection) -> None:
        conn.execute(insert(t.config).values(name="a", value="1"))
        conn.execute(insert(t.config).values(name="a", value="2"))  # unique name

    with pytest.raises(MoodleError, match="écriture dans la base Moodle impossible"):
        await moodle_db.run(work)
    assert await moodle_db.config_value("a") is None


async def test_executemany_of_1000_users_ids_from_the_sequence(moodle_db: Moodle) -> None:
    t = moodle_db.tables
    rows = [
        {
            "auth": "cas",
            "confirmed": 1,
            "mnethostid": 1,
            "username": f"eleve{i:04d}",
            "password": "not cached",
            "idnumber": f"{100000 + i}",
            "firstname": "Prénom",
            "lastname": f"Nom {i}",
            "email": f"eleve{i}@example.test",
            "timecreated": 1767225600,
            "timemodified": 1767225600,
        }
        for i in range(1000)
    ]
    await moodle_db.run(lambda c: c.execute(insert(t.user), rows))

    def facts(conn: Connection) -> tuple:
        ids = conn.execute(select(t.user.c.id).where(t.user.c.auth == "cas").order_by(t.user.c.id)).scalars().all()
        seq = None
        if moodle_db.dialect == "postgresql":
            seq = conn.execute(text("SELECT last_value FROM mdl_user_id_seq")).scalar()
        lang = conn.execute(select(t.user.c.lang).where(t.user.c.username == "eleve0001")).scalar()
        return ids, seq, lang

    ids, seq, lang = await moodle_db.read(facts)
    assert ids == list(range(3, 1003))
    assert lang == "en"  # server default
    if moodle_db.dialect == "postgresql":
        assert seq == 1002
        # the next insert keeps using Moodle's sequence
        new_id = await moodle_db.run(
            lambda c: c.execute(insert(t.user).values(username="x", mnethostid=1)).inserted_primary_key[0]
        )
        assert new_id == 1003


# -- lock -----------------------------------------------------------------------------------------
async def test_lock_is_exclusive_and_released(moodle_db: Moodle) -> None:
    other = Moodle(moodle_db.config)
    await other.open()
    try:
        async with moodle_db.lock("sync"):
            with pytest.raises(LockHeldError) as info:
                async with other.lock("sync"):
                    pass
            assert "verrou « sync »" in info.value.message
            assert info.value.exit_code == 3
            async with other.lock("diffusion"):  # another name is independent
                pass
        async with other.lock("sync"):
            with pytest.raises(LockHeldError):
                async with moodle_db.lock("sync"):
                    pass
        async with moodle_db.lock("sync"):
            pass
    finally:
        await other.close()


async def test_lock_released_when_the_block_raises(moodle_db: Moodle) -> None:
    with pytest.raises(RuntimeError):
        async with moodle_db.lock("sync"):
            raise RuntimeError("boom")
    async with moodle_db.lock("sync"):
        pass


async def test_lock_holder_is_named_on_servers(moodle_db: Moodle) -> None:
    if moodle_db.dialect == "sqlite":
        expected_word = "processus"
    elif moodle_db.dialect == "postgresql":
        expected_word = "enttui"
    else:
        expected_word = "connexion n°"
    async with moodle_db.lock("sync"):
        other = Moodle(moodle_db.config)
        await other.open()
        try:
            with pytest.raises(LockHeldError) as info:
                async with other.lock("sync"):
                    pass
        finally:
            await other.close()
    assert expected_word in info.value.message


# -- user summary -----------------------------------------------------------------------------------
async def test_user_summary(moodle_db: Moodle) -> None:
    t = moodle_db.tables
    ctx = await moodle_db.system_context_id()

    def seed(conn: Connection) -> None:
        conn.execute(
            insert(t.user).values(
                auth="cas",
                username="jdupont",
                idnumber="1234",
                email="j@x.test",
                mnethostid=1,
                suspended=1,
                lastaccess=1767000000,
                timecreated=1766000000,
                firstname="Jean",
                lastname="Dupont",
            )
        )
        uid = conn.execute(select(t.user.c.id).where(t.user.c.username == "jdupont")).scalar_one()
        for name in ("2026 3A", "2026 Latin"):
            cid = conn.execute(
                insert(t.cohort).values(
                    contextid=ctx,
                    name=name,
                    descriptionformat=1,
                    timecreated=1,
                    timemodified=1,
                    component="local_ent_installer",
                )
            ).inserted_primary_key[0]
            conn.execute(insert(t.cohort_members).values(cohortid=cid, userid=uid, timeadded=1))

    await moodle_db.run(seed)
    summary = await moodle_db.user_summary("JDupont")
    assert summary is not None
    assert summary["username"] == "jdupont" and summary["auth"] == "cas"
    assert summary["suspended"] is True and summary["deleted"] is False
    assert summary["lastaccess"] == 1767000000 and summary["timecreated"] == 1766000000
    assert summary["idnumber"] == "1234" and summary["email"] == "j@x.test"
    assert summary["cohorts"] == ["2026 3A", "2026 Latin"]
    assert await moodle_db.user_summary("jdupont", auth="manual") is None
    assert await moodle_db.user_summary("nobody") is None
    admin = await moodle_db.user_summary("admin", auth="manual")
    assert admin is not None and admin["cohorts"] == []


# -- demo seed ----------------------------------------------------------------------------------------
def _people(n: int = 60) -> list[Person]:
    people = []
    for i in range(n):
        teacher = i % 10 == 0
        people.append(
            Person(
                dn=f"uid=P{i:03d},ou=people,dc=ent,dc=demo",
                login=f"Login.{i:03d}",
                sn=f"Nom{i}",
                given_name=f"Prénom{i}",
                mail=f"p{i}@example.test",
                jointures=(f"AC-DEMO${500000 + i}",),
                target=Target.ENSEIGNANT if teacher else Target.ELEVE,
                classes=() if teacher else (("3A", "3B", "4A")[i % 3],),
            )
        )
    return people


async def test_seed_demo_moodle(moodle_sqlite: Moodle) -> None:
    from enttui.demo.moodle_seed import seed_demo_moodle

    people = _people()
    await seed_demo_moodle(moodle_sqlite, people)
    t = moodle_sqlite.tables

    def facts(conn: Connection) -> dict:
        users = conn.execute(
            select(t.user.c.username, t.user.c.auth, t.user.c.idnumber, t.user.c.suspended, t.user.c.password)
            .where(t.user.c.username.notin_(["guest", "admin"]))
            .order_by(t.user.c.id)
        ).all()
        cohorts = conn.execute(
            select(t.cohort.c.name, t.cohort.c.idnumber, t.cohort.c.component, t.cohort.c.contextid)
        ).all()
        members = conn.execute(select(func.count()).select_from(t.cohort_members)).scalar()
        course = conn.execute(select(t.course.c.id, t.course.c.category).where(t.course.c.idnumber == "MATH-3A")).one()
        category = conn.execute(
            select(t.course_categories.c.id, t.course_categories.c.name).where(
                t.course_categories.c.idnumber == "CAT-COLLEGE"
            )
        ).one()
        contexts = conn.execute(select(t.context.c.contextlevel, t.context.c.instanceid, t.context.c.path)).all()
        return {
            "users": users,
            "cohorts": cohorts,
            "members": members,
            "course": course,
            "category": category,
            "contexts": contexts,
        }

    f = await moodle_sqlite.read(facts)
    cas = [u for u in f["users"] if u[1] == "cas"]
    manual = [u for u in f["users"] if u[1] == "manual"]
    assert len(cas) == 40
    assert all(u[0] == u[0].lower() and u[4] == "not cached" for u in cas)
    assert cas[0][2] == "500000"
    assert sum(u[3] for u in cas) == 1
    assert len(manual) == 1 and manual[0][0] in {p.login.lower() for p in people}
    assert manual[0][0] not in {u[0] for u in cas}
    owned = [c for c in f["cohorts"] if c[2] == "local_ent_installer"]
    assert len(owned) == 2
    assert all(c[0].startswith("2026 ") and c[1].startswith("2026_0123456A$") and c[3] == 1 for c in owned)
    assert any(c[2] == "" for c in f["cohorts"])
    assert f["members"] > 0
    assert f["category"][1] == "Collège" and f["course"][1] == f["category"][0]
    assert (40, f["category"][0]) in {(c[0], c[1]) for c in f["contexts"]}
    course_ctx = [c for c in f["contexts"] if c[0] == 50 and c[1] == f["course"][0]]
    assert course_ctx and course_ctx[0][2].count("/") == 3
    assert (await moodle_sqlite.config_value("auth")) == "email,cas"
    health = await moodle_sqlite.health("cas")
    assert health.ok and health.warnings == () and health.counts == {"users": 40, "suspended": 1}


async def test_seed_demo_moodle_is_deterministic(tmp_path: Path) -> None:
    from enttui.demo.moodle_seed import seed_demo_moodle

    dumps = []
    for name in ("a", "b"):
        moodle = Moodle(MoodleConfig(url=f"sqlite:///{tmp_path / name}.db"))
        await moodle.open()
        await moodle.create_schema()
        await seed_demo_moodle(moodle, list(reversed(_people())) if name == "b" else _people())
        t = moodle.tables
        dumps.append(
            await moodle.read(lambda c, t=t: [c.execute(select(tbl).order_by(tbl.c.id)).all() for tbl in t.all()])
        )
        await moodle.close()
    assert dumps[0] == dumps[1]


async def test_sqlite_demo_needs_no_allow(tmp_path: Path) -> None:
    moodle = Moodle(MoodleConfig(url=f"sqlite:///{tmp_path / 'demo.db'}"))
    await moodle.open()
    await moodle.create_schema()
    assert moodle.dialect == "sqlite"
    assert await moodle.mnet_localhost_id() == 1
    await moodle.close()


async def test_concurrent_reads(moodle_db: Moodle) -> None:
    t = moodle_db.tables
    counts = await asyncio.gather(
        *[moodle_db.read(lambda c: c.execute(select(func.count()).select_from(t.role)).scalar()) for _ in range(8)]
    )
    assert counts == [8] * 8


if __name__ == "__main__":  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if len(sys.argv) == 3 and sys.argv[1] == "--regen":
        regenerate(Path(sys.argv[2]))
        print(f"wrote {DATA}")
    else:
        print(__doc__)


async def test_a_deadlock_victim_is_run_again_mariadb(moodle_mariadb: Moodle) -> None:
    await deadlock_victim_is_run_again(moodle_mariadb)


async def test_a_deadlock_victim_is_run_again_postgresql(moodle_postgres: Moodle) -> None:
    await deadlock_victim_is_run_again(moodle_postgres)


LOCK_WAITS = {  # sessions waiting for a row lock
    "mysql": "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
    "postgresql": "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
}


async def deadlock_victim_is_run_again(moodle: Moodle) -> None:
    """Two write transactions side by side (the sync's creations) can deadlock; the server rolls one
    back whole, and ``run(..., deadlock_retries=n)`` runs it again. A real deadlock here: another
    transaction holds row b and wants a; ours holds a and wants b (ours is the lighter: the victim)."""
    cfg = moodle.tables.config
    await moodle.run(lambda c: c.execute(insert(cfg), [{"name": "dl_a", "value": "0"}, {"name": "dl_b", "value": "0"}]))
    holds_b, ours_waits = threading.Event(), threading.Event()
    attempts: list[int] = []

    def touch(conn: Connection, name: str, value: str) -> None:
        conn.execute(cfg.update().where(cfg.c.name == name).values(value=value))

    def other() -> None:  # heavier: 200 rows written before it takes b
        with moodle.engine.begin() as conn:
            conn.execute(insert(cfg), [{"name": f"dl_heavy_{i}", "value": "x"} for i in range(200)])
            touch(conn, "dl_b", "autre")
            holds_b.set()
            assert ours_waits.wait(30)
            with moodle.engine.connect() as probe:  # ask for a only once ours waits for b: ours closes the cycle
                while not probe.exec_driver_sql(LOCK_WAITS[moodle.dialect]).scalar():
                    probe.rollback()
                    time.sleep(0.02)
            touch(conn, "dl_a", "autre")

    def ours(conn: Connection) -> int:
        attempts.append(1)
        touch(conn, "dl_a", "nous")
        if len(attempts) == 1:
            assert holds_b.wait(30)
            ours_waits.set()
        touch(conn, "dl_b", "nous")
        return len(attempts)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert await moodle.run(ours, deadlock_retries=1) == 2
    finally:
        await asyncio.to_thread(thread.join, 30)
    values = await moodle.read(
        lambda c: dict(c.execute(select(cfg.c.name, cfg.c.value).where(cfg.c.name.in_(["dl_a", "dl_b"]))).all())
    )
    assert values == {"dl_a": "nous", "dl_b": "nous"}  # the other committed first, ours after it


async def test_a_big_lookup_on_a_small_site_reads_the_site_once_with_the_same_matches(
    moodle_db: Moodle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More names to look up than users on the site (a region's first run): every user of the site
    in one read, a superset of what the lookups by value find."""
    from enttui.services import moodle_sync
    from enttui.services.moodle_sync import MoodleSyncStore

    t = moodle_db.tables
    rows = [
        {"username": f"u{i}", "idnumber": f"ID{i}", "auth": "cas" if i % 3 else "manual", "mnethostid": 1,
         "deleted": int(i == 4), "firstname": "", "lastname": "", "email": ""}
        for i in range(8)
    ]  # fmt: skip
    await moodle_db.run(lambda c: c.execute(insert(t.user), rows))
    store = MoodleSyncStore(moodle_db)
    site = await moodle_db.read(lambda c: c.execute(select(func.count()).select_from(t.user)).scalar_one())
    names = {"u1", "u4", *(f"absent{i}" for i in range(site))}  # more values than users on the site
    ids = {"ID2", "ID4", "ID9"}
    looked_up = {u.id: u for u in await store.users(1, names, ids)}  # below the threshold: by value
    assert {u.username for u in looked_up.values()} == {"u1", "u4", "u2"}  # u4 by name though deleted
    monkeypatch.setattr(moodle_sync, "WHOLE_USERS_READ_ABOVE", 0)
    whole = {u.id: u for u in await store.users(1, names, ids)}
    assert len(whole) == site > len(looked_up)
    assert {i: whole[i] for i in looked_up} == looked_up
    assert len(await store.users(1, {"u1"}, set())) == 1  # fewer values than users: by value
