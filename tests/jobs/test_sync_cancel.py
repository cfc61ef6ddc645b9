"""A sync cancelled at seeded random points, from the screen (keys only) and from the command line
(SIGINT to a subprocess), against slapd and MariaDB (issue 11, the sync items).

After each cancelled run: its recorded counts (the run in the state store, the result, ``--json``)
equal the rows in Moodle, the phases not reached say "non traité", no watermark moved. Then a normal
run completes the work, and a forced run finds nothing left to write.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from enttui.config import Config, EntConfig, StateConfig, SyncConfig
from enttui.domain.sync import SyncOptions
from enttui.jobs.events import CollectingSink
from enttui.jobs.locking import refresh_run_states
from enttui.jobs.sync import run_sync
from enttui.services.container import Services, utc_now
from enttui.services.directory import Directory
from enttui.services.moodle import Moodle
from enttui.services.state import StateStore
from enttui.ui.app import EntApp
from enttui.ui.screens.moodle_sync import MoodleSyncScreen
from enttui.ui.widgets.trace import TracePane
from jobs.test_sync import add_course_refs, world
from support.fixtures_db import moodle_config_for
from support.fixtures_ldap import LdapSandbox

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

UAI = "0123456A"
SCREEN_SEEDS = (11, 23, 37, 41, 59, 60)
CLI_SEEDS = (60, 61, 62)
BATCH = 5
DEADLINE = 120.0
REPO = Path(__file__).resolve().parents[2]
CHANGES = ("création de", "mise à jour de", "attribution du rôle")  # the change lines of a first run


async def fresh_moodle(mariadb_server: Any) -> Moodle:
    moodle = Moodle(moodle_config_for(mariadb_server.create_database()))
    await moodle.open()
    await moodle.create_schema(allow=True)
    await add_course_refs(moodle)
    return moodle


def config(sandbox: LdapSandbox, moodle: Moodle, state_url: str, tmp: Path, batch: int = BATCH) -> Config:
    return Config(
        ent=EntConfig(uai=[UAI]),
        ldap=sandbox.config(),
        moodle=moodle.config,
        sync=SyncConfig(watermark_margin_minutes=0, max_removal_share=0.5, batch_size=batch),
        state=StateConfig(url=state_url, files_dir=str(tmp / "files")),
    )


async def moodle_rows(moodle: Moodle) -> dict[str, int]:
    """What Moodle holds of the sync: users of its auth, its cohorts, its role assignments."""
    t = moodle.tables

    def count(conn: Any) -> dict[str, int]:
        return {
            "users": conn.execute(select(func.count()).where(t.user.c.auth == "cas")).scalar(),
            "cohorts": conn.execute(select(func.count()).where(t.cohort.c.component == "local_ent_installer")).scalar(),
            "roles": conn.execute(
                select(func.count()).where(t.role_assignments.c.component == "local_ent_installer")
            ).scalar(),
        }

    return await moodle.read(count)


def assert_counts_are_rows(counts: dict[str, dict[str, int]], rows: dict[str, int]) -> None:
    """On a fresh Moodle, what a run says it created is what Moodle holds."""
    for entity in ("users", "cohorts", "roles"):
        assert counts.get(entity, {}).get("created", 0) == rows[entity], (entity, counts, rows)


async def cancel_point(services: Services, seed: int) -> tuple[int, int]:
    """(target, total): after how many change lines to cancel, a seeded random point inside the users,
    cohorts or roles phase in turn (a simulation plans exactly what the run will write)."""
    sink = CollectingSink()
    await run_sync(services, SyncOptions(simulate=True), sink)
    lines = sink.traces("change")
    phase = ("Comptes utilisateur", "Cohortes", "Associations de rôles")[seed % 3]
    inside = [i for i, t in enumerate(lines) if t.entity == phase]
    inside = inside[: max(1, len(inside) // 2)]  # the first half: the run has batches left when the key comes
    return random.Random(seed).choice(inside) + 1, len(lines)


async def converges(services: Services) -> None:
    """A normal run completes the cancelled one; then a forced run has nothing left to write."""
    again = await run_sync(services, SyncOptions())
    assert again.status == "réussi", again.summary
    forced = await run_sync(services, SyncOptions(force=True))
    assert sum(c.created + c.updated + c.removed + c.suspended for c in forced.counts.values()) == 0, forced.summary


@pytest.fixture
async def directory_world(ldap_sandbox: LdapSandbox) -> LdapSandbox:
    ldap_sandbox.add(world(ldap_sandbox.base_dn))
    await asyncio.sleep(1.05)
    return ldap_sandbox


# -- from the screen ------------------------------------------------------------------------------------
async def test_cancel_from_the_screen_at_random_points(directory_world, mariadb_server, tmp_path) -> None:
    """Keys only: "l" launches, "a" cancels once the trace shows the seeded number of changes."""
    sandbox = directory_world
    cancelled = 0
    for seed in SCREEN_SEEDS:
        moodle = await fresh_moodle(mariadb_server)
        state = StateStore(StateConfig(url=f"sqlite:///{tmp_path / f'state-{seed}.db'}", files_dir=str(tmp_path)))
        await state.open()
        # one row a batch: the screen's key reaches the run while it still has batches to write
        cfg = config(sandbox, moodle, f"sqlite:///{tmp_path / f'state-{seed}.db'}", tmp_path, batch=1)
        directory = Directory(cfg.ldap, cfg.ent)
        await directory.open()
        services = Services(config=cfg, directory=directory, state=state, moodle=moodle, clock=utc_now)
        target, _total = await cancel_point(services, seed)
        app = EntApp(services, start_page="moodle_sync")
        async with app.run_test(size=(120, 40)) as pilot:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DEADLINE
            while not isinstance(app.screen, MoodleSyncScreen) and loop.time() < deadline:
                await pilot.pause(0.05)
            screen = app.screen
            assert isinstance(screen, MoodleSyncScreen)
            trace = screen.query_one("#sync-trace", TracePane)

            def changes_shown(trace: TracePane = trace) -> int:
                return sum(1 for e in trace.buffer.entries if e.text.startswith(CHANGES))

            # pilot.press waits until the screen is idle, i.e. the run's end: press "l" in a task
            launch = asyncio.create_task(pilot.press("l"))
            while changes_shown() < target and screen.result is None and loop.time() < deadline:  # noqa: ASYNC110 - polls what the screen shows, no event to wait on
                await asyncio.sleep(0.002)
            await pilot.press("a")
            await launch
            while screen.running and loop.time() < deadline:
                await pilot.pause(0.05)
            assert not screen.running, f"seed {seed}: the run did not stop within {DEADLINE} s"
            result = screen.result
            assert result is not None
            status = str(screen.query_one("#sync-status").content)
        recorded = await state.get_run(result.run_id)
        assert recorded is not None and recorded.status == result.status
        rows = await moodle_rows(moodle)
        assert_counts_are_rows(recorded.counts, rows)
        assert_counts_are_rows({k: v.as_dict() for k, v in result.counts.items()}, rows)
        if seed % 3 == 0:  # a point in the users phase: one row a batch, hundreds left when the key comes
            assert result.status == "interrompu", (seed, target, result.phases)
        if result.status == "interrompu":  # (a short roles phase may end before the key reaches it)
            cancelled += 1
            assert status.startswith("Synchronisation annulée"), status
            reached = list(result.phases.values())
            assert "interrompu" in reached or "non traité" in reached, result.phases
            for phase in reached[reached.index(next(p for p in reached if p != "traité")) + 1 :]:
                assert phase == "non traité", result.phases
            for entity in ("users", "cohorts", "roles"):
                assert await state.get_watermark(f"sync:{entity}") is None
        await converges(services)
        await directory.close()
        await state.close()
        await moodle.close()
    assert cancelled >= 1, cancelled


# -- from the command line -------------------------------------------------------------------------------
def write_config(path: Path, sandbox: LdapSandbox, moodle_url: str, tmp: Path) -> None:
    ldap = sandbox.config(admin=True)
    secret = tmp / "ldap.secret"
    secret.write_text(sandbox.slapd.admin_password, encoding="utf-8")
    secret.chmod(0o600)
    path.write_text(
        f"""
