"""Coherence checks of the directory ("Rapports de cohérence"): pure logic, no I/O.

The analyser is fed pages of raw directory entries (structures, groups, people: the whole
branches, not only the périmètre, so that "points nowhere" and "duplicate" are judged against the
whole directory), optionally Moodle's users, and gives one :class:`CheckResult` per check. Findings
are limited to what concerns the périmètre: people attached to one of its schools (or attached to
no existing school at all), and groups of its schools (or groups of no school, such as role groups).
Each finding carries the UAI of its entry (a person's attachment school, a group's school from its
cn ``<UAI>$<name>``; empty when unknown), so that the report can be read school by school.

Built for a region (a million people): structures, then groups, then people, page by page. The
checks that need one person only (attachment, class of the school, profile, mail, activation) run
as the person arrives, so that they overlap the read of the next page; what a person leaves behind
is a few columns (DN, login, name, UAI, flags) and its parent ↔ child links, resolved at once when
the other end is already known. :meth:`results` then only resolves what is left (links, group
members, duplicates) and sorts.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from enttui.domain.attributes import COHERENCE_PERSON_ATTRIBUTES
from enttui.domain.coherence_checks import CHECKS, CheckResult, Finding, MoodleAccount
from enttui.domain.dn import DnKeys, lookup_key
from enttui.domain.folding import fold_accents
from enttui.domain.french import plural
from enttui.domain.people import (
    CLASS_TARGETS,
    PROFILE_TARGETS,
    Group,
    Structure,
    Target,
    format_ldap_time,
    group_from_entry,
    resolve_target,
    structure_from_entry,
)
from enttui.domain.usernames import UsernameRule

Entry = tuple[str, Mapping[str, Sequence[str]]]

# Bits of a person's flags.
_CONCERNED, _STUDENT, _PARENT, _MAJEUR, _HAS_PARENT, _HAS_CHILD = 1, 2, 4, 8, 16, 32
_EMPTY: tuple[str, ...] = ()
_TARGETS: tuple[Target, ...] = tuple(Target)
_TARGET_CODES: dict[Target, int] = {t: i for i, t in enumerate(_TARGETS)}
_PROFILE_DETAIL = {t: f"profil {t.label}" for t in Target}
_MOODLE_DETAIL = {t: f"profil {t.label}, pas de compte Moodle" for t in Target}
_CACHE_MAX = 200_000  # entries of the per-value caches (structure DNs, class values) before a reset


# The person attributes the checks use, spelled as they are asked for (domain/attributes.py).
_SPELLED = frozenset((*COHERENCE_PERSON_ATTRIBUTES, "pwdReset"))


def _targets_of_classes(lowered: frozenset[str]) -> set[Target]:
    return {t for cls, t in CLASS_TARGETS if cls in lowered}


def _profile_target(profils: Iterable[str]) -> Target | None:
    for code in profils:
        target = PROFILE_TARGETS.get(code.strip())
        if target is not None:
            return target
    return None


@lru_cache(maxsize=4096)
def _person_kind(profils: tuple[str, ...], classes: tuple[str, ...], prefer: str) -> tuple[Target, int, str | None]:
    """(target, student/parent flags, contradiction detail) of a profile and object-class combination."""
    lowered = frozenset(c.lower() for c in classes)
    flags = (_STUDENT if "enteleve" in lowered else 0) | (_PARENT if "entauxpersreleleve" in lowered else 0)
    target = resolve_target(profils, lowered, prefer)
    contradiction = None
    by_profile = _profile_target(profils)
    if by_profile is not None:
        by_classes = _targets_of_classes(lowered)
        if by_classes and by_profile not in by_classes:
            labels = ", ".join(sorted(t.label for t in by_classes))
            contradiction = f"profil {', '.join(profils)} ({by_profile.label}) ; classes d'objet : {labels}"
    return target, flags, contradiction


@lru_cache(maxsize=65536)
def _name_key(text: str) -> str:
    return " ".join(fold_accents(text.casefold()).replace("-", " ").split())


def _shared_lower(text: str) -> str:
    """``text.lower()``, the same object when already lower case (a million logins are kept)."""
    low = text.lower()
    return text if low == text else low


def _created(raw: str) -> datetime | None:
    """``20261121083000Z`` → aware datetime (the fast path of ``parse_ldap_time``), or None."""
    try:
        return datetime(
            int(raw[0:4]), int(raw[4:6]), int(raw[6:8]), int(raw[8:10]), int(raw[10:12]), int(raw[12:14]), tzinfo=UTC
        )
    except ValueError:
        return None


class CoherenceAnalyzer:
    """Feed it the structures, then the groups, then the people (page by page), then call :meth:`results`.

    Moodle's users (:meth:`set_moodle`) may come at any time before :meth:`results`.
    """

    def __init__(
        self,
        *,
        perimeter_uais: Iterable[str] | None = None,
        now: datetime,
        never_activated_days: int = 30,
        prefer: str = "profils",
        inactive_attribute: str = "pwdReset",
        inactive_value: str = "TRUE",
        synced_targets: Iterable[str] | None = None,
        usernames: UsernameRule | None = None,
        expect_moodle: bool = True,
    ) -> None:
        """``expect_moodle=False``: Moodle's users will most likely not come (not configured, not asked
        for): the Moodle usernames of the logins are then computed only if they do."""
        self.perimeter = {u.upper() for u in perimeter_uais} if perimeter_uais is not None else None
        self.usernames = usernames or UsernameRule()  # ENT login → Moodle username, as the sync writes it
        self.now = now
        self.never_activated_days = never_activated_days
        self._cutoff = format_ldap_time(now - timedelta(days=never_activated_days))[:14]
        self.prefer = prefer
        self.inactive_attribute = inactive_attribute
        self.inactive_value = inactive_value.upper()
        self.synced_targets = set(synced_targets) if synced_targets is not None else {t.value for t in Target}
        self.structures: list[Structure] = []
        self.groups: list[Group] = []
        self.moodle_users: list[MoodleAccount] | None = None
        self.moodle_usernames: set[str] = set()
        self.moodle_skipped = "Moodle n'est pas configuré."
        self.out = {spec.id: CheckResult(spec) for spec in CHECKS}
        self._keys = DnKeys()
        # Attribute names: lower case → the spelling the checks use (for servers that spell them otherwise).
        self._inactive_name = inactive_attribute
        self._spelled = _SPELLED | {inactive_attribute}
        self._spellings = {n.lower(): n for n in self._spelled}
        # structures
        self._struct_by_key: dict[str, Structure] = {}  # DN key → structure
        self._uai_by_id: dict[str, str] = {}  # UAI / jointure / SIREN (upper) → UAI
        self._struct_of_value: dict[str, Structure | None] = {}  # a DN as spelled → its structure
        # groups
        self._group_keys: dict[str, int] = {}  # DN key → index in self.groups
        self._group_dns: set[str] = set()  # as the server spells them
        self._class_keys: set[tuple[str, str]] = set()
        self._class_of_value: dict[tuple[str, str], str | None] = {}  # (class value, person's UAI) → detail
        # people: columns, one row per person
        self._dn: list[str] = []
        self._login: list[str] = []
        self._name: list[str] = []
        self._uai: list[str] = []
        self._flags = bytearray()
        # DN as the server spells it → row. Links and members nearly always spell a DN the same way;
        # the comparison keys (domain/dn.py) of every person are computed only when one does not.
        self._index: dict[str, int] = {}
        self._key_index: dict[str, int] | None = None
        self._targets = bytearray()  # index in _TARGETS
        # Links not resolved yet: row * 64 + the kind of the other end, and the value as spelled.
        self._pending_rows = array("q")
        self._pending_values: list[str] = []
        self._logins: dict[str, int] = {}  # login (lower) → first row
        self._jointures: dict[str, int] = {}
        self._births: dict[str, int] = {}
        self._dups: dict[str, dict[str, list[int]]] = {"login": {}, "jointure": {}, "birth": {}}
        self._other_usernames: set[str] = set()  # Moodle usernames of logins that the rule changes
        self._expect_moodle = expect_moodle
        self._moodle_missing: list[int] = []  # rows without a Moodle account (known once Moodle is read)
        self._moodle_rows: list[int] = []  # rows to check against Moodle when its users come
        self._detail_cache: dict[tuple[int, int, int, int, bool], str] = {}
        self._offsets: dict[str, timedelta] = {}  # hour of creation (UTC) → the local zone's offset
        self._results: list[CheckResult] | None = None

    @property
    def people_count(self) -> int:
        return len(self._dn)

    # -- feeding -----------------------------------------------------------------------------
    def add_structures(self, entries: Iterable[Entry]) -> None:
        for dn, attrs in entries:
            s = structure_from_entry(dn, attrs)
            self.structures.append(s)
            self._struct_by_key[lookup_key(dn)] = s
            for key in (s.uai, s.jointure, s.siren):
                if key:
                    self._uai_by_id[key.upper()] = s.uai.upper()
        self._struct_of_value.clear()

    def add_groups(self, entries: Iterable[Entry]) -> None:
        for dn, attrs in entries:
            g = group_from_entry(dn, attrs)
            self._group_keys[lookup_key(dn)] = len(self.groups)
            self._group_dns.add(dn)
            self.groups.append(g)
            if g.kind == "classe" and g.uai:
                self._class_keys.add((g.uai.upper(), g.name.strip().lower()))
        self._class_of_value.clear()

    def _structure(self, value: str) -> Structure | None:
        cache = self._struct_of_value
        try:
            return cache[value]
        except KeyError:
            if len(cache) > _CACHE_MAX:
                cache.clear()
            s = cache[value] = self._struct_by_key.get(lookup_key(value))
            return s

    def add_people(self, entries: Iterable[Entry]) -> None:
        perimeter = self.perimeter
        prefer = self.prefer
        index = self._index
        dns, logins, full_names, uais, flags_col = self._dn, self._login, self._name, self._uai, self._flags
        targets_col = self._targets
        structure = self._structure
        first_login, first_jointure, first_birth = self._logins, self._jointures, self._births
        inactive_attr, inactive_value = self._inactive_name, self.inactive_value
        synced = self.synced_targets
        username = self.usernames.username
        expect_moodle = self._expect_moodle
        moodle = self.moodle_usernames if self.moodle_users is not None else None
        add = self._add
        dup = self._dup
        spelled, canonical = self._spelled, self._canonical
        intern = sys.intern
        for dn, attrs in entries:
            # The server spells attribute names as the schema does, which is how they are asked for;
            # any other spelling is translated (once per entry, only then).
            get = attrs.get if attrs.keys() <= spelled else {canonical(k): v for k, v in attrs.items()}.get
            row = len(dns)
            v = get("ENTPersonLogin")
            login = v[0] if v else ""
            v = get("sn")
            sn = v[0] if v else ""
            v = get("givenName")
            given = v[0] if v else ""
            name = f"{sn} {given}" if sn and given else sn or given
            if not name:
                v = get("displayName")
                name = (v[0] if v else "") or login
            target, flags, contradiction = _person_kind(
                tuple(get("ENTPersonProfils") or _EMPTY), tuple(get("objectClass") or _EMPTY), prefer
            )
            # Attachment: the school (its UAI), whether it is of the périmètre.
            struct_dns = get("ENTPersonStructRattach") or _EMPTY
            uai = ""
            found = attached = False
            for sdn in struct_dns:
                st = structure(sdn)
                if st is not None:
                    found = True
                    in_perimeter = perimeter is None or st.uai.upper() in perimeter
                    if not uai or (in_perimeter and not attached):
                        uai = intern(st.uai.upper())
                    attached = attached or in_perimeter
            concerned = attached or not found
            if concerned:
                flags |= _CONCERNED
            v = get("ENTEleveMajeur")
            if v and v[0].upper() == "O":
                flags |= _MAJEUR
            index.setdefault(dn, row)
            if self._key_index is not None:
                self._key_index.setdefault(self._keys(dn), row)
            dns.append(dn)
            logins.append(login)
            full_names.append(name)
            uais.append(uai)
            flags_col.append(flags)
            targets_col.append(_TARGET_CODES[target])
            if not found:
                detail = "aucun établissement de rattachement"
                if struct_dns:
                    detail = "introuvable : " + ", ".join(struct_dns)
                add("dangling_struct", dn, login, name, uai, detail)
            # Duplicates (the whole directory; reported in results() when one of them is concerned).
            if login:
                login_key = _shared_lower(login)
                if first_login.setdefault(login_key, row) != row:
                    dup("login", first_login, login_key, row)
                if expect_moodle:
                    name_in_moodle = username(login)[0]
                    if name_in_moodle != login_key:
                        self._other_usernames.add(name_in_moodle)
                    if concerned and target.value in synced:
                        if moodle is None:
                            self._moodle_rows.append(row)
                        elif name_in_moodle not in moodle:
                            self._moodle_missing.append(row)
            for j in get("ENTPersonJointure") or _EMPTY:
                j = j.strip().upper()
                if j and first_jointure.setdefault(j, row) != row:
                    dup("jointure", first_jointure, j, row)
            v = get("ENTPersonDateNaissance")
            if v and sn:
                birth = v[0].strip()
                if birth:
                    key = f"{_name_key(sn)}|{_name_key(given)}|{birth}"
                    if first_birth.setdefault(key, row) != row:
                        dup("birth", first_birth, key, row)
            # Parent <-> child links: resolved now when the other end is known, else in results().
            if flags & _STUDENT:
                links = get("ENTEleveParents") or _EMPTY
                rels = get("ENTElevePersRelEleve")
                if rels:
                    links = [*links, *(r.split("$", 1)[0].strip() for r in rels)]
                if links:
                    self._link(row, links, _PARENT)
            if flags & _PARENT:
                self._link(row, get("ENTAuxPersRelEleveEleve") or _EMPTY, _STUDENT)
            if not concerned:
                continue
            # The checks of one person.
            if flags & _STUDENT:
                for value in get("ENTEleveClasses") or _EMPTY:
                    problem = self._class_problem(value, struct_dns)
                    if problem is not None:
                        add("class_not_in_school", dn, login, name, uai, problem)
            if contradiction is not None:
                add("profile_contradiction", dn, login, name, uai, contradiction)
            if target.gets_ent_credentials:
                v = get("mail")
                if not v or not v[0].strip():
                    add("no_mail", dn, login, name, uai, _PROFILE_DETAIL[target])
            v = get("createTimestamp")
            if v and v[0][:14] <= self._cutoff:
                has_password = bool(get("userPassword"))
                inactive = get(inactive_attr)
                if not has_password or (inactive and any(x.upper() == inactive_value for x in inactive)):
                    late = self._never_activated(v[0], has_password)
                    if late is not None:
                        add("never_activated", dn, login, name, uai, late)

    def _canonical(self, name: str) -> str:
        return self._spellings.get(name.lower(), name)

    def _add(self, check: str, dn: str, login: str, name: str, uai: str, detail: str) -> None:
        self.out[check].findings.append(Finding(dn, login, name, detail, uai))

    def _dup(self, kind: str, first: dict[str, int], key: str, row: int) -> None:
        """``row`` has a ``key`` that ``first[key]`` had before it."""
        rows = self._dups[kind].setdefault(key, [first[key]])
        if rows[-1] != row:
            rows.append(row)

    def _link(self, row: int, values: Iterable[str], other: int) -> None:
        """Links of ``row`` (a student's parents or a parent's children) to people of kind ``other``."""
        index, flags = self._index, self._flags
        for value in values:
            j = index.get(value)
            if j is None:  # not read yet, spelled otherwise, or nowhere: results() will tell
                self._pending_rows.append(row * 64 + other)
                self._pending_values.append(value)
            elif flags[j] & other:
                flags[row] |= _HAS_PARENT if other == _PARENT else _HAS_CHILD
                flags[j] |= _HAS_CHILD if other == _PARENT else _HAS_PARENT

    def _row_of(self, value: str) -> int | None:
        """The person a DN names, however it is spelled (None: nobody)."""
        row = self._index.get(value)
        if row is not None:
            return row
        if self._key_index is None:
            keys = self._keys
            by_key: dict[str, int] = {}
            for i, dn in enumerate(self._dn):
                by_key.setdefault(keys(dn), i)
            self._key_index = by_key
        return self._key_index.get(self._keys(value))

    def _class_problem(self, value: str, struct_dns: Sequence[str]) -> str | None:
        """Why a student's class value names no class of its school (None when it does)."""
        prefix, _, name = value.rpartition("$")
        cache_key = (value, "" if prefix else "|".join(struct_dns))
        cache = self._class_of_value
        if cache_key in cache:
            return cache[cache_key]
        if len(cache) > _CACHE_MAX:
            cache.clear()
        uai = self._school_of(prefix, struct_dns)
        if uai is None:
            detail: str | None = f"classe « {name} » d'un établissement inconnu ({prefix or '—'})"
        elif (uai, name.strip().lower()) not in self._class_keys:
            detail = f"classe « {name} » absente de l'établissement {uai}"
        else:
            detail = None
        cache[cache_key] = detail
        return detail

    def _school_of(self, prefix: str, struct_dns: Sequence[str]) -> str | None:
        if prefix:
            s = self._structure(prefix)
            if s is not None:
                return s.uai.upper()
            return self._uai_by_id.get(prefix.strip().upper())
        for sdn in struct_dns:
            s = self._structure(sdn)
            if s is not None:
                return s.uai.upper()
        return None

    def _never_activated(self, created_raw: str, has_password: bool) -> str | None:
        created = _created(created_raw)
        if created is None:
            return None
        days = (self.now - created).days
        # The local day: the zone's offset is the same within an hour (kept per hour of creation).
        hour = created_raw[:10]
        offset = self._offsets.get(hour)
        if offset is None:
            if len(self._offsets) > _CACHE_MAX:
                self._offsets.clear()
            offset = self._offsets[hour] = created.astimezone().utcoffset() or timedelta(0)
        local = created + offset
        cache_key = (local.year, local.month, local.day, days, has_password)
        detail = self._detail_cache.get(cache_key)
        if detail is None:
            detail = f"créé le {local.day:02d}/{local.month:02d}/{local.year}, non activé depuis {days} jours"
            if not has_password:
                detail += " (aucun mot de passe)"
            if len(self._detail_cache) > _CACHE_MAX:
                self._detail_cache.clear()
            self._detail_cache[cache_key] = detail
        return detail

    def set_moodle(self, users: Iterable[MoodleAccount], all_usernames: Iterable[str]) -> None:
        """Moodle's active users of the sync's auth, and every non-deleted username."""
        self.moodle_users = list(users)
        self.moodle_usernames = {u.lower() for u in all_usernames}
        self.moodle_skipped = ""

    def moodle_failed(self, reason: str) -> None:
        self.moodle_users = None
        self.moodle_skipped = reason
        self._moodle_missing.clear()

    # -- analysis ----------------------------------------------------------------------------
    def results(self) -> list[CheckResult]:
        """One result per check (computed once: the analyser is spent afterwards)."""
        if self._results is not None:
            return self._results
        out = self.out
        flags = self._flags
        dns = self._dn

        def finding(row: int, detail: str) -> Finding:
            return Finding(dns[row], self._login[row], self._name[row], detail, self._uai[row])

        # Links whose other end came later (or never).
        told: set[tuple[int, str]] = set()
        for code, value in zip(self._pending_rows, self._pending_values, strict=True):
            row, other = divmod(code, 64)
            j = self._row_of(value)
            student = other == _PARENT  # the link of a student to a parent
            if j is None:
                told_key = (row, self._keys(value))
                if told_key in told:  # the same missing DN twice (ENTEleveParents and ENTElevePersRelEleve)
                    continue
                told.add(told_key)
                if flags[row] & _CONCERNED:
                    check, what = ("dangling_parent", "parent") if student else ("dangling_child", "enfant")
                    out[check].findings.append(finding(row, f"{what} introuvable : {value}"))
            elif student and flags[j] & _PARENT:
                flags[row] |= _HAS_PARENT
                flags[j] |= _HAS_CHILD
            elif not student and flags[j] & _STUDENT:
                flags[row] |= _HAS_CHILD
                flags[j] |= _HAS_PARENT
        self._pending_rows, self._pending_values = array("q"), []
        for row, f in enumerate(flags):
            if not f & _CONCERNED:
                continue
            if f & _STUDENT and not f & _HAS_PARENT:
                detail = "aucun responsable lié" + (" (élève majeur)" if f & _MAJEUR else "")
                out["student_without_parent"].findings.append(finding(row, detail))
            if f & _PARENT and not f & _HAS_CHILD:
                out["parent_without_child"].findings.append(finding(row, "aucun élève existant lié"))

        self._groups(out)
        self._duplicates(out["duplicate_login"], "login")
        self._duplicates(out["duplicate_jointure"], "jointure")
        self._duplicates(out["same_name_birthdate"], "birth")
        self._moodle(out)
        for result in out.values():
            if result.id not in ("duplicate_login", "duplicate_jointure", "same_name_birthdate"):
                result.findings.sort(key=_finding_order)
        self._results = [out[spec.id] for spec in CHECKS]
        return self._results

    def _groups(self, out: dict[str, CheckResult]) -> None:
        """Group members that point nowhere, empty classes."""
        group_keys, structures, perimeter = self._group_keys, self._struct_by_key, self.perimeter
        index, group_dns, keys_of = self._index, self._group_dns, self._keys
        for g in self.groups:
            uai = g.uai.upper()
            if perimeter is not None and uai and uai not in perimeter:
                continue
            own = lookup_key(g.dn)
            missing: list[str] = []
            existing = False  # members that count: people and nested groups (not the group itself)
            for m in g.members:
                if m in index:
                    existing = True
                    continue
                if m == g.dn:
                    continue
                if m in group_dns:
                    existing = True
                    continue
                if self._row_of(m) is not None:
                    existing = True
                    continue
                k = keys_of(m)
                if k in group_keys:
                    existing = existing or k != own
                elif k not in structures:
                    missing.append(m)
            if missing:
                shown = ", ".join(missing[:2]) + (f" (+{len(missing) - 2})" if len(missing) > 2 else "")
                label = plural(len(missing), "membre introuvable", "membres introuvables")
                out["dangling_member"].findings.append(Finding(g.dn, "", g.cn, f"{label} : {shown}", uai))
            if g.kind in ("classe", "groupe") and not existing:
                detail = f"aucun membre existant ({plural(len(missing), 'introuvable')})" if missing else "aucun membre"
                out["empty_class"].findings.append(Finding(g.dn, "", g.cn, detail, uai))

    def _duplicates(self, result: CheckResult, kind: str) -> None:
        flags, dns, logins, names = self._flags, self._dn, self._login, self._name
        groups = [(key, rows) for key, rows in self._dups[kind].items() if any(flags[r] & _CONCERNED for r in rows)]
        groups.sort(key=lambda item: item[0])
        seen: set[int] = set()
        for key, rows in groups:
            # Within a group, a stable order whatever order the directory returned the entries in.
            rows = sorted(rows, key=lambda j: (names[j].casefold(), dns[j].lower()))
            for i in rows:
                if i in seen:
                    continue
                seen.add(i)
                others = [j for j in rows if j != i]
                shown = ", ".join(f"{names[o]} ({logins[o] or dns[o]})" for o in others[:3])
                more = f" (+{len(others) - 3})" if len(others) > 3 else ""
                if kind == "login":
                    detail = f"« {logins[i]} » aussi porté par : {shown}{more}"
                elif kind == "jointure":
                    detail = f"jointure « {key} » aussi sur : {shown}{more}"
                else:
                    detail = f"né(e) le {key.rsplit('|', 1)[1]}, comme : {shown}{more}"
                result.findings.append(Finding(dns[i], logins[i], names[i], detail, self._uai[i]))

    def _moodle(self, out: dict[str, CheckResult]) -> None:
        a, b = out["moodle_not_in_directory"], out["directory_not_in_moodle"]
        if self.moodle_users is None:
            a.skipped = b.skipped = self.moodle_skipped
            return
        username, moodle = self.usernames.username, self.moodle_usernames
        logins, others = self._logins, self._other_usernames
        rows: Iterable[int] = self._moodle_rows
        if not self._expect_moodle:  # nothing was prepared while the people came: everything now
            others.update(username(login)[0] for login in self._login if login)
            synced = {code for t, code in _TARGET_CODES.items() if t.value in self.synced_targets}
            flags, targets, row_logins = self._flags, self._targets, self._login
            rows = (r for r, f in enumerate(flags) if f & _CONCERNED and row_logins[r] and targets[r] in synced)
        for u in self.moodle_users:
            low = u.username.lower()
            if u.suspended or low in logins or low in others:
                continue
            name = " ".join(x for x in (u.lastname, u.firstname) if x)
            a.findings.append(Finding("", u.username, name, f"compte Moodle n° {u.id} (auth {u.auth})", ""))
        missing = self._moodle_missing
        missing.extend(r for r in rows if username(self._login[r])[0] not in moodle)
        for row in missing:
            detail = _MOODLE_DETAIL[_TARGETS[self._targets[row]]]
            b.findings.append(Finding(self._dn[row], self._login[row], self._name[row], detail, self._uai[row]))


def _finding_order(f: Finding) -> tuple[str, str, str]:
    return (f.name.casefold(), f.login.casefold(), f.dn.lower())
