"""The engine a diffusion and a regeneration share: passwords by batches, the file, the journal.

A run works on a list of :class:`Work` items, one per account. Those that need a password are
set by batches of ``LDAP_BATCH`` (one directory hop each, in child processes when configured:
:mod:`enttui.services.password_process`), each password *derived* from the run's secret
(:mod:`enttui.jobs.journal`); the others (a resume's accounts whose password is already set) go
straight to delivery. Delivery is the subclass's: the diffusion mails or files, the regeneration
files. The identifier file is shared: created once, reopened by a resume (a half-written last row
is cut off), one row per account (a row already there is never written twice).

A killed run is resumed through :mod:`enttui.jobs.resume`, which turns its journal into the
work of the resume: never a second, different password for one account in one family of runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from enttui.domain import idfiles
from enttui.domain.attributes import PLAN_PERSON_ATTRIBUTES, with_attribute
from enttui.domain.dn import dn_key_or_none, lookup_key
from enttui.domain.french import plural
from enttui.domain.mail import join_names
from enttui.domain.passwords import derive_password
from enttui.domain.people import Person, Target
from enttui.domain.runs import RunStatus
from enttui.errors import DirectoryError, EnttuiError, MailError
from enttui.jobs import journal
from enttui.jobs.events import EventSink, Phase, Progress, Trace
from enttui.jobs.faults import fault_point
from enttui.jobs.idfiles import IdFileWriter, files_dir, index_file, new_writer
from enttui.services.container import Services
from enttui.services.password_process import PasswordProcesses, PasswordSetter

MAX_DIRECTORY_ERRORS = 10
LDAP_BATCH = 50  # passwords set per directory hop
LDAP_HOPS = 2  # batches in flight at once (one child process each; more threads only fight for the GIL)


def dn_key(dn: str) -> str:
    """The key of an account in the journal's comparisons and in its password's derivation."""
    return dn_key_or_none(dn) or dn.strip().lower()


@dataclass
class Work:
    """What a run does with one account."""

    person: Person
    kind: str = journal.CREDENTIALS  # or journal.INFORMATION
    set_password: bool = True  # False: its (derived) password is already in the directory
    resent: bool = False  # it was "sending" when the run stopped: it may have been delivered
    motif: str = ""  # the file's reason when it goes to the file whatever happens
    again: bool = False  # a resume sets it again: the killed run may have set it already
    check_activated: bool = False  # activated since the plan: by its owner, or half-set by the killed run
    password: str = field(default="", repr=False)  # derived once when its batch is set (never shown)


@dataclass
class RunContext:
    """What rows and messages need beyond the person: schools and children's names."""

    uai_of: dict[str, str] = field(default_factory=dict)  # structure DN (lower) -> UAI
    children: dict[str, str] = field(default_factory=dict)  # student DN (lower) -> "Prénom Nom (classe)"


def child_label(p: Person) -> str:
    name = " ".join(x for x in (p.given_name, p.sn) if x) or p.login
    return f"{name} ({', '.join(p.classes)})" if p.classes else name


def uai_of(ctx: RunContext, p: Person) -> str:
    for dn in p.struct_dns:
        uai = ctx.uai_of.get(lookup_key(dn))
        if uai:
            return uai
    return ""


def detail_of(ctx: RunContext, p: Person) -> str:
    """Classes (students) or children (parents): the file's 5th column and the parents' mail."""
    if p.target is Target.PARENT:
        return join_names(ctx.children.get(lookup_key(d), "") for d in p.child_dns)
    return ", ".join(p.classes)


def plan_attributes(services: Services) -> tuple[str, ...]:
    """What the plans read of a person: :data:`PLAN_PERSON_ATTRIBUTES` and ``[ldap] inactive_attribute``
    (``Person.activated`` needs it besides ``userPassword``)."""
    return with_attribute(PLAN_PERSON_ATTRIBUTES, services.config.ldap.inactive_attribute)


async def structures(services: Services) -> dict[str, str]:
    return {lookup_key(s.dn): s.uai for s in await services.directory.structures()}


