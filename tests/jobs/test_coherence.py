"""The coherence report against the real slapd (and Moodle on MariaDB), with injected defects."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from enttui.config import Config, EntConfig, SyncConfig
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.domain.people import Target, person_from_entry, resolve_target
from enttui.jobs.coherence import export_coherence_csv, run_coherence
from enttui.jobs.events import CollectingSink, Phase, Progress
from enttui.services.container import Services
from enttui.services.directory import Directory

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

_spec = importlib.util.spec_from_file_location("bench_coherence", Path(__file__).parents[2] / "bench" / "coherence.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

UAIS = ["0000001A", "0000002B"]
NOW = datetime(2026, 9, 1, tzinfo=UTC)  # the world's reference date: nobody is "never activated" yet


def world(base: str, *, students: int = 150) -> list[tuple[str, dict[str, list[str]]]]:
    spec = WorldSpec(
        base_dn=base,
        schools=tuple(
            SchoolSpec(uai, f"Collège {uai}", students=students, teachers=14, staff=6, others=5, classes_per_level=2)
            for uai in UAIS
        ),
        role_groups=False,
    )
    # createTimestamp / modifyTimestamp are the server's own (no user modification online)
    skip = {"createTimestamp", "modifyTimestamp"}
    return [(dn, {k: list(v) for k, v in a.items() if k not in skip}) for dn, a in generate(spec)]


async def services_for(sandbox, state_store, *, uais=UAIS, moodle=None, **sync) -> Services:
    cfg = Config(
        ent=EntConfig(uai=list(uais)),
        ldap=sandbox.config(),
        sync=SyncConfig(**sync) if sync else SyncConfig(),
    )
    directory = Directory(cfg.ldap, cfg.ent)
    await directory.open()
    return Services(config=cfg, directory=directory, state=state_store, moodle=moodle, clock=lambda: NOW)


def found(report, check_id: str) -> set[str]:
    return {f.dn.lower() for f in report.check(check_id).findings}


def no_mail_expected(entries) -> set[str]:
    out = set()
    for dn, a in entries:
        if "entperson" not in {c.lower() for c in a["objectClass"]}:
            continue
        p = person_from_entry(dn, a)
        if not p.mail and resolve_target(p.profils, p.object_classes) in (Target.ELEVE, Target.PARENT, Target.AUTRE):
            out.add(dn.lower())
    return out


async def test_each_check_finds_exactly_the_injected_entries(ldap_sandbox, state_store, tmp_path):
    entries = world(ldap_sandbox.base_dn)
    injected = bench.inject_defects(entries, ldap_sandbox.base_dn, per_check=2)
    ldap_sandbox.add(entries)
    services = await services_for(ldap_sandbox, state_store)
    sink = CollectingSink()
    try:
        report = await run_coherence(services, sink)
    finally:
        await services.directory.close()
    assert report.read["people"] == sum(1 for _, a in entries if "ENTPerson" in a["objectClass"])
    for check_id, dns in injected.items():
        assert found(report, check_id) == {d.lower() for d in dns}, check_id
    for c in report.checks:
        if c.id not in injected and c.id != "no_mail":
            assert c.count == 0, (c.id, c.findings[:3])
    # people attached to no existing school belong to every périmètre: all are concerned here
    assert found(report, "no_mail") == no_mail_expected(entries)
    assert report.blocking_failed
    assert report.moodle == "Moodle n'est pas configuré."
    assert any(isinstance(e, Phase) for e in sink.events)
    assert any(isinstance(e, Progress) and e.entity == "people" for e in sink.events)
    # export of the whole report
    path = tmp_path / "coherence.csv"
    rows = export_coherence_csv(report, path)
    assert rows == report.total_findings
    assert path.read_bytes().startswith("\ufeff".encode())
    assert json.dumps(report.as_dict(), ensure_ascii=False)


def expected_school(entries, dn: str) -> str:
    """The UAI a finding about ``dn`` must carry: a person's attachment school, a group's cn prefix."""
    by_dn = {d.lower(): a for d, a in entries}
    uai_of_struct = {d.lower(): a["ENTStructureUAI"][0] for d, a in entries if "ENTStructureUAI" in a}
    attrs = by_dn[dn.lower()]
    if "groupOfNames" in attrs["objectClass"]:
        return attrs["cn"][0].split("$", 1)[0]
    for sdn in attrs.get("ENTPersonStructRattach", []):
        if sdn.lower() in uai_of_struct:
            return uai_of_struct[sdn.lower()]
    return ""


async def test_findings_carry_the_school_of_their_entry(ldap_sandbox, state_store, tmp_path):
    """Each kind of injected defect is attributed to the school of its entry (both schools get
    some), "sans établissement" when the entry's school is unknown; the summary and the CSV agree."""
    entries = world(ldap_sandbox.base_dn)
    injected = bench.inject_defects(entries, ldap_sandbox.base_dn, per_check=4)
    ldap_sandbox.add(entries)
    services = await services_for(ldap_sandbox, state_store)
    try:
        report = await run_coherence(services)
    finally:
        await services.directory.close()
    assert report.schools == {"0000001A": "Collège 0000001A", "0000002B": "Collège 0000002B"}
    seen: dict[str, set[str]] = {}
    for check_id, dns in injected.items():
        wanted = {d.lower(): expected_school(entries, d) for d in dns}
        got = {f.dn.lower(): f.uai for f in report.check(check_id).findings}
        assert got == wanted, check_id
        seen[check_id] = set(got.values())
    assert seen["dangling_struct"] == {""}  # a school that does not exist: none
    assert seen["empty_class"] == set(UAIS)  # the empty classes are spread over both schools
    assert set().union(*seen.values()) == {*UAIS, ""}
    # the summary: one line per school, counts per check that add up to the report's
    summary = {s.uai: s for s in report.by_school()}
    assert set(summary) == {*UAIS, ""}
    for c in report.checks:
        assert sum(s.counts.get(c.id, 0) for s in summary.values()) == c.count, c.id
    blocking = [s.blocking for s in report.by_school()]
    assert blocking == sorted(blocking, reverse=True)
    assert summary[""].label == "sans établissement"
    assert summary[""].counts["dangling_struct"] == len(injected["dangling_struct"])
    # one school's report, its CSV with the UAI column, the JSON's schools
    only = report.for_school("0000002B")
    assert only.total_findings == summary["0000002B"].total
    assert all(f.uai == "0000002B" for c in only.checks for f in c.findings)
    path = tmp_path / "b.csv"
    assert export_coherence_csv(only, path) == only.total_findings
    lines = path.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0].startswith('"UAI";"Contrôle";')
    assert all(line.startswith('"0000002B";') for line in lines[1:])
    doc = report.as_dict()
    assert [s["uai"] for s in doc["schools"]] == [s.uai for s in report.by_school()]


