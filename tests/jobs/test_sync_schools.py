"""The sync's Bilan per school, against a real slapd and MariaDB: a périmètre of two schools.

Every per-school count must be what was written: the users created per school are the Moodle
users of that school's people, the cohorts per school those whose idnumber carries its UAI, on a
complete run and on a run cancelled after a few batches alike; the result, ``--json`` (``as_dict``)
and the recorded run hold the same numbers. The same with the people read school by school (the
read of a périmètre of more than ``BY_SCHOOL_ABOVE`` schools, forced here for two).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import insert, select

from enttui.config import Config, EntConfig, SyncConfig
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.domain.attributes import SYNC_PERSON_ATTRIBUTES
from enttui.domain.dn import lookup_key
from enttui.domain.sync import SyncOptions
from enttui.domain.sync_schools import NO_SCHOOL, SCHOOLS_KEY, SchoolCounts
from enttui.jobs.events import CollectingSink
from enttui.jobs.reports import school_lines
from enttui.jobs.sync import run_sync
from enttui.services import directory as directory_module
from enttui.services.container import Services, utc_now
from enttui.services.directory import Directory
from enttui.services.moodle import Moodle
from support.person_reads import record_person_reads

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ALPHA, BETA = "0123456A", "0654321B"
OPERATIONAL = {"createtimestamp", "modifytimestamp"}


def two_schools(base_dn: str) -> list[tuple[str, dict[str, list[str]]]]:
    spec = WorldSpec(
        base_dn=base_dn,
        schools=(
            SchoolSpec(ALPHA, "Collège Alpha", students=24, teachers=4, staff=2, others=1, classes_per_level=1),
            SchoolSpec(BETA, "Lycée [Beta]", students=12, teachers=3, staff=1, others=1, classes_per_level=1),
        ),
        role_groups=False,
    )
    return [(dn, {k: list(v) for k, v in a.items() if k.lower() not in OPERATIONAL}) for dn, a in generate(spec)]


@pytest.fixture(params=["one search", "by school"])
def read_mode(request: pytest.FixtureRequest):
    """The sync's whole read in one search (the OR of the schools), or school by school."""
    before = directory_module.BY_SCHOOL_ABOVE
    if request.param == "by school":
        directory_module.BY_SCHOOL_ABOVE = 0
    try:
        yield request.param
    finally:
        directory_module.BY_SCHOOL_ABOVE = before


@pytest.fixture
async def env(ldap_sandbox, moodle_mariadb, state_store):
    ldap_sandbox.add(two_schools(ldap_sandbox.base_dn))
    cfg = Config(
        ent=EntConfig(uai=[ALPHA, BETA]),
        ldap=ldap_sandbox.config(),
        moodle=moodle_mariadb.config,
        sync=SyncConfig(watermark_margin_minutes=0, max_removal_share=0.5, batch_size=5),
    )
    directory = Directory(cfg.ldap, cfg.ent)
    await directory.open()
    services = Services(config=cfg, directory=directory, state=state_store, moodle=moodle_mariadb, clock=utc_now)
    await asyncio.sleep(1.05)  # modifyTimestamp has a one-second resolution
    try:
        yield services, ldap_sandbox
    finally:
        await directory.close()


async def sync(services: Services, should_stop: Any = None, **opts: Any):
    sink = CollectingSink()
    stop = should_stop(sink) if should_stop else (lambda: False)
    result = await run_sync(services, SyncOptions(roles=False, **opts), sink, should_stop=stop)
    return result, sink


async def school_of_login(services: Services) -> dict[str, str]:
    """Moodle username → UAI, from the directory (read here, not by the sync)."""
    directory = services.directory
    schools = {lookup_key(s.dn): s.uai for s in await directory.structures()}
    out = {}
    async for page in directory.iter_people(attributes=["ENTPersonLogin", "ENTPersonStructRattach"]):
        for p in page:
            out[p.login.lower()] = schools[lookup_key(p.struct_dns[0])]
    return out


async def moodle_per_school(services: Services) -> dict[str, dict[str, int]]:
    """What Moodle holds, per school: users of the sync's auth, and cohorts of its lock."""
    moodle: Moodle = services.moodle
    t = moodle.tables

    def read(conn: Any) -> tuple[list[str], list[str]]:
        users = conn.execute(select(t.user.c.username).where(t.user.c.auth == "cas")).scalars().all()
        cohorts = (
            conn.execute(select(t.cohort.c.idnumber).where(t.cohort.c.component == "local_ent_installer"))
            .scalars()
            .all()
        )
        return list(users), list(cohorts)

    users, cohorts = await moodle.read(read)
    where = await school_of_login(services)
    out: dict[str, dict[str, int]] = {ALPHA: {"users": 0, "cohorts": 0}, BETA: {"users": 0, "cohorts": 0}}
    for username in users:
        out[where[username]]["users"] += 1
    for idnumber in cohorts:
        uai = ALPHA if f"_{ALPHA}$" in idnumber else BETA if f"_{BETA}$" in idnumber else "?"
        out[uai]["cohorts"] += 1
    return out


