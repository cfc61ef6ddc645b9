"""The Moodle synchronisation engine: read in bulk, plan in memory, write in batches.

One paged directory read per kind of entry (people, groups, role groups) with every attribute the
plan needs; Moodle's state read in bulk (a few set-based SELECTs); the diff computed by
:mod:`enttui.domain.sync`; writes in batched transactions (``executemany``), each batch its own
transaction, cancellation checked between batches. The whole run holds the database lock
``enttui-sync``; it is recorded in the state store with its options, trace and counts. Per-entity
watermarks (the start of the last successful run) bound the directory reads of normal runs.
Simulation plans exactly the same and writes nothing anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select, update

from enttui.domain import ldapfilter as lf
from enttui.domain import sync as plan
from enttui.domain.people import GROUP_ATTRIBUTES, Person, format_ldap_time, group_from_entry
from enttui.domain.sync import COUNT_KEYS, COUNT_LABELS, ENTITY_LABELS, Counts, SyncOptions
from enttui.errors import (
    EXIT_ERRORS,
    EXIT_OK,
    ConfigError,
    DirectoryError,
    EnttuiError,
    IncompleteReadError,
    LockHeldError,
    UsageError,
)
from enttui.jobs.context import Services
from enttui.jobs.events import Event, EventSink, Phase, Progress, Trace, null_sink
from enttui.jobs.status import transport_warnings

LOCK_NAME = "enttui-sync"
IN_CHUNK = 900
MEMBER_LOOKUP_MAX = 2000
MINIMAL_PERSON_ATTRIBUTES = (
    "objectClass",
    "sn",
    "givenName",
    "mail",
    "ENTPersonLogin",
    "ENTPersonJointure",
    "ENTPersonProfils",
    "ENTPersonStructRattach",
    "ENTPersonFonctions",
    "modifyTimestamp",
)
SUSPENDED_KEY = "suspendu:"

Confirm = Callable[[str, str, str], Awaitable[bool]]  # (kind, title, message) -> go ahead?

STATUS_SUCCESS = "réussi"
STATUS_ERRORS = "avec erreurs"
STATUS_INTERRUPTED = "interrompu"
STATUS_SIMULATED = "simulé"


@dataclass
class SyncResult:
    run_id: int | None
    status: str
    counts: dict[str, Counts]
    exit_code: int
    summary: str
    simulate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "simulate": self.simulate,
            "exit_code": self.exit_code,
            "counts": {k: v.as_dict() for k, v in self.counts.items()},
            "summary": self.summary,
        }


class _Stop(Exception):
    """The operator asked to stop: raised at a batch boundary."""


def watermark_key(entity: str) -> str:
    return f"sync:{entity}"


def summary_lines(counts: dict[str, Counts]) -> list[str]:
    """One French line per entity: "Comptes utilisateur : 3 créés, 1 modifiés, …"."""
    out = []
    for entity, c in counts.items():
        parts = ", ".join(f"{getattr(c, k)} {COUNT_LABELS[k]}" for k in COUNT_KEYS)
        out.append(f"{ENTITY_LABELS[entity]} : {parts}")
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _not_null_defaults(table: Table) -> dict[str, object]:
    """Every NOT NULL column (but id) with the value of its server default (0 or '')."""
    out: dict[str, object] = {}
    for col in table.columns:
        if col.name == "id" or col.nullable:
            continue
        default = col.server_default
        raw = getattr(getattr(default, "arg", None), "text", getattr(default, "arg", None))
        try:
            python_type = col.type.python_type
        except NotImplementedError:  # pragma: no cover
            python_type = str
        if python_type is int:
            out[col.name] = int(str(raw).strip("'")) if raw not in (None, "") else 0
        else:
            out[col.name] = str(raw) if raw is not None else ""
    return out


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
        self.services = services
        self.cfg = services.config.sync
        self.moodle = services.moodle
        self.directory = services.directory
        self.state = services.state
        self.t = services.moodle.tables
        self.opts = options
        self.sink = sink
        self.should_stop = should_stop
        self.confirm = confirm
        self.counts: dict[str, Counts] = {e: Counts() for e in options.entities()}
        self.run_id: int | None = None
        self._pending: list[tuple[str, str, str]] = []
        self._incomplete: set[str] = set()  # "people", "groups", "roles"
        self._failed: set[str] = set()  # entities whose writes failed
        self._sim_id = 0
        try:
            self.rules = plan.RoleRules(
                role_attribute=self.cfg.role_attribute,
                role_regex=self.cfg.role_regex,
                role_mapping=plan.parse_mapping(self.cfg.role_mapping),
                level_attribute=self.cfg.role_level_attribute,
                level_regex=self.cfg.role_level_regex,
                level_mapping=plan.parse_mapping(self.cfg.role_level_mapping),
                key_attribute=self.cfg.role_key_attribute,
                key_regex=self.cfg.role_key_regex,
            )
            self.fonction_roles = plan.parse_mapping(self.cfg.fonction_roles)
        except ValueError as exc:
            raise ConfigError(
                services.config.path, "[sync]", f"correspondance « {exc} » : CODE=valeur attendu"
            ) from None
        import re

        for key in ("role_regex", "role_level_regex", "role_key_regex"):
            try:
                re.compile(getattr(self.cfg, key))
            except re.error as exc:
                raise ConfigError(
                    services.config.path, f"[sync] {key}", f"expression régulière invalide ({exc})"
                ) from None

    # -- events --------------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        self.sink(event)

    def trace(self, level: str, entity: str, text: str) -> None:
        self.emit(Trace(level, entity, text))
        self._pending.append((level, entity, text))  # the store keeps the first lines and counts the rest

    def error(self, entity: str, text: str) -> None:
        self.counts[entity].errors += 1
        self.trace("error", entity, text)

    def detail(self, entity: str, text: str) -> None:
        if self.opts.verbose:
            self.trace("detail", entity, text)

    async def flush(self) -> None:
        if self.run_id is not None and self._pending:
            lines, self._pending = self._pending, []
            await self.state.add_trace(self.run_id, lines)

    def check_stop(self) -> None:
        if self.should_stop():
            raise _Stop

    def now(self) -> int:
        return int(self.services.clock().timestamp())

    def sim_id(self) -> int:
        self._sim_id -= 1
        return self._sim_id

    # -- the run -------------------------------------------------------------------------------
    async def run(self) -> SyncResult:
        opts = self.opts
        if not opts.entities():
            raise UsageError("Cochez au moins une entité : comptes utilisateur, cohortes ou associations de rôles.")
        try:
            async with self.moodle.lock(LOCK_NAME):
                return await self._locked_run()
        except LockHeldError as exc:
            raise await self._lock_message(exc) from None

    async def _lock_message(self, exc: LockHeldError) -> LockHeldError:
        with contextlib.suppress(EnttuiError):
            running = await self.state.last_run("sync", statuses=["en cours"])
            if running is not None:
                since = running.started_at.astimezone().strftime("%d/%m/%Y à %H:%M:%S")
                return LockHeldError(
                    f"{exc.message} — synchronisation n° {running.id} lancée par {running.user} sur "
                    f"{running.host} (processus {running.pid}) le {since}"
                )
        return exc

    async def _locked_run(self) -> SyncResult:
        opts = self.opts
        start = self.services.clock()
        self.run_id = await self.state.start_run("sync", opts.as_dict())
        status = STATUS_SUCCESS
        for warning in transport_warnings(self.services):  # TLS told plainly
            self.trace("warning", "", warning)
        try:
            if opts.simulate:
                self.trace(
                    "info",
                    "",
                    "Mode simulation : le plan est calculé, rien n'est écrit (ni Moodle, ni points de reprise)",
                )
            await self._body(start)
        except _Stop:
            status = STATUS_INTERRUPTED
            self.trace("warning", "", "Traitement annulé par l'opérateur : arrêt à la fin du lot en cours")
        except asyncio.CancelledError:
            await asyncio.shield(self._finish(STATUS_INTERRUPTED))
            raise
        except EnttuiError as exc:
            entity = next(iter(self.counts))
            self.counts[entity].errors += 1
            self.trace("error", "", f"{exc.title} : {exc.message}")
            status = STATUS_ERRORS
        if status == STATUS_SUCCESS and (self._has_errors()):
            status = STATUS_ERRORS
        if opts.simulate and status != STATUS_INTERRUPTED:
            status = STATUS_SIMULATED
        if status in (STATUS_SUCCESS, STATUS_ERRORS) and not opts.simulate and not opts.user_login:
            for entity in self.counts:
                if not self._entity_ok(entity):
                    continue
                await self.state.set_watermark(watermark_key(entity), start, self.run_id)
        return await self._finish(status)

    def _has_errors(self) -> bool:
        return any(c.errors for c in self.counts.values()) or bool(self._incomplete) or bool(self._failed)

    def _entity_ok(self, entity: str) -> bool:
        """May the entity's watermark advance? Not after an incomplete read or a refused write batch.

        Entry-level errors (a clash, a missing course) do not hold it back: they are reported again
        when the entry changes or on the next forced run, and would otherwise freeze the reference
        period for ever.
        """
        if entity in self._failed:
            return False
        needs = {"users": {"people"}, "cohorts": {"people", "groups"}, "roles": {"people", "roles"}}[entity]
        return not (needs & self._incomplete)

    async def _finish(self, status: str) -> SyncResult:
        lines = summary_lines(self.counts)
        head = {
            STATUS_SUCCESS: "Synchronisation terminée",
            STATUS_ERRORS: "Synchronisation terminée avec des erreurs",
            STATUS_INTERRUPTED: "Synchronisation interrompue",
            STATUS_SIMULATED: "Simulation terminée : rien n'a été écrit",
        }[status]
        if status == STATUS_SIMULATED and self._has_errors():
            head += " (avec erreurs)"
        for line in lines:
            self.trace("info", "", line)
        summary = "\n".join([head, *lines])
        self.trace("info", "", head)
        with contextlib.suppress(EnttuiError):
            await self.flush()
        if self.run_id is not None:
            await self.state.finish_run(self.run_id, status, {k: v.as_dict() for k, v in self.counts.items()}, summary)
        code = EXIT_ERRORS if (self._has_errors() or status == STATUS_INTERRUPTED) else EXIT_OK
        return SyncResult(self.run_id, status, dict(self.counts), code, summary, self.opts.simulate)

    # -- reading -------------------------------------------------------------------------------
    async def _since(self, entities: Iterable[str]) -> str | None:
        """``(modifyTimestamp>=…)`` for a normal run; None on a forced run or without a watermark."""
        if self.opts.force:
            return None
        marks = []
        for entity in entities:
            mark = await self.state.get_watermark(watermark_key(entity))
            if mark is None:
                return None
            marks.append(mark)
        if not marks:
            return None
        since = min(marks) - timedelta(minutes=self.cfg.watermark_margin_minutes)
        return lf.ge("modifyTimestamp", format_ldap_time(since))

    def _wanted(self, p: Person) -> bool:
        return bool(p.login) and p.target.value in self.cfg.profiles

    async def _read_people(self, filt: str | None, attributes: Sequence[str] | None = None) -> list[Person]:
        people: list[Person] = []
        full = lf.and_(self.cfg.user_filter or None, filt)
        try:
            kwargs = {"attributes": attributes} if attributes else {}
            async for page in self.directory.iter_people(full or None, **kwargs):
                people.extend(p for p in page if self._wanted(p))
                self.emit(Progress("users", 0, None))
        except IncompleteReadError as exc:
            self._incomplete.add("people")
            self.error("users" if "users" in self.counts else next(iter(self.counts)), exc.message)
        return people

    def _group_filter(self) -> str:
        uais = self.services.config.ent.uai
        if self.cfg.group_filter:
            parts = [self.cfg.group_filter.replace("{uai}", lf.escape(u)) for u in uais] or [self.cfg.group_filter]
            return lf.or_(*parts) if len(parts) > 1 else parts[0]
        return lf.and_(
            lf.or_(lf.eq("objectClass", "ENTClasse"), lf.eq("objectClass", "ENTGroupe")),
            lf.or_(*(lf.startswith("cn", f"{u}$") for u in uais)) if uais else "(cn=\\00)",
        )

    async def _read_entries(self, key: str, base: str, filt: str, attrs: Sequence[str], entity: str) -> list:
        out: list = []
        try:
            async for page in self.directory.iter_pages(base, filt, attrs):
                out.extend(page)
        except IncompleteReadError as exc:
            self._incomplete.add(key)
            self.error(entity, exc.message)
        except DirectoryError as exc:
            self._incomplete.add(key)
            self.error(entity, exc.message)
        return out

    # -- Moodle reads --------------------------------------------------------------------------
    def _user_rows(self, conn: Connection, mnet: int, usernames: set[str] | None, idnumbers: set[str]) -> list:
        u = self.t.user
        cols = (
            u.c.id,
            u.c.username,
            u.c.idnumber,
            u.c.auth,
            u.c.firstname,
            u.c.lastname,
            u.c.email,
            u.c.suspended,
            u.c.deleted,
        )
        base = select(*cols).where(u.c.mnethostid == mnet)
        rows: dict[int, Any] = {}
        if usernames is None:
            for r in conn.execute(base):
                rows[r.id] = r
        else:
            for chunk in _chunks(sorted(usernames), IN_CHUNK):
                for r in conn.execute(base.where(u.c.username.in_(chunk))):
                    rows[r.id] = r
            for chunk in _chunks(sorted(idnumbers - {""}), IN_CHUNK):
                for r in conn.execute(base.where(u.c.idnumber.in_(chunk), u.c.auth == self.cfg.auth)):
                    rows[r.id] = r
        return [
            plan.MoodleUser(
                int(r.id),
                r.username,
                r.idnumber or "",
                r.auth,
                r.firstname or "",
                r.lastname or "",
                r.email or "",
                bool(r.suspended),
                bool(r.deleted),
            )
            for r in rows.values()
        ]

    async def _sync_suspended(self) -> set[int]:
        """Moodle ids the sync suspended (latest journal status per user across real sync runs)."""
        latest = await self.state.journal_latest("sync", SUSPENDED_KEY)
        return {int(k[len(SUSPENDED_KEY) :]) for k, s in latest.items() if s == "suspendu"}

    async def _write(self, entity: str, fn: Callable[[Connection], Any], size: int) -> bool:
        """One batch = one transaction; a refused batch is an error line, the run goes on."""
        self.check_stop()
        if self.opts.simulate:
            return True
        try:
            await self.moodle.run(fn)
            return True
        except EnttuiError as exc:
            self._failed.add(entity)
            self.error(entity, f"lot de {size} écriture(s) refusé par la base Moodle : {exc.message}")
            return False
        finally:
            await self.flush()

    # -- body ----------------------------------------------------------------------------------
    async def _body(self, start: Any) -> None:
        opts = self.opts
        self.mnet = await self.moodle.mnet_localhost_id()
        self.sysctx = await self.moodle.system_context_id()
        self.lang = (await self.moodle.config_value("lang")) or "en"
        self.schools = {s.dn.lower() for s in await self.directory.structures()}
        need_people_entities = [e for e in ("users", "roles") if e in self.counts]
        if opts.user_login:
            login = opts.user_login.strip()
            self.emit(Phase("users", "Lecture de l'annuaire"))
            people = await self._read_people(lf.eq("ENTPersonLogin", login))
            if not people:
                raise UsageError(f"« {login} » : aucun compte de ce nom dans le périmètre synchronisé")
            self.people_full = False
        else:
            since = await self._since(need_people_entities or ["cohorts"])
            self.emit(Phase(next(iter(self.counts)), "Lecture de l'annuaire"))
            people = await self._read_people(since)
            self.people_full = since is None and "people" not in self._incomplete
        self.people = people
        self.by_dn: dict[str, Person] = {p.dn.lower(): p for p in people}
        if opts.verbose:
            for p in people:
                self.trace("detail", "users", f"lu : {p.login} ({p.dn})")
        self.trace("info", "", f"{len(people)} personne(s) lue(s) dans l'annuaire")
        await self.flush()
        # Owned Moodle users: id by idnumber / username, filled by the users phase (or read).
        self.owned_by_id: dict[str, int] = {}
        self.owned_by_name: dict[str, int] = {}
        if "users" in self.counts:
            await self._users()
        if "cohorts" in self.counts:
            await self._cohorts()
        if "roles" in self.counts:
            await self._roles()

    def _remember(self, users: Iterable[plan.MoodleUser]) -> None:
        for u in users:
            if u.auth == self.cfg.auth and not u.deleted:
                if u.idnumber:
                    self.owned_by_id.setdefault(u.idnumber, u.id)
                self.owned_by_name[u.username] = u.id

    def user_id(self, p: Person) -> int | None:
        d = plan.desired_user(p)
        if d is None:
            return None
        if d.idnumber and d.idnumber in self.owned_by_id:
            return self.owned_by_id[d.idnumber]
        return self.owned_by_name.get(d.username)

    # -- users ---------------------------------------------------------------------------------
    async def _users(self) -> None:
        opts, cfg = self.opts, self.cfg
        self.emit(Phase("users", "Comptes utilisateur : calcul des différences"))
        desired = [d for d in (plan.desired_user(p) for p in self.people) if d is not None]
        full = self.people_full and opts.force and not opts.user_login
        names = None if full else {d.username for d in desired}
        ids = {d.idnumber for d in desired}
        existing = await self.moodle.read(lambda c: self._user_rows(c, self.mnet, names, ids))
        sync_suspended = await self._sync_suspended()
        kwargs = dict(
            auth=cfg.auth,
            update_only=opts.update_only,
            removals=full,
            policy=cfg.removal,
            sync_suspended=sync_suspended,
            max_share=cfg.max_removal_share,
            allow_mass_removal=opts.allow_mass_removal,
            verbose=opts.verbose,
        )
        up = plan.plan_users(desired, existing, **kwargs)
        if opts.force and not full and not opts.user_login and "people" in self._incomplete:
            self.trace("warning", "users", "Lecture de l'annuaire incomplète : phase de suspension ignorée")
        if (up.suspends or up.removal_blocked) and self.confirm is not None and not opts.simulate:
            share = up.removal_candidates / max(1, up.owned_active)
            message = (
                f"{up.removal_candidates} compte(s) « {cfg.auth} » absents de l'annuaire seront suspendus "
                f"dans Moodle, sur {up.owned_active} comptes gérés ({share:.0%}).\n"
                f"Seuil configuré : {cfg.max_removal_share:.0%}. Confirmer ces suspensions ?"
            )
            if await self.confirm("removal", "Suspendre des comptes Moodle ?", message):
                if up.removal_blocked:
                    up = plan.plan_users(desired, existing, **{**kwargs, "allow_mass_removal": True})
            else:
                up.suspends = []
                up.removal_blocked = ""
                self.trace("warning", "users", "Suspensions refusées par l'opérateur : aucun compte suspendu")
        c = self.counts["users"]
        c.add(replace(up.counts(), errors=0))
        for text in up.errors:
            self.error("users", text)
        if up.removal_blocked:
            self.error("users", up.removal_blocked)
        for text in up.details:
            self.detail("users", text)
        self._remember(existing)
        now = self.now()
        total = len(up.inserts) + len(up.updates) + len(up.suspends)
        done = 0
        # creations
        template = _not_null_defaults(self.t.user)
        for batch in _chunks(up.inserts, cfg.batch_size):
            rows = []
            for d in batch:
                rows.append(
                    {
                        **template,
                        "auth": cfg.auth,
                        "confirmed": 1,
                        "mnethostid": self.mnet,
                        "password": "not cached",
                        "lang": self.lang,
                        "timecreated": now,
                        "timemodified": now,
                        **d.fields(),
                    }
                )
                self.trace("change", "users", f"création de {d.username} ({d.lastname} {d.firstname})".rstrip())
            ok = await self._write("users", lambda conn, rows=rows: self._insert_users(conn, rows), len(rows))
            if ok and self.opts.simulate:
                for d in batch:
                    self.owned_by_name[d.username] = self.sim_id()
                    if d.idnumber:
                        self.owned_by_id.setdefault(d.idnumber, self.owned_by_name[d.username])
            done += len(batch)
            self.emit(Progress("users", done, total))
        if up.inserts and not opts.simulate:
            created = await self.moodle.read(
                lambda conn: self._user_rows(conn, self.mnet, {d.username for d in up.inserts}, set())
            )
            self._remember(created)
        # updates (and revivals)
        for batch in _chunks(up.updates, cfg.batch_size):
            for upd in batch:
                if upd.renamed_from:
                    self.trace("change", "users", f"renommage de {upd.renamed_from} en {upd.username}")
                if upd.revive:
                    self.trace("change", "users", f"réactivation de {upd.username} (de retour dans l'annuaire)")
                fields = sorted(set(upd.changes) - {"username", "suspended"})
                if fields:
                    self.trace("change", "users", f"mise à jour de {upd.username} : {', '.join(fields)}")
            revived = [u.id for u in batch if u.revive]
            if revived and not opts.simulate:
                await self.state.journal_set(self.run_id, [(f"{SUSPENDED_KEY}{i}", "réactivé", "") for i in revived])
            await self._write("users", lambda conn, b=batch: self._update_users(conn, b, now), len(batch))
            for upd in batch:
                self.owned_by_name[upd.username] = upd.id
            done += len(batch)
            self.emit(Progress("users", done, total))
        # suspensions (write-ahead journal first: a killed run still knows whom it suspended)
        for batch in _chunks(up.suspends, cfg.batch_size):
            for m in batch:
                self.trace("change", "users", f"suspension de {m.username} (absent de l'annuaire)")
            if not opts.simulate:
                await self.state.journal_set(
                    self.run_id, [(f"{SUSPENDED_KEY}{m.id}", "suspendu", m.username) for m in batch]
                )
            ids_ = [m.id for m in batch]
            await self._write("users", lambda conn, i=ids_: self._suspend(conn, i, now), len(batch))
            done += len(batch)
            self.emit(Progress("users", done, total))
        self.emit(Progress("users", total, total))

    def _insert_users(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        u = self.t.user
        taken = set()
        for chunk in _chunks([r["username"] for r in rows], IN_CHUNK):
            taken.update(
                conn.execute(select(u.c.username).where(u.c.mnethostid == self.mnet, u.c.username.in_(chunk))).scalars()
            )
        fresh = [r for r in rows if r["username"] not in taken]
        if fresh:
            conn.execute(insert(u), fresh)

    def _update_users(self, conn: Connection, batch: Sequence[plan.UserUpdate], now: int) -> None:
        u = self.t.user
        groups: dict[tuple[str, ...], list[plan.UserUpdate]] = defaultdict(list)
        for upd in batch:
            groups[tuple(sorted(upd.changes))].append(upd)
        for keys, ups in groups.items():
            values = {k: bindparam(f"v_{k}") for k in keys}
            values["timemodified"] = bindparam("v_now")
            stmt = update(u).where(u.c.id == bindparam("v_id")).values(values)
            conn.execute(stmt, [{"v_id": x.id, "v_now": now, **{f"v_{k}": x.changes[k] for k in keys}} for x in ups])

    def _suspend(self, conn: Connection, ids: Sequence[int], now: int) -> None:
        u = self.t.user
        conn.execute(
            update(u).where(u.c.id.in_(list(ids)), u.c.auth == self.cfg.auth).values(suspended=1, timemodified=now)
        )

    # -- member resolution ---------------------------------------------------------------------
    async def _resolve(self, dns: Iterable[str], entity: str) -> tuple[dict[str, Person], bool]:
        """Member DNs → synced persons; bool: every DN could be looked up."""
        wanted = {dn.lower(): dn for dn in dns}
        found = {k: self.by_dn[k] for k in wanted if k in self.by_dn}
        missing = [wanted[k] for k in wanted if k not in found]
        complete = "people" not in self._incomplete
        if missing and not self.people_full:
            extra: list[Person] = []
            try:
                if len(missing) <= MEMBER_LOOKUP_MAX:
                    extra = await self.directory.people_by_dns(missing)
                else:
                    extra = await self._read_people(None, MINIMAL_PERSON_ATTRIBUTES)
            except EnttuiError as exc:
                complete = False
                self.error(entity, f"résolution des membres impossible : {exc.message}")
            for p in extra:
                if self._wanted(p) and any(s.lower() in self.schools for s in p.struct_dns):
                    self.by_dn.setdefault(p.dn.lower(), p)
            found = {k: self.by_dn[k] for k in wanted if k in self.by_dn}
        # Moodle ids of members not seen by the users phase
        unknown = [p for p in found.values() if self.user_id(p) is None]
        if unknown:
            d = [x for x in (plan.desired_user(p) for p in unknown) if x is not None]
            names, ids = {x.username for x in d}, {x.idnumber for x in d}
            rows = await self.moodle.read(lambda c: self._user_rows(c, self.mnet, names, ids))
            self._remember(rows)
        return found, complete

    # -- cohorts -------------------------------------------------------------------------------
    async def _cohorts(self) -> None:
        opts, cfg = self.opts, self.cfg
        self.emit(Phase("cohorts", "Cohortes : lecture des groupes"))
        locked = not opts.no_cohort_lock
        base = self.services.config.ldap.groups_dn or self.services.config.ldap.base_dn
        single = bool(opts.user_login)
        if single:
            person = self.people[0]
            filt = lf.and_(self._group_filter(), lf.eq("member", person.dn))
        else:
            # Lock disabled: the differential runs over every group and cohort, not the changed ones.
            filt = lf.and_(self._group_filter(), None if not locked else await self._since(["cohorts"]))
        entries = await self._read_entries("groups", base, filt, GROUP_ATTRIBUTES, "cohorts")
        groups = [group_from_entry(dn, attrs) for dn, attrs in entries]
        groups.sort(key=lambda g: g.cn.lower())
        members, complete = await self._resolve([m for g in groups for m in g.members], "cohorts")
        desired: list[plan.DesiredCohort] = []
        c = self.counts["cohorts"]
        for g in groups:
            ids: set[int] = set()
            for m in g.members:
                p = members.get(m.lower())
                if p is None:
                    continue
                uid = self.user_id(p)
                if uid is None:
                    if opts.update_only:
                        c.skipped += 1
                    continue
                if single and p.dn.lower() != self.people[0].dn.lower():
                    continue
                ids.add(uid)
            idnumber, name, component = plan.cohort_identity(g, cfg.cohort_prefix, cfg.component, locked)
            alt = plan.cohort_identity(g, cfg.cohort_prefix, cfg.component, True)[0] if not locked else ""
            desired.append(
                plan.DesiredCohort(idnumber, name, component, frozenset(ids), complete and not single, alt, g.cn)
            )
            self.detail("cohorts", f"groupe {g.cn} : {len(ids)} membre(s) synchronisé(s)")
        vanish = opts.force and not single and "groups" not in self._incomplete
        co, cm = self.t.cohort, self.t.cohort_members

        def read_cohorts(conn: Connection) -> list[plan.MoodleCohort]:
            q = select(co.c.id, co.c.name, co.c.idnumber, co.c.component, co.c.visible, co.c.contextid)
            return [
                plan.MoodleCohort(
                    int(r.id), r.name, r.idnumber or "", r.component or "", bool(r.visible), int(r.contextid)
                )
                for r in conn.execute(q)
            ]

        cohorts = await self.moodle.read(read_cohorts)
        by_idn = {x.idnumber: x for x in cohorts if x.idnumber}
        relevant = {by_idn[d.idnumber].id for d in desired if d.idnumber in by_idn}
        relevant |= {by_idn[d.alt_idnumber].id for d in desired if d.alt_idnumber in by_idn}
        if vanish:
            relevant |= {x.id for x in cohorts if not locked or x.component == cfg.component}

        def read_members(conn: Connection) -> dict[int, set[int]]:
            out: dict[int, set[int]] = defaultdict(set)
            for chunk in _chunks(sorted(relevant), IN_CHUNK):
                for r in conn.execute(select(cm.c.cohortid, cm.c.userid).where(cm.c.cohortid.in_(chunk))):
                    out[int(r.cohortid)].add(int(r.userid))
            return out

        current = await self.moodle.read(read_members)
        cp = plan.plan_cohorts(
            desired,
            cohorts,
            current,
            component=cfg.component,
            locked=locked,
            update_only=opts.update_only or single,
            vanish=vanish,
            verbose=opts.verbose,
        )
        if not locked and self.confirm is not None and not opts.simulate:
            message = (
                f"Verrou de cohortes désactivé : le différentiel porte sur les {len(cohorts)} cohortes de Moodle.\n"
                f"{cp.renamed} cohorte(s) de la synchronisation seront renommées sans préfixe et déverrouillées, "
                f"{len(cp.creates)} créée(s), {len(cp.changes)} modifiée(s), {len(cp.vanished)} vidée(s) et masquée(s).\n"  # noqa: E501
                "Continuer ?"
            )
            if not await self.confirm("cohort_unlock", "Désactiver le verrou de cohortes ?", message):
                self.trace("warning", "cohorts", "Cohortes ignorées : désactivation du verrou refusée par l'opérateur")
                return
        c.add(cp.counts())
        c.errors -= len(cp.errors)
        for text in cp.errors:
            self.error("cohorts", text)
        for text in cp.details:
            self.detail("cohorts", text)
        await self._write_cohorts(cp)

    async def _write_cohorts(self, cp: plan.CohortPlan) -> None:
        cfg, now = self.cfg, self.now()
        co, cm = self.t.cohort, self.t.cohort_members
        total = len(cp.creates) + len(cp.changes) + len(cp.vanished)
        done = 0
        template = _not_null_defaults(co)
        for batch in _chunks(cp.creates, max(1, cfg.batch_size // 10)):
            for ch in batch:
                self.trace(
                    "change",
                    "cohorts",
                    f"création de la cohorte « {ch.name} » ({ch.idnumber}), {len(ch.add)} membre(s)",
                )

            def create(conn: Connection, batch: Sequence[plan.CohortChange] = batch) -> None:
                idns = [ch.idnumber for ch in batch]
                taken = set(conn.execute(select(co.c.idnumber).where(co.c.idnumber.in_(idns))).scalars())
                rows = [
                    {
                        **template,
                        "contextid": self.sysctx,
                        "name": ch.name,
                        "idnumber": ch.idnumber,
                        "description": "",
                        "descriptionformat": 1,
                        "visible": 1,
                        "component": ch.component,
                        "timecreated": now,
                        "timemodified": now,
                    }
                    for ch in batch
                    if ch.idnumber not in taken
                ]
                if rows:
                    conn.execute(insert(co), rows)
                ids = dict(conn.execute(select(co.c.idnumber, co.c.id).where(co.c.idnumber.in_(idns))).all())
                existing = set()
                for chunk in _chunks(list(ids.values()), IN_CHUNK):
                    existing |= {
                        tuple(r)
                        for r in conn.execute(select(cm.c.cohortid, cm.c.userid).where(cm.c.cohortid.in_(chunk)))
                    }
                adds = [
                    {"cohortid": ids[ch.idnumber], "userid": uid, "timeadded": now}
                    for ch in batch
                    for uid in sorted(ch.add)
                    if (ids[ch.idnumber], uid) not in existing
                ]
                if adds:
                    conn.execute(insert(cm), adds)

            await self._write("cohorts", create, len(batch))
            done += len(batch)
            self.emit(Progress("cohorts", done, total))
        pending: list[plan.CohortChange] = []
        ops = 0
        for i, ch in enumerate(cp.changes):
            pending.append(ch)
            ops += len(ch.add) + len(ch.remove) + 1
            if ops < cfg.batch_size and i < len(cp.changes) - 1:
                continue
            for x in pending:
                parts = []
                if "idnumber" in x.values or "component" in x.values:
                    parts.append(
                        f"renommée en {x.idnumber}" + (", déverrouillée" if x.values.get("component") == "" else "")
                    )
                elif "name" in x.values:
                    parts.append("nom mis à jour")
                if x.values.get("visible") == 1:
                    parts.append("de nouveau visible")
                if x.add:
                    parts.append(f"+{len(x.add)} membre(s)")
                if x.remove:
                    parts.append(f"-{len(x.remove)} membre(s)")
                self.trace("change", "cohorts", f"cohorte « {x.name} » : {', '.join(parts)}")

            def change(conn: Connection, batch: Sequence[plan.CohortChange] = tuple(pending)) -> None:
                for x in batch:
                    if x.values:
                        conn.execute(update(co).where(co.c.id == x.cohort_id).values(**x.values, timemodified=now))
                adds = [{"cohortid": x.cohort_id, "userid": u, "timeadded": now} for x in batch for u in sorted(x.add)]
                if adds:
                    conn.execute(insert(cm), adds)
                removes = [{"c": x.cohort_id, "u": u} for x in batch for u in sorted(x.remove)]
                if removes:
                    conn.execute(
                        delete(cm).where(and_(cm.c.cohortid == bindparam("c"), cm.c.userid == bindparam("u"))), removes
                    )

            await self._write("cohorts", change, len(pending))
            done += len(pending)
            self.emit(Progress("cohorts", done, total))
            pending, ops = [], 0
        for cohort, members in cp.vanished:
            self.trace(
                "change",
                "cohorts",
                f"cohorte « {cohort.name} » : groupe disparu, {len(members)} membre(s) retiré(s), masquée",
            )

            def vanish(conn: Connection, cid: int = cohort.id) -> None:
                conn.execute(delete(cm).where(cm.c.cohortid == cid))
                conn.execute(update(co).where(co.c.id == cid).values(visible=0, timemodified=now))

            await self._write("cohorts", vanish, 1)
            done += 1
            self.emit(Progress("cohorts", done, total))
        self.emit(Progress("cohorts", total, total))

    # -- role assignments ----------------------------------------------------------------------
    async def _roles(self) -> None:
        opts, cfg = self.opts, self.cfg
        self.emit(Phase("roles", "Associations de rôles : lecture des groupes de rôles"))
        single = bool(opts.user_login)
        ldap = self.services.config.ldap
        base = cfg.role_base or f"ou=roles,{ldap.groups_dn or ldap.base_dn}"
        attrs = sorted(
            {"cn", "member", "objectClass", cfg.role_attribute, cfg.role_level_attribute, cfg.role_key_attribute}
        )
        if single:
            filt = lf.and_(cfg.role_filter, lf.eq("member", self.people[0].dn))
        else:
            filt = lf.and_(cfg.role_filter, await self._since(["roles"]))
        entries = await self._read_entries("roles", base, filt, attrs, "roles")
        specs: list[plan.RoleSpec] = []
        for dn, a in sorted(entries, key=lambda e: e[0].lower()):
            spec = plan.role_spec(dn, a, self.rules)
            if isinstance(spec, str):
                self.error("roles", spec)
            else:
                specs.append(spec)
        members, complete = await self._resolve([m for s in specs for m in s.members], "roles")
        t = self.t
        cat_keys = {s.key for s in specs if s.level == "coursecat"}
        course_keys = {s.key for s in specs if s.level == "course"}

        def read_refs(conn: Connection) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
            roles = {r.shortname: int(r.id) for r in conn.execute(select(t.role.c.id, t.role.c.shortname))}
            ctx: dict[tuple[str, str], int] = {}
            for level, table, keys in (("coursecat", t.course_categories, cat_keys), ("course", t.course, course_keys)):
                for chunk in _chunks(sorted(keys), IN_CHUNK):
                    inst = {
                        int(r.id): r.idnumber
                        for r in conn.execute(select(table.c.id, table.c.idnumber).where(table.c.idnumber.in_(chunk)))
                    }
                    if not inst:
                        continue
                    q = select(t.context.c.id, t.context.c.instanceid).where(
                        t.context.c.contextlevel == plan.CONTEXT_LEVELS[level], t.context.c.instanceid.in_(list(inst))
                    )
                    for r in conn.execute(q):
                        ctx[(level, inst[int(r.instanceid)])] = int(r.id)
            return roles, ctx

        role_ids, contexts = await self.moodle.read(read_refs)
        desired: set[plan.Assignment] = set()
        pairs: set[tuple[int, int]] = set()
        c = self.counts["roles"]
        me = self.people[0].dn.lower() if single else None
        for s in specs:
            rid = role_ids.get(s.role)
            if rid is None:
                self.error("roles", f"{s.source} : rôle « {s.role} » introuvable dans Moodle ; groupe ignoré")
                continue
            cid = self.sysctx if s.level == "system" else contexts.get((s.level, s.key))
            if cid is None:
                self.error(
                    "roles", f"{s.source} : contexte {s.level} « {s.key} » introuvable dans Moodle ; groupe ignoré"
                )
                continue
            pairs.add((rid, cid))
            for m in s.members:
                p = members.get(m.lower())
                if p is None or (me is not None and p.dn.lower() != me):
                    continue
                uid = self.user_id(p)
                if uid is None:
                    if opts.update_only:
                        c.skipped += 1
                    continue
                desired.add((rid, cid, uid))
            self.detail("roles", f"{s.source} : rôle {s.role}, contexte {s.level} {s.key}".rstrip())
        # ENTPersonFonctions → system roles, for the people read in this run
        fonction_pairs: set[tuple[int, int]] = set()
        scoped_users: set[int] = set()
        for code, shortname in sorted(self.fonction_roles.items()):
            rid = role_ids.get(shortname)
            if rid is None:
                self.error("roles", f"fonction {code} : rôle « {shortname} » introuvable dans Moodle")
                continue
            fonction_pairs.add((rid, self.sysctx))
            for p in self.people:
                uid = self.user_id(p)
                if uid is None:
                    continue
                scoped_users.add(uid)
                if code in plan.fonction_codes(p.fonctions):
                    desired.add((rid, self.sysctx, uid))
        ra = t.role_assignments
        full = opts.force and self.people_full and "roles" not in self._incomplete and complete and not single
        contexts_needed = sorted({cid for _r, cid in pairs | fonction_pairs})

        def read_existing(conn: Connection) -> list[tuple[int, plan.Assignment, str]]:
            rows: dict[int, Any] = {}
            q = select(ra.c.id, ra.c.roleid, ra.c.contextid, ra.c.userid, ra.c.component)
            for chunk in _chunks(contexts_needed, IN_CHUNK):
                for r in conn.execute(q.where(ra.c.contextid.in_(chunk))):
                    rows[int(r.id)] = r
            if full:
                for r in conn.execute(q.where(ra.c.component == cfg.component)):
                    rows[int(r.id)] = r
            return [
                (int(r.id), (int(r.roleid), int(r.contextid), int(r.userid)), r.component or "") for r in rows.values()
            ]

        existing = await self.moodle.read(read_existing)

        def in_scope(key: plan.Assignment) -> bool:
            if full:
                return True
            return (key[0], key[1]) in pairs or ((key[0], key[1]) in fonction_pairs and key[2] in scoped_users)

        rp = plan.plan_roles(
            desired,
            existing,
            component=cfg.component,
            in_scope=in_scope,
            update_only=opts.update_only,
            allow_remove=complete and not single and "roles" not in self._incomplete,
        )
        c.add(rp.counts())
        names = {v: k for k, v in role_ids.items()}
        users = {v: k for k, v in self.owned_by_name.items()}
        rp.add.sort(key=lambda k: (k[0], k[1], users.get(k[2], "")))
        now = self.now()
        total = len(rp.add) + len(rp.remove)
        done = 0
        for batch in _chunks(rp.add, cfg.batch_size):
            for r, cx, u in batch:
                self.trace(
                    "change", "roles", f"attribution du rôle {names.get(r, r)} à {users.get(u, u)} (contexte {cx})"
                )
            rows = [
                {
                    "roleid": r,
                    "contextid": cx,
                    "userid": u,
                    "timemodified": now,
                    "modifierid": 0,
                    "component": cfg.component,
                    "itemid": 0,
                    "sortorder": 0,
                }
                for r, cx, u in batch
            ]
            await self._write("roles", lambda conn, rows=rows: conn.execute(insert(ra), rows), len(rows))
            done += len(batch)
            self.emit(Progress("roles", done, total))
        for batch in _chunks(rp.remove, cfg.batch_size):
            for _id, (r, cx, u) in batch:
                self.trace("change", "roles", f"retrait du rôle {names.get(r, r)} à {users.get(u, u)} (contexte {cx})")
            ids = [i for i, _k in batch]
            await self._write(
                "roles",
                lambda conn, ids=ids: conn.execute(delete(ra).where(ra.c.id.in_(ids), ra.c.component == cfg.component)),
                len(ids),
            )
            done += len(batch)
            self.emit(Progress("roles", done, total))
        self.emit(Progress("roles", total, total))


async def run_sync(
    services: Services,
    options: SyncOptions,
    sink: EventSink = null_sink,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    confirm: Confirm | None = None,
) -> SyncResult:
    """Run one synchronisation (see the module docstring); LockHeldError when another run holds the lock."""
    return await SyncJob(services, options, sink, should_stop=should_stop, confirm=confirm).run()


@dataclass
class SettingsView:
    """The sync settings in force, for "Retour aux réglages" (read-only)."""

    rows: list[tuple[str, str]] = field(default_factory=list)


def settings_view(services: Services) -> SettingsView:
    cfg = services.config
    s = cfg.sync
    moodle = services.moodle.endpoint if services.moodle is not None else "non configuré"
    rows = [
        ("Base Moodle", moodle),
        ("Préfixe des tables", cfg.moodle.prefix),
        ("Établissements (UAI)", ", ".join(cfg.ent.uai) or "aucun"),
        ("Authentification des comptes (auth)", s.auth),
        ("Préfixe des cohortes", s.cohort_prefix),
        ("Composant du verrou", s.component),
        ("Comptes disparus de l'annuaire", "suspendus" if s.removal == "suspend" else "conservés"),
        ("Seuil de suppressions", f"{s.max_removal_share:.0%} des comptes gérés"),
        ("Profils synchronisés", ", ".join(s.profiles)),
        ("Marge de la période de référence", f"{s.watermark_margin_minutes} min"),
        ("Taille des lots", str(s.batch_size)),
        ("Filtre des personnes", s.user_filter or "(périmètre seul)"),
        ("Filtre des groupes", s.group_filter or "classes et groupes du périmètre"),
        ("Branche des rôles", s.role_base or f"ou=roles,{cfg.ldap.groups_dn or cfg.ldap.base_dn}"),
        ("Filtre des rôles", s.role_filter),
        ("Rôle : attribut / expression", f"{s.role_attribute} / {s.role_regex}"),
        ("Niveau : attribut / expression", f"{s.role_level_attribute} / {s.role_level_regex}"),
        ("Clé : attribut / expression", f"{s.role_key_attribute} / {s.role_key_regex}"),
        ("Fonctions → rôles système", ", ".join(s.fonction_roles) or "aucune"),
    ]
    return SettingsView(rows)


async def watermarks(services: Services) -> dict[str, str]:
    """Entity → the reference date of the next normal run (French local time), for the settings view."""
    out = {}
    for entity, label in ENTITY_LABELS.items():
        mark = await services.state.get_watermark(watermark_key(entity))
        out[label] = mark.astimezone().strftime("%d/%m/%Y %H:%M:%S") if mark else "jamais (lecture complète)"
    return out
