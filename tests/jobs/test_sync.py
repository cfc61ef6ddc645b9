"""The Moodle sync engine against a real slapd and real MariaDB / PostgreSQL (and SQLite)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from enttui.config import Config, EntConfig, SyncConfig
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.domain.attributes import SYNC_PERSON_ATTRIBUTES
from enttui.domain.sync import ENTITY_LABELS, SyncOptions
from enttui.errors import LockHeldError
from enttui.jobs.events import CollectingSink
from enttui.jobs.sync import run_sync
from enttui.services.container import Services, utc_now
from enttui.services.directory import Directory
from enttui.services.moodle import Moodle
from enttui.services.moodle_site import CONTEXT_COURSE, CONTEXT_COURSECAT, add_context
from support.person_reads import record_person_reads

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

UAI = "0123456A"
OPERATIONAL = {"createtimestamp", "modifytimestamp"}


def world(base_dn: str) -> list[tuple[str, dict[str, list[str]]]]:
    spec = WorldSpec(
        base_dn=base_dn,
        schools=(SchoolSpec(UAI, "Collège Test", students=40, teachers=8, staff=3, others=2, classes_per_level=1),),
    )
    out = [(f"ou=roles,ou=groups,{base_dn}", {"objectClass": ["organizationalUnit"], "ou": ["roles"]})]
    for dn, attrs in generate(spec):
        out.append((dn, {k: list(v) for k, v in attrs.items() if k.lower() not in OPERATIONAL}))
    return out


def checksum(moodle: Moodle):
    """A function of a connection: a digest of every row of every Moodle table."""

    def work(conn: Any) -> dict[str, str]:
        out = {}
        for table in moodle.tables.all():
            rows = conn.execute(select(table).order_by(table.c.id)).all()
            out[table.name] = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
        return out

    return work


async def digest(moodle: Moodle) -> dict[str, str]:
    return await moodle.read(checksum(moodle))


async def add_course_refs(moodle: Moodle) -> None:
    t = moodle.tables
    sysctx = await moodle.system_context_id()

    def work(conn: Any) -> None:
        cat = conn.execute(
            insert(t.course_categories).values(
                name="Collège", idnumber="CAT-COLLEGE", description="", descriptionformat=1, timemodified=0, path=""
            )
        ).inserted_primary_key[0]
        catctx = add_context(conn, t, CONTEXT_COURSECAT, cat, sysctx)
        course = conn.execute(
            insert(t.course).values(
                category=cat, fullname="Maths 3A", shortname="MATH-3A", idnumber="MATH-3A", summary="", timecreated=0
            )
        ).inserted_primary_key[0]
        add_context(conn, t, CONTEXT_COURSE, course, catctx)

    await moodle.run(work)


@pytest.fixture
async def env(ldap_sandbox, moodle_db, state_store):
    ldap_sandbox.add(world(ldap_sandbox.base_dn))
    await add_course_refs(moodle_db)
    cfg = Config(
        ent=EntConfig(uai=[UAI]),
        ldap=ldap_sandbox.config(),
        moodle=moodle_db.config,
        sync=SyncConfig(watermark_margin_minutes=0, max_removal_share=0.5),
    )
    directory = Directory(cfg.ldap, cfg.ent)
    await directory.open()
    services = Services(config=cfg, directory=directory, state=state_store, moodle=moodle_db, clock=utc_now)
    await asyncio.sleep(1.05)  # modifyTimestamp has a one-second resolution
    try:
        yield services, ldap_sandbox
    finally:
        await directory.close()


async def sync(services: Services, **opts: Any):
    sink = CollectingSink()
    result = await run_sync(services, SyncOptions(**opts), sink)
    return result, sink


async def users(moodle: Moodle) -> dict[str, Any]:
    u = moodle.tables.user
    rows = await moodle.read(lambda c: c.execute(select(u)).mappings().all())
    return {r["username"]: dict(r) for r in rows}


async def test_first_run_then_nothing_to_write(env):
    services, sandbox = env
    moodle = services.moodle
    result, sink = await sync(services)
    assert result.status == "réussi", sink.traces("error")
    assert result.exit_code == 0
    c = result.counts
    assert c["users"].created > 100 and c["users"].errors == 0
    assert c["cohorts"].created >= 4
    assert c["roles"].created >= 2
    rows = await users(moodle)
    people = await services.directory.search_all(sandbox.people_dn, "(objectClass=ENTPerson)", ["*"])
    _dn, attrs = people[0]
    login = attrs["ENTPersonLogin"][0].lower()
    row = rows[login]
    assert row["auth"] == "cas" and row["confirmed"] == 1 and row["mnethostid"] == 1
    assert row["password"] == "not cached" and row["deleted"] == 0 and row["suspended"] == 0
    assert row["idnumber"] == attrs["ENTPersonJointure"][0].split("$", 1)[1]
    assert row["firstname"] == attrs["givenName"][0] and row["lastname"] == attrs["sn"][0]
    assert row["timecreated"] > 1_700_000_000 and row["calendartype"] == "gregorian"
    co = moodle.tables.cohort
    cohorts = await moodle.read(lambda c: c.execute(select(co)).mappings().all())
    mine = [x for x in cohorts if x["component"] == "local_ent_installer"]
    assert mine and all(x["idnumber"].startswith(f"2026_{UAI}$") and x["name"].startswith("2026 ") for x in mine)
    assert all(x["contextid"] == 1 and x["descriptionformat"] == 1 for x in mine)
    ra = moodle.tables.role_assignments
    levels = await moodle.read(
        lambda c: (
            c.execute(
                select(moodle.tables.context.c.contextlevel)
                .join(ra, ra.c.contextid == moodle.tables.context.c.id)
                .where(ra.c.component == "local_ent_installer")
            )
            .scalars()
            .all()
        )
    )
    assert {10, 40, 50} <= set(levels)

    before = await digest(moodle)
    again, _sink2 = await sync(services)
    assert again.status == "réussi"
    assert sum(v.created + v.updated + v.removed + v.suspended for v in again.counts.values()) == 0
    assert await digest(moodle) == before
    forced, _ = await sync(services, force=True)
    assert forced.status == "réussi"
    assert forced.counts["users"].unchanged == c["users"].created
    assert await digest(moodle) == before


async def test_simulation_writes_nothing_and_plans_the_same(env):
    services, _ = env
    moodle = services.moodle
    before = await digest(moodle)
    sim, sink = await sync(services, simulate=True)
    assert sim.status == "simulé"
    assert await digest(moodle) == before
    assert await services.state.get_watermark("sync:users") is None
    real, sink2 = await sync(services)
    assert {k: v.as_dict() for k, v in sim.counts.items()} == {k: v.as_dict() for k, v in real.counts.items()}
    changes = [t.text for t in sink.traces("change")]
    assert changes == [t.text for t in sink2.traces("change")]


async def test_incremental_rename_clash_and_removals(env):
    services, sandbox = env
    moodle = services.moodle
    u = moodle.tables.user
    # a manual account clashing with a directory login, created before the first run
    people = await services.directory.search_all(sandbox.people_dn, "(objectClass=ENTPerson)", ["*"])
    people.sort()
    clash_login = people[5][1]["ENTPersonLogin"][0].lower()
    await moodle.run(
        lambda c: c.execute(
            insert(u).values(auth="manual", username=clash_login, mnethostid=1, firstname="Hand", lastname="Made")
        )
    )
    first, sink = await sync(services, users=True, cohorts=False, roles=False)
    assert first.counts["users"].errors == 1 and first.exit_code == 1
    assert any(clash_login in t.text and "manual" in t.text for t in sink.traces("error"))
    rows = await users(moodle)
    assert rows[clash_login]["auth"] == "manual" and rows[clash_login]["firstname"] == "Hand"
    await asyncio.sleep(1.05)

    # login change → rename; only changed entries re-read, and the clash of the retry list
    dn, attrs = people[0]
    old = attrs["ENTPersonLogin"][0].lower()
    await services.directory.modify(dn, {"ENTPersonLogin": ["renamed.person(1)"]})
    _second, sink = await sync(services, users=True, cohorts=False, roles=False, verbose=True)
    read = [t.text for t in sink.traces("detail") if t.text.startswith("lu : ")]
    assert len(read) == 2 and any(f"lu : {clash_login} " in r for r in read), read
    # "(" and ")" are not allowed in Moodle usernames: the login is transliterated
    assert any(f"renommage de {old} en renamed.person1" == t.text for t in sink.traces("change"))
    rows = await users(moodle)
    assert "renamed.person1" in rows and old not in rows

    # hand-suspended user stays suspended; removed user suspended on force, revived when back
    hand = people[1][1]["ENTPersonLogin"][0].lower()
    await moodle.run(lambda c: c.execute(update(u).where(u.c.username == hand).values(suspended=1)))
    gone_dn, gone = people[2]
    gone_login = gone["ENTPersonLogin"][0].lower()
    await services.directory.delete(gone_dn)
    normal, _ = await sync(services, users=True, cohorts=False, roles=False)
    assert normal.counts["users"].suspended == 0
    forced, sink = await sync(services, users=True, cohorts=False, roles=False, force=True)
    assert forced.counts["users"].suspended == 1, sink.traces()
    rows = await users(moodle)
    assert rows[gone_login]["suspended"] == 1 and rows[hand]["suspended"] == 1
    await services.directory.add(
        gone_dn, {k: v for k, v in gone.items() if k.lower() not in ("createtimestamp", "modifytimestamp", "entrydn")}
    )
    back, _ = await sync(services, users=True, cohorts=False, roles=False, force=True)
    assert back.counts["users"].revived == 1
    rows = await users(moodle)
    assert rows[gone_login]["suspended"] == 0 and rows[hand]["suspended"] == 1


async def test_guards_and_update_only(env):
    services, sandbox = env
    moodle = services.moodle
    await sync(services)
    before = await digest(moodle)
    # over the removal threshold: an LDAP filter that hides most people
    hidden = replace(services.config, sync=replace(services.config.sync, user_filter="(ENTPersonProfils=National_ENS)"))
    guarded = replace(services, config=hidden)
    result, sink = await sync(guarded, users=True, cohorts=False, roles=False, force=True)
    assert result.exit_code == 1 and result.counts["users"].suspended == 0
    assert any("seuil" in t.text for t in sink.traces("error"))
    assert await digest(moodle) == before
    # update-only: a new person and a new class are not created
    new_dn = f"uid=NEW1,{sandbox.people_dn}"
    school = (await services.directory.structures())[0].dn
    await services.directory.add(
        new_dn,
        {
            "objectClass": ["ENTPerson", "ENTAuxEnseignant"],
            "uid": ["NEW1"],
            "cn": ["Nouveau Prof"],
            "sn": ["Prof"],
            "givenName": ["Nouveau"],
            "ENTPersonLogin": ["nouveau.prof"],
            "ENTPersonJointure": ["AC-GRIS$999999"],
            "ENTPersonProfils": ["National_ENS"],
            "ENTPersonStructRattach": [school],
        },
    )
    await services.directory.add(
        f"cn={UAI}$NEWCLASS,{sandbox.groups_dn}",
        {"objectClass": ["groupOfNames", "ENTClasse"], "cn": [f"{UAI}$NEWCLASS"], "member": [new_dn]},
    )
    upd, _ = await sync(services, force=True, update_only=True)
    assert upd.counts["users"].created == 0 and upd.counts["users"].skipped == 1
    assert upd.counts["cohorts"].created == 0 and upd.counts["cohorts"].skipped >= 1
    assert await digest(moodle) == before


async def test_incomplete_read_skips_removals(env, monkeypatch):
    services, _ = env
    await sync(services)
    from enttui.errors import IncompleteReadError

    original = services.directory.iter_pages

    async def broken(*args, **kwargs):
        n = 0
        async for page in original(*args, **kwargs):
            yield page
            n += 1
            if n == 1:
                raise IncompleteReadError("Lecture de l'annuaire interrompue après 10 entrée(s)")

    monkeypatch.setattr(services.directory, "iter_pages", broken)
    services.config = replace(services.config, ldap=replace(services.config.ldap, page_size=10))
    services.directory._ldap = services.config.ldap
    before = await digest(services.moodle)
    result, _sink = await sync(services, force=True)
    assert result.exit_code == 1 and result.status == "avec erreurs"
    assert result.counts["users"].suspended == 0
    assert await digest(services.moodle) == before


async def test_cohorts_vanish_and_unlock(env):
    services, sandbox = env
    moodle = services.moodle
    co, cm = moodle.tables.cohort, moodle.tables.cohort_members
    await moodle.run(
        lambda c: c.execute(
            insert(co).values(
                contextid=1,
                name="Club",
                idnumber="club",
                component="",
                descriptionformat=1,
                timecreated=0,
                timemodified=0,
            )
        )
    )
    await sync(services)
    groups = await services.directory.search_all(sandbox.groups_dn, "(objectClass=ENTClasse)", ["cn"], scope="LEVEL")
    victim = sorted(groups)[0]
    cn = victim[1]["cn"][0]
    await services.directory.delete(victim[0])
    _normal, _ = await sync(services, cohorts=True, users=False, roles=False)
    row = await moodle.read(lambda c: c.execute(select(co).where(co.c.idnumber == f"2026_{cn}")).mappings().one())
    count = await moodle.read(lambda c: c.execute(select(func.count()).where(cm.c.cohortid == row["id"])).scalar())
    assert row["visible"] == 1 and count > 0
    forced, _ = await sync(services, cohorts=True, users=False, roles=False, force=True)
    assert forced.counts["cohorts"].removed == 1
    row = await moodle.read(lambda c: c.execute(select(co).where(co.c.idnumber == f"2026_{cn}")).mappings().one())
    count = await moodle.read(lambda c: c.execute(select(func.count()).where(cm.c.cohortid == row["id"])).scalar())
    assert row["visible"] == 0 and count == 0
    club = await moodle.read(lambda c: c.execute(select(co).where(co.c.idnumber == "club")).mappings().one())
    assert club["visible"] == 1
    # lock disabled: prefixed cohorts renamed and unlocked
    unlocked, _ = await sync(services, cohorts=True, users=False, roles=False, no_cohort_lock=True)
    rows = await moodle.read(lambda c: c.execute(select(co)).mappings().all())
    live = [r for r in rows if r["idnumber"].startswith(f"{UAI}$")]
    assert live and all(r["component"] == "" and not r["name"].startswith("2026") for r in live)
    assert unlocked.counts["cohorts"].updated == len(live)


async def test_single_user_and_lock(env):
    services, sandbox = env
    await sync(services)
    people = await services.directory.search_all(sandbox.people_dn, "(objectClass=ENTEleve)", ["ENTPersonLogin"])
    dn = sorted(people)[0][0]
    await services.directory.modify(dn, {"ENTPersonLogin": ["eleve(test)"], "sn": ["Nouveau"]})
    result, sink = await sync(services, user_login="eleve(test)")  # escaped in the LDAP filter
    assert result.counts["users"].updated == 1, sink.traces()
    rows = await users(services.moodle)
    assert rows["elevetest"]["lastname"] == "Nouveau"  # the username Moodle accepts
    async with services.moodle.lock("enttui-sync"):
        with pytest.raises(LockHeldError) as info:
            await sync(services)
    assert info.value.exit_code == 3


class Crash(BaseException):
    """The process dies here (a BaseException: no ``except Exception`` of the job catches it)."""


@pytest.mark.parametrize("entity", ["users", "cohorts"])
async def test_a_run_killed_mid_way_then_rerun_converges(env, entity):
    from enttui.jobs.events import Progress

    services, _ = env
    moodle = services.moodle
    small = replace(services, config=replace(services.config, sync=replace(services.config.sync, batch_size=20)))

    def dying_sink(event):
        # Die right after the first batch of `entity` was committed, with more batches to go.
        if isinstance(event, Progress) and event.entity == entity and event.total and 0 < event.done < event.total:
            raise Crash

    with pytest.raises(Crash):
        await run_sync(small, SyncOptions(), dying_sink)
    partial_users = await users(moodle)
    assert partial_users  # something was written before the "kill"

    result, sink = await sync(small)
    assert result.exit_code == 0, sink.traces("error")
    # Converged: a forced run (which re-examines everything) has nothing left to write.
    forced, _ = await sync(small, force=True)
    assert sum(v.created + v.updated + v.removed + v.suspended for v in forced.counts.values()) == 0
    # No duplicate, no emptied cohort of the sync.
    u = moodle.tables.user
    dup = await moodle.read(
        lambda c: (
            c.execute(select(u.c.idnumber).where(u.c.auth == "cas").group_by(u.c.idnumber).having(func.count() > 1))
            .scalars()
            .all()
        )
    )
    assert dup == []
    co, cm = moodle.tables.cohort, moodle.tables.cohort_members
    empty = await moodle.read(
        lambda c: (
            c.execute(
                select(co.c.idnumber)
                .outerjoin(cm, cm.c.cohortid == co.c.id)
                .where(co.c.component == "local_ent_installer")
                .group_by(co.c.id, co.c.idnumber)
                .having(func.count(cm.c.id) == 0)
            )
            .scalars()
            .all()
        )
    )
    assert empty == []


async def test_cancel_stops_at_a_batch_boundary_and_rerun_converges(env):
    from enttui.jobs.events import Progress

    services, _ = env
    small = replace(services, config=replace(services.config, sync=replace(services.config.sync, batch_size=20)))
    batches: list[int] = []

    def sink(event):
        if isinstance(event, Progress) and event.entity == "users" and event.done:
            batches.append(event.done)

    result = await run_sync(small, SyncOptions(), sink, should_stop=lambda: len(batches) >= 1)
    assert result.status == "interrompu" and result.exit_code == 1
    assert batches and all(done % 20 == 0 or done == batches[-1] for done in batches)
    assert await services.state.get_watermark("sync:users") is None  # an interrupted run moves no mark
    again, sink2 = await sync(small)
    assert again.exit_code == 0, sink2.traces("error")
    forced, _ = await sync(small, force=True)
    assert sum(v.created + v.updated + v.removed + v.suspended for v in forced.counts.values()) == 0


@pytest.mark.parametrize("entity", ["users", "cohorts", "roles"])
async def test_cancel_is_honoured_in_every_phase(env, entity):
    """Cancelled after the first committed batch of a phase: that phase is "interrompu", the next ones
    "non traité", the counts are the rows written, no watermark moved; a later run completes it."""
    from enttui.jobs.events import Progress

    services, _ = env
    moodle = services.moodle
    small = replace(services, config=replace(services.config, sync=replace(services.config.sync, batch_size=1)))
    seen: list[Progress] = []

    def sink(event):
        if isinstance(event, Progress) and event.entity == entity and event.total and event.done:
            seen.append(event)

    result = await run_sync(small, SyncOptions(), sink, should_stop=lambda: bool(seen))
    assert result.status == "interrompu" and result.exit_code == 1
    order = ["users", "cohorts", "roles"]
    assert result.phases[entity] == "interrompu"
    assert all(result.phases[e] == "traité" for e in order[: order.index(entity)])
    assert all(result.phases[e] == "non traité" for e in order[order.index(entity) + 1 :])
    assert f"{ENTITY_LABELS[order[-1]]} : non traité" in result.summary or entity == "roles"
    t = moodle.tables
    rows = await moodle.read(
        lambda c: {
            "users": c.execute(select(func.count()).where(t.user.c.auth == "cas")).scalar(),
            "cohorts": c.execute(select(func.count()).where(t.cohort.c.component == "local_ent_installer")).scalar(),
            "roles": c.execute(
                select(func.count()).where(t.role_assignments.c.component == "local_ent_installer")
            ).scalar(),
        }
    )
    assert {e: result.counts[e].created for e in order} == rows
    # the one batch committed before the stop; creations run two batches side by side where the
    # database takes them (MariaDB, PostgreSQL): the second one started commits and counts too
    side_by_side = entity == "users" and moodle.concurrent_writes
    assert result.counts[entity].created in ((1, 2) if side_by_side else (1,))
    recorded = await services.state.get_run(result.run_id)
    schools = result.schools.as_dict()
    assert recorded.counts == {**{k: v.as_dict() for k, v in result.counts.items()}, "schools": schools}
    assert schools[UAI]["users"]["created"] == result.counts["users"].created  # one school: all of them
    for e in order:
        assert await services.state.get_watermark(f"sync:{e}") is None
    again, sink2 = await sync(small)
    assert again.exit_code == 0, sink2.traces("error")
    forced, _ = await sync(small, force=True)
    assert sum(v.created + v.updated + v.removed + v.suspended for v in forced.counts.values()) == 0


async def test_preflight_says_which_system_is_down_before_any_write(env, tmp_path):
    """Before its first write, a sync reaches the directory and Moodle; a system down stops it with a
    message naming that system, nothing written, and the attempt recorded."""
    import socket

    from enttui.errors import DirectoryError, MoodleError
    from support.fixtures_db import moodle_config_for

    services, _ = env
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    before = await digest(services.moodle)
    ldap_down = replace(services.config.ldap, urls=[f"ldap://127.0.0.1:{closed}"], connect_timeout=1.0)
    directory = Directory(ldap_down, services.config.ent)
    down = replace(services, config=replace(services.config, ldap=ldap_down), directory=directory)
    with pytest.raises(DirectoryError) as info:
        await run_sync(down, SyncOptions())
    assert info.value.title == "Synchronisation impossible : annuaire injoignable"
    assert "l'annuaire ne répond pas" in info.value.message
    assert await digest(services.moodle) == before
    run = await services.state.last_run("sync")
    assert run is not None and run.status == "avec erreurs" and "rien n'a été écrit" in run.summary
    moodle_down = Moodle(moodle_config_for(f"mysql+pymysql://moodle:x@127.0.0.1:{closed}/moodle"))
    down = replace(services, moodle=moodle_down)
    with pytest.raises(MoodleError) as info:
        await run_sync(down, SyncOptions())
    assert info.value.title == "Synchronisation impossible : base Moodle injoignable"
    assert "serveur injoignable" in info.value.message
    assert await services.state.get_watermark("sync:users") is None


async def test_new_users_get_their_context_and_role_changes_mark_them_dirty(env):
    """As Moodle's user_create_user() and mark_user_dirty() do (checked by Moodle's own code in
    test_sync_moodle.py when $ENTTUI_MOODLE_SRC is set)."""
    services, _ = env
    moodle = services.moodle
    t = moodle.tables
    result, _ = await sync(services)
    rows = await moodle.read(
        lambda c: c.execute(
            select(t.user.c.id, t.context.c.id, t.context.c.path, t.context.c.depth)
            .outerjoin(t.context, (t.context.c.instanceid == t.user.c.id) & (t.context.c.contextlevel == 30))
            .where(t.user.c.auth == "cas")
        ).all()
    )
    assert len(rows) == result.counts["users"].created
    assert all(path == f"/1/{cid}" and depth == 2 for _uid, cid, path, depth in rows)
    flags = await moodle.read(lambda c: c.execute(select(t.cache_flags)).mappings().all())
    assigned = await moodle.read(
        lambda c: set(
            c.execute(
                select(t.role_assignments.c.userid).where(t.role_assignments.c.component == "local_ent_installer")
            ).scalars()
        )
    )
    assert assigned and {int(f["name"]) for f in flags} == assigned
    assert all(f["flagtype"] == "accesslib/dirtyusers" and f["value"] == "1" for f in flags)
    assert all(f["expiry"] == f["timemodified"] + 8 * 3600 for f in flags)  # Moodle's default sessiontimeout


async def test_a_normal_run_with_nothing_changed_costs_a_few_statements(env):
    """The retry list, the fingerprint and the pre-flight add no full read and no per-user query to a
    normal run: with nothing changed, a handful of SQL statements whatever the number of users."""
    from sqlalchemy import event

    services, _ = env
    first, _ = await sync(services)
    assert first.counts["users"].created > 100
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = services.moodle.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        again, sink = await sync(services, verbose=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert again.status == "réussi"
    assert [t.text for t in sink.traces("detail") if t.text.startswith("lu : ")] == []
    assert len(statements) < 30, statements


async def test_the_sync_reads_only_its_person_attributes(env, monkeypatch):
    """Every person read of the sync (main read, retry list, member lookups) asks for
    SYNC_PERSON_ATTRIBUTES, and they are enough: a forced run reading every person attribute writes nothing."""
    services, sandbox = env
    sync_cfg = replace(services.config.sync, fonction_roles=["ENS=manager"])
    services = replace(services, config=replace(services.config, sync=sync_cfg))
    moodle = services.moodle
    u = moodle.tables.user
    people = sorted(await services.directory.search_all(sandbox.people_dn, "(objectClass=ENTPerson)", ["*"]))
    clash = people[5][1]["ENTPersonLogin"][0].lower()  # a manual account: an error, so a retry list
    await moodle.run(
        lambda c: c.execute(insert(u).values(auth="manual", username=clash, mnethostid=1, firstname="A", lastname="B"))
    )
    asked = record_person_reads(services.directory, monkeypatch)
    first, sink = await sync(services)
    assert first.counts["users"].created > 100 and first.counts["users"].errors == 1, sink.traces("error")
    assert first.counts["roles"].created > 8  # the groups' roles and ENS → manager for every teacher
    await asyncio.sleep(1.05)

    # a normal run: the retry list and the members of a modified class are looked up by DN
    groups = await services.directory.search_all(sandbox.groups_dn, "(objectClass=ENTClasse)", ["cn"])
    await services.directory.modify(groups[0][0], {"description": ["modifiée"]})
    asked.clear()
    second, sink = await sync(services)
    assert second.counts["users"].errors == 1 and second.counts["cohorts"].unchanged >= 1, sink.traces()
    assert len(asked) >= 3  # the main read, the retry list, the class members
    assert all(a == SYNC_PERSON_ATTRIBUTES for a in asked), asked

    before = await digest(moodle)
    monkeypatch.undo()
    asked = record_person_reads(services.directory, monkeypatch, widen=True)
    widened, sink = await sync(services, force=True)
    assert asked and widened.counts["users"].errors == 1, sink.traces("error")
    writes = sum(v.created + v.updated + v.removed + v.suspended + v.revived for v in widened.counts.values())
    assert writes == 0, widened.counts
    assert await digest(moodle) == before


async def test_a_cancelled_task_counts_the_batches_it_started(env):
    """The run's task cancelled (the console quitting) while users are being created: the
    transactions started commit anyway (two side by side on MariaDB and PostgreSQL), and the recorded
    run counts them: what it says it created is what Moodle holds; a normal run completes it."""
    from enttui.jobs.events import Progress

    services, _ = env
    moodle = services.moodle
    small = replace(services, config=replace(services.config, sync=replace(services.config.sync, batch_size=2)))
    first_batch = asyncio.Event()

    def sink(event):
        if isinstance(event, Progress) and event.entity == "users" and event.total and event.done:
            first_batch.set()

    task = asyncio.ensure_future(run_sync(small, SyncOptions(), sink))
    await asyncio.wait_for(first_batch.wait(), 120)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    recorded = await services.state.last_run("sync")
    assert recorded is not None and recorded.status == "interrompu"
    t = moodle.tables

    async def users_held() -> int:
        return await moodle.read(lambda c: c.execute(select(func.count()).where(t.user.c.auth == "cas")).scalar())

    held = await users_held()
    assert 2 <= recorded.counts["users"]["created"] == held
    again = await run_sync(services, SyncOptions())
    assert again.status == "réussi", again.summary
    assert held + again.counts["users"].created == await users_held()


async def test_errors_past_the_trace_bound_are_kept(env):
    """A first run traces a creation per account: past ``trace_max_lines`` its later lines are
    dropped, but not the errors of its last phase (here a role group whose course is gone)."""
    services, _sandbox = env
    t = services.moodle.tables
    await services.moodle.run(lambda c: c.execute(t.course.delete().where(t.course.c.idnumber == "MATH-3A")))
    services.state.trace_max_lines = 10
    result, sink = await sync(services)
    assert result.status == "avec erreurs" and result.counts["roles"].errors >= 1
    assert result.counts["users"].created > 10  # more creation lines than the bound
    assert result.run_id is not None
    lines = await services.state.trace(result.run_id)
    errors = [line.text for line in lines if line.level == "error"]
    assert errors == [e.text for e in sink.traces("error")] and any("MATH-3A introuvable" in e for e in errors)
    assert lines[10].text.startswith("… ") and "non conservées" in lines[10].text
    run = await services.state.get_run(result.run_id)
    assert run is not None and run.trace_dropped > 0


async def test_a_first_run_reading_the_whole_small_site_writes_what_lookups_would(env, monkeypatch):
    """Above WHOLE_USERS_READ_ABOVE values the site's users are read at once when it holds fewer:
    the same run (a first run, then nothing to write, then a forced run)."""
    from enttui.services import moodle_sync

    services, _sandbox = env
    monkeypatch.setattr(moodle_sync, "WHOLE_USERS_READ_ABOVE", 0)
    first, sink = await sync(services)
    assert first.status == "réussi", sink.traces("error")
    assert first.counts["users"].created > 100 and first.counts["users"].errors == 0
    before = await digest(services.moodle)
    again, _ = await sync(services)
    forced, _ = await sync(services, force=True)
    assert sum(v.created + v.updated + v.removed + v.suspended for v in again.counts.values()) == 0
    assert forced.status == "réussi" and forced.counts["users"].unchanged == first.counts["users"].created
    assert await digest(services.moodle) == before
