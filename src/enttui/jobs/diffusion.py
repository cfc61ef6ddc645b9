"""Diffusion des identifiants, and the regeneration of identifier files.

A diffusion is a pipeline, so that password changes overlap the sending::

    credential people ──► directory batches ──(queue)──► S senders ──► SMTP (smtp_connections
       (Élève, Parent,      LDAP_BATCH passwords              mail per person,   sessions)
        Autre, not yet      per hop, pwdReset TRUE,           4xx retried with backoff,
        activated)          one check per batch, in           5xx → file
                            child processes (ldap_processes)
                            no address → file
    staff (Enseignant, Non enseignant) ────────────────────────► information mail, no password

Every final outcome goes to the run's journal in the state store (``mailed``, ``in_file`` +
reason, ``info_mailed``, ``error``) before the worker moves on (a sender builds its next message
while its last ``mailed`` commits, but sends it only once that is committed); a group-commit
writer batches the concurrent writes. ``password_set`` is a lazy note, never awaited: dropped when
the final status follows soon, else written later (a resume treats it like ``planned``).
Nothing holds a password but memory and the final 0600
identifier file. A run killed at any moment (kill -9 included) is "interrompu" and can be resumed:
people journalled as mailed or in the file are skipped; people whose password was set but who were
not mailed get a new password (the first one was never stored) and are mailed.

Count invariant of a finished run: ``changed = mailed + in_file``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from enttui.domain import idfiles as F
from enttui.domain import mail as M
from enttui.domain.passwords import generate_password
from enttui.domain.people import Person, Target
from enttui.errors import DirectoryError, EnttuiError, LockHeldError, MailError, ValidationError
from enttui.jobs.context import Services
from enttui.jobs.events import EventSink, Phase, Progress, Trace, null_sink
from enttui.jobs.idfiles import IdFileWriter, files_dir, index_file, new_writer
from enttui.jobs.status import transport_warnings
from enttui.services.mailer import Mailer, MailRefused, MailTemporary, RawMessage, SmtpMailer, render_message
from enttui.services.password_process import PasswordProcesses, PasswordSetter
from enttui.services.state import INTERRUPTED, RUNNING, SUCCESS, WITH_ERRORS, RunRecord

ENTITY = "diffusion"
CREDENTIAL_TARGETS = (Target.ELEVE, Target.PARENT, Target.AUTRE)
STAFF_TARGETS = (Target.ENSEIGNANT, Target.NON_ENSEIGNANT)

# journal statuses
PLANNED = "planned"
PASSWORD_SET = "password_set"
MAILED = "mailed"
IN_FILE = "in_file"
INFO_MAILED = "info_mailed"
INFO_NO_MAIL = "info_no_mail"
ERROR = "error"
SKIPPED = "skipped"
FINAL = frozenset({MAILED, IN_FILE, INFO_MAILED, INFO_NO_MAIL, ERROR, SKIPPED})
FILE_KEY = "@file"
CREDENTIALS = "credentials"
INFORMATION = "information"
MAX_DIRECTORY_ERRORS = 10
LDAP_BATCH = 50  # passwords set per directory hop
LDAP_HOPS = 2  # batches in flight at once (one child process each; more threads only fight for the GIL)
NOTE_DELAY = 2.0  # seconds a lazy journal item may wait for its final status
JOURNAL_WINDOW = 0.005  # seconds a commit may wait for more records


# ---------------------------------------------------------------------------------------------
# Requests and plans
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffusionRequest:
    targets: tuple[Target, ...]
    subject: str
    free_text: str = ""
    include_activated: bool = False

    def options(self) -> dict[str, Any]:
        return {
            "targets": [t.value for t in self.targets],
            "subject": self.subject,
            "free_text": self.free_text,
            "include_activated": self.include_activated,
        }

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> DiffusionRequest:
        return cls(
            targets=tuple(Target(t) for t in options.get("targets", [])),
            subject=str(options.get("subject", "")),
            free_text=str(options.get("free_text", "")),
            include_activated=bool(options.get("include_activated", False)),
        )


def validate_request(
    targets: Sequence[Target | str], subject: str, free_text: str = "", *, include_activated: bool = False
) -> DiffusionRequest:
    """The form's rules, before anything happens (ValidationError in French)."""
    chosen: list[Target] = []
    for t in targets:
        try:
            target = Target(t)
        except ValueError:
            raise ValidationError(
                f"Cible inconnue : « {t} » (eleve, parent, enseignant, non-enseignant, autre).", title="Cible"
            ) from None
        if target not in chosen:
            chosen.append(target)
    if not chosen:
        raise ValidationError("Cochez au moins une cible.", title="Cible")
    clean = M.validate_subject(subject)
    order = list(Target)
    return DiffusionRequest(tuple(sorted(chosen, key=order.index)), clean, free_text or "", include_activated)


