"""The jobs lock as the jobs use it, and "interrompu" for the runs whose process is gone.

Diffusion, regeneration and the local accounts' import and edits take the one lock of
:mod:`enttui.services.locks` (``<files_dir>/.runs/jobs.lock``) before they record their run and
keep it until the run is closed. Holding it, a job knows that every other run of those kinds still
"en cours" in the state store is dead, and marks it "interrompu" before it starts its own.

:func:`refresh_run_states` does the same for the screens and commands that show runs (reports,
the files list, the resume banners): when no job holds the lock, every run of a locked kind still
"en cours" is dead, whatever host wrote it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from enttui.errors import EnttuiError
from enttui.services import locks
from enttui.services.container import Services
from enttui.services.locks import JobLock

LOCKED_KINDS = ("diffusion", "regeneration", "import")
RUNS_DIR = ".runs"  # beside the identifier files: the lock and the runs' secrets (0700)


def runs_dir(services: Services) -> Path:
    return Path(services.config.state.files_dir) / RUNS_DIR


def lock_path(services: Services) -> Path:
    return runs_dir(services) / locks.LOCK_NAME


async def take_lock(services: Services, kind: str) -> JobLock:
    """The jobs lock (LockHeldError naming the holder when taken); dead runs marked "interrompu"."""
    if not await asyncio.to_thread(_prepare, services):
        from enttui.jobs.idfiles import ensure_dir

        await asyncio.to_thread(ensure_dir, runs_dir(services))  # raises the French reason
    lock = await asyncio.to_thread(locks.acquire, lock_path(services), kind)
    try:
        await services.state.mark_interrupted(dead_kinds=LOCKED_KINDS)
    except BaseException:
        lock.release()
        raise
    return lock


@contextlib.asynccontextmanager
async def job_lock(services: Services, kind: str, held: JobLock | None = None) -> AsyncIterator[JobLock]:
    """``async with job_lock(services, "diffusion") as lock:``; ``held``: a lock the caller already
    took (it stays the caller's to release)."""
    if held is not None and held.held:
        yield held
        return
    lock = await take_lock(services, kind)
    try:
        yield lock
    finally:
        lock.release()


def _prepare(services: Services) -> bool:
    from enttui.jobs.idfiles import ensure_dir

    try:
        ensure_dir(Path(services.config.state.files_dir))
        ensure_dir(runs_dir(services))
    except EnttuiError:
        return False
    return True


async def refresh_run_states(services: Services) -> None:
    """Mark "interrompu" the runs "en cours" whose process is gone (see the module docstring)."""
    if not await asyncio.to_thread(_prepare, services):
        await services.state.mark_interrupted()  # no lock to look at: only the process checks
        return
    probe = locks.probe(lock_path(services))
    free = await asyncio.to_thread(probe.__enter__)
    try:
        await services.state.mark_interrupted(dead_kinds=LOCKED_KINDS if free else ())
    finally:
        await asyncio.to_thread(probe.__exit__, None, None, None)
