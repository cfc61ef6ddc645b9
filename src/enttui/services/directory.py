"""The directory (Annuaire): one interface for the real servers and the embedded one.

:class:`Directory` is what the rest of enttui uses: people, groups and schools of the périmètre,
paged reads, writes and passwords. ``Directory(ldap, ent)`` gives the backend the settings name:

- :class:`~enttui.services.directory_ldap.LdapDirectory` for real servers: an ldap3 pool with
  failover, LDAPS or StartTLS, and optionally python-ldap for the paged reads (:mod:`.ldap_c_reader`);
- :class:`~enttui.services.directory_embedded.EmbeddedDirectory` for a ``mock://`` URL (or
  :meth:`Directory.embedded`): ldap3's in-memory MOCK_SYNC directory of the demo.

The shared pieces are in :mod:`.directory_core` (connections protocol, searches, the paged-read
loop, health) and :mod:`.directory_writes` (writes, passwords). Every library error leaves as a
:class:`~enttui.errors.DirectoryError` (French), and a read that did not return every entry raises
:class:`~enttui.errors.IncompleteReadError`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace

import ldap3
from ldap3.core import exceptions as lx

from enttui.config import EntConfig, LdapConfig
from enttui.domain import ldapfilter as lf
from enttui.domain.attributes import GROUP_ATTRIBUTES, PERSON_ATTRIBUTES, STRUCTURE_ATTRIBUTES
from enttui.domain.dn import InvalidDn, dn_key, dn_key_or_none, lookup_key
from enttui.domain.people import (
    Group,
    Person,
    ProfileCounts,
    Structure,
    group_from_entry,
    person_from_entry,
    resolve_target,
    structure_from_entry,
)
from enttui.errors import DirectoryError
from enttui.services.directory_core import (
    _LOST,
    DN_CHUNK,
    PASSWORD_MODIFY_OID,
    Entry,
    EntryLookup,
    PeopleLookup,
    _clean_url,
)
from enttui.services.directory_writes import DirectoryWrites
from enttui.services.ldap_results import LdapFailed as _Failed

__all__ = ["PASSWORD_MODIFY_OID", "Directory", "Entry", "EntryLookup", "PeopleLookup"]

_ATTRIBUTE = re.compile(r"[a-z][a-z0-9-]*")  # an attribute type's name (in a dn_key: lower case)
STRUCT_ATTRIBUTE = "entpersonstructrattach"
BY_SCHOOL_ABOVE = 8  # iter_people(by_school=True) reads school by school above this many schools


def _is_embedded(ldap: LdapConfig) -> bool:
    return any(_clean_url(u).startswith("mock://") for u in ldap.urls)


class Directory(DirectoryWrites):
    """The Annuaire: people, groups, structures, passwords (see module docstring)."""

    def __new__(cls, ldap: LdapConfig, ent: EntConfig) -> Directory:
        """``Directory(ldap, ent)``: the embedded directory for a ``mock://`` URL, else the real one."""
        if cls is Directory:
            if _is_embedded(ldap):
                from enttui.services.directory_embedded import EmbeddedDirectory

                cls = EmbeddedDirectory
            else:
                from enttui.services.directory_ldap import LdapDirectory

                cls = LdapDirectory
        return super().__new__(cls)

    @classmethod
    def embedded(
        cls,
        ldap: LdapConfig,
        ent: EntConfig,
        entries: Iterable[tuple[str, dict[str, list[str]]]] = (),
        *,
        trusted: bool = False,
    ) -> Directory:
        """An in-memory directory with the project schema, loaded with ``entries`` (fast path;
        ``trusted``: see :meth:`load_entries`)."""
        if not _is_embedded(ldap):
            ldap = replace(ldap, urls=["mock://embedded"])
        directory = Directory(ldap, ent)
        directory.load_entries(entries, trusted=trusted)
        return directory

    def load_entries(self, entries: Iterable[tuple[str, dict[str, list[str]]]], *, trusted: bool = False) -> int:
        """Embedded only: add entries straight into the in-memory directory; returns how many.
        ``trusted``: entries enttui generated itself (the demo world), whose values need no
        syntax check (the classes and single-valued attributes are still checked)."""
        raise DirectoryError("Le chargement direct d'entrées n'est possible que dans l'annuaire intégré.")

    # ------------------------------------------------------------------ the périmètre

    def _people_base(self) -> str:
        return self._ldap.people_dn or self._ldap.base_dn

    def _person(self, dn: str, attrs: dict[str, list[str]]) -> Person:
        return person_from_entry(
            dn,
            attrs,
            prefer=self._ent.profile_source,
            inactive_attribute=self._ldap.inactive_attribute,
            inactive_value=self._ldap.inactive_value,
        )

    async def structures(self) -> list[Structure]:
        """The schools of the périmètre (``ENTStructureUAI`` in ``[ent] uai``)."""
        if self._structures is None:
            if not self._ent.uai:
                self._structures = []
            else:
                filt = lf.and_(lf.eq("objectClass", "ENTStructure"), lf.any_eq("ENTStructureUAI", self._ent.uai))
                base = self._ldap.structures_dn or self._ldap.base_dn
                entries = await self.search_all(base, filt, STRUCTURE_ATTRIBUTES)
                found = [structure_from_entry(dn, attrs) for dn, attrs in entries]
                self._structures = sorted(found, key=lambda s: (s.uai, s.dn))
        return list(self._structures)

    async def perimeter_filter(self) -> str:
        """People of the périmètre: attached to one of its schools (matches nothing without a school)."""
        if self._perimeter is None:
            schools = await self.structures()
            self._perimeter = lf.any_eq("ENTPersonStructRattach", [s.dn for s in schools])
        return self._perimeter

    async def iter_people(
        self,
        filt: str | None = None,
        attributes: Sequence[str] = PERSON_ATTRIBUTES,
        *,
        prefetch: bool = False,
        by_school: bool = False,
    ) -> AsyncIterator[list[Person]]:
        """People of the périmètre matching ``filt`` (built with enttui.domain.ldapfilter), page by page.

        ``attributes``: what to read (default: every person attribute, the 26 of ``PERSON_ATTRIBUTES``).
        A big read should ask for what its use needs only (the read time grows with the attributes;
        the lists are in :mod:`enttui.domain.attributes`); the fields of :class:`Person` whose
        attributes were not read are empty. ``has_password`` and ``activated`` need ``userPassword``
        (without it both are False), and ``activated`` also ``[ldap] inactive_attribute`` (without it,
        any account with a password counts as activated). ``prefetch``: see :meth:`iter_pages`.

        ``by_school``: see :meth:`iter_perimeter`.
        """
        pages = self.iter_perimeter(filt, attributes, prefetch=prefetch, by_school=by_school)
        async for page in pages:
            yield [self._person(dn, attrs) for dn, attrs in page]

    async def iter_perimeter(
        self, filt: str | None, attributes: Sequence[str], *, prefetch: bool = False, by_school: bool = False
    ) -> AsyncIterator[list[Entry]]:
        """The entries of the périmètre's people matching ``filt``, page by page (``iter_pages``).

        ``by_school``: for a read of a big part of the périmètre (the whole of it, not the few entries
        an indexed ``filt`` selects). When the périmètre holds more than :data:`BY_SCHOOL_ABOVE`
        schools, it is read one school after the other, ``ENTPersonStructRattach=<school>`` each:
        slapd tests every candidate entry against the whole filter, and with an OR of every school's
        DN that is one DN comparison per school and entry (300 schools, 100,000 people:
        ``ldapsearch`` 7.3 s with the OR, 2.3 s school by school, 0.8 s without a périmètre). The
        pages then come school by school. A person attached to several schools of the périmètre is
        given with the first of them only (by the same DN normalisation as the rest of enttui; when
        it cannot tell, the person is given again rather than lost, and the callers key people by
        DN). ``ENTPersonStructRattach`` is read for that and left out of the entries when
        ``attributes`` did not ask for it.
        """
        schools = await self.structures()
        base = self._people_base()
        if not by_school or len(schools) <= BY_SCHOOL_ABOVE:
            full = lf.and_(lf.eq("objectClass", "ENTPerson"), await self.perimeter_filter(), filt)
            async for page in self.iter_pages(base, full, attributes, prefetch=prefetch):
                yield page
            return
        index = {lookup_key(s.dn): i for i, s in enumerate(schools)}
        wanted = list(attributes)
        asked = any(a.lower() == STRUCT_ATTRIBUTE for a in wanted)
        if not asked:
            wanted.append("ENTPersonStructRattach")
        for i, school in enumerate(schools):
            part = lf.and_(lf.eq("objectClass", "ENTPerson"), lf.eq("ENTPersonStructRattach", school.dn), filt)
            async for page in self.iter_pages(base, part, wanted, prefetch=prefetch):
                kept: list[Entry] = []
                for dn, attrs in page:
                    values = attrs.get("ENTPersonStructRattach")
                    if values is None:
                        name = next((k for k in attrs if k.lower() == STRUCT_ATTRIBUTE), "")
                        values = attrs.get(name, [])
                    if len(values) > 1:
                        seen = {index.get(lookup_key(v), -1) for v in values}
                        if i in seen and min(seen - {-1}) < i:
                            continue  # given with an earlier school of the périmètre
                    if not asked:
                        attrs = {k: v for k, v in attrs.items() if k.lower() != STRUCT_ATTRIBUTE}
                    kept.append((dn, attrs))
                yield kept

    async def person(self, dn: str) -> Person | None:
        def read(conn: ldap3.Connection) -> list[Entry]:
            try:
                return self._search_once(conn, dn, lf.eq("objectClass", "ENTPerson"), PERSON_ATTRIBUTES, "BASE")
            except _Failed as exc:
                if exc.code in (32, 34):  # noSuchObject, invalidDNSyntax
                    return []
                raise

        entries = await self._run(read, f"lecture de {dn}")
        return self._person(*entries[0]) if entries else None

    async def person_by_login(self, login: str) -> Person | None:
        """The person whose ``ENTPersonLogin`` is ``login`` (case-insensitive; first one if duplicated)."""
        filt = lf.and_(lf.eq("objectClass", "ENTPerson"), lf.eq("ENTPersonLogin", login.strip()))
        entries = await self.search_all(self._people_base(), filt, PERSON_ATTRIBUTES)
        entries.sort(key=lambda e: e[0].lower())
        return self._person(*entries[0]) if entries else None

    async def people_by_dns(self, dns: Sequence[str]) -> list[Person]:
        """The people at these DNs, in the given order; DNs that point nowhere or are not DNs are skipped."""
        found = await self.lookup_people(dns)
        out: list[Person] = []
        seen: set[str] = set()
        for dn in dns:
            key = dn_key_or_none(dn)
            if key is not None and key in found.people and key not in seen:
                seen.add(key)
                out.append(found.people[key])
        return out

    async def lookup_people(
        self, dns: Iterable[str], *, filt: str | None = None, attributes: Sequence[str] = PERSON_ATTRIBUTES
    ) -> PeopleLookup:
        """The people (``ENTPerson`` matching ``filt``) at these DNs, keyed by :func:`dn_key`.

        DNs right below the people branch are read with ``(|(uid=…)(uid=…))`` on their RDN
        attribute, 200 a search; any other DN is read on its own (a base search). A value that is not
        a DN (for this module or for the server) is reported in ``invalid`` and never stops the
        lookup of the others; a DN that points nowhere (or to an entry ``filt`` rejects) is absent.
        """
        result = PeopleLookup()
        wanted: dict[str, str] = {}
        for dn in dns:
            if not dn:
                continue
            try:
                wanted.setdefault(dn_key(dn), dn)
            except InvalidDn as exc:
                result.invalid.append((dn, exc.why))
        base_key = dn_key_or_none(self._people_base()) or ""
        by_attr: dict[str, list[str]] = {}
        others: list[str] = []
        for key, dn in wanted.items():
            rdn, _, parent = key.partition(",")
            attr = rdn.partition("=")[0]
            if (
                parent == base_key
                and _ATTRIBUTE.fullmatch(attr)
                and "+" not in rdn
                and "\\" not in dn
                and '"' not in dn
            ):
                by_attr.setdefault(attr, []).append(dn.split(",", 1)[0].split("=", 1)[1].strip())
            else:
                others.append(dn)
        person = lf.and_(lf.eq("objectClass", "ENTPerson"), filt)
        for attr, values in by_attr.items():
            for start in range(0, len(values), DN_CHUNK):
                chunk_filter = lf.and_(person, lf.any_eq(attr, values[start : start + DN_CHUNK]))
                async for page in self.iter_pages(self._people_base(), chunk_filter, attributes, scope="LEVEL"):
                    for dn, attrs in page:
                        found_key = dn_key_or_none(dn)
                        if found_key is not None and found_key in wanted:
                            result.people[found_key] = self._person(dn, attrs)
        if others:
            found = await self.entries_at(others, person, attributes)
            result.invalid.extend(found.invalid)
            for key, (dn, attrs) in found.entries.items():
                result.people[key] = self._person(dn, attrs)
        return result

    async def entries_at(self, dns: Sequence[str], filt: str, attributes: Sequence[str]) -> EntryLookup:
        """The entries at these DNs that match ``filt`` (base searches, 200 per worker-thread hop).

        Keyed by :func:`dn_key`; a DN that points nowhere or does not match is absent; a value that
        is not a DN (for :func:`dn_key`, ldap3 or the server) is reported in ``invalid`` and the
        others are still read.
        """
        result = EntryLookup()
        wanted: list[str] = []
        for dn in dict.fromkeys(dns):
            try:
                dn_key(dn)
            except InvalidDn as exc:
                result.invalid.append((dn, exc.why))
                continue
            wanted.append(dn)
        for start in range(0, len(wanted), DN_CHUNK):
            chunk = wanted[start : start + DN_CHUNK]

            def read(conn: ldap3.Connection, chunk: list[str] = chunk) -> tuple[list[Entry], list[tuple[str, str]]]:
                found: list[Entry] = []
                invalid: list[tuple[str, str]] = []
                for dn in chunk:
                    try:
                        found.extend(self._search_once(conn, dn, filt, attributes, "BASE"))
                    except _LOST:
                        raise
                    except _Failed as exc:
                        if exc.code == 34:  # invalidDNSyntax: the server does not take it as a DN
                            invalid.append((dn, "l'annuaire ne le reconnaît pas comme un DN"))
                        elif exc.code != 32:  # noSuchObject: points nowhere
                            raise
                    except lx.LDAPInvalidDnError as exc:  # ldap3 refuses it before sending
                        invalid.append((dn, f"refusé par ldap3 ({exc})"))
                return found, invalid

            entries, invalid = await self._run(read, "lecture d'entrées par DN")
            result.invalid.extend(invalid)
            for dn, attrs in entries:
                key = dn_key_or_none(dn)
                if key is not None:
                    result.entries[key] = (dn, attrs)
        return result

    async def count_by_target(self) -> ProfileCounts:
        counts = ProfileCounts()
        pages = self.iter_perimeter(None, ["objectClass", "ENTPersonProfils"], prefetch=True, by_school=True)
        async for page in pages:
            for _dn, attrs in page:
                a = {k.lower(): v for k, v in attrs.items()}
                counts.add(
                    resolve_target(a.get("entpersonprofils", []), a.get("objectclass", []), self._ent.profile_source)
                )
        return counts

    async def groups(self) -> list[Group]:
        """Classes and groups of the périmètre (cn ``<UAI>$<name>``), sorted by cn."""
        if not self._ent.uai:
            return []
        filt = lf.and_(
            lf.or_(lf.eq("objectClass", "ENTClasse"), lf.eq("objectClass", "ENTGroupe")),
            lf.or_(*(lf.startswith("cn", f"{uai}$") for uai in self._ent.uai)),
        )
        entries = await self.search_all(self._ldap.groups_dn or self._ldap.base_dn, filt, GROUP_ATTRIBUTES)
        return sorted((group_from_entry(dn, attrs) for dn, attrs in entries), key=lambda g: (g.cn.lower(), g.dn))