[ent]
uai = ["{UAI}"]
[ldap]
urls = {json.dumps(list(ldap.urls))}
bind_dn = "{ldap.bind_dn}"
bind_password_file = "{secret}"
base_dn = "{ldap.base_dn}"
people_dn = "{ldap.people_dn}"
groups_dn = "{ldap.groups_dn}"
structures_dn = "{ldap.structures_dn}"
[moodle]
url = "{moodle_url}"
[sync]
watermark_margin_minutes = 0
max_removal_share = 0.5
batch_size = {BATCH}
[state]
url = "sqlite:///{tmp / "state.db"}"
files_dir = "{tmp / "files"}"
""",
        encoding="utf-8",
    )


async def batches_of_a_first_run(services: Services) -> int:
    """How many write batches a first run has at least (a simulation plans exactly what it writes)."""
    sink = CollectingSink()
    await run_sync(services, SyncOptions(simulate=True), sink)
    per_phase: dict[str, int] = {}
    for t in sink.traces("change"):
        per_phase[t.entity] = per_phase.get(t.entity, 0) + 1
    return sum(-(-n // BATCH) for n in per_phase.values())


@dataclass
class CliRun:
    """One ``enttui sync`` subprocess stopped by a fault after its seeded n-th committed batch."""

    moodle: Moodle
    state: StateStore
    directory: Directory
    services: Services
    nth: int
    batches: int
    returncode: int
    out: bytes
    err: bytes

    async def close(self) -> None:
        await self.directory.close()
        await self.state.close()
        await self.moodle.close()


async def sync_stopped_at_a_seeded_batch(
    sandbox: LdapSandbox, mariadb_server: Any, tmp: Path, seed: int, signal_name: str, *args: str
) -> CliRun:
    """A fresh Moodle and state store, then ``enttui sync [args]`` with
    ``ENTTUI_TEST_FAULT=sync_batch:<n>:<signal_name>``, n drawn from ``seed`` among the first run's
    batches but the last; returns once the process has ended (fails loudly past DEADLINE)."""
    moodle = await fresh_moodle(mariadb_server)
    url = mariadb_server.url_for(moodle.database).replace(":moodle-test-pw@", "@")
    cfg_file = tmp / "enttui.toml"
    write_config(cfg_file, sandbox, url, tmp)
    state = StateStore(StateConfig(url=f"sqlite:///{tmp / 'state.db'}", files_dir=str(tmp / "files")))
    await state.open()
    cfg = config(sandbox, moodle, f"sqlite:///{tmp / 'state.db'}", tmp)
    directory = Directory(cfg.ldap, cfg.ent)
    await directory.open()
    services = Services(config=cfg, directory=directory, state=state, moodle=moodle, clock=utc_now)
    batches = await batches_of_a_first_run(services)
    assert batches >= 2, "the test world must give a first run several batches"
    nth = random.Random(seed).randint(1, batches - 1)
    env = dict(
        os.environ,
        ENTTUI_MOODLE_PASSWORD="moodle-test-pw",
        PYTHONPATH=str(REPO / "src"),
        ENTTUI_TEST_FAULT=f"sync_batch:{nth}:{signal_name}",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "enttui",
        "sync",
        "--config",
        str(cfg_file),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        async with asyncio.timeout(DEADLINE):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"seed {seed}: enttui sync did not end within {DEADLINE} s") from None
    assert proc.returncode is not None
    return CliRun(moodle, state, directory, services, nth, batches, proc.returncode, out, err)


async def test_sigint_to_the_command_line_at_random_points(directory_world, mariadb_server, tmp_path) -> None:
    """``enttui sync --json`` gets SIGINT right after its seeded n-th committed batch (the test-only
    ``ENTTUI_TEST_FAULT=sync_batch:<n>:INT``, as a Ctrl+C between two batches): it stops at the end of
    that batch, its JSON counts equal Moodle's rows, no watermark moves, and a later run completes it."""
    sandbox = directory_world
    for seed in CLI_SEEDS:
        tmp = tmp_path / f"seed-{seed}"
        tmp.mkdir()
        cli = await sync_stopped_at_a_seeded_batch(sandbox, mariadb_server, tmp, seed, "INT", "--json")
        moodle, state, services, nth, batches = cli.moodle, cli.state, cli.services, cli.nth, cli.batches
        out, err = cli.out, cli.err
        stderr = err.decode()
        report = json.loads(out.decode())
        assert cli.returncode == report["exit_code"] == 1, stderr
        assert report["status"] == "interrompu", f"seed {seed}, batch {nth}/{batches}: {stderr}"
        assert "annulation demandée" in stderr and "Traceback" not in stderr, stderr
        phases = list(report["phases"].values())
        assert "interrompu" in phases or "non traité" in phases, report["phases"]
        rows = await moodle_rows(moodle)
        assert_counts_are_rows(report["counts"], rows)
        recorded = await state.get_run(report["run_id"])
        assert recorded is not None and recorded.counts == {**report["counts"], "schools": report["schools"]}
        assert sum(s.get("users", {}).get("created", 0) for s in report["schools"].values()) == rows["users"]
        for entity in ("users", "cohorts", "roles"):
            assert await state.get_watermark(f"sync:{entity}") is None
        await converges(services)
        await cli.close()