def created(schools: SchoolCounts, uai: str) -> dict[str, int]:
    return {"users": schools.get(uai, "users", "created"), "cohorts": schools.get(uai, "cohorts", "created")}


async def recorded(services: Services, run_id: int) -> dict[str, Any]:
    run = await services.state.get_run(run_id)
    assert run is not None
    return dict(run.counts[SCHOOLS_KEY])


async def test_per_school_counts_are_what_was_written(env, read_mode, monkeypatch):
    services, sandbox = env
    asked = record_person_reads(services.directory, monkeypatch)

    # cancelled after two batches of users: the counts per school are the rows written so far
    def after_two_batches(sink: CollectingSink):
        return lambda: len([t for t in sink.traces("change") if t.text.startswith("création de ")]) >= 10

    cut, sink = await sync(services, after_two_batches)
    assert cut.status == "interrompu", sink.traces("error")
    # with several schools, the sync reads the attachment school (one attribute more), nothing else
    assert asked and all(a == (*SYNC_PERSON_ATTRIBUTES, "ENTPersonStructRattach") for a in asked), asked
    monkeypatch.undo()
    held = await moodle_per_school(services)
    # two batches side by side (MariaDB): the stop may find a third one started, which commits and counts
    assert sum(v["users"] for v in held.values()) == cut.counts["users"].created in (10, 15)
    assert created(cut.schools, ALPHA)["users"] == held[ALPHA]["users"]
    assert created(cut.schools, BETA)["users"] == held[BETA]["users"]
    assert cut.as_dict()["schools"] == cut.schools.as_dict() == await recorded(services, cut.run_id)

    # the rest: every count per school equals Moodle's rows of that school
    first, sink = await sync(services)
    assert first.status == "réussi", sink.traces("error")
    held = await moodle_per_school(services)
    for uai in (ALPHA, BETA):
        was = created(cut.schools, uai)
        now = created(first.schools, uai)
        assert was["users"] + now["users"] == held[uai]["users"] > 0, uai
        assert now["cohorts"] == held[uai]["cohorts"] > 0, uai
    assert held[ALPHA]["users"] > held[BETA]["users"]
    assert first.schools.total("users", "created") == first.counts["users"].created
    assert first.schools.total("cohorts", "created") == first.counts["cohorts"].created
    doc = first.as_dict()["schools"]
    assert set(doc) == {ALPHA, BETA} and doc[BETA]["name"] == "Lycée [Beta]"
    assert doc[ALPHA]["users"]["created"] == created(first.schools, ALPHA)["users"]
    assert doc == await recorded(services, first.run_id)
    lines = school_lines({SCHOOLS_KEY: doc})
    assert lines[1].startswith(f"{BETA} Lycée [Beta] : comptes ") and "cohortes" in lines[1]
    traced = [t.text for t in sink.traces("info") if t.text.startswith("Par établissement : ")]
    assert traced == [f"Par établissement : {line}" for line in lines]

    # an update in Beta, a clash (error) in Alpha, a person gone (suspended: no school any more)
    people = sorted(
        (dn, a) for dn, a in await services.directory.search_all(sandbox.people_dn, "(objectClass=ENTEleve)", ["*"])
    )
    where = await school_of_login(services)
    beta_dn = next(dn for dn, a in people if where[a["ENTPersonLogin"][0].lower()] == BETA)
    alpha_dn, alpha = next((dn, a) for dn, a in people if where[a["ENTPersonLogin"][0].lower()] == ALPHA)
    gone_dn = next(dn for dn, a in reversed(people) if where[a["ENTPersonLogin"][0].lower()] == ALPHA)
    await services.directory.modify(beta_dn, {"sn": ["Changé"]})
    login = alpha["ENTPersonLogin"][0].lower()
    u = services.moodle.tables.user
    await services.moodle.run(lambda c: c.execute(u.delete().where(u.c.username == login)))
    await services.moodle.run(
        lambda c: c.execute(insert(u).values(auth="manual", username=login, mnethostid=1, firstname="A", lastname="B"))
    )
    await services.directory.modify(alpha_dn, {"description": ["touché"]})
    await services.directory.delete(gone_dn)
    forced, sink = await sync(services, force=True, cohorts=False)
    s = forced.schools
    assert s.get(BETA, "users", "updated") == 1 and s.get(ALPHA, "users", "updated") == 0
    assert s.get(ALPHA, "users", "errors") == 1 == forced.counts["users"].errors, sink.traces("error")
    assert s.get("", "users", "suspended") == 1 == forced.counts["users"].suspended
    assert forced.as_dict()["schools"][NO_SCHOOL]["users"]["suspended"] == 1
    assert forced.as_dict()["schools"] == await recorded(services, forced.run_id)
