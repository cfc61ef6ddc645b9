"""The state of one sync run, shared by its phases, and the primitives they use.

:class:`SyncRun` holds the options, the counters (what was *committed*, never what was planned),
the phase states, the trace (sent to the sink at once, to the state store by batches), the
per-entry errors of the retry list, the people read and the Moodle ids of the users the sync owns.
Its :meth:`~SyncRun.write` is the batch boundary: it checks cancellation, skips the write in
simulation, and turns a refused batch into an error line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TypeVar

from enttui.domain.attributes import SYNC_PERSON_ATTRIBUTES, with_attribute
from enttui.domain.dn import lookup_key
from enttui.domain.french import plural
from enttui.domain.people import Group, Person, Structure
from enttui.domain.sync import ENTITY_LABELS, Counts, DesiredUser, MoodleUser, SyncOptions, desired_user
from enttui.domain.sync_report import PHASE_CANCELLED, PHASE_DONE, PHASE_NOT_REACHED
from enttui.domain.sync_schools import SCHOOL_ENTITIES, SchoolCounts, cohort_uai
from enttui.domain.usernames import UsernameRule
from enttui.errors import EnttuiError
from enttui.jobs.events import Event, EventSink, Phase, Trace
from enttui.jobs.faults import fault_point
from enttui.services.container import Services
from enttui.services.moodle_sync import MoodleSyncStore, SiteFacts

T = TypeVar("T")
B = TypeVar("B")
Confirm = Callable[[str, str, str], Awaitable[bool]]  # (kind, title, message) -> go ahead?

PHASE_RUNNING = "en cours"


class Stop(Exception):
    """The operator asked to stop: raised at a batch boundary."""


class SyncRun:
    """One run's shared state (see the module docstring)."""

    def __init__(
        self,
        services: Services,
        options: SyncOptions,
        sink: EventSink,
        should_stop: Callable[[], bool],
        confirm: Confirm | None,
    ) -> None:
        assert services.moodle is not None
        self.services = services
        self.config = services.config
        self.cfg = services.config.sync
        self.opts = options
        self.sink = sink
        self.should_stop = should_stop
        self.confirm = confirm
        self.directory = services.directory
        self.state = services.state
        self.store = MoodleSyncStore(services.moodle)
        self.counts: dict[str, Counts] = {e: Counts() for e in options.entities()}
        self.phases: dict[str, str] = dict.fromkeys(options.entities(), PHASE_NOT_REACHED)
        self.run_id: int | None = None
        self.warnings: list[str] = []
        self.incomplete: set[str] = set()  # reads that did not return everything: "people", "groups", "roles"
        self.failed: set[str] = set()  # entities with a refused write batch
        self.retry_failed: dict[str, list[tuple[str, str]]] = {e: [] for e in options.entities()}
        # DNs re-read this run, per entity (their retry entries go unless they failed again); None: all
        self.examined: dict[str, list[str] | None] = {e: [] for e in options.entities()}
        self.facts: SiteFacts
        self.rule = UsernameRule(self.cfg.usernames)
        self.fingerprint = ""
        self.people: list[Person] = []
        self.by_key: dict[str, Person] = {}
        self.people_full = False  # the people read covered the whole périmètre
        self.owned_by_id: dict[str, int] = {}  # idnumber -> Moodle id of owned users
        self.owned_by_name: dict[str, int] = {}  # username -> Moodle id of owned users
        self.created_dns: list[str] = []  # people whose Moodle user this run created
        # The Bilan per school (enttui.domain.sync_schools). One school in the périmètre: everyone
        # read is of that school; several: the people reads also ask for ENTPersonStructRattach.
        self.schools = SchoolCounts()
        self.person_attributes = SYNC_PERSON_ATTRIBUTES
        if len(self.config.ent.uai) > 1:
            self.person_attributes = with_attribute(SYNC_PERSON_ATTRIBUTES, "ENTPersonStructRattach")
        self._school_by_dn: dict[str, str] = {}  # lookup_key of a school's DN → UAI
        self._only_school = ""  # the UAI when the périmètre holds one school
        self._group_school: dict[str, str] = {}  # lookup_key of a group's DN → UAI
        self.user_dns: dict[str, str] = {}  # Moodle username → the DN of its person (the users phase)
        self._pending: list[tuple[str, str, str]] = []
        self._sim_id = 0

    # -- events and trace ----------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        self.sink(event)

    def trace(self, level: str, entity: str, text: str) -> None:
        label = ENTITY_LABELS.get(entity, "")
        self.emit(Trace(level, label, text))
        self._pending.append((level, label, text))  # the store keeps the first lines and counts the rest

    def error(self, entity: str, text: str, dn: str = "") -> None:
        """An error line; with ``dn``, the entry goes to the retry list of ``entity`` (and the error
        to the entry's school in the Bilan per school)."""
        self.counts[entity].errors += 1
        if dn and entity in SCHOOL_ENTITIES:
            self.schools.add(self.school_of_dn(dn), entity, "errors")
        self.trace("error", entity, text)
        if dn and not self.opts.user_login:
            self.retry_failed[entity].append((dn, text))

    def detail(self, entity: str, text: str) -> None:
        if self.opts.verbose:
            self.trace("detail", entity, text)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.trace("warning", "", text)

    async def flush(self) -> None:
        if self.run_id is not None and self._pending:
            lines, self._pending = self._pending, []
            await self.state.add_trace(self.run_id, lines)

    # -- phases and batches --------------------------------------------------------------------
    def check_stop(self) -> None:
        if self.should_stop():
            raise Stop

    def begin(self, entity: str, label: str) -> None:
        """A phase starts (a batch boundary: cancellation is honoured here too)."""
        self.check_stop()
        self.phases[entity] = PHASE_RUNNING
        self.emit(Phase(entity, label))

    def end(self, entity: str) -> None:
        self.phases[entity] = PHASE_DONE

    def cancelled(self) -> None:
        """Cancellation reached: the phase under way is interrupted, the others stay not reached."""
        for entity, phase in self.phases.items():
            if phase == PHASE_RUNNING:
                self.phases[entity] = PHASE_CANCELLED

    async def write_side_by_side(
        self,
        entity: str,
        batches: Iterable[B],
        action: Callable[[B], Awaitable[T]],
        size: Callable[[B], int],
        simulated: Callable[[B], T],
        committed: Callable[[B, bool, T | None], None],
    ) -> None:
        """:meth:`write` for a series of batches, up to :attr:`writers` transactions at a time (the
        database works on one while the console prepares the next, on another core).

        ``committed(batch, ok, result)`` is called for each batch in the series' order, after its
        transaction ended, so the counts and the trace read as if one ran after the other.
        Cancellation is checked before a batch starts; whatever stops the series (the operator, an
        error, the task cancelled) first waits for the batches already started, which commit anyway,
        and accounts them: the counts stay what was written.
        """
        started: deque[tuple[B, asyncio.Future[tuple[bool, T | None]]]] = deque()

        async def settle() -> None:
            batch, task = started[0]  # left in the window until accounted (the finally below)
            ok, result = await asyncio.shield(task)  # a cancelled run must not orphan a transaction
            started.popleft()
            committed(batch, ok, result)

        try:
            for batch in batches:
                self.check_stop()
                write = self.write(entity, partial(action, batch), size(batch), partial(simulated, batch))
                started.append((batch, asyncio.ensure_future(write)))
                if len(started) >= self.writers:
                    await settle()
            while started:
                await settle()
        finally:
            while started:
                batch, task = started.popleft()
                with contextlib.suppress(BaseException):
                    ok, result = await asyncio.shield(task)
                    committed(batch, ok, result)

    @property
    def writers(self) -> int:
        """Write transactions at a time: 2 where the database takes them side by side, 1 on SQLite."""
        return 2 if self.store.moodle.concurrent_writes and not self.opts.simulate else 1

    async def write(
        self, entity: str, action: Callable[[], Awaitable[T]], size: int, simulated: Callable[[], T]
    ) -> tuple[bool, T | None]:
        """One batch = one transaction: ``(committed, result)``. Cancellation is checked first; in
        simulation nothing is written and ``simulated()`` stands for the result; a refused batch is an
        error line (``(False, None)``) and the run goes on."""
        self.check_stop()
        if self.opts.simulate:
            return True, simulated()
        try:
            result = await action()
        except EnttuiError as exc:
            self.failed.add(entity)
            self.error(entity, f"lot de {plural(size, 'écriture')} refusé par la base Moodle : {exc.message}")
            return False, None
        finally:
            await self.flush()
        fault_point("sync_batch")  # tests only: a Ctrl+C between two batches
        return True, result

    def now(self) -> int:
        return int(self.services.clock().timestamp())

    def sim_id(self) -> int:
        """A stand-in Moodle id for a user a simulation would create."""
        self._sim_id -= 1
        return self._sim_id

    # -- schools (the Bilan per school) --------------------------------------------------------
    def set_schools(self, structures: Iterable[Structure]) -> None:
        """The schools of the périmètre (read once; the directory keeps them)."""
        found = list(structures)
        self.schools.names = {s.uai: s.name for s in found}
        self._school_by_dn = {lookup_key(s.dn): s.uai for s in found}
        self._only_school = found[0].uai if len(found) == 1 else ""

    def school_of(self, p: Person) -> str:
        """A person's school (UAI), "" when none of the périmètre is known for it."""
        if self._only_school:
            return self._only_school
        for dn in p.struct_dns:
            uai = self._school_by_dn.get(lookup_key(dn))
            if uai:
                return uai
        return ""

    def school_of_dn(self, dn: str) -> str:
        """The school of a person read by this run, or of a group (its cn's UAI); "" otherwise."""
        key = lookup_key(dn)
        person = self.by_key.get(key)
        if person is not None:
            return self.school_of(person)
        return self._group_school.get(key, "")

    def school_of_user(self, username: str) -> str:
        return self.school_of_dn(self.user_dns.get(username, ""))

    def note_groups(self, groups: Iterable[Group]) -> None:
        for g in groups:
            if g.uai in self.schools.names:
                self._group_school[lookup_key(g.dn)] = g.uai

    def count_cohort(self, key: str, idnumber: str) -> None:
        self.schools.add(cohort_uai(idnumber, self.cfg.cohort_prefix, self.schools.names), "cohorts", key)

    # -- people and owned users ----------------------------------------------------------------
    def wanted(self, p: Person) -> bool:
        return bool(p.login) and p.target.value in self.cfg.profiles

    def set_people(self, people: Iterable[Person]) -> None:
        self.people = []
        self.by_key = {}
        for p in people:
            key = lookup_key(p.dn)
            if key not in self.by_key:
                self.by_key[key] = p
                self.people.append(p)

    def desired(self, p: Person) -> DesiredUser | None:
        return desired_user(p, self.rule)

    def remember(self, users: Iterable[MoodleUser]) -> None:
        auth = self.cfg.auth
        for u in users:
            if u.auth == auth and not u.deleted:
                if u.idnumber:
                    self.owned_by_id.setdefault(u.idnumber, u.id)
                self.owned_by_name[u.username] = u.id

    def user_id(self, p: Person) -> int | None:
        """The Moodle id of a person's owned user (None when there is none, or none could be made)."""
        d = self.desired(p)
        if d is None or d.problem:
            return None
        if d.idnumber and d.idnumber in self.owned_by_id:
            return self.owned_by_id[d.idnumber]
        return self.owned_by_name.get(d.username)
