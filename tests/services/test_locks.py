"""The jobs lock: atomic, named, released by the system when its holder dies (kill -9 included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from enttui.errors import EXIT_LOCKED, LockHeldError
from enttui.services import locks

HOLDER = """
import sys, time
from pathlib import Path
from enttui.services import locks
lock = locks.acquire(Path(sys.argv[1]), "regeneration")
lock.set_run(42)
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_acquire_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / ".runs" / "jobs.lock"
    with locks.acquire(path, "diffusion") as lock:
        lock.set_run(7)
        assert lock.held
        with pytest.raises(LockHeldError) as info:
            locks.acquire(path, "regeneration")
        text = info.value.message
        assert "Une diffusion des identifiants est déjà en cours" in text
        assert "traitement n° 7" in text and f"processus {os.getpid()}" in text
        assert info.value.exit_code == EXIT_LOCKED == 3
        with locks.probe(path) as free:
            assert not free  # a job holds it
    assert not lock.held
    assert path.read_bytes() == b""  # the holder's name is cleared on release
    with locks.probe(path) as free:
        assert free
    with locks.acquire(path, "import"):
        pass
    assert oct(path.parent.stat().st_mode & 0o777) == oct(0o700)
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_the_lock_dies_with_its_holder_after_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "jobs.lock"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError) as info:
            locks.acquire(path, "diffusion")
        assert "Une régénération des identifiants" in info.value.message
        assert f"processus {proc.pid}" in info.value.message and "traitement n° 42" in info.value.message
        holder = locks.read_holder(path)
        assert holder is not None and holder.pid == proc.pid and holder.kind == "regeneration"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    # Nothing ran after the kill: the holder's name is still in the file, but the lock is free.
    assert locks.read_holder(path) is not None
    deadline = time.monotonic() + 10
    while True:
        with locks.probe(path) as free:
            if free:
                break
        assert time.monotonic() < deadline, "the lock outlived its holder"
        time.sleep(0.05)
    with locks.acquire(path, "diffusion") as lock:
        assert lock.held


def test_a_probe_does_not_make_a_starting_job_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A viewer's probe holds the lock for an instant: a job that meets it retries instead of refusing."""
    import threading

    monkeypatch.setattr(locks, "RETRY_SECONDS", 60.0)  # generous: the probe ends long before
    path = tmp_path / "jobs.lock"
    probe = locks.probe(path)
    assert probe.__enter__() is True
    threading.Timer(0.1, probe.__exit__, (None, None, None)).start()
    with locks.acquire(path, "diffusion") as lock:
        assert lock.held
