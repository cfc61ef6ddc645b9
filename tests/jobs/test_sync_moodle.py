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
from enttui.jobs.events import CollectingSink
from enttui.jobs.sync import SyncResult, run_sync
from enttui.services.container import Services, utc_now
from enttui.services.directory import Directory
from enttui.services.moodle import Moodle
from support.fixtures_ldap import LdapSandbox
from support.fixtures_moodle_php import MoodleSite
from support.sync_world import (
    Someone,
    group,
    person,
    person_dn,
    role_group,
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
    errors = [t.text for t in sink2.traces("error")]
    assert len(errors) == 1 and "Élise.Dupré" in errors[0] and "elise.dupre" in errors[0], errors


# -- 1. a member DN in another case ---------------------------------------------------------------
async def test_member_dns_in_another_case_are_members(world: World) -> None:
    """``uid=E1,ou=People,DC=…`` for ``uid=e1,ou=people,dc=…`` is the same member (one DN key), in a
    full run and in a normal run that looks members up; a DN that points nowhere is an error line for
    that member only."""
    w = world
    await enable_cas(w)
    kids = [Someone(f"e{i}", f"eleve.{i}") for i in (1, 2, 3)]
    teacher = Someone("t1", "prof.un", kind="enseignant")
    w.add([person(w.base, p) for p in (*kids, teacher)])
    ghost = f"uid=ghost,ou=people,{w.base}"
    w.add(
        [
            group(w.base, f"{A}$3A", [f"UID=E1,OU=People,{w.base.upper()}", person_dn(w.base, "e2"), ghost]),
            role_group(w.base, "manager:system:", [f"UID=T1,OU=PEOPLE,{w.base.upper()}"]),
        ]
    )
    first, sink = await w.sync()
    cohort = f"2026_{A}$3A"
    assert await w.cohort_members(cohort) == {"eleve.1", "eleve.2"}
    errors = [t.text for t in sink.traces("error")]
    assert len(errors) == 1 and ghost in errors[0] and "introuvable" in errors[0], errors
    assert first.counts["roles"].created == 1
    # a normal run: only the group changed; its members are looked up by DN (another spelling again)
    await w.modify(
        f"cn={A}$3A,ou=groups,{w.base}",
        {
            "member": [
                f"UID=E1,OU=People,{w.base.upper()}",
                person_dn(w.base, "e2"),
                f"uid=E3,ou=PEOPLE,{w.base}",
                ghost,
            ]
        },
    )
    _second, sink = await w.sync(verbose=True)
    read = [t.text for t in sink.traces("detail") if t.text.startswith("lu : ")]
    assert read == [], read  # no person changed: members were looked up, not read with the people
    assert await w.cohort_members(cohort) == {"eleve.1", "eleve.2", "eleve.3"}
    errors = [t.text for t in sink.traces("error")]
    assert len(errors) == 1 and ghost in errors[0], errors
    assert not any("résolution des membres impossible" in e for e in errors)
    answer = w.probe(
        {
            "users": ["eleve.1", "eleve.2", "eleve.3", "prof.un"],
            "cohorts": {cohort: ["eleve.1", "eleve.2", "eleve.3"]},
            "roles": [{"user": "prof.un", "context": "system", "capability": "moodle/cohort:manage"}],
        }
    )
    assert_users_seen_by_moodle(answer, dirty=lambda u: u == "prof.un")
    assert all(answer["cohorts"][cohort]["members"].values())
    assert answer["roles"][0]["roles"] == ["manager"] and answer["roles"][0]["has"] is True


# -- 2. a member DN that ldap3 (or anyone) cannot parse -------------------------------------------
@pytest.fixture
async def embedded_world(moodle_site: MoodleSite, state_store: Any) -> AsyncIterator[World]:
    """The embedded directory (the product's ``mock://`` backend) keeps member values as written: a
    spaced ``UID=e1, OU=People,…`` that ldap3 refuses as a search base, or no DN at all. (slapd
    rewrites every DN value it stores, so it cannot hold them.)"""
    w = World(None, moodle_site, state_store, "dc=ent,dc=test")
    kids = [Someone(f"e{i}", f"eleve.{i}") for i in (1, 2, 3)]
    w.embedded = [
        *schools(w.base, [A]),
        roles_container(w.base),
        *(person(w.base, p) for p in kids),
        group(
            w.base,
            f"{A}$3A",
            [f"UID=e1, OU=People,{w.base}", person_dn(w.base, "e2"), f"uid=broken,,ou=people,{w.base}"],
        ),
    ]
    try:
        yield w
    finally:
        if w.directory is not None:
            await w.directory.close()


async def test_unparsable_member_dns_never_stop_the_others(embedded_world: World) -> None:
    """A member DN that ldap3 refuses is still found (one DN key); one that is no DN at all is an
    error line for that member; neither stops the lookup of the others (full and normal runs)."""
    w = embedded_world
    await enable_cas(w)
    _first, sink = await w.sync()
    cohort = f"2026_{A}$3A"
    assert await w.cohort_members(cohort) == {"eleve.1", "eleve.2"}
    errors = [t.text for t in sink.traces("error")]
    assert len(errors) == 1 and "uid=broken,," in errors[0] and "n'est pas un DN valide" in errors[0], errors
    await w.services()
    await w.modify(
        f"cn={A}$3A,ou=groups,{w.base}",
        {
            "member": [
                f"UID=e1, OU=People,{w.base}",
                person_dn(w.base, "e2"),
                f"UID=e3 , OU=People,{w.base}",
                f"uid=broken,,ou=people,{w.base}",
            ]
        },
    )
    _second, sink = await w.sync()
    errors = [t.text for t in sink.traces("error")]
    assert len(errors) == 1 and "uid=broken,," in errors[0], errors
    assert not any("résolution des membres impossible" in e for e in errors)
    assert await w.cohort_members(cohort) == {"eleve.1", "eleve.2", "eleve.3"}
    answer = w.probe(
        {"users": ["eleve.1", "eleve.2", "eleve.3"], "cohorts": {cohort: ["eleve.1", "eleve.2", "eleve.3"]}}
    )
    assert_users_seen_by_moodle(answer)
    assert all(answer["cohorts"][cohort]["members"].values())


# -- 3 and 7. errors fixed by the administrator, then a normal run ---------------------------------
async def test_fixed_errors_are_retried_by_normal_runs(world: World) -> None:
    """A login clashing with a "manual" account, a "manual" account holding a person's idnumber, a
    role group naming a course that does not exist yet: error lines, nothing written for them; once
    the administrator fixed the causes in Moodle, the next normal run (nothing changed in the
    directory) applies them, memberships included."""
    w = world
    await enable_cas(w)
    teacher = Someone("t1", "prof.un", kind="enseignant")
    kids = [
        Someone("s1", "clash.login"),
        Someone("s2", "eleve.deux", jointure="AC-TEST$J2"),
        Someone("s3", "eleve.trois"),
    ]
    w.add([person(w.base, p) for p in (teacher, *kids)])
    w.add(
        [
            group(w.base, f"{A}$3A", [person_dn(w.base, p.uid) for p in kids]),
            role_group(w.base, "editingteacher:course:NEWCOURSE", [person_dn(w.base, "t1")]),
        ]
    )
    manual = {"auth": "manual", "firstname": "Compte", "lastname": "Manuel", "email": "m@ent.test"}
    w.site.probe(
        {
            "setup": {
                "create_users": [
                    {**manual, "username": "clash.login"},
                    {**manual, "username": "hand.made", "idnumber": "J2"},
                ]
            }
        }
    )
    _first, sink = await w.sync()
    errors = [t.text for t in sink.traces("error")]
    assert len(errors) == 3, errors
    assert any("clash.login" in e and "manual" in e for e in errors)
    assert any("jointure « J2 » déjà portée par le compte « manual » hand.made" in e for e in errors)
    assert any("NEWCOURSE" in e and "introuvable" in e for e in errors)
    assert await w.usernames() == {"prof.un", "eleve.trois"}
    assert {r["username"]: r["idnumber"] for r in await w.rows("user", auth="manual")} == {
        "admin": "",
        "guest": "",
        "clash.login": "",
        "hand.made": "J2",
    }
    cohort = f"2026_{A}$3A"
    assert await w.cohort_members(cohort) == {"eleve.trois"}
    assert [e.dn for e in await w.state.sync_retry("users")] == [person_dn(w.base, "s1"), person_dn(w.base, "s2")]
    # The administrator fixes the causes in Moodle, nothing changes in the directory.
    w.site.probe(
        {
            "setup": {
                "update_users": [
                    {"username": "clash.login", "set": {"username": "clash.old"}},
                    {"username": "hand.made", "set": {"idnumber": ""}},
                ],
                "courses": ["NEWCOURSE"],
            }
        }
    )
    second, sink = await w.sync()
    assert second.status == "réussi", [t.text for t in sink.traces("error")]
    assert await w.usernames() == {"prof.un", "clash.login", "eleve.deux", "eleve.trois"}
    assert await w.cohort_members(cohort) == {"clash.login", "eleve.deux", "eleve.trois"}
    assert second.counts["roles"].created == 1
    assert all([await w.state.sync_retry(e) == [] for e in ("users", "cohorts", "roles")])
    third, _ = await w.sync()
    assert third.status == "réussi" and sum(c.created + c.updated + c.removed for c in third.counts.values()) == 0
    answer = w.probe(
        {
            "users": ["prof.un", "clash.login", "eleve.deux", "eleve.trois"],
            "cohorts": {cohort: ["clash.login", "eleve.deux", "eleve.trois"]},
            "roles": [{"user": "prof.un", "context": "course:NEWCOURSE", "capability": "moodle/course:update"}],
        }
    )
    assert_users_seen_by_moodle(answer, dirty=lambda u: u == "prof.un")
    assert answer["users"]["eleve.deux"]["idnumber"] == "J2"
    assert all(answer["cohorts"][cohort]["members"].values())
    assert answer["roles"][0]["roles"] == ["editingteacher"] and answer["roles"][0]["has"] is True


# -- 4 and 9. a school added to the périmètre; two schools with the same class names ----------------
async def test_a_widened_perimeter_is_read_whole_and_cohorts_stay_apart(world: World) -> None:
    """A school added to ``[ent] uai``: the next normal run reads everything (the watermarks belong to
    the settings' fingerprint); with two schools, their "3A" cohorts carry the school's name."""
    w = world
    await enable_cas(w)
    alpha = [Someone("a1", "alpha.un"), Someone("a2", "alpha.deux")]
    beta = [Someone("b1", "beta.un", uai=B), Someone("b2", "beta.deux", uai=B)]
    w.add([person(w.base, p) for p in (*alpha, *beta)])
    w.add(
        [
            group(w.base, f"{A}$3A", [person_dn(w.base, p.uid) for p in alpha]),
            group(w.base, f"{B}$3A", [person_dn(w.base, p.uid) for p in beta]),
        ]
    )
    _first, _ = await w.sync()
    assert await w.usernames() == {"alpha.un", "alpha.deux"}
    assert [(r["idnumber"], r["name"]) for r in await w.rows("cohort", component="local_ent_installer")] == [
        (f"2026_{A}$3A", "2026 3A")
    ]
    w.uai = [A, B]
    second, sink = await w.sync()  # a normal run: nothing changed in the directory since the first
    assert second.status == "réussi", [t.text for t in sink.traces("error")]
    assert any(t.text == "4 personnes lues dans l'annuaire" for t in sink.traces("info"))
    assert await w.usernames() == {"alpha.un", "alpha.deux", "beta.un", "beta.deux"}
    names = {r["idnumber"]: r["name"] for r in await w.rows("cohort", component="local_ent_installer")}
    assert names == {f"2026_{A}$3A": "2026 3A (Collège Alpha)", f"2026_{B}$3A": "2026 3A (Collège Beta)"}
    answer = w.probe(
        {
            "users": ["alpha.un", "alpha.deux", "beta.un", "beta.deux"],
            "cohorts": {f"2026_{A}$3A": ["alpha.un", "beta.un"], f"2026_{B}$3A": ["beta.un", "beta.deux"]},
        }
    )
    assert_users_seen_by_moodle(answer)
    seen = answer["cohorts"]
    assert seen[f"2026_{A}$3A"]["members"] == {"alpha.un": True, "beta.un": False}
    assert seen[f"2026_{B}$3A"]["members"] == {"beta.un": True, "beta.deux": True}
    assert seen[f"2026_{A}$3A"]["name"] != seen[f"2026_{B}$3A"]["name"]


# -- 6 and 8, and Moodle's cron: the auth warning, role removals, cohort enrolments ------------------
async def test_auth_warning_role_removal_and_cohort_enrolment(world: World) -> None:
    """With ``cas`` not enabled in Moodle, every run says so (trace, summary, --json warnings, also in
    simulation). A role removed in the directory: the trace names the login, Moodle's own code sees the
    role gone and the user marked dirty. Cohort enrolments follow when Moodle's cohort task runs."""
    w = world
    teachers = [Someone("t1", "prof.un", kind="enseignant"), Someone("t2", "prof.deux", kind="enseignant")]
    kids = [Someone("s1", "eleve.un"), Someone("s2", "eleve.deux")]
    w.add([person(w.base, p) for p in (*teachers, *kids)])
    w.add(
        [
            group(w.base, f"{A}$3A", [person_dn(w.base, p.uid) for p in kids]),
            role_group(w.base, "manager:system:", [person_dn(w.base, p.uid) for p in teachers]),
        ]
    )
    simulated, sink = await w.sync(simulate=True)
    for result, events in ((simulated, sink), await w.sync()):
        assert len(result.warnings) == 1 and "« cas » n'est pas activée dans Moodle" in result.warnings[0]
        assert result.as_dict()["warnings"] == result.warnings
        assert f"Attention : {result.warnings[0]}" in result.summary
        assert any("n'est pas activée" in t.text for t in events.traces("warning"))
    cohort = f"2026_{A}$3A"
    answer = w.probe(
        {
            "users": ["prof.un", "prof.deux", "eleve.un", "eleve.deux"],
            "roles": [{"user": "prof.deux", "context": "system", "capability": "moodle/cohort:manage"}],
            "enrol": {"course": "PROBE-3A", "cohort": cohort, "create": True},
        }
    )
    assert answer["auth_enabled"] == ["manual", "nologin", "email"]
    assert_users_seen_by_moodle(answer, dirty=lambda u: u.startswith("prof."))
    assert answer["roles"][0]["roles"] == ["manager"] and answer["roles"][0]["has"] is True
    assert answer["enrol"]["before_task"] == ["eleve.deux", "eleve.un"]
    # The directory changes: prof.deux leaves the manager group, a new student joins the class.
    w.add([person(w.base, Someone("s3", "eleve.trois"))])
    await w.services()
    await w.modify(f"cn=manager:system:,ou=roles,ou=groups,{w.base}", {"member": [person_dn(w.base, "t1")]})
    await w.modify(f"cn={A}$3A,ou=groups,{w.base}", {"member": [person_dn(w.base, f"s{i}") for i in (1, 2, 3)]})
    await w.moodle.run(lambda c: c.execute(update(w.moodle.tables.cache_flags).values(expiry=0)))  # flags consumed
    second, sink = await w.sync()
    removals = [t.text for t in sink.traces("change") if t.text.startswith("retrait du rôle")]
    assert removals == ["retrait du rôle manager à prof.deux (système)"]
    assert no_id_in(removals[0])
    assert len(second.warnings) == 1
    assert len(await w.rows("role_assignments", component="local_ent_installer")) == 1
    answer = w.probe(
        {
            "users": ["prof.un", "prof.deux", "eleve.trois"],
            "roles": [{"user": "prof.deux", "context": "system", "capability": "moodle/cohort:manage"}],
            "enrol": {"course": "PROBE-3A", "cohort": cohort, "run_task": True},
        }
    )
    assert_users_seen_by_moodle(answer, dirty=lambda u: u == "prof.deux")
    assert answer["roles"][0]["roles"] == [] and answer["roles"][0]["has"] is False
    assert answer["enrol"]["before_task"] == ["eleve.deux", "eleve.un"]  # Moodle's cron has not run yet
    assert answer["enrol"]["after_task"] == ["eleve.deux", "eleve.trois", "eleve.un"]