@dataclass
class TargetCounts:
    credentials: int = 0  # new password + mail
    no_mail: int = 0  # new password, no usable address: the file
    information: int = 0  # information mail only
    info_no_mail: int = 0  # staff without address: nothing to send
    activated: int = 0  # already activated, left alone


@dataclass
class DiffusionPlan:
    request: DiffusionRequest
    counts: dict[Target, TargetCounts]
    credential_people: list[Person] = field(default_factory=list)
    info_people: list[Person] = field(default_factory=list)
    children: dict[str, str] = field(default_factory=dict)  # student DN (lower) -> "Prénom Nom (classe)"
    uai_of: dict[str, str] = field(default_factory=dict)  # structure DN (lower) -> UAI

    @property
    def changes(self) -> int:
        return len(self.credential_people)

    @property
    def total(self) -> int:
        return len(self.credential_people) + len(self.info_people)

    def confirmation_text(self) -> str:
        lines = [f"Objet : {self.request.subject}", ""]
        for target in self.request.targets:
            c = self.counts[target]
            if target.gets_ent_credentials:
                line = (
                    f"{target.label} : {c.credentials} nouveau(x) mot(s) de passe envoyé(s) par courriel, "
                    f"{c.no_mail} sans adresse utilisable (dans le fichier)"
                )
                if c.activated:
                    line += f", {c.activated} compte(s) déjà activé(s) laissé(s) tel(s) quel(s)"
            else:
                line = f"{target.label} : {c.information} message(s) d'information (sans mot de passe)"
                if c.info_no_mail:
                    line += f", {c.info_no_mail} sans adresse"
            lines.append(line)
        lines += [
            "",
            f"Total : {self.changes} mot(s) de passe changé(s), "
            f"{sum(c.credentials + c.information for c in self.counts.values())} courriel(s).",
        ]
        if self.request.include_activated:
            lines.append("Attention : les comptes déjà activés sont inclus (leur mot de passe sera changé).")
        return "\n".join(lines)


async def _structures(services: Services) -> dict[str, str]:
    return {s.dn.lower(): s.uai for s in await services.directory.structures()}


def _child_label(p: Person) -> str:
    name = " ".join(x for x in (p.given_name, p.sn) if x) or p.login
    return f"{name} ({', '.join(p.classes)})" if p.classes else name


async def plan_diffusion(
    services: Services, request: DiffusionRequest, *, only: dict[str, str] | None = None
) -> DiffusionPlan:
    """Who gets what. ``only`` (DN lower -> kind) restricts to a resumed run's remaining people."""
    counts = {t: TargetCounts() for t in request.targets}
    plan = DiffusionPlan(request, counts, uai_of=await _structures(services))
    wanted = set(request.targets)
    children: dict[str, str] = {}
    child_dns: set[str] = set()
    async for page in services.directory.iter_people():
        for p in page:
            if p.target is Target.ELEVE:
                children[p.dn.lower()] = _child_label(p)
            if p.target not in wanted:
                continue
            if only is not None and p.dn.lower() not in only:
                continue
            c = counts[p.target]
            staff = not p.target.gets_ent_credentials
            if only is not None:
                staff = only[p.dn.lower()] == INFORMATION
            if staff:
                if p.mail:
                    c.information += 1
                    plan.info_people.append(p)
                else:
                    c.info_no_mail += 1
                continue
            if p.activated and not request.include_activated:
                c.activated += 1
                continue
            plan.credential_people.append(p)
            if p.mail:
                c.credentials += 1
            else:
                c.no_mail += 1
            if p.target is Target.PARENT:
                child_dns.update(d.lower() for d in p.child_dns)
    missing = [d for d in child_dns if d not in children]
    if missing:
        for p in await services.directory.people_by_dns(missing):
            children[p.dn.lower()] = _child_label(p)
    plan.children = {d: children[d] for d in child_dns if d in children}
    key = lambda p: (p.sn.lower(), p.given_name.lower(), p.dn.lower())  # noqa: E731
    plan.credential_people.sort(key=key)
    plan.info_people.sort(key=key)
    return plan


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass
class DiffusionResult:
    run_id: int
    status: str
    changed: int = 0
    mailed: int = 0
    in_file: int = 0
    information: int = 0
    errors: int = 0
    skipped: int = 0
    pending: int = 0  # password set, not yet mailed (an interrupted run)
    file_name: str = ""
    message: str = ""

    @property
    def invariant_ok(self) -> bool:
        return self.changed == self.mailed + self.in_file + self.pending

    def counts(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "mailed": self.mailed,
            "in_file": self.in_file,
            "information": self.information,
            "errors": self.errors,
            "skipped": self.skipped,
            "pending": self.pending,
            "file": self.file_name,
        }

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, **self.counts(), "message": self.message}

    def summary_text(self) -> str:
        lines = [
            f"Mots de passe changés : {self.changed} (= {self.mailed} envoyés + {self.in_file} dans le fichier"
            + (f" + {self.pending} en attente de reprise" if self.pending else "")
            + ")",
            f"Identifiants envoyés : {self.mailed}",
            f"Messages d'information : {self.information}",
            f"Dans le fichier : {self.in_file}" + (f" ({self.file_name})" if self.file_name else ""),
            f"Erreurs : {self.errors}",
        ]
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


