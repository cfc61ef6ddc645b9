"""Resuming a diffusion or a regeneration: its journal turned into the work that is left.

:func:`prepare_resume` turns a killed run's journal into the work of its resume:

=================  ==================================  =========================================
journal status     account now                          the resume
=================  ==================================  =========================================
planned            still wanted                         set (the same derived password), deliver
planned            activated, holds the run's password  set again (killed before its pwdReset)
planned            activated by its owner               ``skipped``
password_set       not activated                        deliver (no new password)
sending            not activated, no row in the file    send again (counted: maybe twice)
sending            activated since                      ``mailed`` (the person used it)
any                its row already in the file          ``in_file`` (never a second row)
in_file            its row missing from the file        the row written again (same password)
any                gone from the directory              ``skipped``
=================  ==================================  =========================================

Never a second, different password for one account in one family of runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from enttui.domain import idfiles
from enttui.domain.french import plural
from enttui.domain.passwords import derive_password
from enttui.domain.people import Person
from enttui.domain.runs import RunStatus
from enttui.errors import EnttuiError, ValidationError
from enttui.jobs import journal
from enttui.jobs.credentials import Work, dn_key
from enttui.jobs.idfiles import IdFileWriter, files_dir
from enttui.jobs.locking import refresh_run_states
from enttui.services.container import Services
from enttui.services.state import RunRecord


@dataclass
class Resume:
    """A killed run's journal, read for its resume."""

    run: RunRecord
    journal: dict[str, tuple[str, str]]
    family: int

    @property
    def wanted(self) -> dict[str, str]:
        """DN key -> kind of the accounts the resume must look at (left to handle, or filed)."""
        out: dict[str, str] = {}
        for key, (status, detail) in self.journal.items():
            if key == journal.FILE_KEY:
                continue
            if status in journal.REMAINING or status == journal.IN_FILE:
                kind = (
                    journal.INFORMATION
                    if detail == journal.INFORMATION and status != journal.IN_FILE
                    else journal.CREDENTIALS
                )
                out[dn_key(key)] = kind
        return out

    @property
    def file_name(self) -> str:
        return self.journal.get(journal.FILE_KEY, ("", ""))[1]


def prepare_resume(
    resume: Resume,
    people: Iterable[Person],
    *,
    include_activated: bool,
    in_file: Callable[[Person], bool],
    to_file_motif: str = "",
) -> tuple[list[Work], list[journal.Item]]:
    """The work of a resume and the journal items settled without work (see the module table).

    ``in_file(person) -> bool``: is the account's row (with its derived password) in the file.
    ``to_file_motif``: every account goes to the file with this reason (a regeneration).
    """
    by_key = {dn_key(p.dn): p for p in people}
    works: list[Work] = []
    settled: list[journal.Item] = []
    for key, (status, detail) in resume.journal.items():
        if key == journal.FILE_KEY or not (status in journal.REMAINING or status == journal.IN_FILE):
            continue
        p = by_key.get(dn_key(key))
        info = detail == journal.INFORMATION and status != journal.IN_FILE
        if p is None:
            if status != journal.IN_FILE:
                settled.append((key, journal.SKIPPED, "introuvable dans l'annuaire à la reprise"))
            continue
        if info:
            works.append(Work(p, journal.INFORMATION, set_password=False, resent=status == journal.SENDING))
            continue
        if status == journal.IN_FILE:
            if not p.activated and not in_file(p):
                works.append(Work(p, set_password=False, motif=detail or to_file_motif))  # its row, again
            continue
        if in_file(p):  # written after the directory confirmed: that row is the valid delivery
            settled.append((key, journal.IN_FILE, to_file_motif or "ligne déjà écrite avant l'arrêt"))
            continue
        if status == journal.PLANNED:
            # "Activated" now: its owner used it, or the killed run was cut between the password
            # change and its pwdReset (see confirm_activated): checked before it is left alone.
            check = p.activated and not include_activated
            works.append(Work(p, motif=to_file_motif, again=True, check_activated=check))
        elif p.activated:
            # The password we set was used: it reached its owner (mail), or someone else reset it.
            if status == journal.SENDING:
                settled.append((key, journal.MAILED, "activé depuis l'envoi"))
            else:
                settled.append((key, journal.SKIPPED, "activé entre-temps"))
        else:
            works.append(Work(p, set_password=False, resent=status == journal.SENDING, motif=to_file_motif))
    return works, settled


async def open_resume(services: Services, kind: str, run_id: int, label: str) -> Resume:
    """The interrupted run ``run_id`` of ``kind`` and its journal (the caller holds the lock)."""
    run = await services.state.get_run(run_id)
    if run is None or run.kind != kind:
        raise ValidationError(f"Aucune {label} n° {run_id}.")
    if run.status != RunStatus.INTERRUPTED:
        raise ValidationError(f"La {label} n° {run_id} n'est pas interrompue (état : {run.status}).")
    for other in await services.state.list_runs(kind=kind, limit=10_000):
        if other.options.get("resume_of") == run_id:
            # Its journal went on in that run: resuming this one again would redo finished work.
            raise ValidationError(
                f"La {label} n° {run_id} a déjà été reprise par le traitement n° {other.id} "
                f"({other.status}) : reprenez celui-ci s'il est interrompu."
            )
    entries = await services.state.journal_get(run_id)
    return Resume(run, entries, journal.family_of(run.id, run.options))


