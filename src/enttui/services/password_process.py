"""Password changes in child processes, for the diffusion of credentials.

ldap3 encodes every request in pure Python (pyasn1): about 0.6 ms of CPU per account for the
RFC 3062 exop and the ``pwdReset`` modify. In a thread, that work holds the GIL the mail sending and
the console need; in a child process it runs on another core. Each child builds its own
:class:`~enttui.services.directory.Directory` from the same settings and runs
:meth:`Directory.set_passwords_now` (the very code the in-process path runs), so the semantics are
the same: per-account errors in French, ``pwdReset`` checked once per batch, a lost connection
retried once on the next server of the pool.

Safety:

- ``spawn`` start method (no fork of a process that runs threads and an event loop);
- the children ignore SIGINT (Ctrl+C stops the parent, which stops them) and write nothing on the
  terminal (the console owns it);
- a child checks before each account that its parent is still alive, and a thread checks it twice a
  second while the child waits: a diffusion killed with ``kill -9`` leaves no child behind, and
  none that changes passwords behind the back of a resume;
- passwords travel only through the executor's pipe, never in an argument list, a log or an error
  (errors are scrubbed in the child, then rebuilt in the parent from their text).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import resource_tracker
from typing import Protocol

from enttui.config import EntConfig, LdapConfig
from enttui.errors import DirectoryError, EnttuiError, register_secret

# (message, detail) of an account's error, or None: what crosses the process boundary.
Outcome = tuple[str, str | None] | None


class PasswordSetter(Protocol):
    """What the diffusion needs to change passwords: :class:`Directory` itself or the child processes."""

    async def set_passwords(self, items: Sequence[tuple[str, str]]) -> list[DirectoryError | None]: ...


# --------------------------------------------------------------------------- in the child process

_child_directory = None
_child_parent = 0


def _parent_alive() -> bool:
    return os.getppid() == _child_parent


def _watch_parent() -> None:
    """An idle child waits on the executor's pipe, whose writing end it holds itself: it would never
    see its parent die. This thread ends it within half a second of the parent's death."""
    while _parent_alive():
        time.sleep(0.5)
    os._exit(0)


def _child_init(ldap: LdapConfig, ent: EntConfig, parent_pid: int) -> None:
    global _child_directory, _child_parent
    from enttui.services.directory import Directory

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    if ldap.bind_password is not None:  # unpickled without __init__: redaction must know it here too
        register_secret(ldap.bind_password.reveal())
    _child_parent = parent_pid
    _child_directory = Directory(ldap, ent)
    threading.Thread(target=_watch_parent, name="enttui-parent-watch", daemon=True).start()


def _child_ready() -> int:
    return os.getpid()


def _child_set_passwords(
    items: Sequence[tuple[str, str]], use_exop: bool
) -> tuple[list[Outcome], tuple[str, str | None] | None]:
    """One batch; returns the outcomes, or the error of the whole batch (directory lost)."""
    assert _child_directory is not None
    try:
        outcomes = _child_directory.set_passwords_now(items, use_exop, still_wanted=_parent_alive)
    except EnttuiError as exc:
        if not _parent_alive():
            os._exit(0)
        return [], (exc.message, exc.detail)
    if not _parent_alive():
        os._exit(0)
    return [None if err is None else (err.message, err.detail) for err in outcomes], None


# --------------------------------------------------------------------------- in the console


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with /dev/null as its error output.

    The tracker (a process of its own) inherits the descriptor behind ``sys.stderr``: under the
    console that is Textual's capture, which has none (the spawn fails), and the terminal belongs to
    the screen anyway.
    """
    saved = sys.stderr
    with open(os.devnull, "w", encoding="utf-8") as quiet:
        sys.stderr = quiet
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = saved


class PasswordProcesses:
    """``processes`` children changing passwords by batches; use as ``async with``.

    The first batch waits for the children to start (about half a second, overlapping the
    opening of the SMTP sessions). A child that dies makes every later batch fail with a French
    :class:`DirectoryError` (the diffusion stops and can be resumed).
    """

    def __init__(self, ldap: LdapConfig, ent: EntConfig, *, processes: int, use_exop: bool) -> None:
        self._ldap = ldap
        self._ent = ent
        self._processes = max(1, processes)
        self._use_exop = use_exop
        self._pool: ProcessPoolExecutor | None = None

    async def __aenter__(self) -> PasswordProcesses:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        """Spawn the children now (each starts Python and imports ldap3 while the caller goes on)."""
        if self._pool is not None:
            return
        _start_resource_tracker()
        self._pool = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_init,
            initargs=(self._ldap, self._ent, os.getpid()),
        )
        for _ in range(self._processes):
            self._pool.submit(_child_ready)

    async def set_passwords(self, items: Sequence[tuple[str, str]]) -> list[DirectoryError | None]:
        """Same contract as :meth:`Directory.set_passwords`."""
        if not items:
            return []
        if self._pool is None:
            raise DirectoryError("Changement des mots de passe : les processus ne sont pas démarrés.")
        loop = asyncio.get_running_loop()
        try:
            outcomes, failure = await loop.run_in_executor(
                self._pool, _child_set_passwords, list(items), self._use_exop
            )
        except BrokenProcessPool:
            raise DirectoryError(
                "Le processus de changement des mots de passe s'est arrêté : diffusion interrompue "
                "(reprenez-la pour la terminer)."
            ) from None
        if failure is not None:
            raise DirectoryError(failure[0], detail=failure[1])
        return [None if o is None else DirectoryError(o[0], detail=o[1]) for o in outcomes]

    async def close(self) -> None:
        """Let a running batch end (its outcome is lost to the caller, not to the journal), stop the children."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)