async def preflight(services: Services, sink: EventSink, entity: str, *, mail: bool) -> None:
    """Before any change: the directory answers, and (``mail``) the relay accepts us (TLS, login)."""
    sink(Phase(entity, "Vérification de l'annuaire" + (" et du serveur de messagerie" if mail else "")))
    health = await services.directory.health()
    if not health.ok:
        raise DirectoryError(f"L'annuaire ne répond pas : {health.message} Rien n'a été modifié.")
    if mail:
        if services.mailer is None:
            raise MailError("Aucun serveur de messagerie configuré ([smtp] host). Rien n'a été modifié.")
        relay = await services.mailer.health()
        if not relay.ok:
            raise MailError(f"{relay.message.rstrip('.')}. Rien n'a été modifié (aucun mot de passe changé).")


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------


class CredentialRun:
    """One run (new or resumed) of a diffusion or a regeneration; subclasses deliver."""

    ENTITY = "diffusion"
    FILE_KIND = idfiles.KIND_DIFFUSION
    LABEL = "Diffusion"

    def __init__(
        self,
        services: Services,
        run_id: int,
        secret: bytes,
        ctx: RunContext,
        sink: EventSink,
        *,
        writer: IdFileWriter | None,
        done_before: int,
        total: int,
        journal_group: int = 1,
    ) -> None:
        self.s = services
        self.cfg = services.config
        self.run_id = run_id
        self.secret = secret
        self.ctx = ctx
        self.sink = sink
        self.writer = writer
        self.journal = journal.Journal(services, run_id, group=journal_group)
        self.abort: EnttuiError | None = None
        self.dir_errors = 0
        self.done = done_before
        self.total = total
        self._last_progress = 0.0
        self.traces: list[tuple[str, str, str]] = []
        self.file_created_at: datetime | None = None
        self.file_uai = ",".join(self.cfg.ent.uai)
        self._file_lock = asyncio.Lock()
        self._length = self.cfg.diffusion.password_length

    # -- events --------------------------------------------------------------------------
    def trace(self, level: str, text: str) -> None:
        self.traces.append((level, self.ENTITY, text))
        self.sink(Trace(level, self.ENTITY, text))

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done >= self.total or now - self._last_progress >= 0.1:
            self._last_progress = now
            self.sink(Progress(self.ENTITY, self.done, self.total))

    # -- values --------------------------------------------------------------------------
    def password(self, p: Person) -> str:
        return derive_password(self.secret, dn_key(p.dn), self._length)

    def password_of(self, w: Work) -> str:
        """The work's password, derived once (the batch that sets it keeps it for the delivery)."""
        if not w.password:
            w.password = self.password(w.person)
        return w.password

    def row(self, p: Person, password: str, motif: str) -> idfiles.IdRow:
        return idfiles.IdRow(
            uai=uai_of(self.ctx, p),
            profil=p.target.label,
            nom=p.sn,
            prenom=p.given_name,
            detail=detail_of(self.ctx, p),
            login=p.login,
            password=password,
            generated=self.s.clock(),
            motif=motif,
        )

    # -- the file ------------------------------------------------------------------------
    async def _create_file(self) -> None:
        moment = self.s.clock()
        self.writer = await asyncio.to_thread(new_writer, files_dir(self.s), idfiles.file_name(self.FILE_KIND, moment))
        self.file_created_at = moment
        await self.journal.record((journal.FILE_KEY, "file", self.writer.name))
        await index_file(self.s, self.writer, self.FILE_KIND, moment, self.run_id, uai=self.file_uai)

    async def ensure_file(self) -> IdFileWriter:
        async with self._file_lock:  # two workers may need the file at once: create it once
            if self.writer is None:
                await self._create_file()
        assert self.writer is not None
        return self.writer

    async def to_file(self, items: Sequence[tuple[Person, str]], *, count: bool = True) -> None:
        """Rows for ``(person, motif)`` (never a second one), then ``in_file`` committed."""
        if not items:
            return
        writer = await self.ensure_file()

        def write() -> None:
            for p, motif in items:
                password = self.password(p)
                if not writer.has(p.login, password):
                    writer.append(self.row(p, password, motif))
                    fault_point("row_written")

        async with self._file_lock:
            await asyncio.to_thread(write)
        await self.journal.record(*((p.dn, journal.IN_FILE, motif) for p, motif in items))
        if count:
            self.step(len(items))

    # -- passwords -----------------------------------------------------------------------
    async def _password_setter(self, works: Sequence[Work]) -> PasswordProcesses | None:
        """Child processes for the password changes (a real directory and work for them), else None."""
        processes = min(self.cfg.diffusion.ldap_processes, LDAP_HOPS)
        if processes <= 0 or not self.s.directory.supports_processes or not any(w.set_password for w in works):
            return None
        use_exop = await self.s.directory.supports_password_exop()
        return PasswordProcesses(self.cfg.ldap, self.cfg.ent, processes=processes, use_exop=use_exop)

    async def _set_batch(self, batch: list[Work], passwords: PasswordSetter) -> list[Work] | None:
        """Set the batch's passwords; returns the works whose password is set (None: stop)."""
        items = [(w.person.dn, self.password_of(w)) for w in batch]
        try:
            outcomes: list[DirectoryError | None] = await passwords.set_passwords(items)
        except DirectoryError as exc:
            # The directory itself failed (lost twice): the batch stays "planned" for the resume.
            self.trace("error", exc.message)
            if self.abort is None:
                self.abort = exc
            return None
        errors: list[journal.Item] = []
        done: list[Work] = []
        for w, (_dn, password), err in zip(batch, items, outcomes, strict=True):
            if err is not None and w.again and await self._holds(w.person, password):
                # A resume setting again the password the killed run had set: a history rule
                # (pwdInHistory) refuses the same value. It is there; make sure it is temporary.
                err = await self._mark_temporary(w.person)
            if err is None:
                self.dir_errors = 0
                done.append(w)
                continue
            if self.abort is not None:
                continue  # after the stop, left "planned" for the resume
            self.dir_errors += 1
            self.trace("error", f"{w.person.login} : {err.message}")
            errors.append((w.person.dn, journal.ERROR, err.message))
            if self.dir_errors >= MAX_DIRECTORY_ERRORS and self.abort is None:
                self.abort = DirectoryError(f"{self.LABEL} arrêtée : {self.dir_errors} erreurs de l'annuaire.")
        if done:
            fault_point("password_set")
            # FIFO with every later record: committed before any "sending" or "in_file" of these.
            self.journal.note((w.person.dn, journal.PASSWORD_SET, "") for w in done)
        if errors:
            await self.journal.record(*errors)
            self.step(len(errors))
        return done

    async def _mark_temporary(self, p: Person) -> DirectoryError | None:
        try:
            await self.s.directory.mark_temporary(p.dn)
        except DirectoryError as exc:
            return exc
        return None

    async def _holds(self, p: Person, password: str) -> bool:
        """Does the account already hold ``password`` (checked only after a refused change)."""
        try:
            return await self.s.directory.password_works(p.dn, password)
        except EnttuiError:
            return False

    async def _producer(self, works: Iterator[Work], passwords: PasswordSetter) -> None:
        """Set passwords by batches (one directory hop each), then hand each account to delivery."""
        while self.abort is None:
            batch = list(itertools.islice(works, LDAP_BATCH))
            if not batch:
                return
            done = await self._set_batch(batch, passwords)
            if done is None:
                return
            if done and self.abort is None:
                await self.deliver(done)

    async def deliver(self, works: list[Work]) -> None:
        """Hand accounts whose password is set to their delivery (the subclass's)."""
        raise NotImplementedError

    async def run_work(self, works: list[Work]) -> None:
        """Ready accounts first (a resume's), then the password changes; subclasses add consumers."""
        ready = [w for w in works if not w.set_password]
        to_set = [w for w in works if w.set_password]
        children = await self._password_setter(to_set)
        if children is None:
            await self._run(ready, to_set, self.s.directory, max(1, min(self.cfg.diffusion.ldap_workers, LDAP_HOPS)))
            return
        async with children:
            await self._run(ready, to_set, children, min(self.cfg.diffusion.ldap_processes, LDAP_HOPS))

    async def _run(self, ready: list[Work], to_set: list[Work], passwords: PasswordSetter, workers: int) -> None:
        people = iter(to_set)
        producers = [asyncio.ensure_future(self._producer(people, passwords)) for _ in range(workers)]
        try:
            for start in range(0, len(ready), LDAP_BATCH):
                if self.abort is not None:
                    break
                await self.deliver(ready[start : start + LDAP_BATCH])
            await asyncio.gather(*producers)
        finally:
            for task in producers:
                task.cancel()
            await asyncio.gather(*producers, return_exceptions=True)

    async def execute(self, works: list[Work]) -> None:
        try:
            await self.run_work(works)
        finally:
            await self.journal.close()  # on every path, also when the children could not start
            if self.writer is not None:
                await asyncio.to_thread(self.writer.sync)