async def test_a_clean_school_gives_zero_findings(ldap_sandbox, state_store):
    entries = world(ldap_sandbox.base_dn, students=120)
    for _dn, a in entries:  # everyone can receive mail: even the informational checks are empty
        if "ENTPerson" in a["objectClass"] and not a.get("mail"):
            a["mail"] = [f"{a['ENTPersonLogin'][0]}@example.org"]
    ldap_sandbox.add(entries)
    services = await services_for(ldap_sandbox, state_store)
    try:
        report = await run_coherence(services)
    finally:
        await services.directory.close()
    assert {c.id: c.count for c in report.checks if c.count} == {}
    assert not report.blocking_failed


async def test_perimeter_limits_findings_to_its_schools(ldap_sandbox, state_store):
    entries = world(ldap_sandbox.base_dn, students=100)
    injected = bench.inject_defects(entries, ldap_sandbox.base_dn, per_check=2)
    ldap_sandbox.add(entries)
    services = await services_for(ldap_sandbox, state_store, uais=["0000001A"])
    try:
        report = await run_coherence(services)
    finally:
        await services.directory.close()
    school1 = {
        dn.lower()
        for dn, a in entries
        if "0000001A" in (a.get("cn") or [""])[0]
        or any("ENTStructureSIREN=190000001" in s for s in a.get("ENTPersonStructRattach", []))
    }
    for check_id in ("dangling_parent", "dangling_child", "class_not_in_school", "profile_contradiction"):
        expected = {d.lower() for d in injected[check_id]} & school1
        assert found(report, check_id) == expected, check_id
    # a person attached to no existing school belongs to every périmètre
    assert found(report, "dangling_struct") == {d.lower() for d in injected["dangling_struct"]}


async def test_moodle_cross_checks_on_mariadb(ldap_sandbox, state_store, moodle_mariadb):
    entries = world(ldap_sandbox.base_dn, students=60)
    ldap_sandbox.add(entries)
    people = [person_from_entry(dn, a) for dn, a in entries if "ENTPerson" in a["objectClass"]]
    students = sorted((p for p in people if p.target == Target.ELEVE), key=lambda p: p.login)
    missing = students[:2]  # synced profile, no Moodle account
    rows = [
        {"auth": "cas", "mnethostid": 1, "username": p.login.lower(), "confirmed": 1, "password": "not cached"}
        for p in students[2:]
    ]
    extra = [
        {"auth": "cas", "username": "parti.depuis", "lastname": "Depuis", "firstname": "Parti"},
        {"auth": "cas", "username": "deja.suspendu", "suspended": 1},
        {"auth": "cas", "username": "supprime", "deleted": 1},
        {"auth": "manual", "username": "prof.local"},
    ]
    rows += extra
    base = {"auth": "cas", "mnethostid": 1, "confirmed": 1, "password": "", "lastname": "", "firstname": ""}
    rows = [{**base, "suspended": 0, "deleted": 0, **r} for r in rows]  # executemany: same keys in every row
    t = moodle_mariadb.tables.user
    await moodle_mariadb.run(lambda conn: conn.execute(insert(t), rows))
    services = await services_for(ldap_sandbox, state_store, moodle=moodle_mariadb, profiles=["eleve"])
    try:
        report = await run_coherence(services)
    finally:
        await services.directory.close()
    assert report.moodle == ""
    assert [f.login for f in report.check("moodle_not_in_directory").findings] == ["parti.depuis"]
    assert report.check("moodle_not_in_directory").findings[0].name == "Depuis Parti"
    assert found(report, "directory_not_in_moodle") == {p.dn.lower() for p in missing}
    assert report.read["moodle_users"] >= len(rows) - 1  # plus the base rows of a fresh site


async def test_moodle_down_skips_its_checks_without_failing_the_report(ldap_sandbox, state_store, tmp_path):
    from enttui.config import MoodleConfig
    from enttui.services.moodle import Moodle

    ldap_sandbox.add(world(ldap_sandbox.base_dn, students=30))
    moodle = Moodle(MoodleConfig(url=f"sqlite:///{tmp_path / 'absent' / 'moodle.db'}"))
    services = await services_for(ldap_sandbox, state_store, moodle=moodle)
    try:
        report = await run_coherence(services)
    finally:
        await services.directory.close()
    assert report.moodle.startswith("Moodle ne répond pas")
    assert report.check("moodle_not_in_directory").skipped
    assert dataclasses.is_dataclass(report)


def test_the_collector_pause_nests_and_restores():
    import gc

    from enttui.jobs.collector import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # a second report at the same time
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
