"""One lock for every job that changes passwords or writes the directory (the jobs lock).

A diffusion, a regeneration and the local accounts' import or edit hold an exclusive ``flock`` on
one file, ``<files_dir>/.runs/jobs.lock``, from before their run is recorded until it is closed:

- taken atomically (``LOCK_EX | LOCK_NB``): of two launches at the same instant, one gets it, the
  other is refused at once (:class:`LockHeldError`, exit status 3);
- released by the operating system when the holder dies, ``kill -9`` included: no stale lock;
- the holder writes who it is into the file right after taking it (process, host, user, job,
  run number, since when), so that a refusal names the holder in French;
- a run "en cours" of a locked kind whose lock is free is dead, whatever host wrote it
  (:func:`probe` tells, without disturbing a job that starts at the same moment: it takes a
  shared lock for an instant, and a job that finds the lock taken retries for a short moment).

Every host that shares the state store must reach the same lock file (``files_dir`` on a shared
file system) for the lock to cover them all; on one server, nothing is needed.

``flock`` locks belong to an open file description: a second job in the same process (the
console) is refused like one from another process.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from enttui.errors import LockHeldError, StateError

LOCK_NAME = "jobs.lock"
RETRY_SECONDS = 0.3  # a probe holds the lock for an instant: a job retries that long before refusing
RETRY_STEP = 0.01
KIND_LABELS = {
    "diffusion": "Une diffusion des identifiants",
    "regeneration": "Une régénération des identifiants",
    "import": "Un import de comptes locaux",
    "referentiel": "Une modification du référentiel local",
}


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as its holder wrote it."""

    pid: int = 0
    host: str = ""
    user: str = ""
    kind: str = ""
    run_id: int | None = None
    since: datetime | None = None

    def describe(self) -> str:
        """``Une diffusion des identifiants est déjà en cours (traitement n° 12, processus 4242 sur srv, …)``."""
        what = KIND_LABELS.get(self.kind, "Un traitement")
        parts = [f"traitement n° {self.run_id}" if self.run_id is not None else "en préparation"]
        if self.pid:
            parts.append(f"processus {self.pid} sur {self.host or '?'}")
        if self.user:
            parts.append(f"utilisateur {self.user}")
        if self.since is not None:
            parts.append(f"depuis le {self.since.astimezone().strftime('%d/%m/%Y à %H:%M:%S')}")
        return f"{what} est déjà en cours ({', '.join(parts)})."


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (container, cron without $USER)
        return str(os.getuid())


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        raise StateError(f"Fichier de verrou {path} inutilisable ({exc.strerror or exc}).") from None


def read_holder(path: Path) -> Holder | None:
    """What the holder wrote (None when nothing readable is there)."""
    try:
        text = path.read_text(encoding="utf-8")
        data: dict[str, Any] = json.loads(text) if text.strip() else {}
    except (OSError, ValueError):
        return None
    if not data:
        return None
    since = None
    with contextlib.suppress(TypeError, ValueError):
        since = datetime.fromisoformat(str(data.get("since")))
    run = data.get("run_id")
    return Holder(
        pid=int(data.get("pid") or 0),
        host=str(data.get("host") or ""),
        user=str(data.get("user") or ""),
        kind=str(data.get("kind") or ""),
        run_id=int(run) if isinstance(run, int) else None,
        since=since,
    )


class JobLock:
    """The jobs lock, held (use :func:`acquire`); :meth:`set_run` names the run once it exists."""

    def __init__(self, path: Path, fd: int, holder: Holder) -> None:
        self.path = path
        self._fd: int | None = fd
        self.holder = holder

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _write(self) -> None:
        if self._fd is None:
            return
        h = self.holder
        data = {
            "pid": h.pid,
            "host": h.host,
            "user": h.user,
            "kind": h.kind,
            "run_id": h.run_id,
            "since": h.since.isoformat() if h.since else None,
        }
        raw = (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, raw, 0)

    def set_run(self, run_id: int) -> None:
        self.holder = Holder(
            self.holder.pid, self.holder.host, self.holder.user, self.holder.kind, run_id, self.holder.since
        )
        with contextlib.suppress(OSError):
            self._write()

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> JobLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(path: Path, kind: str, *, user: str | None = None) -> JobLock:
    """Take the lock for a job of ``kind``; :class:`LockHeldError` naming the holder when taken."""
    fd = _open(path)
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise StateError(f"Verrou {path} impossible à prendre ({exc.strerror or exc}).") from None
            if time.monotonic() >= deadline:
                os.close(fd)
                raise _held(path) from None
            time.sleep(RETRY_STEP)
    holder = Holder(os.getpid(), socket.gethostname(), user or _user(), kind, None, datetime.now(UTC))
    lock = JobLock(path, fd, holder)
    try:
        lock._write()
    except OSError as exc:
        lock.release()
        raise StateError(f"Verrou {path} impossible à écrire ({exc.strerror or exc}).") from None
    return lock


def _held(path: Path) -> LockHeldError:
    holder = None
    for _ in range(50):  # the holder writes its name right after taking the lock
        holder = read_holder(path)
        if holder is not None:
            break
        time.sleep(RETRY_STEP)
    if holder is None:
        return LockHeldError(f"Un autre traitement tient le verrou {path} (détenteur inconnu).")
    return LockHeldError(holder.describe() + " Réessayez quand il sera terminé.")


@contextlib.contextmanager
def probe(path: Path) -> Iterator[bool]:
    """``with probe(path) as free:`` True when no job holds the lock (none can take it in the block)."""
    try:
        fd = _open(path)  # created if missing: a job that starts now locks this very file
    except StateError:
        yield False  # unreadable: say "held", so that nothing is marked dead on a guess
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