# ---------------------------------------------------------------------------------------------
# Starting, closing
# ---------------------------------------------------------------------------------------------


class RunResult(Protocol):
    """What a diffusion's or a regeneration's result offers the closing of its run."""

    def counts(self) -> dict[str, Any]: ...

    def summary_text(self) -> str: ...


ResultT = TypeVar("ResultT", bound=RunResult)
CountsOf = Callable[[int, Mapping[str, tuple[str, str]], RunStatus, str], ResultT]


async def close_run(
    services: Services,
    job: CredentialRun,
    family: int,
    status: RunStatus,
    message: str,
    counts_of: CountsOf[ResultT],
) -> ResultT:
    """Trace, counts from the journal, the file's index, the run's record; the secret when done.

    ``counts_of(run_id, entries, status, message)`` (the journal's entries) builds the caller's result.
    """
    fault_point("closing")  # tests only: killed with its journal complete, its run still open
    with contextlib.suppress(Exception):
        await services.state.add_trace(job.run_id, job.traces[-5000:])
    entries = await services.state.journal_get(job.run_id)
    counts = journal.count_journal(entries)
    if status == RunStatus.SUCCESS and counts.errors:
        status = RunStatus.WITH_ERRORS
    if status == RunStatus.SUCCESS and counts.remaining:
        status = RunStatus.INTERRUPTED
    result = counts_of(job.run_id, entries, status, message)
    if job.writer is not None:
        await asyncio.to_thread(job.writer.sync)
        created = job.file_created_at or services.clock()
        for rec in await services.state.list_files():
            if rec.name == job.writer.name:
                created = rec.created_at
        record = await index_file(
            services, job.writer, job.FILE_KIND, created, job.run_id, uai=job.file_uai, rows=job.writer.rows
        )
        what = "diffusion" if job.FILE_KIND == idfiles.KIND_DIFFUSION else "régénération"
        await services.state.audit(
            "fichier.generation",
            record.name,
            f"{what} n° {job.run_id} : {plural(job.writer.rows, 'ligne écrite', 'lignes écrites')}",
        )
        await asyncio.to_thread(job.writer.close)
    await services.state.finish_run(job.run_id, status, result.counts(), result.summary_text())
    if not counts.remaining:
        await journal.delete_secret(services, family)
    job.sink(Progress(job.ENTITY, job.done, job.total))
    return result


