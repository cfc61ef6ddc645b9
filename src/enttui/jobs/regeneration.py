"""Régénérer le(s) fichier(s) des identifiants: new passwords, every one written to a new file.

The same engine as the diffusion (:mod:`enttui.jobs.credentials`): the jobs lock, a check that the
directory answers before anything changes (no relay needed: nothing is mailed), passwords derived
from the run's secret and set by batches (child processes when configured), every account's step
journalled (``planned`` → ``password_set`` → ``in_file``). A regeneration killed at any moment is
"interrompu" and resumable (``enttui files regenerate --resume``, F7 on the Fichiers screen): the
resume appends to the same file, cuts a half-written last row, never writes a second row for an
account, and gives the accounts whose password was already set that same password.

Scope: the périmètre (or some of its UAIs), optionally the accounts created since a date; by
default only accounts not yet activated (a temporary password never used, or no password at
all). Count invariant: ``changed = in_file`` (``+ pending`` for an interrupted run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from enttui.domain import idfiles
from enttui.domain.dn import lookup_key
from enttui.domain.french import plural
from enttui.domain.people import Person, Target
from enttui.domain.runs import RunStatus
from enttui.errors import ValidationError
from enttui.jobs import credentials, journal, resume
from enttui.jobs.events import EventSink, Phase, null_sink
from enttui.jobs.locking import job_lock
from enttui.services.container import Services
from enttui.services.locks import JobLock
from enttui.services.state import RunRecord

ENTITY = "regeneration"
KIND = "regeneration"
CREDENTIAL_TARGETS = (Target.ELEVE, Target.PARENT, Target.AUTRE)


@dataclass(frozen=True)
class RegenerationRequest:
    uais: tuple[str, ...]  # empty = the whole périmètre
    since: datetime | None = None
    include_activated: bool = False

    def options(self) -> dict[str, Any]:
        return {
            "uais": list(self.uais),
            "since": self.since.isoformat() if self.since else None,
            "include_activated": self.include_activated,
        }

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RegenerationRequest:
        since = options.get("since")
        return cls(
            uais=tuple(str(u) for u in options.get("uais", []) or []),
            since=datetime.fromisoformat(since) if isinstance(since, str) and since else None,
            include_activated=bool(options.get("include_activated", False)),
        )


@dataclass
class RegenerationPlan:
    request: RegenerationRequest
    people: list[Person]
    counts: dict[Target, int]
    uai_of: dict[str, str]
    children: dict[str, str]
    no_password: int = 0  # accounts that never had a password

    def confirmation_text(self) -> str:
        since = (
            f"créés depuis le {self.request.since.astimezone().strftime('%d/%m/%Y')}"
            if self.request.since
            else "tous les comptes"
        )
        lines = [
            f"Périmètre : {', '.join(self.request.uais) or 'tout le périmètre'} ({since}).",
            "",
            *(f"{t.label} : {plural(n, 'compte')}" for t, n in self.counts.items()),
        ]
        if self.no_password:
            lines.append(f"dont {plural(self.no_password, 'compte')} sans mot de passe (jamais reçu d'identifiants)")
        lines += [
            "",
            (
                f"{plural(len(self.people), 'mot de passe va', 'mots de passe vont')} être remplacés"
                if len(self.people) > 1
                else f"{plural(len(self.people), 'mot de passe va')} être remplacé"
            )
            + " ; un nouveau fichier contiendra chacun d'eux.",
        ]
        if self.request.include_activated:
            lines.append("Attention : les comptes déjà activés sont inclus.")
        return "\n".join(lines)


@dataclass
class RegenerationResult:
    run_id: int
    status: RunStatus
    changed: int = 0
    in_file: int = 0
    errors: int = 0
    pending: int = 0  # password set, not yet in the file (an interrupted run)
    skipped: int = 0
    file_name: str = ""
    message: str = ""

    def counts(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "in_file": self.in_file,
            "errors": self.errors,
            "pending": self.pending,
            "skipped": self.skipped,
            "file": self.file_name,
        }

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, **self.counts(), "message": self.message}

    def summary_text(self) -> str:
        text = (
            f"{plural(self.in_file, 'mot de passe régénéré', 'mots de passe régénérés')} dans "
            f"{self.file_name or '(aucun fichier)'}, {plural(self.errors, 'erreur')}"
        )
        if self.pending:
            text += f", {self.pending} en attente de reprise"
        if self.message:
            text += f"\n{self.message}"
        return text


def result_from_journal(
    run_id: int, entries: Mapping[str, tuple[str, str]], status: RunStatus, message: str
) -> RegenerationResult:
    c = journal.count_journal(entries)
    return RegenerationResult(
        run_id=run_id,
        status=status,
        changed=c.changed,
        in_file=c.in_file,
        errors=c.errors,
        pending=c.pending,
        skipped=c.skipped,
        file_name=c.file_name,
        message=message,
    )


async def plan_regeneration(
    services: Services, request: RegenerationRequest, *, only: Mapping[str, str] | None = None
) -> RegenerationPlan:
    """The matching accounts. ``only`` (DN key -> kind): a resume's accounts, whatever their state."""
    uai_of = await credentials.structures(services)
    allowed = set(services.config.ent.uai)
    for uai in request.uais:
        if uai not in allowed:
            raise ValidationError(f"UAI « {uai} » hors du périmètre ({', '.join(sorted(allowed))}).")
    keep = {dn for dn, uai in uai_of.items() if not request.uais or uai in request.uais}
    people: list[Person] = []
    counts = {t: 0 for t in CREDENTIAL_TARGETS}
    children: dict[str, str] = {}
    no_password = 0
    async for page in services.directory.iter_people(
        attributes=credentials.plan_attributes(services), prefetch=True, by_school=True
    ):
        for p in page:
            if p.target is Target.ELEVE:
                children[lookup_key(p.dn)] = credentials.child_label(p)
            if p.target not in CREDENTIAL_TARGETS:
                continue
            if only is not None:
                if credentials.dn_key(p.dn) not in only:
                    continue
            else:
                if not any(lookup_key(d) in keep for d in p.struct_dns):
                    continue
                if p.activated and not request.include_activated:
                    continue
                if request.since is not None and (p.created is None or p.created < request.since):
                    continue
            people.append(p)
            counts[p.target] += 1
            no_password += not p.has_password
    people.sort(key=lambda p: (p.target.value, p.sn.lower(), p.given_name.lower(), p.dn.lower()))
    return RegenerationPlan(request, people, counts, uai_of, children, no_password)


