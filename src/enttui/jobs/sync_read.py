"""What a sync run reads from the directory: people, groups, role groups, and who their members are.

A normal run reads the entries modified since the entity's watermark (when the watermark belongs
to the settings in force), plus the entries of its retry list, plus (for groups and role groups)
those that list a person whose Moodle account this run created: nothing that failed, and nobody
created late, waits for a forced run. Member DNs are compared by :func:`enttui.domain.dn.dn_key`;
a member that is not a DN, or points nowhere, is an error line for that member and never stops
the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from enttui.domain import ldapfilter as lf
from enttui.domain.dn import InvalidDn, dn_key, lookup_key
from enttui.domain.people import Person, format_ldap_time
from enttui.errors import DirectoryError, EnttuiError, IncompleteReadError
from enttui.jobs.events import Progress
from enttui.jobs.sync_run import SyncRun
from enttui.jobs.sync_settings import watermark_key
from enttui.services.directory import Entry

MEMBER_LOOKUP_MAX = 2000  # above this many DNs to look up, read the whole périmètre once instead
OR_CHUNK = 200  # values per OR filter


async def since_filter(run: SyncRun, entities: Iterable[str]) -> str | None:
    """``(modifyTimestamp>=…)`` for a normal run; None (read everything) on a forced run, without a
    watermark, or when a watermark was taken with other settings (fingerprint)."""
    if run.opts.force:
        return None
    marks = []
    for entity in entities:
        mark = await run.state.sync_mark(watermark_key(entity), run.fingerprint)
        if mark is None:
            return None
        marks.append(mark)
    if not marks:
        return None
    since = min(marks) - timedelta(minutes=run.cfg.watermark_margin_minutes)
    return lf.ge("modifyTimestamp", format_ldap_time(since))


async def read_people(run: SyncRun, filt: str | None, entity: str | None = None) -> list[Person]:
    """People of the périmètre (and ``[sync] user_filter``) matching ``filt``, synced profiles only.

    Every person read of the sync asks for ``run.person_attributes`` (this one, the retry list and
    the member lookups alike): :data:`~enttui.domain.attributes.SYNC_PERSON_ATTRIBUTES`, plus
    ``ENTPersonStructRattach`` when the périmètre holds several schools (the Bilan per school); the
    other ``Person`` fields stay empty.
    """
    people: list[Person] = []
    full = lf.and_(run.cfg.user_filter or None, filt)
    try:
        people_pages = run.directory.iter_people(
            full or None, attributes=run.person_attributes, prefetch=True, by_school=filt is None
        )  # a whole read (no watermark) goes school by school in a big périmètre
        async for page in people_pages:
            people.extend(p for p in page if run.wanted(p))
            run.emit(Progress("users", 0, None))
            run.check_stop()
    except IncompleteReadError as exc:
        run.incomplete.add("people")
        run.error(entity or ("users" if "users" in run.counts else next(iter(run.counts))), exc.message)
    return people


async def person_filter(run: SyncRun) -> str:
    """The people the sync reads: périmètre and ``[sync] user_filter`` (objectClass added by the lookup)."""
    return lf.and_(await run.directory.perimeter_filter(), run.cfg.user_filter or None)


async def read_retried_people(run: SyncRun) -> list[Person] | None:
    """The people of the users' retry list still in the périmètre; None when the list is too long
    (the caller then reads everything)."""
    entries = await run.state.sync_retry("users")
    if not entries:
        return []
    if len(entries) > MEMBER_LOOKUP_MAX:
        return None
    dns = [e.dn for e in entries]
    try:
        found = await run.directory.lookup_people(dns, filt=await person_filter(run), attributes=run.person_attributes)
    except EnttuiError as exc:
        run.incomplete.add("people")
        run.error("users", f"relecture des comptes en reprise impossible : {exc.message}")
        return []
    examined = run.examined["users"]
    if examined is not None:
        examined.extend(dns)
    return [p for p in found.people.values() if run.wanted(p)]


def group_filter(run: SyncRun) -> str:
    uais = run.config.ent.uai
    custom = run.cfg.group_filter
    if custom:
        parts = [custom.replace("{uai}", lf.escape(u)) for u in uais] or [custom]
        return lf.or_(*parts) if len(parts) > 1 else parts[0]
    return lf.and_(
        lf.or_(lf.eq("objectClass", "ENTClasse"), lf.eq("objectClass", "ENTGroupe")),
        lf.or_(*(lf.startswith("cn", f"{u}$") for u in uais)) if uais else lf.eq("cn", "\0"),
    )


async def read_entries(run: SyncRun, key: str, base: str, filt: str, attrs: Sequence[str], entity: str) -> list[Entry]:
    """A paged read; an incomplete one is an error line and marks ``key`` incomplete."""
    out: list[Entry] = []
    try:
        async for page in run.directory.iter_pages(base, filt, attrs, prefetch=True):
            out.extend(page)
            run.check_stop()
    except DirectoryError as exc:
        run.incomplete.add(key)
        run.error(entity, exc.message)
    return out


async def read_group_entries(
    run: SyncRun, *, key: str, entity: str, base: str, filt: str, attrs: Sequence[str], since: str | None
) -> list[Entry]:
    """The groups (or role groups) a run handles, sorted by DN key (see the module docstring).

    ``since`` None: every group matching ``filt`` (the retry list is then replaced). Else the modified
    ones, those of the retry list, and those listing a person whose Moodle account this run created.
    """
    found: dict[str, Entry] = {}

    def add(entries: Iterable[Entry]) -> None:
        for dn, attrs_ in entries:
            found.setdefault(lookup_key(dn), (dn, attrs_))

    if since is None:
        add(await read_entries(run, key, base, filt, attrs, entity))
        run.examined[entity] = None if key not in run.incomplete else []
    else:
        add(await read_entries(run, key, base, lf.and_(filt, since), attrs, entity))
        retry = [e.dn for e in await run.state.sync_retry(entity)]
        if retry:
            try:
                got = await run.directory.entries_at(retry, filt, attrs)
            except EnttuiError as exc:
                run.incomplete.add(key)
                run.error(entity, f"relecture des groupes en reprise impossible : {exc.message}")
            else:
                add(got.entries.values())
                examined = run.examined[entity]
                if examined is not None:
                    examined.extend(retry)
        for start in range(0, len(run.created_dns), OR_CHUNK):
            chunk = run.created_dns[start : start + OR_CHUNK]
            member_of = lf.and_(filt, lf.or_(*(lf.eq("member", dn) for dn in chunk)))
            add(await read_entries(run, key, base, member_of, attrs, entity))
        examined = run.examined[entity]
        if examined is not None:
            examined.extend(dn for dn, _a in found.values())
    return [found[k] for k in sorted(found)]


@dataclass
class Members:
    """Member DNs resolved to synced people.

    ``people``: dn_key → person; ``bad``: member value → why it is an error (not a DN, points
    nowhere); ``complete``: the directory answered every lookup.
    """

    people: dict[str, Person] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    complete: bool = True

    def get(self, member: str) -> Person | None:
        try:
            return self.people.get(dn_key(member))
        except InvalidDn:
            return None


async def resolve_members(run: SyncRun, members: Iterable[str], entity: str) -> Members:
    """Member DNs → synced persons (see :class:`Members`), with the fewest directory reads.

    Known people come from the run's read; the others are looked up by DN (200 a search), or, past
    :data:`MEMBER_LOOKUP_MAX`, by reading the périmètre once. What is still unknown is checked for
    existence: a DN that points nowhere is an error; an entry that is not a synced person (another
    profile, a nested group, the group itself) is not.
    """
    result = Members(complete="people" not in run.incomplete)
    wanted: dict[str, str] = {}
    for member in members:
        try:
            wanted.setdefault(dn_key(member), member)
        except InvalidDn as exc:
            result.bad[member] = f"n'est pas un DN valide ({exc.why})"
    missing = [dn for key, dn in wanted.items() if key not in run.by_key]
    try:
        if missing and not run.people_full:
            if len(missing) > MEMBER_LOOKUP_MAX:
                extra = await read_people(run, None, entity)
                if "people" in run.incomplete:
                    result.complete = False
            else:
                found = await run.directory.lookup_people(
                    missing, filt=await person_filter(run), attributes=run.person_attributes
                )
                extra = list(found.people.values())
                for dn, why in found.invalid:
                    result.bad[dn] = f"n'est pas un DN valide ({why})"
            for p in extra:
                if run.wanted(p):
                    run.by_key.setdefault(lookup_key(p.dn), p)
            missing = [dn for key, dn in wanted.items() if key not in run.by_key and dn not in result.bad]
        if missing and len(missing) <= MEMBER_LOOKUP_MAX:
            exists = await run.directory.entries_at(missing, lf.present("objectClass"), ["objectClass"])
            for dn, why in exists.invalid:
                result.bad[dn] = f"n'est pas un DN valide ({why})"
            for dn in missing:
                if lookup_key(dn) not in exists.entries and dn not in result.bad:
                    result.bad[dn] = "introuvable dans l'annuaire"
    except EnttuiError as exc:
        result.complete = False
        run.error(entity, f"résolution des membres impossible : {exc.message}")
    result.people = {k: run.by_key[k] for k in wanted if k in run.by_key}
    # Moodle ids of members the users phase did not see
    unknown = [p for p in result.people.values() if run.user_id(p) is None]
    if unknown:
        desired = [d for d in (run.desired(p) for p in unknown) if d is not None and not d.problem]
        names, ids = {d.username for d in desired}, {d.idnumber for d in desired}
        run.remember(await run.store.users(run.facts.mnet, names, ids))
    return result
