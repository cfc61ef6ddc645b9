"""The Annuaire screens' data: paged people searches, a person with relations, the group list.

Built on the public API of :class:`~enttui.services.directory.Directory` (``iter_pages``,
``perimeter_filter``, ``person``, ``structures``, ``groups``) and the same code serves the
Utilisateurs and Groupes screens and ``bench/annuaire.py``.

Paging: a :class:`PeopleSearch` keeps one RFC 2696 paged search open and pulls one small page
(``PAGE_SIZE`` entries) at a time; the next page is prefetched in the background; previous pages
come from a small cache (a page evicted from it is read again by restarting the search). The
count runs concurrently as a search for no attribute (``1.1``) capped at ``COUNT_CAP``.

Cancellation: a screen cancels a stale search's worker at any time. The server reads run in
tasks owned by the search and awaited through ``asyncio.shield``, so a cancelled caller never
leaves a paged search (and its connection) in the middle of a page; :meth:`PeopleSearch.close`
waits for them and closes the paged search.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enttui.config import Config
from enttui.domain import ldapfilter as lf
from enttui.domain.annuaire import PeopleQuery, fold_login, people_filter
from enttui.domain.attributes import COUNT_ATTRIBUTES, LIST_ATTRIBUTES, PERSON_ATTRIBUTES
from enttui.domain.dn import lookup_key
from enttui.domain.people import (
    Person,
    Structure,
    Target,
    class_name,
    person_from_entry,
    resolve_target,
)
from enttui.errors import EnttuiError
from enttui.services.directory import Directory

__all__ = [
    "CACHE_PAGES",
    "COUNT_CAP",
    "LIST_ATTRIBUTES",
    "PAGE_SIZE",
    "Annuaire",
    "GroupSummary",
    "MemberList",
    "Page",
    "PeoplePager",
    "PeopleSearch",
    "PersonDetails",
    "ResultCount",
    "class_names_of",
    "format_count",
]

PAGE_SIZE = 50  # rows in the table: never more than one page
COUNT_CAP = 2000  # the count stops here ("plus de 2 000 résultats")
CACHE_PAGES = 8  # pages kept for "previous page"


def _values(attrs: Mapping[str, Sequence[str]], name: str) -> Sequence[str]:
    """An attribute's values whatever the case of its name in the entry (``name`` in lower case)."""
    values = attrs.get(name)
    if values is not None:
        return values
    for key, found in attrs.items():
        if key.lower() == name:
            return found
    return ()


def format_count(n: int) -> str:
    """2000 → "2 000" (French thousands, narrow-free plain space for every terminal)."""
    return f"{n:,}".replace(",", " ")


