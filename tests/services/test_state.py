"""The console's state store on a real SQLite file (WAL, two users at once)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from enttui.config import Secret, StateConfig
from enttui.errors import StateError
from enttui.services.state import FileRecord, StateStore, runs_table
from support.fixtures_state import FROZEN_NOW, FrozenClock, state_config


async def test_run_lifecycle(state_store: StateStore, state_clock: FrozenClock) -> None:
    run_id = await state_store.start_run("sync", {"users": True, "simulate": False}, user="admin")
    run = await state_store.get_run(run_id)
    assert run is not None
    assert (run.kind, run.status, run.user, run.pid) == ("sync", "en cours", "admin", os.getpid())
    assert run.started_at == FROZEN_NOW and run.started_at.tzinfo is not None
    assert run.ended_at is None and run.duration is None
    assert run.options == {"users": True, "simulate": False}

    state_clock.advance(minutes=3, seconds=12)
    counts = {"users": {"created": 3, "updated": 1}, "cohorts": {"created": 0}}
    await state_store.finish_run(run_id, "réussi", counts, "3 créés, 1 modifié")
    run = await state_store.get_run(run_id)
    assert run is not None
    assert run.status == "réussi"
    assert run.counts == counts
    assert run.summary == "3 créés, 1 modifié"
    assert run.duration == timedelta(minutes=3, seconds=12)
    assert await state_store.get_run(9999) is None


async def test_list_and_last_runs(state_store: StateStore, state_clock: FrozenClock) -> None:
    ids = []
    for kind, status in [("sync", "réussi"), ("diffusion", "avec erreurs"), ("sync", "avec erreurs"), ("sync", None)]:
        run_id = await state_store.start_run(kind, {})
        if status:
            await state_store.finish_run(run_id, status, {})
        ids.append(run_id)
        state_clock.advance(minutes=1)
    runs = await state_store.list_runs()
    assert [r.id for r in runs] == ids[::-1]  # newest first
    assert [r.id for r in await state_store.list_runs(kind="sync")] == [ids[3], ids[2], ids[0]]
    assert [r.id for r in await state_store.list_runs(status="avec erreurs")] == [ids[2], ids[1]]
    assert len(await state_store.list_runs(limit=2)) == 2
    last = await state_store.last_run("sync")
    assert last is not None and last.id == ids[3]
    ok = await state_store.last_run("sync", statuses=["réussi"])
    assert ok is not None and ok.id == ids[0]
    assert await state_store.last_run("export") is None
    assert runs[0].user  # the OS user by default


async def test_bad_values_are_programming_errors(state_store: StateStore) -> None:
    with pytest.raises(ValueError):
        await state_store.start_run("nimportequoi", {})
    run_id = await state_store.start_run("check", {})
    with pytest.raises(ValueError):
        await state_store.finish_run(run_id, "en cours", {})
    with pytest.raises(ValueError):
        await state_store.add_trace(run_id, [("bavard", "", "x")])
    with pytest.raises(StateError, match="inconnu"):
        await state_store.add_trace(424242, [("info", "", "x")])


async def test_trace_search_and_levels(state_store: StateStore) -> None:
    run_id = await state_store.start_run("sync", {})
    await state_store.add_trace(
        run_id,
        [
            ("info", "", "Début de la synchronisation"),
            ("change", "user", "Création de ÉLÈVE Zoé (zoe.martin)"),
            ("warning", "cohort", "Cohorte 2026-3A vide"),
            ("error", "user", "Échec pour jean [x]"),
        ],
    )
    await state_store.add_trace(run_id, [("detail", "user", "fin")])
    lines = await state_store.trace(run_id)
    assert [line.seq for line in lines] == [1, 2, 3, 4, 5]
    assert lines[1].at.tzinfo is not None
    assert [line.text for line in await state_store.trace(run_id, search="élève")] == [
        "Création de ÉLÈVE Zoé (zoe.martin)"
    ]
    assert [line.seq for line in await state_store.trace(run_id, search="COHORT")] == [3]  # entity matches too
    assert [line.level for line in await state_store.trace(run_id, levels=["warning", "error"])] == [
        "warning",
        "error",
    ]


async def test_trace_is_bounded(tmp_path: Path, state_clock: FrozenClock) -> None:
    """The first lines whatever their level; past the bound its errors and warnings still (up to as
    many again), after a line that counts the dropped ones."""
    store = StateStore(state_config(tmp_path), clock=state_clock, trace_max_lines=10)
    await store.open()
    try:
        run_id = await store.start_run("sync", {})
        await store.add_trace(run_id, [("info", "", f"ligne {i}") for i in range(7)])
        await store.add_trace(run_id, [("info", "", f"ligne {i}") for i in range(7, 12)])
        await store.add_trace(run_id, [("error", "", "encore une"), ("change", "", "création de x")])
        await store.add_trace(run_id, [("warning", "", "attention")])
        lines = await store.trace(run_id)
        assert [line.text for line in lines[:10]] == [f"ligne {i}" for i in range(10)]
        assert lines[10].level == "warning"
        assert lines[10].text.startswith("… 3 lignes de trace non conservées")
        assert "erreurs et avertissements gardés" in lines[10].text
        assert [(line.level, line.text) for line in lines[11:]] == [("error", "encore une"), ("warning", "attention")]
        run = await store.get_run(run_id)
        assert run is not None and (run.trace_lines, run.trace_dropped) == (12, 3)
        # the errors past the bound have a bound of their own
        await store.add_trace(run_id, [("error", "", f"échec {i}") for i in range(20)])
        lines = await store.trace(run_id, levels=["error"])
        assert [line.text for line in lines] == ["encore une"] + [f"échec {i}" for i in range(8)]
        run = await store.get_run(run_id)
        assert run is not None and (run.trace_lines, run.trace_dropped) == (20, 15)
        assert (await store.trace(run_id))[10].text.startswith("… 15 lignes de trace non conservées")
    finally:
        await store.close()


async def test_secrets_never_reach_the_trace(state_store: StateStore) -> None:
    Secret("Secret-De-Config-77")  # registered, as the configuration loader does
    run_id = await state_store.start_run("sync", {})
    await state_store.add_trace(run_id, [("error", "", "bind refusé avec Secret-De-Config-77")])
    await state_store.journal_set(run_id, [("uid=a", "échec", "Secret-De-Config-77")])
    (line,) = await state_store.trace(run_id)
    assert "Secret-De-Config-77" not in line.text
    assert "Secret-De-Config-77" not in str(await state_store.journal_get(run_id))


async def test_mark_interrupted(state_store: StateStore, state_clock: FrozenClock) -> None:
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    alive_id = await state_store.start_run("sync", {})  # this process: alive
    dead_id = await state_store.start_run("diffusion", {})
    elsewhere_id = await state_store.start_run("sync", {})
    old_id = await state_store.start_run("sync", {})
    finished_id = await state_store.start_run("check", {})
    await state_store.finish_run(finished_id, "réussi", {})

    def tamper() -> None:
        with state_store.engine.begin() as conn:
            conn.execute(update(runs_table).where(runs_table.c.id == dead_id).values(pid=dead.pid))
            conn.execute(update(runs_table).where(runs_table.c.id == elsewhere_id).values(host="autre-serveur", pid=1))
            conn.execute(
                update(runs_table)
                .where(runs_table.c.id == old_id)
                .values(host="autre-serveur", started_at=FROZEN_NOW - timedelta(days=2))
            )

    await asyncio.to_thread(tamper)
    assert await state_store.mark_interrupted() == 2
    statuses = {r.id: r.status for r in await state_store.list_runs()}
    assert statuses == {
        alive_id: "en cours",
        dead_id: "interrompu",
        elsewhere_id: "en cours",
        old_id: "interrompu",
        finished_id: "réussi",
    }
    dead_run = await state_store.get_run(dead_id)
    assert dead_run is not None and dead_run.ended_at == FROZEN_NOW
    assert str(dead.pid) in dead_run.summary
    assert await state_store.mark_interrupted() == 0
    # A kind whose lock the caller saw free: its runs are dead whatever host wrote them.
    far = await state_store.start_run("regeneration", {})

    def elsewhere() -> None:
        with state_store.engine.begin() as conn:
            conn.execute(update(runs_table).where(runs_table.c.id == far).values(host="autre-serveur", pid=1))

    await asyncio.to_thread(elsewhere)
    assert await state_store.mark_interrupted() == 0
    assert await state_store.mark_interrupted(dead_kinds=("diffusion", "regeneration")) == 1
    statuses = {r.id: r.status for r in await state_store.list_runs()}
    assert statuses[far] == "interrompu" and statuses[elsewhere_id] == statuses[alive_id] == "en cours"


async def test_watermarks_are_timezone_aware(state_store: StateStore) -> None:
    assert await state_store.get_watermark("users") is None
    paris = timezone(timedelta(hours=1))
    await state_store.set_watermark("users", datetime(2026, 1, 15, 10, 0, tzinfo=paris), run_id=4)
    value = await state_store.get_watermark("users")
    assert value == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert value is not None and value.utcoffset() == timedelta(0)
    await state_store.set_watermark("users", datetime(2026, 1, 16, tzinfo=UTC))
    assert await state_store.get_watermark("users") == datetime(2026, 1, 16, tzinfo=UTC)
    assert await state_store.get_watermark("cohorts") is None
    with pytest.raises(ValueError):
        await state_store.set_watermark("users", datetime(2026, 1, 16))  # naive: refused


async def test_files_index(state_store: StateStore) -> None:
    first = FileRecord("0123456A_eleve_20260301.csv", "identifiants", 1234, FROZEN_NOW, 1, "admin", "0123456A", 30)
    second = FileRecord("0123456A_parent_20260302.csv", "identifiants", 99, FROZEN_NOW + timedelta(days=1))
    await state_store.add_file(first)
    await state_store.add_file(second)
    assert await state_store.list_files() == [second, first]  # newest first
    bigger = FileRecord(first.name, "identifiants", 4321, FROZEN_NOW, 2, "admin", "0123456A", 31)
    await state_store.add_file(bigger)  # same name: replaced
    assert await state_store.list_files() == [second, bigger]
    await state_store.remove_file(second.name)
    await state_store.remove_file("absent.csv")
    assert await state_store.list_files() == [bigger]


async def test_journal_upsert(state_store: StateStore, state_clock: FrozenClock) -> None:
    run_id = await state_store.start_run("diffusion", {"targets": ["eleve"]})
    other = await state_store.start_run("diffusion", {})
    await state_store.journal_set(run_id, [("uid=a", "envoyé", ""), ("uid=b", "temporaire", "451 plus tard")])
    await state_store.journal_set(other, [("uid=a", "refusé", "550")])
    state_clock.advance(minutes=1)
    await state_store.journal_set(run_id, [("uid=b", "envoyé", ""), ("uid=c", "refusé", "550 inconnu")])
    await state_store.journal_set(run_id, [])
    assert await state_store.journal_get(run_id) == {
        "uid=a": ("envoyé", ""),
        "uid=b": ("envoyé", ""),
        "uid=c": ("refusé", "550 inconnu"),
    }
    assert await state_store.journal_get(other) == {"uid=a": ("refusé", "550")}
    assert await state_store.journal_get(12345) == {}
    many = [(f"uid={i}", "envoyé", "") for i in range(1200)]
    await state_store.journal_set(run_id, many)
    assert len(await state_store.journal_get(run_id)) == 1203


async def test_audit(state_store: StateStore, state_clock: FrozenClock) -> None:
    await state_store.audit("fichier.suppression", "0123456A_eleve.csv", "supprimé à la main", user="admin")
    state_clock.advance(seconds=5)
    await state_store.audit("diffusion", "eleve", "")
    entries = await state_store.list_audit()
    assert [e.action for e in entries] == ["diffusion", "fichier.suppression"]
    assert entries[1].user == "admin" and entries[1].at == FROZEN_NOW
    assert entries[0].user  # OS user
    assert len(await state_store.list_audit(limit=1)) == 1


async def test_prune(state_store: StateStore, state_clock: FrozenClock) -> None:
    old = await state_store.start_run("sync", {})
    await state_store.add_trace(old, [("info", "", "vieux")])
    await state_store.journal_set(old, [("k", "envoyé", "")])
    await state_store.finish_run(old, "réussi", {})
    old_running = await state_store.start_run("sync", {})
    state_clock.advance(days=400)
    recent = await state_store.start_run("sync", {})
    await state_store.finish_run(recent, "réussi", {})
    assert await state_store.prune_runs(365) == 1
    assert {r.id for r in await state_store.list_runs()} == {old_running, recent}
    assert await state_store.trace(old) == []
    assert await state_store.journal_get(old) == {}


async def test_health(state_store: StateStore, state_clock: FrozenClock) -> None:
    health = await state_store.health()
    assert health.ok and (health.key, health.name) == ("state", "Base d'état")
    assert health.counts == {"traitements": 0, "dernière synchronisation": "aucune", "fichiers d'identifiants": 0}
    assert health.version.startswith("SQLite ")
    run_id = await state_store.start_run("sync", {})
    await state_store.finish_run(run_id, "avec erreurs", {})
    await state_store.add_file(FileRecord("f.csv", "identifiants", 1, FROZEN_NOW))
    health = await state_store.health()
    assert health.counts["traitements"] == 1
    assert health.counts["fichiers d'identifiants"] == 1
    assert str(health.counts["dernière synchronisation"]).endswith("(avec erreurs)")


async def test_health_down_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    store = StateStore(StateConfig(url=f"sqlite:///{blocker / 'state.db'}"))
    health = await store.health()
    assert not health.ok
    assert "Base d'état" in health.message and "inaccessible" in health.message
    with pytest.raises(StateError, match="inaccessible"):
        await store.open()
    bad = StateStore(StateConfig(url="pas une url"))
    assert not (await bad.health()).ok


async def test_file_folder_and_wal(tmp_path: Path, state_clock: FrozenClock) -> None:
    cfg = state_config(tmp_path)
    store = StateStore(cfg, clock=state_clock)
    await store.open()
    await store.start_run("check", {})
    await store.close()
    db = tmp_path / "state" / "state.db"
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.endpoint == str(db)


async def test_two_stores_on_one_file(tmp_path: Path) -> None:
    cfg = state_config(tmp_path)
    a, b = StateStore(cfg), StateStore(cfg)
    await asyncio.gather(a.open(), b.open())
    try:
        run_a = await a.start_run("sync", {})
        run_b = await b.start_run("diffusion", {})

        async def write(store: StateStore, run_id: int, n: int) -> None:
            for i in range(n):
                await store.add_trace(run_id, [("info", "", f"{run_id}-{i}")])
                await store.journal_set(run_id, [(f"k{i}", "envoyé", "")])

        await asyncio.gather(write(a, run_a, 40), write(b, run_b, 40), write(a, run_b, 0))
        assert len(await b.trace(run_a)) == 40
        assert len(await a.journal_get(run_b)) == 40
        assert {r.id for r in await b.list_runs()} == {run_a, run_b}
    finally:
        await a.close()
        await b.close()


async def test_another_process_writes_at_the_same_time(tmp_path: Path) -> None:
    """The TUI and a cron CLI on the same file: nobody gets "database is locked"."""
    cfg = state_config(tmp_path)
    store = StateStore(cfg)
    await store.open()
    script = textwrap.dedent(
        f"""
        import asyncio
        from enttui.config import StateConfig
        from enttui.services.state import StateStore

        async def main():
            store = StateStore(StateConfig(url={cfg.url!r}))
            await store.open()
            run = await store.start_run("sync", {{}})
            for i in range(150):
                await store.add_trace(run, [("info", "", f"cron {{i}}")])
            await store.finish_run(run, "réussi", {{}})
            await store.close()

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script)
    try:
        mine = await store.start_run("diffusion", {})
        for i in range(150):
            await store.journal_set(mine, [(f"k{i}", "envoyé", "")])
            await store.add_trace(mine, [("info", "", f"tui {i}")])
            await store.list_runs()
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    cron = await store.last_run("sync")
    assert cron is not None and cron.status == "réussi"
    assert len(await store.trace(cron.id)) == 150
    assert len(await store.trace(mine)) == 150
    await store.close()


