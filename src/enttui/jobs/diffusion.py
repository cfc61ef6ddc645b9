"""Diffusion des identifiants: new passwords mailed (or filed), information mails to staff.

A diffusion is a pipeline, so that password changes overlap the sending::

    credential people ──► directory batches ──(queue)──► S senders ──► SMTP (smtp_connections
       (Élève, Parent,      LDAP_BATCH passwords              mail per person,   sessions)
        Autre, not yet      per hop, pwdReset TRUE,           4xx retried with backoff,
        activated)          one check per batch, in           5xx → file
                            child processes (ldap_processes)
                            no address → file
    staff (Enseignant, Non enseignant) ────────────────────────► information mail, no password

"Not yet activated" is an account whose password is still temporary (``pwdReset``) or that has
no password at all (a new account from the feed: the first diffusion's main population).

Before anything changes, the jobs lock is taken (:mod:`enttui.jobs.locking`; refused with exit 3
naming the holder), the directory is asked to answer and the relay to accept a session (STARTTLS,
certificate, login): a relay that fails there stops the diffusion with nothing changed and no run
recorded. The passwords are derived from the run's secret and every step of every account is
journalled (:mod:`enttui.jobs.journal`, :mod:`enttui.jobs.credentials`): a sender commits
``sending`` before each message and ``mailed`` with its next one, so that a crash at any moment
(kill -9 included) leaves at most one message per SMTP session whose fate is unknown; the resume
sends it again with the *same* password, and counts it ("peut-être envoyé deux fois").

Count invariant: ``changed = mailed + in_file`` (``+ pending`` for an interrupted run).

The request, its validation and the plan (who gets what, the confirmation text) are in
:mod:`enttui.jobs.diffusion_plan`; their names are re-exported here, the job's one entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enttui.domain import idfiles, mail
from enttui.domain.french import plural
from enttui.domain.people import Person, Target
from enttui.domain.runs import RunStatus
from enttui.errors import MailError, ValidationError
from enttui.jobs import credentials, journal, resume
from enttui.jobs.diffusion_plan import DiffusionPlan, DiffusionRequest, plan_diffusion, validate_request
from enttui.jobs.events import EventSink, Phase, null_sink
from enttui.jobs.faults import fault_point
from enttui.jobs.locking import job_lock
from enttui.services.container import Services
from enttui.services.locks import JobLock
from enttui.services.mailer import Mailer, MailRefused, MailTemporary, RawMessage, SmtpMailer, render_message
from enttui.services.state import RunRecord

__all__ = [
    "ENTITY",
    "DiffusionPlan",
    "DiffusionRequest",
    "DiffusionResult",
    "load_templates",
    "plan_diffusion",
    "result_from_journal",
    "resumable_diffusion",
    "resume_diffusion",
    "run_diffusion",
    "validate_request",
]

ENTITY = "diffusion"


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass
class DiffusionResult:
    run_id: int
    status: RunStatus
    changed: int = 0
    mailed: int = 0
    in_file: int = 0
    information: int = 0
    errors: int = 0
    skipped: int = 0
    pending: int = 0  # password set, not yet delivered (an interrupted run)
    resent: int = 0  # sent again by a resume: maybe received twice (the same valid password)
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
            "resent": self.resent,
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
        if self.resent:
            lines.append(journal.resent_text(self.resent))
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


def result_from_journal(
    run_id: int, entries: Mapping[str, tuple[str, str]], status: RunStatus, message: str
) -> DiffusionResult:
    c = journal.count_journal(entries)
    return DiffusionResult(
        run_id=run_id,
        status=status,
        changed=c.changed,
        mailed=c.mailed,
        in_file=c.in_file,
        information=c.information,
        errors=c.errors,
        skipped=c.skipped,
        pending=c.pending,
        resent=c.resent,
        file_name=c.file_name,
        message=message,
    )


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


def load_templates(services: Services) -> mail.MailTemplates:
    cfg = services.config.diffusion
    files = {
        mail.KIND_CREDENTIALS: cfg.template_credentials_file,
        mail.KIND_PARENT: cfg.template_parent_file,
        mail.KIND_INFORMATION: cfg.template_information_file,
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
    return mail.MailTemplates.from_texts(texts, sources)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


class _Diffusion(credentials.CredentialRun):
    ENTITY = ENTITY
    FILE_KIND = idfiles.KIND_DIFFUSION
    LABEL = "Diffusion"

    def __init__(self, services: Services, request: DiffusionRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(services, *args, journal_group=max(1, services.config.diffusion.smtp_senders), **kwargs)
        self.req = request
        self.templates = load_templates(services)
        self.send_q: asyncio.Queue[credentials.Work | None] = asyncio.Queue(maxsize=64)

    def _values(self, p: Person, password: str) -> dict[str, str]:
        return {
            "prenom": p.given_name,
            "nom": p.sn,
            "identifiant": p.login,
            "mot_de_passe": password,
            "portail": self.cfg.ent.portal,
            "adresse": self.cfg.ent.portal_url,
            "classes": ", ".join(p.classes),
            "enfants": credentials.detail_of(self.ctx, p) if p.target is Target.PARENT else "",
            "courriel": p.mail,
        }

    async def deliver(self, works: list[credentials.Work]) -> None:
        filed: list[tuple[Person, str]] = []
        for w in works:
            if self.abort is not None:
                break  # password set, not delivered: "password_set", the resume delivers it
            if w.kind == journal.CREDENTIALS and (w.motif or not w.person.mail):
                filed.append((w.person, w.motif or idfiles.MOTIF_NO_MAIL))
            else:
                await self.send_q.put(w)
        await self.to_file(filed)

    async def _feed_information(self, works: list[credentials.Work]) -> None:
        for w in works:
            if self.abort is not None:
                return
            await self.send_q.put(w)

    async def run_work(self, works: list[credentials.Work]) -> None:
        info = [w for w in works if w.kind == journal.INFORMATION]
        creds = [w for w in works if w.kind != journal.INFORMATION]
        senders = max(1, self.cfg.diffusion.smtp_senders)
        # Several SMTP sessions hide the relay's round trips (MAIL, RCPT, DATA); the demo outbox has one.
        assert self.s.mailer is not None
        mailers: list[Mailer] = [self.s.mailer]
        if isinstance(self.s.mailer, SmtpMailer):
            mailers += [SmtpMailer(self.cfg.smtp) for _ in range(max(1, self.cfg.diffusion.smtp_connections) - 1)]
        sending: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._sender(mailers[i % len(mailers)])) for i in range(senders)
        ]
        main: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(super().run_work(creds), self._feed_information(info))
        )
        try:
            done, _ = await asyncio.wait({main, *sending}, return_when=asyncio.FIRST_COMPLETED)
            if main not in done:
                for task in done:
                    task.result()  # a sender that stopped before the end failed: its error
            await main
            for _ in sending:
                await self.send_q.put(None)
            await asyncio.gather(*sending)
        finally:
            for task in (main, *sending):
                task.cancel()
            await asyncio.gather(main, *sending, return_exceptions=True)
            for extra in mailers[1:]:
                with contextlib.suppress(Exception):
                    await extra.close()

    async def _sender(self, mailer: Mailer) -> None:
        """Send the queued messages, each one's "sending" committed before it leaves.

        One message ahead: while a message is with the relay, the next one's "sending" (with the
        outcomes of the messages sent before) is being committed, so that a commit and a relay's
        round trip overlap instead of adding up. After a crash, at most two messages per sender
        are "sending" (the one with the relay, maybe delivered, and the next, not sent): a resume
        sends both (same password) and counts them as maybe received twice.
        """
        done: list[journal.Item] = []  # outcomes ("mailed") not yet handed to the journal
        ahead: tuple[credentials.Work, asyncio.Future[None]] | None = None
        stop = False
        me = asyncio.current_task()

        def intent(w: credentials.Work) -> asyncio.Future[None]:
            items, done[:] = [*done, (w.person.dn, journal.SENDING, w.kind)], []
            return self.journal.record_later(*items)

        try:
            while True:
                if me is not None and me.cancelling():
                    # aiosmtplib may turn a cancellation into a lost connection (and the mailer
                    # reconnect): the cancellation must still stop this sender.
                    raise asyncio.CancelledError
                if ahead is not None:
                    (work, committed), ahead = ahead, None
                    if self.abort is not None:
                        committed.add_done_callback(journal.ignore_failure)
                        continue  # "sending", never sent: the resume sends it
                elif stop:
                    break
                else:
                    queued = await self.send_q.get()
                    if queued is None:
                        break
                    if self.abort is not None:
                        continue  # drain: the rest stays in the journal for a resume
                    work, committed = queued, intent(queued)
                await committed
                if not stop and self.abort is None:
                    try:
                        nxt = self.send_q.get_nowait()
                    except asyncio.QueueEmpty:
                        pass
                    else:
                        if nxt is None:
                            stop = True
                        else:
                            ahead = (nxt, intent(nxt))
                outcome = await self._deliver(mailer, work)
                if outcome is not None:
                    done.append(outcome)
                self.step()
            if done:
                items, done = done, []
                await self.journal.record(*items)
        finally:
            if ahead is not None:
                ahead[1].add_done_callback(journal.ignore_failure)
            if done:
                self.journal.note(done)  # cancelled: committed if the store still answers

    def _message(self, p: Person, body: str) -> RawMessage:
        return render_message(self.cfg.smtp.sender, p.mail, self.req.subject, body, date=self.s.clock())

    async def _deliver(self, mailer: Mailer, w: credentials.Work) -> journal.Item | None:
        """Send one message (its "sending" is committed); returns its ``mailed`` item (committed
        with a later "sending")."""
        p = w.person
        password = self.password_of(w) if w.kind == journal.CREDENTIALS else ""
        if w.kind == journal.INFORMATION:
            template = self.templates.information
        elif p.target is Target.PARENT:
            template = self.templates.parent
        else:
            template = self.templates.credentials
        body = mail.render(template, self._values(p, password), self.req.free_text)
        retries = self.cfg.diffusion.max_retries
        delay = self.cfg.diffusion.retry_delay_seconds
        reason = ""
        for attempt in range(retries + 1):
            msg = self._message(p, body)
            try:
                await mailer.send(msg)
            except MailTemporary as exc:
                reason = f"{idfiles.MOTIF_TEMPORARY} ({exc.code or ''} {exc.server_text})".replace("( ", "(")
                if attempt < retries:
                    self.trace("warning", f"{p.login} : refus temporaire, nouvel essai dans {delay * 2**attempt:g} s")
                    await asyncio.sleep(delay * 2**attempt)
                    continue
                break
            except MailRefused as exc:
                reason = f"{idfiles.MOTIF_REFUSED} ({exc.code} {exc.server_text})" if exc.code else exc.reason
                break
            except MailError as exc:
                if self.abort is None:
                    self.abort = exc
                return None  # "sending": the resume sends it again (same password), counted
            else:
                fault_point("sent")
                status = journal.INFO_MAILED if w.kind == journal.INFORMATION else journal.MAILED
                return (p.dn, status, journal.RESENT if w.resent else "")
        if w.kind == journal.INFORMATION:
            self.trace("error", f"{p.login} : message d'information non envoyé : {reason}")
            await self.journal.record((p.dn, journal.ERROR, reason))
        else:
            self.trace("warning", f"{p.login} : identifiants dans le fichier : {reason}")
            await self.to_file([(p, reason)], count=False)  # the sender counts it
        return None


def _context(plan: DiffusionPlan) -> credentials.RunContext:
    return credentials.RunContext(uai_of=plan.uai_of, children=plan.children)


async def run_diffusion(
    services: Services,
    request: DiffusionRequest,
    sink: EventSink = null_sink,
    *,
    plan: DiffusionPlan | None = None,
    lock: JobLock | None = None,
) -> DiffusionResult:
    """A new diffusion (after the confirmation): returns the counts; never raises for one person.

    ``lock``: the jobs lock when the caller took it already (the command line takes it before it
    reads the directory); otherwise it is taken here (LockHeldError when another job holds it).
    """
    if services.mailer is None:
        raise MailError("Aucun serveur de messagerie configuré ([smtp] host).")
    load_templates(services)  # a broken template stops before anything happens
    async with job_lock(services, "diffusion", lock) as held:
        if plan is None:
            sink(Phase(ENTITY, "Lecture de l'annuaire"))
            plan = await plan_diffusion(services, request)
        needs_mail = bool(plan.info_people) or any(p.mail for p in plan.credential_people)
        await credentials.preflight(services, sink, ENTITY, mail=needs_mail)
        run_id = await services.state.start_run("diffusion", request.options())
        held.set_run(run_id)
        try:
            items = [(p.dn, journal.PLANNED, journal.CREDENTIALS) for p in plan.credential_people]
            items += [(p.dn, journal.PLANNED, journal.INFORMATION) for p in plan.info_people]
            await services.state.journal_set(run_id, items)
            # After the journal (a run killed before has nothing to resume, and leaves no secret),
            # before the first password change.
            secret = await journal.create_secret(services, run_id)
        except BaseException as exc:
            await credentials.abandon(services, run_id, "Diffusion", exc)
            raise
        works = [credentials.Work(p) for p in plan.credential_people]
        works += [credentials.Work(p, journal.INFORMATION, set_password=False) for p in plan.info_people]
        job = _Diffusion(
            services, request, run_id, secret, _context(plan), sink, writer=None, done_before=0, total=len(works)
        )
        sink(Phase(ENTITY, "Changement des mots de passe et envoi des messages"))
        return await credentials.run_to_end(services, job, works, run_id, result_from_journal)


async def resumable_diffusion(services: Services) -> RunRecord | None:
    """The last diffusion that did not finish, if any (after marking dead runs as interrupted)."""
    return await resume.resumable(services, "diffusion")


async def resume_diffusion(
    services: Services, run_id: int, sink: EventSink = null_sink, *, lock: JobLock | None = None
) -> DiffusionResult:
    """Finish an interrupted diffusion with the same passwords (see :mod:`enttui.jobs.resume`)."""
    if services.mailer is None:
        raise MailError("Aucun serveur de messagerie configuré ([smtp] host).")
    load_templates(services)
    async with job_lock(services, "diffusion", lock) as held:
        interrupted = await resume.open_resume(services, "diffusion", run_id, "diffusion")
        # Nothing left to send (stopped while closing): the relay is not needed to close it.
        to_send = journal.count_journal(interrupted.journal).remaining
        await credentials.preflight(services, sink, ENTITY, mail=bool(to_send))
        request = DiffusionRequest.from_options(interrupted.run.options)
        sink(Phase(ENTITY, "Reprise : lecture de l'annuaire"))
        plan = await plan_diffusion(services, request, only=interrupted.wanted)
        secret, lost = await resume.family_secret(services, interrupted.family)
        writer = await resume.reopen_file(services, interrupted.file_name)
        left = await resume.resume_works(
            services,
            interrupted,
            [*plan.credential_people, *plan.info_people],
            writer,
            secret,
            lost,
            include_activated=request.include_activated,
            label="Diffusion",
            audit="diffusion.reprise",
        )
        works = left.works
        held.set_run(left.run_id)
        job = _Diffusion(
            services,
            request,
            left.run_id,
            secret,
            _context(plan),
            sink,
            writer=writer,
            done_before=left.total - len(works),
            total=left.total,
        )
        if left.warning:
            job.trace("warning", left.warning)
        resent = sum(1 for w in works if w.resent)
        if resent:
            job.trace(
                "warning",
                f"{plural(resent, 'message')} en cours d'envoi lors de l'arrêt : "
                + (
                    "renvoyé avec le même mot de passe (peut-être reçu deux fois)."
                    if resent == 1
                    else "renvoyés avec le même mot de passe (peut-être reçus deux fois)."
                ),
            )
        sink(Phase(ENTITY, "Reprise : changement des mots de passe et envoi des messages"))
        return await credentials.run_to_end(services, job, works, interrupted.family, result_from_journal)