@dataclass(frozen=True, slots=True)
class ResultCount:
    value: int
    capped: bool = False

    @property
    def label(self) -> str:
        if self.capped:
            return f"plus de {format_count(self.value)} résultats"
        return f"{format_count(self.value)} résultat{'s' if self.value > 1 else ''}"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of people, with the names of the children shown in the "Enfant(s)" column."""

    index: int
    people: tuple[Person, ...]
    has_next: bool
    relatives: Mapping[str, Person] = field(default_factory=dict)  # lookup_key → person
    missing: tuple[str, ...] = ()  # member DNs of this page that point nowhere (shown as such)

    @property
    def has_previous(self) -> bool:
        return self.index > 0

    def children_label(self, person: Person) -> str:
        names = []
        for dn in person.child_dns:
            kid = self.relatives.get(lookup_key(dn))
            if kid is None:
                names.append("?")
            else:
                klass = f" ({', '.join(kid.classes)})" if kid.classes else ""
                names.append(f"{kid.given_name or kid.full_name}{klass}")
        return ", ".join(names)


@dataclass(frozen=True, slots=True)
class PersonDetails:
    person: Person
    parents: tuple[Person, ...] = ()
    children: tuple[Person, ...] = ()
    structures: tuple[str, ...] = ()  # "UAI — name" (or the raw DN when unknown)
    missing: tuple[str, ...] = ()  # relation DNs that point nowhere
    moodle: Mapping[str, Any] | None = None
    moodle_status: str = ""  # why there is no Moodle summary ("" when there is one)

    @property
    def relatives(self) -> list[tuple[str, Person]]:
        """Parents then children, in the order the detail numbers them (keys 1–9)."""
        return [("Parent", p) for p in self.parents] + [("Enfant", c) for c in self.children]


@dataclass(frozen=True, slots=True)
class GroupSummary:
    key: str  # the group's DN, or "classe:<uai>$<name>" for a class only found on students
    name: str
    kind: str  # "classe" or "groupe"
    uai: str = ""
    dn: str = ""
    description: str = ""
    members: tuple[str, ...] = ()
    counts: Mapping[Target, int] = field(default_factory=dict)
    unknown: int = 0  # members that are not people of the périmètre
    counted: bool = True  # False: counts by profile not read yet (see Annuaire.group_list)

    @property
    def total(self) -> int:
        return len(self.members)

    @property
    def kind_label(self) -> str:
        if self.kind == "classe" and not self.dn:
            return "Classe (élèves)"
        return {"classe": "Classe", "groupe": "Groupe"}.get(self.kind, "Autre")


class PeoplePager:
    """Pages of people with a count: what the people table shows. Subclasses fetch pages."""

    def __init__(self, annuaire: Annuaire, page_size: int = PAGE_SIZE) -> None:
        self.annuaire = annuaire
        self.page_size = page_size
        self.index = 0
        self._cache: OrderedDict[int, Page] = OrderedDict()
        self.closed = False

    async def page(self, index: int) -> Page | None:
        """Page ``index`` (0-based), or None when there is no such page."""
        if index < 0:
            return None
        cached = self._cache.get(index)
        if cached is None:
            people = await self._people_page(index)
            if people is None:
                return None
            relatives = await self.annuaire.children_of(people)
            cached = Page(index, tuple(people), self._has_next(index, people), relatives, self._missing_on(index))
            self._cache[index] = cached
            while len(self._cache) > CACHE_PAGES:
                far = max(self._cache, key=lambda i: abs(i - index))
                del self._cache[far]
        else:
            cached = Page(
                index, cached.people, self._has_next(index, list(cached.people)), cached.relatives, cached.missing
            )
        self.index = index
        self._after_page(index)
        return cached

    async def first_page(self) -> Page:
        return await self.page(0) or Page(0, (), False)

    async def next_page(self) -> Page | None:
        return await self.page(self.index + 1)

    async def previous_page(self) -> Page | None:
        return await self.page(self.index - 1) if self.index > 0 else None

    async def count(self) -> ResultCount:
        raise NotImplementedError

    async def close(self) -> None:
        self.closed = True

    # -- for subclasses
    async def _people_page(self, index: int) -> list[Person] | None:
        raise NotImplementedError

    def _has_next(self, index: int, people: Sequence[Person]) -> bool:
        return len(people) >= self.page_size

    def _after_page(self, index: int) -> None:
        return None

    def _missing_on(self, index: int) -> tuple[str, ...]:
        return ()


class PeopleSearch(PeoplePager):
    """A people search of the périmètre, paged on the server (see module docstring)."""

    def __init__(
        self,
        annuaire: Annuaire,
        query: PeopleQuery,
        page_size: int = PAGE_SIZE,
        *,
        prefetch: bool = True,
        count_cap: int = COUNT_CAP,
    ) -> None:
        super().__init__(annuaire, page_size)
        self.query = query
        self.prefetch = prefetch
        self.count_cap = count_cap
        self._filter: str | None = None
        self._gen: AsyncGenerator[list[tuple[str, dict[str, list[str]]]], None] | None = None
        self._pulled: dict[int, list[Person]] = {}  # pages read from the server, not yet cached
        self._next_pull = 0  # index of the page the open paged search gives next
        self._exhausted = False
        self._pending: asyncio.Future[None] | None = None
        self._count_task: asyncio.Future[ResultCount] | None = None

    async def filter(self) -> str:
        if self._filter is None:
            self._filter = await self.annuaire.people_search_filter(self.query)
        return self._filter

    async def first_page(self) -> Page:
        self.start_count()
        return await super().first_page()

    # -- count
    def start_count(self) -> None:
        if self._count_task is None:
            self._count_task = asyncio.ensure_future(self._count())

    async def _count(self) -> ResultCount:
        filt = await self.filter()
        n = 0
        gen = self.annuaire.directory.iter_pages(self.annuaire.people_base, filt, [], page_size=self.count_cap + 1)
        try:
            async for page in gen:
                n += len(page)
                if n > self.count_cap:
                    return ResultCount(self.count_cap, capped=True)
        finally:
            await gen.aclose()
        return ResultCount(n)

    async def count(self) -> ResultCount:
        self.start_count()
        assert self._count_task is not None
        return await asyncio.shield(self._count_task)

    # -- pages
    async def _people_page(self, index: int) -> list[Person] | None:
        if index < self._next_pull and index not in self._pulled:
            await self._restart()  # evicted from the cache: read the search again from the start
        while index >= self._next_pull and not self._exhausted:
            await self._pull_shielded()
        return self._pulled.get(index)

    def _has_next(self, index: int, people: Sequence[Person]) -> bool:
        if self._exhausted:
            return index + 1 < self._next_pull
        return len(people) >= self.page_size

    def _after_page(self, index: int) -> None:
        # Keep pulled-but-uncached pages bounded, then prefetch the next page.
        for old in [i for i in self._pulled if abs(i - index) > CACHE_PAGES or i in self._cache]:
            del self._pulled[old]
        if self.prefetch and not self._exhausted and self._pending is None and index + 1 >= self._next_pull:
            self._pending = asyncio.ensure_future(self._pull())

    async def _pull_shielded(self) -> None:
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._pull())
        pending = self._pending
        try:
            await asyncio.shield(pending)
        finally:
            if pending.done() and self._pending is pending:
                self._pending = None

    async def _pull(self) -> None:
        """Read the next page of the open paged search (runs as a task; never cancelled half-way)."""
        if self.closed:
            self._exhausted = True
            return
        if self._gen is None:
            if not self.annuaire.directory.stable_order:
                self._gen = self._sorted_pages(await self.filter())
            else:
                self._gen = self.annuaire.directory.iter_pages(
                    self.annuaire.people_base, await self.filter(), LIST_ATTRIBUTES, page_size=self.page_size
                )
        try:
            entries = await self._gen.__anext__()
        except StopAsyncIteration:
            self._exhausted = True
            return
        except BaseException:
            self._exhausted = True
            await self._close_gen()
            raise
        self._pulled[self._next_pull] = [self.annuaire.person_from(dn, attrs) for dn, attrs in entries]
        self._next_pull += 1

    async def _sorted_pages(self, filt: str) -> AsyncGenerator[list[tuple[str, dict[str, list[str]]]], None]:
        """The embedded (demo) directory returns entries in no stable order: read it all (a small
        world), sort by name, and page locally, so the demo lists are alphabetical and repeatable."""
        found = await self.annuaire.directory.search_all(self.annuaire.people_base, filt, LIST_ATTRIBUTES)

        def key(entry: tuple[str, dict[str, list[str]]]) -> tuple[str, str, str]:
            attrs = {k.lower(): v for k, v in entry[1].items()}
            return ((attrs.get("sn") or [""])[0].lower(), (attrs.get("givenname") or [""])[0].lower(), entry[0].lower())

        found.sort(key=key)
        for start in range(0, len(found), self.page_size):
            yield found[start : start + self.page_size]

    async def _restart(self) -> None:
        await self._settle()
        await self._close_gen()
        self._pulled.clear()
        self._next_pull = 0
        self._exhausted = False

    async def _settle(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            with contextlib.suppress(BaseException):
                await pending

    async def _close_gen(self) -> None:
        gen, self._gen = self._gen, None
        if gen is not None:
            with contextlib.suppress(Exception):
                await gen.aclose()

    async def close(self) -> None:
        """Wait for the reads in flight, then close the paged search (safe to call twice)."""
        self.closed = True
        await self._settle()
        await self._close_gen()
        task, self._count_task = self._count_task, None
        if task is not None:
            with contextlib.suppress(BaseException):
                await task


class MemberList(PeoplePager):
    """A known list of DNs (a group's members), sorted by name: every member is read once (one
    search per 200 DNs), then shown page by page. Members whose entry does not exist come last,
    as such (``missing``): a class with a dangling member never shows an empty page."""

    def __init__(self, annuaire: Annuaire, dns: Sequence[str], page_size: int = PAGE_SIZE) -> None:
        super().__init__(annuaire, page_size)
        self.dns = list(dict.fromkeys(dns))
        self._rows: list[Person | str] | None = None  # people sorted by name, then missing DNs

    async def _read(self) -> list[Person | str]:
        if self._rows is None:
            found = await self.annuaire.people_by_dns(self.dns, LIST_ATTRIBUTES)
            people = sorted((found[lookup_key(dn)] for dn in self.dns if lookup_key(dn) in found), key=name_key)
            missing = [dn for dn in self.dns if lookup_key(dn) not in found]
            self._rows = [*people, *missing]
        return self._rows

    @property
    def missing(self) -> list[str]:
        return [r for r in self._rows or () if isinstance(r, str)]

    async def _people_page(self, index: int) -> list[Person] | None:
        rows = await self._read()
        chunk = rows[index * self.page_size : (index + 1) * self.page_size]
        if not chunk:
            return None if index > 0 else []
        return [r for r in chunk if isinstance(r, Person)]

    def _missing_on(self, index: int) -> tuple[str, ...]:
        chunk = (self._rows or [])[index * self.page_size : (index + 1) * self.page_size]
        return tuple(r for r in chunk if isinstance(r, str))

    def _has_next(self, index: int, people: Sequence[Person]) -> bool:
        return (index + 1) * self.page_size < len(self.dns)

    async def count(self) -> ResultCount:
        return ResultCount(len(self.dns))


def name_key(person: Person) -> tuple[str, str, str]:
    """Alphabetical order of people: name, first name (accents and case ignored), login."""
    return (fold_login(person.sn or person.display_name), fold_login(person.given_name), person.login)


class Annuaire:
    """The Annuaire screens' service (see module docstring)."""

    def __init__(self, directory: Directory, config: Config, moodle: Any = None, page_size: int = PAGE_SIZE) -> None:
        self.directory = directory
        self.config = config
        self.moodle = moodle
        self.page_size = page_size
        ldap = config.ldap
        self.people_base = ldap.people_dn or ldap.base_dn
        self._names: OrderedDict[str, Person] = OrderedDict()  # small cache of relatives (lookup_key)

    @classmethod
    def from_services(cls, services: Any, page_size: int = PAGE_SIZE) -> Annuaire:
        """From :class:`enttui.services.container.Services` (one per app is enough)."""
        return cls(services.directory, services.config, services.moodle, page_size)

    # -- people
    def person_from(self, dn: str, attrs: Mapping[str, Sequence[str]]) -> Person:
        return person_from_entry(
            dn,
            attrs,
            prefer=self.config.ent.profile_source,
            inactive_attribute=self.config.ldap.inactive_attribute,
            inactive_value=self.config.ldap.inactive_value,
        )

    async def people_search_filter(self, query: PeopleQuery) -> str:
        ldap = self.config.ldap
        wanted = people_filter(
            query,
            prefer=self.config.ent.profile_source,
            inactive_attribute=ldap.inactive_attribute,
            inactive_value=ldap.inactive_value,
        )
        return lf.and_(lf.eq("objectClass", "ENTPerson"), await self.directory.perimeter_filter(), wanted)

    def search(self, query: PeopleQuery, *, prefetch: bool = True) -> PeopleSearch:
        """A paged search (nothing is read until ``first_page``)."""
        return PeopleSearch(self, query, self.page_size, prefetch=prefetch)

    def members(self, group: GroupSummary) -> MemberList:
        return MemberList(self, group.members, self.page_size)

    async def people_by_dns(
        self, dns: Iterable[str], attributes: Sequence[str] = PERSON_ATTRIBUTES
    ) -> dict[str, Person]:
        """People at these DNs (keyed by :func:`lookup_key`), in one search per 200 DNs
        (:meth:`Directory.lookup_people`). DNs that point nowhere, or are not DNs, are left out."""
        found = await self.directory.lookup_people(dns, attributes=attributes)
        return found.people

    async def children_of(self, people: Sequence[Person]) -> dict[str, Person]:
        """The children of the parents among ``people`` (for the Enfant(s) column), one search."""
        dns = [dn for p in people for dn in p.child_dns]
        missing = [dn for dn in dns if lookup_key(dn) not in self._names]
        if missing:
            found = await self.people_by_dns(missing, LIST_ATTRIBUTES)
            for key, person in found.items():
                self._names[key] = person
            while len(self._names) > 5000:
                self._names.popitem(last=False)
        return {lookup_key(dn): self._names[lookup_key(dn)] for dn in dns if lookup_key(dn) in self._names}

    async def person_details(self, dn: str) -> PersonDetails | None:
        """A person with parents, children, schools and the Moodle account (None if gone)."""
        person = await self.directory.person(dn)
        if person is None:
            return None
        related = [*person.parent_dns, *person.child_dns]
        relations, structures, moodle = await asyncio.gather(
            self.people_by_dns(related, LIST_ATTRIBUTES),
            self._structure_labels(person.struct_dns),
            self._moodle_summary(person),
        )
        parents = tuple(relations[lookup_key(d)] for d in person.parent_dns if lookup_key(d) in relations)
        children = tuple(relations[lookup_key(d)] for d in person.child_dns if lookup_key(d) in relations)
        missing = tuple(d for d in related if lookup_key(d) not in relations)
        summary, status = moodle
        return PersonDetails(person, parents, children, structures, missing, summary, status)

    async def _structure_labels(self, dns: Sequence[str]) -> tuple[str, ...]:
        if not dns:
            return ()
        try:
            known = {lookup_key(s.dn): s for s in await self.directory.structures()}
        except EnttuiError:
            known = {}
        out = []
        for dn in dns:
            s: Structure | None = known.get(lookup_key(dn))
            out.append(f"{s.uai} — {s.name}" if s else dn)
        return tuple(out)

    async def _moodle_summary(self, person: Person) -> tuple[Mapping[str, Any] | None, str]:
        if self.moodle is None:
            return None, "base Moodle non configurée"
        if not person.login:
            return None, "pas d'identifiant ENT"
        try:
            summary = await self.moodle.user_summary(person.login)
        except EnttuiError as exc:
            return None, f"indisponible : {exc.message}"
        if summary is None:
            return None, "aucun compte Moodle pour cet identifiant"
        return summary, ""

    # -- groups
    async def group_list(self) -> list[GroupSummary]:
        """The classes and groups of the périmètre at once (one search), without the counts by
        profile (``counted`` False): the screen shows them while :meth:`groups` counts."""
        out = [
            GroupSummary(g.dn, g.name, g.kind, g.uai, g.dn, g.description, tuple(g.members), counted=False)
            for g in await self.directory.groups()
        ]
        out.sort(key=lambda s: (s.uai, s.kind != "classe", s.name.lower()))
        return out

    async def groups(self) -> list[GroupSummary]:
        """Classes and groups of the périmètre with member counts by target.

        Three reads, none of the whole périmètre: the groups (with their ``member`` DNs); the
        people of the périmètre who carry ``ENTEleveClasses`` (object classes, profiles, classes:
        the students, and the classes found on students without a class entry); then, by DN (200 per
        search), the members not read yet (teachers, and the odd parent or staff member). Every
        target is decided here by :func:`resolve_target`, as for a person's detail; a member that is
        not a person of the périmètre counts as unknown.
        """
        groups_task = asyncio.ensure_future(self.directory.groups())
        try:
            structures = {lookup_key(s.dn): s.uai for s in await self.directory.structures()}
            perimeter = lf.and_(lf.eq("objectClass", "ENTPerson"), await self.directory.perimeter_filter())
            targets: dict[str, Target] = {}
            by_class: dict[tuple[str, str], list[str]] = {}
            with_classes = lf.and_(perimeter, lf.present("ENTEleveClasses"))
            async for page in self.directory.iter_pages(self.people_base, with_classes, COUNT_ATTRIBUTES):
                for dn, attrs in page:
                    target = self._count_target(dn, attrs, targets)
                    if target is Target.ELEVE:
                        for value in _values(attrs, "enteleveclasses"):
                            prefix = value.rsplit("$", 1)[0] if "$" in value else ""
                            uai = structures.get(lookup_key(prefix), prefix)
                            by_class.setdefault((uai, class_name(value)), []).append(dn)
        finally:
            groups = await groups_task
        unread = {key: dn for g in groups for dn in g.members if (key := lookup_key(dn)) not in targets}
        await self._read_targets(unread, perimeter, targets)
        out: list[GroupSummary] = []
        seen: set[tuple[str, str]] = set()
        for g in groups:
            seen.add((g.uai, g.name.lower()))
            out.append(self._summary(g.dn, g.name, g.kind, g.uai, g.dn, g.description, g.members, targets))
        for (uai, name), dns in sorted(by_class.items()):
            if (uai, name.lower()) in seen:
                continue
            out.append(self._summary(f"classe:{uai}${name}", name, "classe", uai, "", "", dns, targets))
        out.sort(key=lambda s: (s.uai, s.kind != "classe", s.name.lower()))
        return out

    def _count_target(self, dn: str, attrs: Mapping[str, Sequence[str]], targets: dict[str, Target]) -> Target:
        target = resolve_target(
            _values(attrs, "entpersonprofils"), _values(attrs, "objectclass"), self.config.ent.profile_source
        )
        targets[lookup_key(dn)] = target
        return target

    async def _read_targets(self, wanted: Mapping[str, str], perimeter: str, targets: dict[str, Target]) -> None:
        """Targets of the people of the périmètre at these DNs (``lookup_key`` → DN); others are left out
        (200 a search, :meth:`Directory.lookup_people`; a value that is not a DN counts as unknown)."""
        found = await self.directory.lookup_people(list(wanted.values()), filt=perimeter, attributes=COUNT_ATTRIBUTES)
        for key, person in found.people.items():
            targets[key] = person.target

    @staticmethod
    def _summary(
        key: str,
        name: str,
        kind: str,
        uai: str,
        dn: str,
        description: str,
        members: Sequence[str],
        targets: Mapping[str, Target],
    ) -> GroupSummary:
        counts = dict.fromkeys(Target, 0)
        unknown = 0
        for member in members:
            target = targets.get(lookup_key(member))
            if target is None:
                unknown += 1
            else:
                counts[target] += 1
        return GroupSummary(key, name, kind, uai, dn, description, tuple(members), counts, unknown)

    async def class_names(self, uai: str | None = None) -> list[str]:
        """Class names of the périmètre, or of the school ``uai`` (for the "classe" filter)."""
        return class_names_of(await self.classes(), uai)

    async def classes(self) -> list[tuple[str, str]]:
        """``(uai, name)`` of every class of the périmètre (one read; the cn is ``<UAI>$<name>``)."""
        return sorted({(g.uai, g.name) for g in await self.directory.groups() if g.kind == "classe"})

    async def schools(self) -> list[Structure]:
        """The schools of the périmètre, sorted by UAI (for the "établissement" filter)."""
        return await self.directory.structures()


def class_names_of(classes: Iterable[tuple[str, str]], uai: str | None = None) -> list[str]:
    """The class names of ``classes`` (``(uai, name)`` pairs), of the school ``uai`` only when given,
    shortest first ("3A" before "3A-bis"), each once."""
    names = {name for u, name in classes if uai is None or u == uai}
    return sorted(names, key=lambda n: (len(n), n))
