"""The Moodle synchronisation engine: read in bulk, plan in memory, write in batches.

One run, in order: check that the directory and Moodle answer (pre-flight, before any write); take
the database lock ``enttui-sync``; record the run; read the site's facts (and warn when the sync's
auth is not enabled in Moodle); read the people; then the phases ticked, each in its module
(:mod:`~enttui.jobs.sync_users`, :mod:`~enttui.jobs.sync_cohorts`, :mod:`~enttui.jobs.sync_roles`).
Reads are paged and set-based (:mod:`~enttui.jobs.sync_read`), plans pure
(:mod:`enttui.domain.sync`), writes one transaction per batch through
:class:`~enttui.services.moodle_sync.MoodleSyncStore`.

Cancellation ("Annuler", SIGINT on the command line) is honoured at the next batch boundary of
whatever phase runs; the phases not reached are "non traité". The counts (summary, trace, recorded
run, ``--json``) are what was committed. Per-entity watermarks bound the reads of normal runs; they
belong to a fingerprint of the settings, advance only after a complete, uncancelled, real run, and
per-entry errors go to the retry list instead of holding them back. Simulation plans exactly the
same and writes nothing anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from enttui.domain import ldapfilter as lf
from enttui.domain.people import Person
from enttui.domain.role_plan import parse_mapping
from enttui.domain.sync import Counts, SyncOptions
from enttui.domain.sync_report import PHASE_DONE, entity_line, headline, plural, total_errors
from enttui.domain.sync_schools import SCHOOLS_KEY, SchoolCounts, school_line
from enttui.domain.usernames import UsernameRule
from enttui.errors import (
    EXIT_ERRORS,
    EXIT_OK,
    ConfigError,
    DirectoryError,
    EnttuiError,
    LockHeldError,
    MoodleError,
    UsageError,
)
from enttui.jobs.collector import collector_paused
from enttui.jobs.events import EventSink, Phase, null_sink
from enttui.jobs.status import transport_warnings
from enttui.jobs.sync_cohorts import sync_cohorts
from enttui.jobs.sync_read import read_people, read_retried_people, since_filter
from enttui.jobs.sync_roles import rules_of, sync_roles
from enttui.jobs.sync_run import Confirm, Stop, SyncRun
from enttui.jobs.sync_settings import SettingsView, settings_fingerprint, settings_view, watermark_key
from enttui.jobs.sync_users import sync_users
from enttui.services.container import Services

LOCK_NAME = "enttui-sync"

STATUS_SUCCESS = "réussi"
STATUS_ERRORS = "avec erreurs"
STATUS_INTERRUPTED = "interrompu"
STATUS_SIMULATED = "simulé"
SCHOOL_TRACE_LINES = 50  # per-school lines in the trace; all of them in the report and --json

__all__ = [
    "LOCK_NAME",
    "SettingsView",
    "SyncJob",
    "SyncResult",
    "run_sync",
    "settings_view",
    "summary_lines",
    "watermark_key",
]


@dataclass
class SyncResult:
    run_id: int | None
    status: str
    counts: dict[str, Counts]
    exit_code: int
    summary: str
    simulate: bool = False
    phases: dict[str, str] = field(default_factory=dict)  # entity → traité / interrompu / non traité
    warnings: list[str] = field(default_factory=list)
    headline: str = ""
    schools: SchoolCounts = field(default_factory=SchoolCounts)  # the Bilan per school

    @property
    def errors(self) -> int:
        return total_errors(self.counts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "simulate": self.simulate,
            "exit_code": self.exit_code,
            "headline": self.headline,
            "errors": self.errors,
            "counts": {k: v.as_dict() for k, v in self.counts.items()},
            "phases": dict(self.phases),
            "warnings": list(self.warnings),
            "summary": self.summary,
            "schools": self.schools.as_dict(),
        }


def summary_lines(counts: dict[str, Counts], phases: dict[str, str] | None = None) -> list[str]:
    """One French line per entity ("26 cohortes créées, 3 inchangées", "Cohortes : non traité")."""
    phases = phases or {}
    return [entity_line(entity, c, phases.get(entity, PHASE_DONE)) for entity, c in counts.items()]


def check_options(options: SyncOptions) -> None:
    """Usage errors, before anything is opened or written."""
    if not options.entities():
        raise UsageError("Cochez au moins une entité : comptes utilisateur, cohortes ou associations de rôles.")
    if options.user_login is not None and not options.user_login.strip():
        raise UsageError(
            "Identifiant vide pour la synchronisation d'un utilisateur unique : indiquez un identifiant "
            "(rien n'a été lancé)."
        )


class SyncJob:
    """One run (see the module docstring). ``await SyncJob(...).run()`` → :class:`SyncResult`."""

    def __init__(
        self,
        services: Services,
        options: SyncOptions,
        sink: EventSink = null_sink,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        confirm: Confirm | None = None,
    ) -> None:
        if services.moodle is None:
            raise ConfigError(services.config.path, "[moodle] url", "Moodle n'est pas configuré")
        check_options(options)
        self.services = services
        self.moodle = services.moodle
        self.opts = options
        cfg = services.config.sync
        for key in ("role_regex", "role_level_regex", "role_key_regex"):
            try:
                re.compile(getattr(cfg, key))
            except re.error as exc:
                raise ConfigError(
                    services.config.path, f"[sync] {key}", f"expression régulière invalide ({exc})"
                ) from None
        self.run = SyncRun(services, options, sink, should_stop, confirm)
        try:
            rules_of(self.run)
            parse_mapping(cfg.fonction_roles)
        except ValueError as exc:
            raise ConfigError(
                services.config.path, "[sync]", f"correspondance « {exc} » : CODE=valeur attendu"
            ) from None

    # -- the run -------------------------------------------------------------------------------
    async def run_job(self) -> SyncResult:
        await self._preflight()
        try:
            async with self.moodle.lock(LOCK_NAME):
                return await self._locked_run()
        except LockHeldError as exc:
            raise await self._lock_message(exc) from None

    async def _preflight(self) -> None:
        """Reach the directory and Moodle before the first write; say clearly which one is down."""
        run = self.run
        problems: list[EnttuiError] = []
        health = await run.directory.health()
        if not health.ok:
            problems.append(
                DirectoryError(
                    f"l'annuaire ne répond pas ({health.endpoint}) : {health.message}",
                    title="Synchronisation impossible : annuaire injoignable",
                )
            )
        try:
            await run.store.ping()
        except EnttuiError as exc:
            problems.append(MoodleError(exc.message, title="Synchronisation impossible : base Moodle injoignable"))
        if not problems:
            return
        with contextlib.suppress(EnttuiError):
            run_id = await run.state.start_run("sync", self.opts.as_dict())
            lines = [("error", "", f"{p.title} — {p.message} ; rien n'a été écrit") for p in problems]
            await run.state.add_trace(run_id, lines)
            await run.state.finish_run(
                run_id, STATUS_ERRORS, {}, "\n".join(["Synchronisation non lancée", *(t for _l, _e, t in lines)])
            )
        first = problems[0]
        if len(problems) > 1:
            first.message = f"{first.message} ; et la base Moodle : {problems[1].message}"
        raise first

    async def _lock_message(self, exc: LockHeldError) -> LockHeldError:
        with contextlib.suppress(EnttuiError):
            running = await self.run.state.last_run("sync", statuses=["en cours"])
            if running is not None:
                since = running.started_at.astimezone().strftime("%d/%m/%Y à %H:%M:%S")
                return LockHeldError(
                    f"{exc.message} — synchronisation n° {running.id} lancée par {running.user} sur "
                    f"{running.host} (processus {running.pid}) le {since}"
                )
        return exc

    async def _locked_run(self) -> SyncResult:
        run, opts = self.run, self.opts
        start = self.services.clock()
        run.run_id = await run.state.start_run("sync", opts.as_dict())
        status = STATUS_SUCCESS
        for warning in transport_warnings(self.services):  # TLS told plainly
            run.trace("warning", "", warning)
        try:
            if opts.simulate:
                run.trace(
                    "info",
                    "",
                    "Mode simulation : le plan est calculé, rien n'est écrit (ni Moodle, ni points de reprise)",
                )
            with collector_paused():  # a million people kept: no full collection per page (jobs/collector.py)
                await self._body()
        except Stop:
            status = STATUS_INTERRUPTED
            run.cancelled()
            run.trace("warning", "", "Traitement annulé par l'opérateur : arrêt à la fin des lots en cours")
        except asyncio.CancelledError:
            run.cancelled()
            await asyncio.shield(self._finish(STATUS_INTERRUPTED))
            raise
        except EnttuiError as exc:
            entity = next(iter(run.counts))
            run.counts[entity].errors += 1
            run.trace("error", "", f"{exc.title} : {exc.message}")
            status = STATUS_ERRORS
        if status == STATUS_SUCCESS and self._has_errors():
            status = STATUS_ERRORS
        if opts.simulate and status != STATUS_INTERRUPTED:
            status = STATUS_SIMULATED
        if not opts.simulate and not opts.user_login:
            await self._save_retry_lists()
            if status in (STATUS_SUCCESS, STATUS_ERRORS):
                await self._advance_watermarks(start)
        return await self._finish(status)

    def _has_errors(self) -> bool:
        run = self.run
        return any(c.errors for c in run.counts.values()) or bool(run.incomplete) or bool(run.failed)

    def _entity_ok(self, entity: str) -> bool:
        """May the entity's watermark advance? Only after its phase completed, with every read
        complete and no refused write batch. Entry-level errors do not hold it back: their entries
        wait in the retry list."""
        run = self.run
        if entity in run.failed or run.phases.get(entity) != PHASE_DONE:
            return False
        needs = {"users": {"people"}, "cohorts": {"people", "groups"}, "roles": {"people", "roles"}}[entity]
        return not (needs & run.incomplete)

    async def _advance_watermarks(self, start: datetime) -> None:
        run = self.run
        for entity in run.counts:
            if self._entity_ok(entity):
                await run.state.set_sync_mark(watermark_key(entity), start, run.fingerprint, run.run_id)

    async def _save_retry_lists(self) -> None:
        """This run's per-entry errors join the retry list; entries it re-read and processed leave it."""
        run = self.run
        for entity in run.counts:
            examined = run.examined[entity] if run.phases.get(entity) == PHASE_DONE else []
            if examined is None and entity in run.failed:
                examined = []
            with contextlib.suppress(EnttuiError):
                await run.state.set_sync_retry(entity, run.retry_failed[entity], examined=examined, run_id=run.run_id)

    async def _finish(self, status: str) -> SyncResult:
        run = self.run
        lines = summary_lines(run.counts, run.phases)
        head = headline(status, total_errors(run.counts), simulate=self.opts.simulate)
        warnings = [f"Attention : {w}" for w in run.warnings]
        for line in lines:
            run.trace("info", "", line)
        schools = run.schools.schools()
        for uai in schools[:SCHOOL_TRACE_LINES]:
            run.trace("info", "", f"Par établissement : {school_line(run.schools, uai)}")
        if len(schools) > SCHOOL_TRACE_LINES:
            more = plural(len(schools) - SCHOOL_TRACE_LINES, "autre établissement", "autres établissements")
            run.trace("info", "", f"Par établissement : … et {more} (le bilan complet : rapport, --json)")
        summary = "\n".join([head, *lines, *warnings])
        run.trace("info", "", head)
        with contextlib.suppress(EnttuiError):
            await run.flush()
        if run.run_id is not None:
            counts: dict[str, Any] = {k: v.as_dict() for k, v in run.counts.items()}
            counts[SCHOOLS_KEY] = run.schools.as_dict()
            await run.state.finish_run(run.run_id, status, counts, summary)
        code = EXIT_ERRORS if (self._has_errors() or status == STATUS_INTERRUPTED) else EXIT_OK
        return SyncResult(
            run.run_id,
            status,
            dict(run.counts),
            code,
            summary,
            self.opts.simulate,
            dict(run.phases),
            list(run.warnings),
            head,
            run.schools,
        )

    # -- body ----------------------------------------------------------------------------------
    async def _body(self) -> None:
        run, cfg = self.run, self.services.config.sync
        run.facts = await run.store.site_facts()
        run.rule = UsernameRule(cfg.usernames, run.facts.extended_usernames)
        run.fingerprint = settings_fingerprint(self.services.config, run.facts.extended_usernames)
        if cfg.auth not in run.facts.auth_enabled:
            enabled = ", ".join(run.facts.auth_enabled) or "aucune"
            run.warn(
                f"l'authentification « {cfg.auth} » n'est pas activée dans Moodle (config.auth : {enabled}) : "
                "les comptes synchronisés ne pourront pas se connecter. Activez-la dans Moodle "
                "(Administration du site › Plugins › Authentification)."
            )
        run.set_schools(await run.directory.structures())
        await self._read_people()
        if "users" in run.counts:
            await sync_users(run)
        if "cohorts" in run.counts:
            await sync_cohorts(run)
        if "roles" in run.counts:
            await sync_roles(run)

    async def _read_people(self) -> None:
        run, opts = self.run, self.opts
        first = next(iter(run.counts))
        run.emit(Phase(first, "Lecture de l'annuaire"))
        run.check_stop()
        if opts.user_login:
            login = opts.user_login.strip()
            people = await read_people(run, lf.eq("ENTPersonLogin", login))
            if not people:
                raise UsageError(f"« {login} » : aucun compte de ce nom dans le périmètre synchronisé")
            run.set_people(people)
            run.people_full = False
        else:
            entities: list[str] = [e for e in ("users", "roles") if e in run.counts] or ["cohorts"]
            since = await since_filter(run, entities)
            retried: list[Person] = []
            if since is not None and "users" in run.counts:
                found = await read_retried_people(run)
                if found is None:  # a retry list longer than a full read is worth
                    since = None
                else:
                    retried = found
            people = await read_people(run, since)
            run.people_full = since is None and "people" not in run.incomplete
            run.set_people([*people, *retried])
            if "users" in run.counts:
                examined = run.examined["users"]
                if run.people_full:
                    run.examined["users"] = None
                elif examined is not None and "people" not in run.incomplete:
                    examined.extend(p.dn for p in people)
                else:
                    run.examined["users"] = []
        if opts.verbose:
            for p in run.people:
                run.trace("detail", "users", f"lu : {p.login} ({p.dn})")
        run.trace("info", "", f"{plural(len(run.people), 'personne lue', 'personnes lues')} dans l'annuaire")
        await run.flush()


async def run_sync(
    services: Services,
    options: SyncOptions,
    sink: EventSink = null_sink,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    confirm: Confirm | None = None,
) -> SyncResult:
    """Run one synchronisation (see the module docstring).

    UsageError for bad options (blank ``--user``), a ServiceError when the directory or Moodle does
    not answer (nothing written), LockHeldError when another run holds the lock.
    """
    return await SyncJob(services, options, sink, should_stop=should_stop, confirm=confirm).run_job()
