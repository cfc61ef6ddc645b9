"""The Annuaire screens' data: paged people searches, a person with relations, the group list.

Built on the public API of :class:`~enttui.services.directory.Directory` (``iter_pages``,
``perimeter_filter``, ``person``, ``structures``, ``groups``) and the same code serves the
Utilisateurs and Groupes screens and ``bench/annuaire.py``.

Paging (a search kept open on the server, page cache, count, cancellation) is in
:mod:`enttui.services.annuaire_paging`; its names are re-exported here.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enttui.config import Config
from enttui.domain import ldapfilter as lf
from enttui.domain.annuaire import PeopleQuery, people_filter
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
from enttui.services.annuaire_paging import (
    CACHE_PAGES,
    COUNT_CAP,
    PAGE_SIZE,
    MemberList,
    Page,
    PeoplePager,
    PeopleSearch,
    ResultCount,
    format_count,
    name_key,
    values_of,
)
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
    "name_key",
]


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
            with_classes = self.directory.iter_perimeter(  # the students: school by school in a big périmètre
                lf.present("ENTEleveClasses"), COUNT_ATTRIBUTES, prefetch=True, by_school=True
            )
            async for page in with_classes:
                for dn, attrs in page:
                    target = self._count_target(dn, attrs, targets)
                    if target is Target.ELEVE:
                        for value in values_of(attrs, "enteleveclasses"):
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
            values_of(attrs, "entpersonprofils"), values_of(attrs, "objectclass"), self.config.ent.profile_source
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