async def test_blank_user_is_a_usage_error(tmp_path, capsys) -> None:
    """``enttui sync --user ""`` (a script's unset $LOGIN) never runs over everyone: exit 2."""
    from enttui.cli import main

    for blank in ("", "   "):
        code = await asyncio.to_thread(main, ["sync", "--demo", "--demo-dir", str(tmp_path / "demo"), "--user", blank])
        err = capsys.readouterr().err
        assert code == 2 and "--user attend un identifiant" in err and "rien n'a été lancé" in err


KILL_SEEDS = (70, 71, 72)


async def test_kill_9_at_random_points_then_a_rerun_converges(directory_world, mariadb_server, tmp_path) -> None:
    """``enttui sync`` killed (SIGKILL, the test-only ``ENTTUI_TEST_FAULT=sync_batch:<n>:KILL``) right
    after its seeded n-th committed batch, the creations' second transaction possibly still in
    flight: whatever it had committed stays, nothing is half written; the next run creates exactly
    the rest (its counts = the rows it added), and a forced run then finds nothing to write."""
    sandbox = directory_world
    for seed in KILL_SEEDS:
        tmp = tmp_path / f"seed-{seed}"
        tmp.mkdir()
        cli = await sync_stopped_at_a_seeded_batch(sandbox, mariadb_server, tmp, seed, "KILL")
        moodle, state, services, nth, batches, err = cli.moodle, cli.state, cli.services, cli.nth, cli.batches, cli.err
        assert cli.returncode == -9, f"seed {seed}, batch {nth}/{batches}: {err.decode()}"
        before = await moodle_rows(moodle)
        assert sum(before.values()) > 0, f"seed {seed}: nothing committed before the kill"
        await refresh_run_states(services)  # what the reports' screen does: the dead run says so
        killed = await state.last_run("sync")
        assert killed is not None and killed.status == "interrompu", killed
        rerun = await run_sync(services, SyncOptions())  # the lock died with the process
        assert rerun.status == "réussi", rerun.summary
        after = await moodle_rows(moodle)
        for entity in ("users", "cohorts", "roles"):
            assert before[entity] + rerun.counts[entity].created == after[entity], (seed, entity, before, after)
        query = select(moodle.tables.user.c.idnumber).where(moodle.tables.user.c.auth == "cas")
        names = await moodle.read(lambda c, q=query: c.execute(q).scalars().all())
        assert len(names) == len(set(names)) == after["users"]  # every person once
        await converges(services)
        await cli.close()