def _result_from_journal(
    run_id: int, journal: dict[str, tuple[str, str]], status: str, message: str
) -> DiffusionResult:
    res = DiffusionResult(run_id=run_id, status=status, message=message)
    for key, (st, detail) in journal.items():
        if key == FILE_KEY:
            res.file_name = detail
        elif st == MAILED:
            res.mailed += 1
        elif st == IN_FILE:
            res.in_file += 1
        elif st == INFO_MAILED:
            res.information += 1
        elif st == ERROR:
            res.errors += 1
        elif st in (SKIPPED, INFO_NO_MAIL):
            res.skipped += 1
        elif st == PASSWORD_SET:
            res.pending += 1
    res.changed = res.mailed + res.in_file + res.pending
    return res


# ---------------------------------------------------------------------------------------------
# The journal (group commit)
# ---------------------------------------------------------------------------------------------


def _ignore(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()  # retrieved: a failed commit also fails the next awaited record


class _Journal:
    """``await record(items)`` returns once the items are committed; concurrent calls share a commit.

    A commit waits up to ``JOURNAL_WINDOW`` for ``group`` records (the senders' outcomes) so that
    one transaction carries several: each commit has a fixed cost far above its per-item cost.
    """

    def __init__(self, services: Services, run_id: int, *, group: int = 1) -> None:
        self._state = services.state
        self._run_id = run_id
        self._group = max(1, group)
        self._pending: list[tuple[list[tuple[str, str, str]], asyncio.Future[None]]] = []
        self._notes: dict[str, tuple[tuple[str, str, str], float]] = {}  # key -> (lazy item, when)
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.ensure_future(self._loop())

    async def record(self, *items: tuple[str, str, str]) -> None:
        await self.record_later(*items)

    def record_later(self, *items: tuple[str, str, str]) -> asyncio.Future[None]:
        """Queue items (FIFO with every other record, so a later status always wins); commit soon."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key, _status, _detail in items:
            self._notes.pop(key, None)  # superseded: the note must never overwrite this status
        self._pending.append((list(items), fut))
        self._wake.set()
        return fut

    def note(self, items: Iterable[tuple[str, str, str]]) -> None:
        """Lazy items (no one waits for them): dropped if a :meth:`record` for the same key comes
        first, else committed with a later commit once older than ``NOTE_DELAY`` or at close."""
        now = time.monotonic()
        for item in items:
            self._notes[item[0]] = (item, now)

    def _due_notes(self) -> list[tuple[str, str, str]]:
        if self._closing:
            due = [item for item, _at in self._notes.values()]
            self._notes.clear()
            return due
        limit = time.monotonic() - NOTE_DELAY
        due = []
        for item, at in self._notes.values():  # oldest first
            if at > limit:
                break
            due.append(item)
        for item in due:
            del self._notes[item[0]]
        return due

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
            notes = self._due_notes()
            if batch or notes:
                try:
                    await self._state.journal_set(self._run_id, notes + [i for items, _ in batch for i in items])
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
            if self._closing and not self._pending and not self._notes:
                return

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self._task

    def cancel(self) -> None:
        self._task.cancel()


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


def load_templates(services: Services) -> M.MailTemplates:
    cfg = services.config.diffusion
    files = {
        M.KIND_CREDENTIALS: cfg.template_credentials_file,
        M.KIND_PARENT: cfg.template_parent_file,
        M.KIND_INFORMATION: cfg.template_information_file,
    }
    texts: dict[str, str] = {}
    sources: dict[str, str] = {}
    for kind, path in files.items():
        if path:
            try:
                texts[kind] = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationError(f"Modèle de message illisible : {path} ({exc}).") from None
            sources[kind] = f"Modèle {path}"
    return M.MailTemplates.from_texts(texts, sources)


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


async def _check_lock(services: Services) -> None:
    await services.state.mark_interrupted()
    for kind in ("diffusion", "regeneration"):
        running = await services.state.list_runs(kind=kind, status=RUNNING, limit=1)
        if running:
            r = running[0]
            raise LockHeldError(
                f"Une {'diffusion' if kind == 'diffusion' else 'régénération'} est déjà en cours "
                f"(traitement n° {r.id}, processus {r.pid} sur {r.host}, utilisateur {r.user})."
            )


class _Diffusion:
    def __init__(
        self,
        services: Services,
        plan: DiffusionPlan,
        run_id: int,
        sink: EventSink,
        writer: IdFileWriter | None,
        done_before: int,
        total: int,
    ) -> None:
        self.s = services
        self.cfg = services.config
        self.plan = plan
        self.req = plan.request
        self.run_id = run_id
        self.sink = sink
        self.writer = writer
        self.templates = load_templates(services)
        self.journal = _Journal(services, run_id, group=max(1, self.cfg.diffusion.smtp_senders))
        self.send_q: asyncio.Queue[tuple[Person, str, str] | None] = asyncio.Queue(maxsize=64)
        self.abort: EnttuiError | None = None
        self.dir_errors = 0
        self.done = done_before
        self.total = total
        self._last_progress = 0.0
        self.traces: list[tuple[str, str, str]] = []
        self.file_created_at: datetime | None = None
        self.file_uai = ""
        self._file_lock = asyncio.Lock()

    # -- events --------------------------------------------------------------------------
    def _trace(self, level: str, text: str) -> None:
        self.traces.append((level, ENTITY, text))
        self.sink(Trace(level, ENTITY, text))

    def _step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.done >= self.total or now - self._last_progress >= 0.1:
            self._last_progress = now
            self.sink(Progress(ENTITY, self.done, self.total))

    # -- values --------------------------------------------------------------------------
    def _uai(self, p: Person) -> str:
        for dn in p.struct_dns:
            uai = self.plan.uai_of.get(dn.lower())
            if uai:
                return uai
        return ""

    def _detail(self, p: Person) -> str:
        if p.target is Target.PARENT:
            return M.join_names(self.plan.children.get(d.lower(), "") for d in p.child_dns)
        return ", ".join(p.classes)

    def _values(self, p: Person, password: str) -> dict[str, str]:
        return {
            "prenom": p.given_name,
            "nom": p.sn,
            "identifiant": p.login,
            "mot_de_passe": password,
            "portail": self.cfg.ent.portal,
            "adresse": self.cfg.ent.portal_url,
            "classes": ", ".join(p.classes),
            "enfants": self._detail(p) if p.target is Target.PARENT else "",
            "courriel": p.mail,
        }

    # -- the file ------------------------------------------------------------------------
    async def _create_file(self) -> None:
        moment = self.s.clock()
        self.writer = await asyncio.to_thread(new_writer, files_dir(self.s), F.file_name(F.KIND_DIFFUSION, moment))
        self.file_created_at = moment
        self.file_uai = ",".join(self.cfg.ent.uai)
        await self.journal.record((FILE_KEY, "file", self.writer.name))
        await index_file(self.s, self.writer, F.KIND_DIFFUSION, moment, self.run_id, uai=self.file_uai)

    async def _to_file(self, p: Person, password: str, motif: str) -> None:
        async with self._file_lock:  # two workers may need the file at once: create it once
            if self.writer is None:
                await self._create_file()
        assert self.writer is not None
        row = F.IdRow(
            uai=self._uai(p),
            profil=p.target.label,
            nom=p.sn,
            prenom=p.given_name,
            detail=self._detail(p),
            login=p.login,
            password=password,
            generated=self.s.clock(),
            motif=motif,
        )
        async with self._file_lock:
            await asyncio.to_thread(self.writer.append, row)
        await self.journal.record((p.dn, IN_FILE, motif))

    # -- workers -------------------------------------------------------------------------
    async def _producer(self, people: Iterator[Person], passwords: PasswordSetter) -> None:
        """Set passwords by batches (one directory hop each), then hand each person to the senders."""
        length = self.cfg.diffusion.password_length
        while self.abort is None:
            batch = list(itertools.islice(people, LDAP_BATCH))
            if not batch:
                return
            items = [(p.dn, generate_password(length)) for p in batch]
            try:
                outcomes: list[DirectoryError | None] = await passwords.set_passwords(items)
            except DirectoryError as exc:
                # The directory itself failed (lost twice): the batch stays "planned" for the resume.
                self._trace("error", exc.message)
                if self.abort is None:
                    self.abort = exc
                return
            errors: list[tuple[str, str, str]] = []
            done: list[tuple[Person, str]] = []
            for p, (_dn, password), err in zip(batch, items, outcomes, strict=True):
                if err is None:
                    self.dir_errors = 0
                    done.append((p, password))
                    continue
                if self.abort is not None:
                    continue  # after the stop, left "planned" for the resume
                self.dir_errors += 1
                self._trace("error", f"{p.login} : {err.message}")
                errors.append((p.dn, ERROR, err.message))
                if self.dir_errors >= MAX_DIRECTORY_ERRORS and self.abort is None:
                    self.abort = DirectoryError(f"Diffusion arrêtée : {self.dir_errors} erreurs de l'annuaire.")
            # Not awaited, and coalesced with the final status when it comes soon: a resume treats
            # "planned" and "password_set" alike (a new password either way).
            self.journal.note((p.dn, PASSWORD_SET, "") for p, _pw in done)
            if errors:
                await self.journal.record(*errors)
                for _ in errors:
                    self._step()
            for p, password in done:
                if self.abort is not None:
                    return  # password set, not mailed: the resume sends a new one
                if not p.mail:
                    await self._to_file(p, password, F.MOTIF_NO_MAIL)
                    self._step()
                else:
                    await self.send_q.put((p, CREDENTIALS, password))

    async def _feed_information(self, people: list[Person]) -> None:
        for p in people:
            if self.abort is not None:
                return
            await self.send_q.put((p, INFORMATION, ""))

    async def _sender(self, mailer: Mailer) -> None:
        # The journal record of this sender's last mail: awaited before its next mail goes out (so
        # that at most one mail per sender is sent and not yet journalled), after the next message
        # is built (the commit overlaps that work).
        previous: asyncio.Future[None] | None = None
        try:
            while True:
                item = await self.send_q.get()
                if item is None:
                    break
                if self.abort is not None:
                    continue  # drain: the rest stays in the journal for a resume
                person, kind, password = item
                previous = await self._deliver(mailer, person, kind, password, previous)
                self._step()
            if previous is not None:
                fut, previous = previous, None
                await fut
        finally:
            if previous is not None:
                previous.add_done_callback(_ignore)

    def _message(self, p: Person, body: str) -> RawMessage:
        return render_message(self.cfg.smtp.sender, p.mail, self.req.subject, body, date=self.s.clock())

    async def _deliver(
        self, mailer: Mailer, p: Person, kind: str, password: str, previous: asyncio.Future[None] | None
    ) -> asyncio.Future[None] | None:
        """Send one message; returns the (not yet awaited) journal record of a sent mail."""
        if kind == INFORMATION:
            template = self.templates.information
        elif p.target is Target.PARENT:
            template = self.templates.parent
        else:
            template = self.templates.credentials
        body = M.render(template, self._values(p, password), self.req.free_text)
        retries = self.cfg.diffusion.max_retries
        delay = self.cfg.diffusion.retry_delay_seconds
        reason = ""
        for attempt in range(retries + 1):
            try:
                msg = self._message(p, body)
                if previous is not None:
                    fut, previous = previous, None
                    await fut
                await mailer.send(msg)
            except MailTemporary as exc:
                reason = f"{F.MOTIF_TEMPORARY} ({exc.code or ''} {exc.server_text})".replace("( ", "(")
                if attempt < retries:
                    self._trace("warning", f"{p.login} : refus temporaire, nouvel essai dans {delay * 2**attempt:g} s")
                    await asyncio.sleep(delay * 2**attempt)
                    continue
                break
            except MailRefused as exc:
                reason = f"{F.MOTIF_REFUSED} ({exc.code} {exc.server_text})" if exc.code else exc.reason
                break
            except MailError as exc:
                if self.abort is None:
                    self.abort = exc
                return previous  # password set, not mailed: a resume sends a new one
            else:
                return self.journal.record_later((p.dn, INFO_MAILED if kind == INFORMATION else MAILED, ""))
        if previous is not None:
            await previous
        if kind == INFORMATION:
            self._trace("error", f"{p.login} : message d'information non envoyé : {reason}")
            await self.journal.record((p.dn, ERROR, reason))
        else:
            self._trace("warning", f"{p.login} : identifiants dans le fichier : {reason}")
            await self._to_file(p, password, reason)
        return None

    async def _password_setter(self) -> PasswordProcesses | None:
        """Child processes for the password changes (a real directory and work for them), else None."""
        processes = min(self.cfg.diffusion.ldap_processes, LDAP_HOPS)
        if processes <= 0 or self.s.directory.is_embedded or not self.plan.credential_people:
            return None
        use_exop = await self.s.directory.supports_password_exop()
        return PasswordProcesses(self.cfg.ldap, self.cfg.ent, processes=processes, use_exop=use_exop)

    async def execute(self) -> None:
        try:
            children = await self._password_setter()
            if children is None:
                await self._execute(self.s.directory, max(1, min(self.cfg.diffusion.ldap_workers, LDAP_HOPS)))
                return
            async with children:
                await self._execute(children, min(self.cfg.diffusion.ldap_processes, LDAP_HOPS))
        finally:
            await self.journal.close()  # on every path, also when the children could not start

    async def _execute(self, passwords: PasswordSetter, workers: int) -> None:
        senders = max(1, self.cfg.diffusion.smtp_senders)
        people = iter(self.plan.credential_people)
        producers = [asyncio.ensure_future(self._producer(people, passwords)) for _ in range(workers)]
        feeder = asyncio.ensure_future(self._feed_information(self.plan.info_people))
        # Several SMTP sessions hide the relay's round trips (MAIL, RCPT, DATA); the demo outbox has one.
        assert self.s.mailer is not None
        mailers: list[Mailer] = [self.s.mailer]
        if isinstance(self.s.mailer, SmtpMailer):
            mailers += [SmtpMailer(self.cfg.smtp) for _ in range(max(1, self.cfg.diffusion.smtp_connections) - 1)]
        sending = [asyncio.ensure_future(self._sender(mailers[i % len(mailers)])) for i in range(senders)]
        try:
            await asyncio.gather(*producers, feeder)
            for _ in sending:
                await self.send_q.put(None)
            await asyncio.gather(*sending)
        finally:
            for task in (*producers, feeder, *sending):
                task.cancel()
            await asyncio.gather(*producers, feeder, *sending, return_exceptions=True)
            for extra in mailers[1:]:
                with contextlib.suppress(Exception):
                    await extra.close()
            if self.writer is not None:
                await asyncio.to_thread(self.writer.sync)


async def run_diffusion(
    services: Services,
    request: DiffusionRequest,
    sink: EventSink = null_sink,
    *,
    plan: DiffusionPlan | None = None,
) -> DiffusionResult:
    """A new diffusion (after the confirmation): returns the counts; never raises for one person."""
    if services.mailer is None:
        raise MailError("Aucun serveur de messagerie configuré ([smtp] host).")
    load_templates(services)  # a broken template stops before anything happens
    await _check_lock(services)
    if plan is None:
        sink(Phase(ENTITY, "Lecture de l'annuaire"))
        plan = await plan_diffusion(services, request)
    run_id = await services.state.start_run("diffusion", request.options())
    items = [(p.dn, PLANNED, CREDENTIALS) for p in plan.credential_people]
    items += [(p.dn, PLANNED, INFORMATION) for p in plan.info_people]
    await services.state.journal_set(run_id, items)
    return await _run(services, plan, run_id, sink, writer=None, done_before=0)


async def _run(
    services: Services,
    plan: DiffusionPlan,
    run_id: int,
    sink: EventSink,
    *,
    writer: IdFileWriter | None,
    done_before: int,
) -> DiffusionResult:
    total = done_before + plan.total
    job = _Diffusion(services, plan, run_id, sink, writer, done_before, total)
    for warning in transport_warnings(services):  # TLS told plainly
        job._trace("warning", warning)
    sink(Phase(ENTITY, "Changement des mots de passe et envoi des messages"))
    sink(Progress(ENTITY, done_before, total))
    status, message = SUCCESS, ""
    try:
        await job.execute()
    except asyncio.CancelledError:
        await _close(services, job, run_id, INTERRUPTED, "Diffusion annulée : reprenez-la pour la terminer.")
        raise
    except BaseException as exc:
        msg = exc.message if isinstance(exc, EnttuiError) else f"{type(exc).__name__}: {exc}"
        await _close(services, job, run_id, INTERRUPTED, f"Diffusion interrompue : {msg}")
        raise
    if job.abort is not None:
        status = INTERRUPTED
        message = f"Diffusion interrompue : {job.abort.message} Reprenez-la une fois le problème réglé."
        job._trace("error", message)
    return await _close(services, job, run_id, status, message)


async def _close(services: Services, job: _Diffusion, run_id: int, status: str, message: str) -> DiffusionResult:
    with contextlib.suppress(Exception):
        await services.state.add_trace(run_id, job.traces[-5000:])
    journal = await services.state.journal_get(run_id)
    if status == SUCCESS and any(st == ERROR for st, _ in journal.values()):
        status = WITH_ERRORS
    result = _result_from_journal(run_id, journal, status, message)
    if job.writer is not None:
        await asyncio.to_thread(job.writer.sync)
        created = job.file_created_at or services.clock()
        for rec in await services.state.list_files():
            if rec.name == job.writer.name:
                created = rec.created_at
        record = await index_file(
            services, job.writer, F.KIND_DIFFUSION, created, run_id, uai=job.file_uai, rows=result.in_file
        )
        await services.state.audit(
            "fichier.generation", record.name, f"diffusion n° {run_id} : {job.writer.rows} ligne(s) écrite(s)"
        )
        await asyncio.to_thread(job.writer.close)
    await services.state.finish_run(run_id, status, result.counts(), result.summary_text())
    job.sink(Progress(ENTITY, job.done, job.total))
    return result


async def resumable_diffusion(services: Services) -> RunRecord | None:
    """The last diffusion that did not finish, if any (after marking dead runs as interrupted)."""
    await services.state.mark_interrupted()
    run = await services.state.last_run("diffusion")
    if run is None or run.status != INTERRUPTED:
        return None
    journal = await services.state.journal_get(run.id)
    if not any(st in (PLANNED, PASSWORD_SET) for k, (st, _) in journal.items() if k != FILE_KEY):
        return None
    return run


async def resume_diffusion(services: Services, run_id: int, sink: EventSink = null_sink) -> DiffusionResult:
    """Finish an interrupted diffusion: nobody mailed twice; set-but-not-mailed people get a new password."""
    if services.mailer is None:
        raise MailError("Aucun serveur de messagerie configuré ([smtp] host).")
    await _check_lock(services)
    run = await services.state.get_run(run_id)
    if run is None or run.kind != "diffusion":
        raise ValidationError(f"Aucune diffusion n° {run_id}.")
    if run.status != INTERRUPTED:
        raise ValidationError(f"La diffusion n° {run_id} n'est pas interrompue (état : {run.status}).")
    request = DiffusionRequest.from_options(run.options)
    journal = await services.state.journal_get(run_id)
    remaining: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for key, (st, detail) in journal.items():
        if key == FILE_KEY:
            continue
        if st == PLANNED:
            kinds[key.lower()] = detail
        if st in (PLANNED, PASSWORD_SET):
            remaining[key.lower()] = key
    # The kind of a "password_set" person is credentials (only they get a password).
    only = {dn: kinds.get(dn, CREDENTIALS) for dn in remaining}
    sink(Phase(ENTITY, "Reprise : lecture de l'annuaire"))
    plan = await plan_diffusion(services, request, only=only)
    found = {p.dn.lower() for p in (*plan.credential_people, *plan.info_people)}
    lost = [
        (key, SKIPPED, "introuvable ou déjà activé à la reprise") for dn, key in remaining.items() if dn not in found
    ]
    # The resume is a new run that carries the journal on; the old one says who took it over.
    new_id = await services.state.start_run("diffusion", {**request.options(), "resume_of": run_id})
    await services.state.journal_set(new_id, [(k, st, d) for k, (st, d) in journal.items()] + lost)
    await services.state.finish_run(
        run_id, INTERRUPTED, run.counts, f"Diffusion interrompue, reprise par le traitement n° {new_id}"
    )
    await services.state.audit("diffusion.reprise", f"diffusion n° {run_id}", f"reprise par le traitement n° {new_id}")
    writer = None
    if FILE_KEY in journal:
        writer = IdFileWriter(files_dir(services), F.check_name(journal[FILE_KEY][1]))
        if not await asyncio.to_thread(writer.reopen):
            writer = None
    done_before = sum(1 for k, (st, _) in journal.items() if k != FILE_KEY and st in FINAL) + len(lost)
    return await _run(services, plan, new_id, sink, writer=writer, done_before=done_before)


# ---------------------------------------------------------------------------------------------
# Regeneration of identifier files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegenerationRequest:
    uais: tuple[str, ...]  # empty = the whole périmètre
    since: datetime | None = None
    include_activated: bool = False


@dataclass
class RegenerationPlan:
    request: RegenerationRequest
    people: list[Person]
    counts: dict[Target, int]
    uai_of: dict[str, str]
    children: dict[str, str]

    def confirmation_text(self) -> str:
        since = (
            f"créés depuis le {self.request.since.astimezone().strftime('%d/%m/%Y')}"
            if self.request.since
            else "tous les comptes"
        )
        lines = [
            f"Périmètre : {', '.join(self.request.uais) or 'tout le périmètre'} ({since}).",
            "",
            *(f"{t.label} : {n} compte(s)" for t, n in self.counts.items()),
            "",
            f"{len(self.people)} mot(s) de passe vont être remplacés ; un nouveau fichier contiendra chacun d'eux.",
        ]
        if self.request.include_activated:
            lines.append("Attention : les comptes déjà activés sont inclus.")
        return "\n".join(lines)


@dataclass
class RegenerationResult:
    run_id: int
    status: str
    changed: int
    errors: int
    file_name: str
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "changed": self.changed,
            "in_file": self.changed,
            "errors": self.errors,
            "file": self.file_name,
            "message": self.message,
        }


async def plan_regeneration(services: Services, request: RegenerationRequest) -> RegenerationPlan:
    uai_of = await _structures(services)
    allowed = set(services.config.ent.uai)
    for uai in request.uais:
        if uai not in allowed:
            raise ValidationError(f"UAI « {uai} » hors du périmètre ({', '.join(sorted(allowed))}).")
    keep = {dn for dn, uai in uai_of.items() if not request.uais or uai in request.uais}
    people: list[Person] = []
    counts = {t: 0 for t in CREDENTIAL_TARGETS}
    children: dict[str, str] = {}
    async for page in services.directory.iter_people():
        for p in page:
            if p.target is Target.ELEVE:
                children[p.dn.lower()] = _child_label(p)
            if p.target not in CREDENTIAL_TARGETS:
                continue
            if not any(d.lower() in keep for d in p.struct_dns):
                continue
            if p.activated and not request.include_activated:
                continue
            if request.since is not None and (p.created is None or p.created < request.since):
                continue
            people.append(p)
            counts[p.target] += 1
    people.sort(key=lambda p: (p.target.value, p.sn.lower(), p.given_name.lower(), p.dn.lower()))
    return RegenerationPlan(request, people, counts, uai_of, children)


async def run_regeneration(
    services: Services,
    request: RegenerationRequest,
    sink: EventSink = null_sink,
    *,
    plan: RegenerationPlan | None = None,
) -> RegenerationResult:
    """New passwords for the matching accounts, every one written to a new identifier file."""
    await _check_lock(services)
    if plan is None:
        sink(Phase("regeneration", "Lecture de l'annuaire"))
        plan = await plan_regeneration(services, request)
    options = {
        "uais": list(request.uais),
        "since": request.since.isoformat() if request.since else None,
        "include_activated": request.include_activated,
    }
    run_id = await services.state.start_run("regeneration", options)
    moment = services.clock()
    writer = await asyncio.to_thread(new_writer, files_dir(services), F.file_name(F.KIND_REGENERATION, moment))
    uai = ",".join(request.uais)
    await index_file(services, writer, F.KIND_REGENERATION, moment, run_id, uai=uai)
    length = services.config.diffusion.password_length
    total = len(plan.people)
    done = errors = 0
    traces: list[tuple[str, str, str]] = []
    people = iter(plan.people)
    last = 0.0
    for warning in transport_warnings(services):  # TLS told plainly
        traces.append(("warning", "regeneration", warning))
        sink(Trace("warning", "regeneration", warning))
    sink(Phase("regeneration", "Changement des mots de passe"))
    sink(Progress("regeneration", 0, total))

    def uai_of(p: Person) -> str:
        return next((plan.uai_of[d.lower()] for d in p.struct_dns if d.lower() in plan.uai_of), "")

    async def worker() -> None:
        nonlocal done, errors, last
        for p in people:
            password = generate_password(length)
            try:
                await services.directory.set_password(p.dn, password)
            except DirectoryError as exc:
                errors += 1
                traces.append(("error", "regeneration", f"{p.login} : {exc.message}"))
                sink(Trace("error", "regeneration", f"{p.login} : {exc.message}"))
            else:
                detail = (
                    M.join_names(plan.children.get(d.lower(), "") for d in p.child_dns)
                    if p.target is Target.PARENT
                    else ", ".join(p.classes)
                )
                row = F.IdRow(
                    uai_of(p),
                    p.target.label,
                    p.sn,
                    p.given_name,
                    detail,
                    p.login,
                    password,
                    moment,
                    F.MOTIF_REGENERATION,
                )
                await asyncio.to_thread(writer.append, row)
            done += 1
            if done == total or time.monotonic() - last > 0.1:
                last = time.monotonic()
                sink(Progress("regeneration", done, total))

    status = SUCCESS
    message = ""
    try:
        await asyncio.gather(*(worker() for _ in range(max(1, services.config.diffusion.ldap_workers))))
    except BaseException as exc:
        status = INTERRUPTED
        message = exc.message if isinstance(exc, EnttuiError) else type(exc).__name__
        raise
    finally:
        await asyncio.to_thread(writer.close)
        record = await index_file(services, writer, F.KIND_REGENERATION, moment, run_id, uai=uai)
        await services.state.audit(
            "fichier.generation", record.name, f"régénération n° {run_id} : {writer.rows} compte(s)"
        )
        if errors and status == SUCCESS:
            status = WITH_ERRORS
        with contextlib.suppress(Exception):
            await services.state.add_trace(run_id, traces[-5000:])
        result = RegenerationResult(run_id, status, writer.rows, errors, writer.name, message)
        await services.state.finish_run(
            run_id,
            status,
            {"changed": writer.rows, "in_file": writer.rows, "errors": errors, "file": writer.name},
            f"{writer.rows} mot(s) de passe régénéré(s) dans {writer.name}, {errors} erreur(s)",
        )
    return result