async def test_in_memory_url() -> None:
    store = StateStore(StateConfig(url="sqlite://"), clock=FrozenClock())
    await store.open()
    run_id = await store.start_run("export", {})
    await asyncio.gather(*(store.add_trace(run_id, [("info", "", str(i))]) for i in range(20)))
    assert len(await store.trace(run_id)) == 20
    assert (await store.health()).ok
    await store.close()


async def test_sync_retry_list(state_store: StateStore, state_clock: FrozenClock) -> None:
    """Failed entries wait in the retry list; an examined entry leaves it unless it failed again."""
    a, b, c = "uid=a,ou=people,dc=x", "uid=b,ou=people,dc=x", "uid=c,ou=people,dc=x"
    await state_store.set_sync_retry("users", [(a, "clash"), (b, "idnumber")], examined=[], run_id=1)
    assert [(e.dn, e.reason) for e in await state_store.sync_retry("users")] == [(a, "clash"), (b, "idnumber")]
    assert await state_store.sync_retry("cohorts") == []
    state_clock.advance(hours=1)
    # b examined (any spelling of its DN) and fixed, a examined and failed again, c new
    await state_store.set_sync_retry(
        "users", [(a, "clash again"), (c, "bad login")], examined=[a, "UID=b, OU=People,dc=x"]
    )
    entries = {e.dn: e for e in await state_store.sync_retry("users")}
    assert set(entries) == {a, c}
    assert entries[a].reason == "clash again" and entries[a].since == FROZEN_NOW  # waiting since the first failure
    assert entries[c].since == FROZEN_NOW + timedelta(hours=1)
    # a run that read everything replaces the list
    await state_store.set_sync_retry("users", [(b, "new")], examined=None)
    assert [e.dn for e in await state_store.sync_retry("users")] == [b]


async def test_sync_marks_belong_to_a_fingerprint(state_store: StateStore) -> None:
    """A watermark taken with other settings (a school added…) is no watermark: the next run reads all."""
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert await state_store.sync_mark("sync:users", "f1") is None
    await state_store.set_sync_mark("sync:users", when, "f1", run_id=3)
    assert await state_store.sync_mark("sync:users", "f1") == when
    assert await state_store.sync_mark("sync:users", "f2") is None
    assert await state_store.sync_fingerprint("sync:users") == "f1"
    assert await state_store.get_watermark("sync:users") == when
    await state_store.set_sync_mark("sync:users", when + timedelta(hours=1), "f2")
    assert await state_store.sync_mark("sync:users", "f2") == when + timedelta(hours=1)
