"""The journal of a diffusion or a regeneration, its run secret, and what it counts.

Every account of a run has one line in the state store's journal (``enttui_journal``), keyed by
its DN. Its status moves forward, each step committed at a precise moment:

``planned``
    recorded with the run, before anything is changed (``detail``: ``credentials`` or
    ``information``).
``password_set``
    committed after the directory confirmed the new password (and its ``pwdReset``).
``sending``
    committed *before* the message leaves (``detail``: the kind of message); at most one such
    account per SMTP session at a time.
``mailed`` / ``info_mailed`` / ``in_file`` / ``error`` / ``skipped`` / ``info_no_mail``
    final. ``in_file`` is committed after the row is written to the identifier file.

The password of an account is never stored: it is *derived* from the run's secret (32 random
bytes in ``<files_dir>/.runs/<family>.secret``, 0600 in a 0700 folder, written before the first
password change and deleted once no account is left to handle) and the account's DN key
(:func:`enttui.domain.passwords.derive_password`). A run and its resumes form a *family* that
shares one secret, so a resume sets and delivers the very password the killed run set: an
account left ``sending`` (its message may or may not have reached the relay before the crash) is
sent again with the same valid password, and counted ("peut-être envoyé deux fois"); an account
left ``planned`` gets the same password again (it was never delivered).

:class:`Journal` batches concurrent records in one transaction (group commit): a record's
``await`` returns once it is committed, and records commit in the order they were made.

The fault tests stop the process exactly in those windows with :mod:`enttui.jobs.faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enttui.domain.passwords import new_secret
from enttui.jobs.locking import runs_dir
from enttui.services.container import Services

# statuses
PLANNED = "planned"
PASSWORD_SET = "password_set"
SENDING = "sending"
MAILED = "mailed"
IN_FILE = "in_file"
INFO_MAILED = "info_mailed"
INFO_NO_MAIL = "info_no_mail"
ERROR = "error"
SKIPPED = "skipped"
REMAINING = frozenset({PLANNED, PASSWORD_SET, SENDING})
# kinds (the detail of "planned" and "sending")
CREDENTIALS = "credentials"
INFORMATION = "information"
FILE_KEY = "@file"  # the journal line that names the run's identifier file
RESENT = "renvoyé à la reprise (peut-être reçu deux fois, même mot de passe)"
JOURNAL_WINDOW = 0.005  # seconds a commit may wait for more records

Item = tuple[str, str, str]


# ---------------------------------------------------------------------------------------------
# Run secrets
# ---------------------------------------------------------------------------------------------


def family_of(run_id: int, options: Mapping[str, Any]) -> int:
    """The first run of a family (a resume carries it in its options)."""
    family = options.get("family")
    return int(family) if isinstance(family, int) else run_id


def _secret_path(services: Services, family: int) -> Path:
    return runs_dir(services) / f"{int(family)}.secret"


def _write_secret(path: Path, secret: bytes) -> None:
    from enttui.jobs.idfiles import ensure_dir

    ensure_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)  # whole or absent, never half a secret
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _read_secret(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, 256)
    finally:
        os.close(fd)
    return data if len(data) >= 16 else None


async def create_secret(services: Services, family: int) -> bytes:
    """A new secret for a new run (written and synced before the first password change)."""
    secret = new_secret()
    await asyncio.to_thread(_write_secret, _secret_path(services, family), secret)
    return secret


async def load_secret(services: Services, family: int) -> bytes | None:
    """The family's secret, or None when it is gone."""
    return await asyncio.to_thread(_read_secret, _secret_path(services, family))


async def delete_secret(services: Services, family: int) -> None:
    def unlink() -> None:
        path = _secret_path(services, family)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)  # a writer killed mid-way

    with contextlib.suppress(OSError):
        await asyncio.to_thread(unlink)


# ---------------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------------


@dataclass
class JournalCounts:
    """What a journal says happened (the only source of every count a run reports)."""

    mailed: int = 0
    in_file: int = 0
    information: int = 0
    errors: int = 0
    skipped: int = 0
    pending: int = 0  # password set (or being sent) and not yet delivered: an interrupted run
    planned: int = 0  # not touched yet
    resent: int = 0  # sent again by a resume: maybe delivered twice (same valid password)
    file_name: str = ""

    @property
    def changed(self) -> int:
        return self.mailed + self.in_file + self.pending

    @property
    def remaining(self) -> int:
        return self.pending + self.planned


def count_journal(journal: Mapping[str, tuple[str, str]]) -> JournalCounts:
    c = JournalCounts()
    for key, (status, detail) in journal.items():
        if key == FILE_KEY:
            c.file_name = detail
        elif status == MAILED:
            c.mailed += 1
            c.resent += detail == RESENT
        elif status == INFO_MAILED:
            c.information += 1
            c.resent += detail == RESENT
        elif status == IN_FILE:
            c.in_file += 1
        elif status == ERROR:
            c.errors += 1
        elif status in (SKIPPED, INFO_NO_MAIL):
            c.skipped += 1
        elif status == PASSWORD_SET:
            c.pending += 1
        elif status == SENDING:
            if detail == INFORMATION:
                c.planned += 1  # an information mail changes no password
            else:
                c.pending += 1
        elif status == PLANNED:
            c.planned += 1
    return c


def resent_text(n: int) -> str:
    """The report line of the messages a resume sent again (empty when none)."""
    if n <= 0:
        return ""
    if n == 1:
        return "1 message peut-être envoyé deux fois, avec le même mot de passe valide (reprise après un arrêt brutal)."
    return (
        f"{n} messages peut-être envoyés deux fois, avec le même mot de passe valide (reprise après un arrêt brutal)."
    )


# ---------------------------------------------------------------------------------------------
# The journal writer (group commit)
# ---------------------------------------------------------------------------------------------


def ignore_failure(fut: asyncio.Future[None]) -> None:
    """Done-callback for a record nobody awaits any more (its failure is retrieved, not raised)."""
    if not fut.cancelled():
        fut.exception()


class Journal:
    """``await record(items)`` returns once the items are committed; concurrent calls share a commit.

    A commit waits up to ``JOURNAL_WINDOW`` for ``group`` records (the senders' outcomes) so that
    one transaction carries several: each commit has a fixed cost far above its per-item cost.
    Records are committed in order (a later status of a key always wins).
    """

    def __init__(self, services: Services, run_id: int, *, group: int = 1) -> None:
        self._state = services.state
        self._run_id = run_id
        self._group = max(1, group)
        self._pending: list[tuple[list[Item], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.ensure_future(self._loop())

    async def record(self, *items: Item) -> None:
        await self.record_later(*items)

    def record_later(self, *items: Item) -> asyncio.Future[None]:
        """Queue items (FIFO with every other record); committed soon; the future says when."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((list(items), fut))
        self._wake.set()
        return fut

    def note(self, items: Iterable[Item]) -> None:
        """Items nobody waits for (committed with the next commit)."""
        self.record_later(*items).add_done_callback(ignore_failure)

    async def _gather(self) -> None:
        """Wait (briefly) until ``group`` records are pending, the window ends, or close."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + JOURNAL_WINDOW
        while len(self._pending) < self._group and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._pending:
                await self._gather()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await self._state.journal_set(self._run_id, [i for items, _ in batch for i in items])
                except BaseException as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError("annulé"))
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_result(None)
            if self._closing and not self._pending:
                return

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self._task

    def cancel(self) -> None:
        self._task.cancel()
