"""Paging of the Annuaire's people lists: a search kept open on the server, a group's members.

A :class:`PeopleSearch` keeps one RFC 2696 paged search open and pulls one small page
(``PAGE_SIZE`` entries) at a time; the next page is prefetched in the background; previous pages
come from a small cache (a page evicted from it is read again by restarting the search). The
count runs concurrently as a search for no attribute (``1.1``) capped at ``COUNT_CAP``.

Cancellation: a screen cancels a stale search's worker at any time. The server reads run in
tasks owned by the search and awaited through ``asyncio.shield``, so a cancelled caller never
leaves a paged search (and its connection) in the middle of a page; :meth:`PeopleSearch.close`
waits for them and closes the paged search. The service itself is
:class:`enttui.services.annuaire.Annuaire`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from enttui.domain.annuaire import PeopleQuery, fold_login
from enttui.domain.attributes import LIST_ATTRIBUTES
from enttui.domain.dn import lookup_key
from enttui.domain.people import Person

if TYPE_CHECKING:
    from enttui.services.annuaire import Annuaire

__all__ = [
    "CACHE_PAGES",
    "COUNT_CAP",
    "PAGE_SIZE",
    "MemberList",
    "Page",
    "PeoplePager",
    "PeopleSearch",
    "ResultCount",
    "format_count",
    "name_key",
    "values_of",
]

PAGE_SIZE = 50  # rows in the table: never more than one page
COUNT_CAP = 2000  # the count stops here ("plus de 2 000 résultats")
CACHE_PAGES = 8  # pages kept for "previous page"


def values_of(attrs: Mapping[str, Sequence[str]], name: str) -> Sequence[str]:
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