async def family_secret(services: Services, family: int) -> tuple[bytes, bool]:
    """The family's secret, and whether it was lost (deleted by hand: a new one is made)."""
    secret = await journal.load_secret(services, family)
    if secret is not None:
        return secret, False
    return await journal.create_secret(services, family), True


def file_check(writer: IdFileWriter | None, secret: bytes, lost: bool, length: int) -> Callable[[Person], bool]:
    """``in_file(person)`` for :func:`prepare_resume`: the account's row is in the file."""

    def in_file(p: Person) -> bool:
        if writer is None:
            return False
        if lost:
            return writer.has(p.login)
        return writer.has(p.login, derive_password(secret, dn_key(p.dn), length))

    return in_file


async def confirm_activated(
    services: Services, works: list[Work], secret: bytes, length: int
) -> tuple[list[Work], list[journal.Item]]:
    """Accounts "planned" by the killed run and activated now: left alone if their owner activated
    them; set again if they hold the run's password (the run was killed between the password
    change and the ``pwdReset`` that marks it temporary, which looks like an activated account)."""
    kept: list[Work] = []
    settled: list[journal.Item] = []
    sem = asyncio.Semaphore(4)

    async def ours(w: Work) -> bool:
        async with sem:
            pw = derive_password(secret, dn_key(w.person.dn), length)
            try:
                return await services.directory.password_works(w.person.dn, pw)
            except EnttuiError:
                return False

    checked = [w for w in works if w.check_activated]
    answers = await asyncio.gather(*(ours(w) for w in checked))
    mine = {id(w) for w, yes in zip(checked, answers, strict=True) if yes}
    for w in works:
        if not w.check_activated or id(w) in mine:
            kept.append(w)
        else:
            settled.append((w.person.dn, journal.SKIPPED, "déjà activé à la reprise"))
    return kept, settled


def after_lost_secret(works: list[Work]) -> str:
    """Without the secret, a password already set cannot be reproduced: those accounts get a new one."""
    touched = 0
    for w in works:
        if w.kind == journal.CREDENTIALS and not w.set_password:
            w.set_password = True
            touched += 1
    if not touched:
        return ""
    return (
        "Secret de reprise introuvable (supprimé ?) : les mots de passe déjà posés ne peuvent pas être "
        f"reproduits ; {plural(touched, 'compte reçoit', 'comptes reçoivent')} un nouveau mot de passe."
    )


async def start_resume(services: Services, resume: Resume, settled: list[journal.Item], label: str, audit: str) -> int:
    """The resume's own run: it carries the journal on; the old run says who took it over."""
    old = resume.run
    options = {**old.options, "resume_of": old.id, "family": resume.family}
    new_id = await services.state.start_run(old.kind, options)
    await services.state.journal_set(new_id, [(k, st, d) for k, (st, d) in resume.journal.items()] + settled)
    await services.state.finish_run(
        old.id, RunStatus.INTERRUPTED, old.counts, f"{label} interrompue, reprise par le traitement n° {new_id}"
    )
    await services.state.audit(audit, f"{label} n° {old.id}", f"reprise par le traitement n° {new_id}")
    return new_id


@dataclass
class Resumed:
    """What a resume goes on with: the work left, a warning to trace, the new run and the total."""

    works: list[Work]
    warning: str
    run_id: int
    total: int


async def resume_works(
    services: Services,
    resume: Resume,
    people: Iterable[Person],
    writer: IdFileWriter | None,
    secret: bytes,
    lost: bool,
    *,
    include_activated: bool,
    label: str,
    audit: str,
    to_file_motif: str = "",
) -> Resumed:
    """The work left of ``resume`` among ``people``, recorded as a new run (the file is closed if
    this fails)."""
    length = services.config.diffusion.password_length
    try:
        works, settled = prepare_resume(
            resume,
            people,
            include_activated=include_activated,
            in_file=file_check(writer, secret, lost, length),
            to_file_motif=to_file_motif,
        )
        works, left = await confirm_activated(services, works, secret, length)
        settled += left
        warning = after_lost_secret(works) if lost else ""
        new_id = await start_resume(services, resume, settled, label, audit)
    except BaseException:
        if writer is not None:
            await asyncio.to_thread(writer.close)
        raise
    total = sum(1 for k in resume.journal if k != journal.FILE_KEY)
    return Resumed(works, warning, new_id, total)


async def reopen_file(services: Services, name: str) -> IdFileWriter | None:
    """The run's file, reopened for appending (None when it is gone)."""
    if not name:
        return None
    writer = IdFileWriter(files_dir(services), idfiles.check_name(name))
    return writer if await asyncio.to_thread(writer.reopen) else None


async def resumable(services: Services, kind: str) -> RunRecord | None:
    """The last run of ``kind`` if it was interrupted after its journal was written (dead runs
    marked first).

    With accounts left, the resume finishes them. With none left (killed or cancelled between its
    last account and the closing of its run), the resume only closes it from its journal: its file
    indexed, its counts and status told. Either way a recorded run is never started afresh, which
    would give its accounts a second password. A run stopped before its journal changed nothing:
    there is nothing to resume.
    """
    await refresh_run_states(services)
    run = await services.state.last_run(kind)
    if run is None or run.status != RunStatus.INTERRUPTED:
        return None
    entries = await services.state.journal_get(run.id)
    if not any(key != journal.FILE_KEY for key in entries):
        return None
    return run