async def abandon(services: Services, run_id: int, label: str, exc: BaseException) -> None:
    """Close a run that failed between its record and its first change ("interrompu", resumable)."""
    msg = exc.message if isinstance(exc, EnttuiError) else type(exc).__name__
    with contextlib.suppress(Exception):
        await services.state.finish_run(
            run_id, RunStatus.INTERRUPTED, {}, f"{label} interrompue avant tout changement : {msg}"
        )


async def run_to_end(
    services: Services,
    job: CredentialRun,
    works: list[Work],
    family: int,
    counts_of: CountsOf[ResultT],
) -> ResultT:
    """Execute and close, whatever happens (a cancelled or failed run is closed "interrompu")."""
    from enttui.jobs.status import transport_warnings

    for warning in transport_warnings(services):  # TLS told plainly, in the trace of every run
        job.trace("warning", warning)
    job.sink(Progress(job.ENTITY, job.done, job.total))
    try:
        await job.execute(works)
    except asyncio.CancelledError:
        await close_run(
            services,
            job,
            family,
            RunStatus.INTERRUPTED,
            f"{job.LABEL} annulée : reprenez-la pour la terminer.",
            counts_of,
        )
        raise
    except BaseException as exc:
        msg = exc.message if isinstance(exc, EnttuiError) else f"{type(exc).__name__}: {exc}"
        await close_run(services, job, family, RunStatus.INTERRUPTED, f"{job.LABEL} interrompue : {msg}", counts_of)
        raise
    status, message = RunStatus.SUCCESS, ""
    if job.abort is not None:
        status = RunStatus.INTERRUPTED
        message = f"{job.LABEL} interrompue : {job.abort.message} Reprenez-la une fois le problème réglé."
        job.trace("error", message)
    return await close_run(services, job, family, status, message, counts_of)