class _Regeneration(credentials.CredentialRun):
    ENTITY = ENTITY
    FILE_KIND = idfiles.KIND_REGENERATION
    LABEL = "Régénération"

    def __init__(self, services: Services, request: RegenerationRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(services, *args, **kwargs)
        self.file_uai = ",".join(request.uais)

    async def deliver(self, works: list[credentials.Work]) -> None:
        await self.to_file([(w.person, w.motif or idfiles.MOTIF_REGENERATION) for w in works])

    async def run_work(self, works: list[credentials.Work]) -> None:
        await self.ensure_file()  # the file exists (and is listed) from the start
        await super().run_work(works)


def _context(plan: RegenerationPlan) -> credentials.RunContext:
    return credentials.RunContext(uai_of=plan.uai_of, children=plan.children)


async def run_regeneration(
    services: Services,
    request: RegenerationRequest,
    sink: EventSink = null_sink,
    *,
    plan: RegenerationPlan | None = None,
    lock: JobLock | None = None,
) -> RegenerationResult:
    """New passwords for the matching accounts, every one written to a new identifier file."""
    async with job_lock(services, KIND, lock) as held:
        if plan is None:
            sink(Phase(ENTITY, "Lecture de l'annuaire"))
            plan = await plan_regeneration(services, request)
        await credentials.preflight(services, sink, ENTITY, mail=False)
        run_id = await services.state.start_run(KIND, request.options())
        held.set_run(run_id)
        try:
            await services.state.journal_set(
                run_id, [(p.dn, journal.PLANNED, journal.CREDENTIALS) for p in plan.people]
            )
            secret = await journal.create_secret(services, run_id)  # after the journal, before any change
        except BaseException as exc:
            await credentials.abandon(services, run_id, "Régénération", exc)
            raise
        works = [credentials.Work(p, motif=idfiles.MOTIF_REGENERATION) for p in plan.people]
        job = _Regeneration(
            services, request, run_id, secret, _context(plan), sink, writer=None, done_before=0, total=len(works)
        )
        sink(Phase(ENTITY, "Changement des mots de passe"))
        return await credentials.run_to_end(services, job, works, run_id, result_from_journal)


async def resumable_regeneration(services: Services) -> RunRecord | None:
    """The last regeneration that did not finish, if any (after marking dead runs as interrupted)."""
    return await resume.resumable(services, KIND)


async def resume_regeneration(
    services: Services, run_id: int, sink: EventSink = null_sink, *, lock: JobLock | None = None
) -> RegenerationResult:
    """Finish an interrupted regeneration in the same file, with the same passwords."""
    async with job_lock(services, KIND, lock) as held:
        interrupted = await resume.open_resume(services, KIND, run_id, "régénération")
        await credentials.preflight(services, sink, ENTITY, mail=False)
        request = RegenerationRequest.from_options(interrupted.run.options)
        sink(Phase(ENTITY, "Reprise : lecture de l'annuaire"))
        plan = await plan_regeneration(services, request, only=interrupted.wanted)
        secret, lost = await resume.family_secret(services, interrupted.family)
        writer = await resume.reopen_file(services, interrupted.file_name)
        left = await resume.resume_works(
            services,
            interrupted,
            plan.people,
            writer,
            secret,
            lost,
            include_activated=request.include_activated,
            label="Régénération",
            audit="regeneration.reprise",
            to_file_motif=idfiles.MOTIF_REGENERATION,
        )
        works = left.works
        held.set_run(left.run_id)
        job = _Regeneration(
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
        if writer is not None:
            job.file_created_at = None  # the index keeps the file's first date
        if left.warning:
            job.trace("warning", left.warning)
        sink(Phase(ENTITY, "Reprise : changement des mots de passe"))
        return await credentials.run_to_end(services, job, works, interrupted.family, result_from_journal)
