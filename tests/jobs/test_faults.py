"""Fault injection: the real ``enttui`` command killed, interrupted, cut from its relay, launched twice.

Each trial restores a private slapd holding ``ACCOUNTS`` people (see ``support/fault_world.py``),
runs ``enttui diffuse`` or ``enttui files regenerate`` in a subprocess, stops it at a seeded random
point (``kill -9`` after a delay or after K messages/rows, ``kill -9`` exactly between the relay's
"250" and the journal's commit through the ``ENTTUI_TEST_FAULT`` hook, or with every account in the
journal but the run not closed, Ctrl+C, the SMTP relay or the directory stopped), resumes it with
``--resume --yes`` and then checks the promise of DOMAIN.md on the directory, every stored message,
the file and the state store. The seed of a failed trial is in its failure message;
``ENTTUI_FAULT_SEED=<n>`` replays a run, ``ENTTUI_FAULT_TRIALS`` changes the number of trials.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.fault_world import (
    FaultSlapd,
    Outcome,
    Population,
    check_outcome,
    file_rows,
    population,
    write_config,
)
from support.smtp import SmtpTestServer

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ACCOUNTS = int(os.environ.get("ENTTUI_FAULT_ACCOUNTS", "1500"))
TRIALS = int(os.environ.get("ENTTUI_FAULT_TRIALS", "20"))
SEED = int(os.environ.get("ENTTUI_FAULT_SEED", "20260302"))
DEADLINE = 180.0  # seconds a command may take on a busy machine
TARGETS = "eleve,autre,enseignant"


class Relays:
    """The SMTP relay of the trials; a stopped one is replaced, its messages are kept."""

    def __init__(self, ca: Any, workdir: Path) -> None:
        self.ca = ca
        self.workdir = workdir
        self.gone: list[Any] = []
        self.current = self._start()

    def _start(self) -> SmtpTestServer:
        folder = self.workdir / f"relay-{len(self.gone)}-{time.monotonic_ns()}"
        folder.mkdir(parents=True)
        return SmtpTestServer(ca=self.ca, tls="starttls", workdir=folder).start()

    def reset(self) -> None:
        self.gone = []
        self.current.reset()

    def count(self) -> int:
        server = self.current
        with server._lock:  # no copy: polled every few milliseconds
            return len(server._messages)

    def stop_current(self) -> None:
        # Stopped first: a message the relay accepted between a copy and the stop would be lost
        # from the record while the diffusion rightly counts it as mailed.
        self.current.stop()
        self.gone.extend(self.current.messages)

    def restart(self) -> None:
        self.current = self._start()

    @property
    def messages(self) -> list[Any]:
        return [*self.gone, *self.current.messages]

    def close(self) -> None:
        self.current.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Population, FaultSlapd]]:
    pop = population(ACCOUNTS)
    server = FaultSlapd(tmp_path_factory.mktemp("faults"), pop)
    try:
        yield pop, server
    finally:
        server.stop()


@pytest.fixture
def relays(smtp_ca: Any, tmp_path: Path) -> Iterator[Relays]:
    r = Relays(smtp_ca, tmp_path / "relays")
    try:
        yield r
    finally:
        r.close()


def command(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "enttui", "--config", str(cfg), *args]


def environment(fault: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ENTTUI_TEST_FAULT"}
    env["PYTHONWARNINGS"] = "ignore"
    if fault:
        env["ENTTUI_TEST_FAULT"] = fault
    return env


def run(cfg: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command(cfg, *args), capture_output=True, env=environment(), timeout=DEADLINE)


def stop_when(proc: subprocess.Popen[bytes], ready: Callable[[], bool], act: Callable[[], None]) -> bool:
    """Poll until ``ready()`` (then ``act()``) or the process ends by itself; True when acted."""
    deadline = time.monotonic() + DEADLINE
    while proc.poll() is None:
        if ready():
            act()
            return True
        assert time.monotonic() < deadline, "the command neither ended nor reached the fault point"
        time.sleep(0.01)
    return False


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, bytes, bytes]:
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("the command did not end") from None
    return proc.returncode, out, err


def resume_until_done(cfg: Path, first: tuple[int, bytes, bytes], again: list[str], fresh: list[str]) -> dict[str, Any]:
    """The outcome of the first command, else of ``--resume --yes --json`` (or a fresh run when the
    killed one had not even recorded its run)."""
    rc, out, _err = first
    if rc == 0:
        return json.loads(out)
    for _ in range(3):
        done = run(cfg, *again)
        text = done.stderr.decode()
        assert "Traceback" not in text, text
        if done.returncode == 2 and "interrompue à reprendre" in text:
            last = json.loads(run(cfg, "reports", "--json", "--limit", "1").stdout)["runs"]
            kind = "diffusion" if "diffuse" in fresh else "regeneration"
            if last and last[0]["kind"] == kind and last[0]["status"] == "réussi":
                return {**last[0]["counts"], "status": "réussi"}  # killed after its run was closed
            done = run(cfg, *fresh)  # killed before its run was recorded: nothing to resume
        if done.returncode == 0:
            return json.loads(done.stdout)
    raise AssertionError(f"the resume did not finish: {done.returncode} {done.stderr.decode()[-2000:]}")


def trial(seed: int, name: str, body: Callable[[random.Random], None]) -> None:
    try:
        body(random.Random(seed))
    except AssertionError:
        where = traceback.format_exc(limit=-3)
        pytest.fail(f"{name} (seed {seed}, replay with ENTTUI_FAULT_SEED={seed}):\n{where}", pytrace=False)


# ---------------------------------------------------------------------------------------------
# Diffusion
# ---------------------------------------------------------------------------------------------

DIFFUSION_MODES = (
    "kill_time",
    "kill_mails",
    "sent",
    "password_set",
    "row_written",
    "closing",
    "sigint",
    "smtp_stop",
    "ldap_stop",
)


def test_diffusion_survives_kill_9_sigint_and_a_relay_stop(
    world: tuple[Population, FaultSlapd], relays: Relays, tmp_path: Path
) -> None:
    pop, fs = world
    n_mail = sum(1 for a in pop.targeted if a.mail)
    n_file = sum(1 for a in pop.targeted if not a.mail)
    for i in range(TRIALS):
        mode = DIFFUSION_MODES[i % len(DIFFUSION_MODES)]
        seed = SEED + i

        def body(rng: random.Random, i: int = i, mode: str = mode) -> None:
            fs.restore()
            relays.reset()
            state_dir = tmp_path / f"diffusion-{i}"
            cfg = write_config(
                state_dir / "enttui.toml", fs.slapd, relays.current, state_dir, processes=rng.choice((2, 2, 0))
            )
            args = ["diffuse", "--targets", TARGETS, "--yes", "--json"]
            fault = ""
            if mode == "sent":
                fault = f"sent:{rng.randint(1, n_mail // 3)}"
            elif mode == "password_set":
                fault = f"password_set:{rng.randint(1, 6)}"
            elif mode == "row_written":
                fault = f"row_written:{rng.randint(1, n_file // 2)}"
            elif mode == "closing":
                fault = "closing:1"
            proc = subprocess.Popen(
                command(cfg, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(fault)
            )
            started = time.monotonic()
            k = rng.randint(1, n_mail // 3)
            if mode == "kill_time":
                delay = rng.uniform(0.5, 3.0)
                stop_when(proc, lambda: time.monotonic() - started >= delay, proc.kill)
            elif mode == "kill_mails":
                stop_when(proc, lambda: relays.count() >= k, proc.kill)
            elif mode == "sigint":
                stop_when(proc, lambda: relays.count() >= k, lambda: proc.send_signal(signal.SIGINT))
            elif mode == "smtp_stop":
                stop_when(proc, lambda: relays.count() >= k, relays.stop_current)
            elif mode == "ldap_stop":
                stop_when(proc, lambda: relays.count() >= k, fs.slapd.stop)
            first = finish(proc)
            err = first[2].decode()
            assert "Traceback" not in err, err
            if mode in ("sent", "password_set", "row_written", "closing"):
                assert first[0] == -signal.SIGKILL, (first[0], err[-1500:])
            if mode == "sigint" and first[0] != 0:
                assert first[0] == 130 and "interrompue (Ctrl+C)" in err and "--resume" in err, err
            if mode == "smtp_stop":
                assert first[0] != 0, "the relay stopped and the diffusion said nothing"
                relays.restart()
                write_config(cfg, fs.slapd, relays.current, state_dir, processes=0)
            if mode == "ldap_stop":
                assert first[0] != 0, "the directory stopped and the diffusion said nothing"
                fs.start()  # the same database, as the stop left it
                write_config(cfg, fs.slapd, relays.current, state_dir)
            result = resume_until_done(cfg, first, ["diffuse", "--resume", "--yes", "--json"], args)
            check_outcome(fs.slapd, pop, Outcome(result, relays.messages, state_dir), regeneration=False)

        trial(seed, f"diffusion trial {i} ({mode})", body)


# ---------------------------------------------------------------------------------------------
# Regeneration
# ---------------------------------------------------------------------------------------------

REGENERATION_MODES = ("kill_time", "kill_rows", "password_set", "row_written", "closing", "sigint", "ldap_stop")


def _rows_on_disk(files_dir: Path) -> int:
    """Lines written so far (the header left out), without parsing: polled every few milliseconds."""
    return sum(max(0, p.read_bytes().count(b"\r\n") - 1) for p in files_dir.glob("*.csv"))


def test_regeneration_survives_kill_9_and_sigint(world: tuple[Population, FaultSlapd], tmp_path: Path) -> None:
    pop, fs = world
    n = len(pop.targeted)
    for i in range(TRIALS):
        mode = REGENERATION_MODES[i % len(REGENERATION_MODES)]
        seed = SEED + 1000 + i

        def body(rng: random.Random, i: int = i, mode: str = mode) -> None:
            fs.restore()
            state_dir = tmp_path / f"regeneration-{i}"
            files_dir = state_dir / "identifiants"
            # No relay: a regeneration mails nothing (the configuration's port is closed).
            cfg = write_config(
                state_dir / "enttui.toml", fs.slapd, _Closed(), state_dir, processes=rng.choice((2, 2, 0))
            )
            args = ["files", "regenerate", "--yes", "--json"]
            fault = ""
            if mode == "password_set":
                fault = f"password_set:{rng.randint(1, 10)}"
            elif mode == "row_written":
                fault = f"row_written:{rng.randint(1, n // 2)}"
            elif mode == "closing":
                fault = "closing:1"
            proc = subprocess.Popen(
                command(cfg, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(fault)
            )
            started = time.monotonic()
            k = rng.randint(1, n // 2)
            if mode == "kill_time":
                delay = rng.uniform(0.5, 2.5)
                stop_when(proc, lambda: time.monotonic() - started >= delay, proc.kill)
            elif mode == "kill_rows":
                stop_when(proc, lambda: _rows_on_disk(files_dir) >= k, proc.kill)
            elif mode == "sigint":
                stop_when(proc, lambda: _rows_on_disk(files_dir) >= k, lambda: proc.send_signal(signal.SIGINT))
            elif mode == "ldap_stop":
                stop_when(proc, lambda: _rows_on_disk(files_dir) >= k, fs.slapd.stop)
            first = finish(proc)
            err = first[2].decode()
            assert "Traceback" not in err, err
            if first[0] != 0:
                # The partial file is listed with its real rows, and its run as "interrompu".
                listed = run(cfg, "files", "list", "--json")
                assert listed.returncode == 0, listed.stderr.decode()
                doc = json.loads(listed.stdout)
                if doc["files"]:
                    (entry,) = doc["files"]
                    _names, rows = file_rows_after_cut(files_dir)
                    assert entry["rows"] == rows, (entry, rows)
                    # (killed after its run was closed: "réussi", every row there)
                    assert entry["run_status"] == "interrompu" or (entry["run_status"], rows) == ("réussi", n), entry
                if mode == "sigint":
                    assert first[0] == 130 and "interrompue (Ctrl+C)" in err, err
            if mode == "ldap_stop":
                assert first[0] != 0, "the directory stopped and the regeneration said nothing"
                fs.start()
                write_config(cfg, fs.slapd, _Closed(), state_dir)
            again = ["files", "regenerate", "--resume", "--yes", "--json"]
            result = resume_until_done(cfg, first, again, args)
            check_outcome(fs.slapd, pop, Outcome(result, [], state_dir), regeneration=True)

        trial(seed, f"regeneration trial {i} ({mode})", body)


def file_rows_after_cut(files_dir: Path) -> tuple[list[str], int]:
    """Complete rows on disk (a half-written last row does not count)."""
    from enttui.domain.idfiles import parse_rows

    names = sorted(p.name for p in files_dir.glob("*.csv"))
    return names, sum(len(parse_rows((files_dir / name).read_bytes())) for name in names)


class _Closed:
    """A relay nobody listens to (a regeneration must not need one)."""

    port = 1
    ca_pem_path = ""


# ---------------------------------------------------------------------------------------------
# Two launches at the same instant
# ---------------------------------------------------------------------------------------------


def test_two_launches_at_once_one_runs_the_other_exits_3(ldap_sandbox: Any, smtp_ca: Any, tmp_path: Path) -> None:
    """20 pairs of ``enttui diffuse`` started together: one runs, the other is refused (exit 3)
    naming the first. The relay holds the first message until the loser has exited, so that the
    winner is surely still running when the loser asks for the lock."""
    from support.diffusion_world import World, mails_by_recipient
    from support.diffusion_world import write_config as small_config

    world = World.on_sandbox(ldap_sandbox)
    creds = [p for p in world.people if p.target.gets_ent_credentials and not p.activated and p.mail]
    release = threading.Event()
    (tmp_path / "smtp").mkdir()
    with SmtpTestServer(ca=smtp_ca, tls="starttls", workdir=tmp_path / "smtp") as smtp:
        handler = smtp._controller.handler
        original = handler.handle_DATA

        async def handle_data(server: Any, session: Any, envelope: Any) -> str:
            import asyncio

            while not release.is_set():  # noqa: ASYNC110 - a threading.Event, from the test thread
                await asyncio.sleep(0.01)
            return await original(server, session, envelope)

        handler.handle_DATA = handle_data
        cfg = small_config(world, smtp, tmp_path)
        cmd = command(cfg, "diffuse", "--targets", "eleve,parent,autre", "--yes", "--json")
        for i in range(TRIALS):
            release.clear()
            smtp.reset()
            a = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment())
            b = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment())
            procs = {a.pid: a, b.pid: b}
            deadline = time.monotonic() + DEADLINE
            while a.poll() is None and b.poll() is None:
                assert time.monotonic() < deadline, f"pair {i}: both launches are running"
                time.sleep(0.01)
            loser = a if a.poll() is not None else b
            winner = procs[b.pid if loser is a else a.pid]
            release.set()
            rc_l, _out_l, err_l = finish(loser)
            rc_w, out_w, err_w = finish(winner)
            text = err_l.decode()
            assert rc_l == 3, f"pair {i}: {rc_l} {text[-1500:]}"
            assert "Une diffusion des identifiants est déjà en cours" in text and f"processus {winner.pid}" in text, (
                text
            )
            assert rc_w == 0, f"pair {i}: {err_w.decode()[-1500:]}"
            result = json.loads(out_w)
            mails = mails_by_recipient(smtp)
            assert result["mailed"] == len(creds) == len(mails), (i, result)
            assert all(len(v) == 1 for v in mails.values()), f"pair {i}: someone got two mails"
    files = [p for p in (tmp_path / "cli-identifiants").glob("*.csv")]
    assert len(files) == TRIALS  # one file per diffusion that ran, none from a refused one
    _names, rows = file_rows(tmp_path / "cli-identifiants")
    assert all(len(v) == TRIALS for v in rows.values())  # one row per trial and account without address
