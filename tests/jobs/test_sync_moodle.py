"""The sync against a real Moodle 4.5, asked through Moodle's own PHP code (issue 12).

Each test loads the dump of a fresh Moodle 4.5 site into the private MariaDB, then PostgreSQL, fills
a private slapd branch (or the embedded directory) with a small hand-made world, runs the sync, then
checks Moodle's rows and what Moodle's own code sees (``support/moodle_probe.php``): the schema is
clean, every synced user is found by ``core_user::get_user_by_username()`` and passes
``core_user::validate()``, cohort members per ``cohort_is_member()``, roles per
``get_user_roles()`` / ``has_capability()``, the cohort enrolment task enrols cohort members.
Skipped, with the reason, without ``$ENTTUI_MOODLE_SRC``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from enttui.config import Config, EntConfig, SyncConfig
from enttui.domain.sync import SyncOptions
from enttui.jobs.context import Services, utc_now
from enttui.jobs.events import CollectingSink
from enttui.jobs.sync import SyncResult, run_sync
from enttui.services.directory import Directory
from enttui.services.moodle import Moodle
from support.fixtures_ldap import LdapSandbox
from support.fixtures_moodle_php import MoodleSite
from support.sync_world import (
    Someone,
    group,
    person,
    person_dn,
    roles_container,
    schools,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

A, B = "0123456A", "0654321B"


class World:
    """A slapd branch (or the embedded directory), a Moodle site, the state store: sync and probe."""

    def __init__(self, sandbox: LdapSandbox | None, site: MoodleSite, state: Any, base: str) -> None:
        self.sandbox, self.site, self.state, self.base = sandbox, site, state, base
        self.directory: Directory | None = None
        self.uai = [A]
        self.sync_config = SyncConfig(watermark_margin_minutes=0)
        self.embedded: list[tuple[str, dict[str, list[str]]]] | None = None
        self._changed = False

    @property
    def moodle(self) -> Moodle:
        return self.site.moodle

    def config(self) -> Config:
        ldap = self.sandbox.config() if self.sandbox is not None else None
        if ldap is None:
            from enttui.config import LdapConfig

            ldap = LdapConfig(
                urls=["mock://test"],
                base_dn=self.base,
                people_dn=f"ou=people,{self.base}",
                groups_dn=f"ou=groups,{self.base}",
                structures_dn=f"ou=structures,{self.base}",
            )
        return Config(ent=EntConfig(uai=list(self.uai)), ldap=ldap, moodle=self.moodle.config, sync=self.sync_config)

    async def services(self) -> Services:
        cfg = self.config()
        if self.directory is None:
            if self.sandbox is None:
                self.directory = Directory.embedded(cfg.ldap, cfg.ent, self.embedded or [])
            else:
                self.directory = Directory(cfg.ldap, cfg.ent)
            await self.directory.open()
        else:
            self.directory._ent = cfg.ent  # a widened périmètre: same connection, new schools
            self.directory._invalidate()
        return Services(config=cfg, directory=self.directory, state=self.state, moodle=self.moodle, clock=utc_now)

    def add(self, entries: list[tuple[str, dict[str, list[str]]]]) -> None:
        assert self.sandbox is not None
        self.sandbox.add(entries)
        self._changed = True

    async def modify(self, dn: str, changes: dict[str, list[str] | None]) -> None:
        assert self.directory is not None
        await self.directory.modify(dn, changes)
        self._changed = True

    async def sync(self, **opts: Any) -> tuple[SyncResult, CollectingSink]:
        if self._changed:  # modifyTimestamp has a one-second resolution: changes before the run's start
            await asyncio.sleep(1.05)
            self._changed = False
        sink = CollectingSink()
        result = await run_sync(await self.services(), SyncOptions(**opts), sink)
        return result, sink

    async def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        t = getattr(self.moodle.tables, table)
        q = select(t)
        for k, v in where.items():
            q = q.where(t.c[k] == v)
        return [dict(r) for r in await self.moodle.read(lambda c: c.execute(q).mappings().all())]

    async def usernames(self, auth: str = "cas") -> set[str]:
        return {r["username"] for r in await self.rows("user", auth=auth)}

    async def cohort_members(self, idnumber: str) -> set[str]:
        t = self.moodle.tables
        q = (
            select(t.user.c.username)
            .join(t.cohort_members, t.cohort_members.c.userid == t.user.c.id)
            .join(t.cohort, t.cohort.c.id == t.cohort_members.c.cohortid)
            .where(t.cohort.c.idnumber == idnumber)
        )
        return set(await self.moodle.read(lambda c: c.execute(q).scalars().all()))

    def probe(self, request: dict[str, Any]) -> dict[str, Any]:
        answer = self.site.probe({"schema": True, **request})
        assert answer["schema"] == [], answer["schema"]  # admin/cli/check_database_schema.php is clean
        return answer


def assert_users_seen_by_moodle(answer: dict[str, Any], *, dirty: Callable[[str], bool] | None = None) -> None:
    """Every user was found by core_user::get_user_by_username() and passes core_user::validate()."""
    for username, seen in answer["users"].items():
        assert seen["found"], username
        assert seen["valid"] is True, (username, seen["valid"])
        assert seen["clean"], username  # clean_param(PARAM_USERNAME) leaves it unchanged
        assert seen["context"] == f"/1/{seen['context'].rsplit('/', 1)[1]}", (username, seen["context"])
        if dirty is not None:
            assert seen["dirty"] is dirty(username), username


@pytest.fixture
async def world(ldap_sandbox: LdapSandbox, moodle_site: MoodleSite, state_store: Any) -> AsyncIterator[World]:
    w = World(ldap_sandbox, moodle_site, state_store, ldap_sandbox.base_dn)
    w.add([*schools(w.base), roles_container(w.base)])
    try:
        yield w
    finally:
        if w.directory is not None:
            await w.directory.close()


async def enable_cas(w: World) -> None:
    """What an administrator does in Moodle before using the sync: enable the CAS authentication (the
    config row Moodle's admin page writes; before any probe, so no Moodle cache holds the old value)."""
    cfg = w.moodle.tables.config
    await w.moodle.run(lambda c: c.execute(update(cfg).where(cfg.c.name == "auth").values(value="email,cas")))


def no_id_in(text: str) -> bool:
    return re.search(r"\b\d+\b", text.split("(")[0]) is None


# -- 5. usernames Moodle accepts ----------------------------------------------------------------------
async def test_logins_become_usernames_moodle_accepts(world: World) -> None:
    """Zoé.Müller, "jean martin", o'brien.kelly: written as Moodle's PARAM_USERNAME accepts them (the
    documented transliteration), a collision is an error line, and Moodle's own code finds and
    validates every account."""
    w = world
    await enable_cas(w)
    people = [
        Someone("z1", "Zoé.Müller", sn="Müller", given="Zoé"),
        Someone("j1", "jean martin", sn="Martin", given="Jean"),
        Someone("o1", "o'brien.kelly", sn="O'Brien", given="Kelly"),
        Someone("d1", "Œdipe.Roi", sn="Roi", given="Œdipe"),
        Someone("e1", "elise.dupre", sn="Dupré", given="Élise"),
        Someone("e2", "Élise.Dupré", sn="Dupré", given="Élise"),  # same username once transliterated
    ]
    w.add([person(w.base, p) for p in people])
    w.add([group(w.base, f"{A}$3A", [person_dn(w.base, p.uid) for p in people])])
    result, sink = await w.sync()
    assert await w.usernames() == {"zoe.muller", "jeanmartin", "obrien.kelly", "oedipe.roi", "elise.dupre"}
    errors = [t.text for t in sink.traces("error")]
    assert len(errors) == 1 and "Élise.Dupré" in errors[0] and "elise.dupre" in errors[0], errors
    assert result.exit_code == 1 and result.counts["users"].created == 5
    assert any("création de zoe.muller" in t.text and "translittéré" in t.text for t in sink.traces("change"))
    answer = w.probe(
        {
            "users": sorted(await w.usernames()),
            "cohorts": {f"2026_{A}$3A": sorted(await w.usernames())},
        }
    )
    assert "cas" in answer["auth_enabled"]
    assert_users_seen_by_moodle(answer)
    assert all(answer["cohorts"][f"2026_{A}$3A"]["members"].values())
    # the retry list keeps the collision; nothing else is re-read or rewritten
    again, sink2 = await w.sync(verbose=True)
    assert sum(c.created + c.updated for c in again.counts.values()) == 0, [t.text for t in sink2.traces("change")]
    assert [t.text for t in sink2.traces("error")] == errors
