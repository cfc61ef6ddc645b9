"""Coherence checks of the directory ("Rapports de cohérence"): pure logic, no I/O.

The analyser is fed pages of raw directory entries (structures, groups, people: the whole
branches, not only the périmètre, so that "points nowhere" and "duplicate" are judged against the
whole directory), optionally Moodle's users, and gives one :class:`CheckResult` per check. Findings
are limited to what concerns the périmètre: people attached to one of its schools (or attached to
no existing school at all), and groups of its schools (or groups of no school, such as role groups).

Everything is a single pass over the entries plus dict/set lookups on lower-cased DNs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from enttui.domain.coherence_checks import (
    CHECKS,
    CheckResult,
    Finding,
    MoodleAccount,
)
from enttui.domain.dn import lookup_key
from enttui.domain.folding import fold_accents
from enttui.domain.french import plural
from enttui.domain.people import (
    Group,
    Structure,
    Target,
    format_ldap_time,
    group_from_entry,
    parse_ldap_time,
    resolve_target,
    structure_from_entry,
)
from enttui.domain.usernames import UsernameRule

Entry = tuple[str, Mapping[str, Sequence[str]]]


def _first(attrs: Mapping[str, Sequence[str]], name: str) -> str:
    values = attrs.get(name)
    return str(values[0]) if values else ""


def _targets_of_classes(object_classes: Iterable[str]) -> set[Target]:
    from enttui.domain.people import CLASS_TARGETS

    lowered = {c.lower() for c in object_classes}
    return {t for cls, t in CLASS_TARGETS if cls in lowered}


@lru_cache(maxsize=4096)
def _contradiction(profils: tuple[str, ...], classes: frozenset[str]) -> str | None:
    """The French detail when the profile says one population and the object classes another."""
    by_profile = _profile_target(profils)
    if by_profile is None:
        return None
    by_classes = _targets_of_classes(classes)
    if not by_classes or by_profile in by_classes:
        return None
    labels = ", ".join(sorted(t.label for t in by_classes))
    return f"profil {', '.join(profils)} ({by_profile.label}) ; classes d'objet : {labels}"


def _profile_target(profils: Iterable[str]) -> Target | None:
    from enttui.domain.people import PROFILE_TARGETS

    for code in profils:
        target = PROFILE_TARGETS.get(code.strip())
        if target is not None:
            return target
    return None


@lru_cache(maxsize=65536)
def _name_key(text: str) -> str:
    return " ".join(fold_accents(text.casefold()).replace("-", " ").split())


class _Rec:
    """What the checks need of one person (lighter than :class:`Person`: 100,000 of them are kept)."""

    __slots__ = (
        "activated",
        "birth_date",
        "child_dns",
        "classes_lower",
        "created_raw",
        "display_name",
        "dn",
        "given_name",
        "has_password",
        "jointures",
        "login",
        "mail",
        "parent_dns",
        "profils",
        "raw_classes",
        "sn",
        "struct_dns",
        "target",
    )  # fmt: skip

    dn: str
    login: str
    sn: str
    given_name: str
    display_name: str
    mail: str
    jointures: Sequence[str]
    profils: tuple[str, ...]
    classes_lower: frozenset[str]
    target: Target
    struct_dns: Sequence[str]
    parent_dns: list[str]
    child_dns: Sequence[str]
    raw_classes: Sequence[str]
    birth_date: str
    activated: bool
    has_password: bool
    created_raw: str

    @property
    def object_classes(self) -> frozenset[str]:
        return self.classes_lower

    @property
    def full_name(self) -> str:
        return " ".join(x for x in (self.sn, self.given_name) if x) or self.display_name or self.login

    @property
    def created(self) -> datetime | None:
        return parse_ldap_time(self.created_raw)


_EMPTY: tuple[str, ...] = ()


@lru_cache(maxsize=4096)
def _classes_key(classes: tuple[str, ...]) -> frozenset[str]:
    return frozenset(c.lower() for c in classes)


@lru_cache(maxsize=4096)
def _target_of(profils: tuple[str, ...], classes: frozenset[str], prefer: str) -> Target:
    return resolve_target(profils, classes, prefer)


class CoherenceAnalyzer:
    """Feed it entries page by page (any order), then call :meth:`results`."""

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
    ) -> None:
        self.perimeter = {u.upper() for u in perimeter_uais} if perimeter_uais is not None else None
        self.usernames = usernames or UsernameRule()  # ENT login → Moodle username, as the sync writes it
        self.now = now
        self.never_activated_days = never_activated_days
        self.prefer = prefer
        self.inactive_attribute = inactive_attribute
        self.inactive_value = inactive_value
        self.synced_targets = set(synced_targets) if synced_targets is not None else {t.value for t in Target}
        self.structures: list[Structure] = []
        self.groups: list[Group] = []
        self.people: list[_Rec] = []
        self._majeur: set[int] = set()  # indexes of adult students
        self.moodle_users: list[MoodleAccount] | None = None
        self.moodle_usernames: set[str] = set()
        self.moodle_skipped = "Moodle n'est pas configuré."

    # -- feeding -----------------------------------------------------------------------------
    def add_structures(self, entries: Iterable[Entry]) -> None:
        self.structures.extend(structure_from_entry(dn, attrs) for dn, attrs in entries)

    def add_groups(self, entries: Iterable[Entry]) -> None:
        self.groups.extend(group_from_entry(dn, attrs) for dn, attrs in entries)

    def add_people(self, entries: Iterable[Entry]) -> None:
        prefer = self.prefer
        inactive_attr = self.inactive_attribute.lower()
        inactive_value = self.inactive_value.upper()
        people = self.people
        for dn, attrs in entries:
            a = {k.lower(): v for k, v in attrs.items()}
            get = a.get
            r = _Rec()
            r.dn = dn
            r.login = _first(a, "entpersonlogin")
            r.sn = _first(a, "sn")
            r.given_name = _first(a, "givenname")
            r.display_name = _first(a, "displayname")
            r.mail = _first(a, "mail")
            r.jointures = get("entpersonjointure") or _EMPTY
            r.profils = tuple(get("entpersonprofils") or _EMPTY)
            r.classes_lower = _classes_key(tuple(get("objectclass") or _EMPTY))
            r.target = _target_of(r.profils, r.classes_lower, prefer)
            r.struct_dns = get("entpersonstructrattach") or _EMPTY
            parents = list(get("enteleveparents") or _EMPTY)
            rels = get("entelevepersreleleve")
            if rels:
                known = {lookup_key(x) for x in parents}
                for rel in rels:
                    pdn = rel.split("$", 1)[0].strip()
                    if pdn and lookup_key(pdn) not in known:
                        known.add(lookup_key(pdn))
                        parents.append(pdn)
            r.parent_dns = parents
            r.child_dns = get("entauxpersreleleveeleve") or _EMPTY
            r.raw_classes = get("enteleveclasses") or _EMPTY
            r.birth_date = _first(a, "entpersondatenaissance").strip()
            inactive = get(inactive_attr)
            r.has_password = bool(get("userpassword"))
            r.activated = r.has_password and (not inactive or all(v.upper() != inactive_value for v in inactive))
            r.created_raw = _first(a, "createtimestamp")
            if _first(a, "entelevemajeur").upper() == "O":
                self._majeur.add(len(people))
            people.append(r)

    def set_moodle(self, users: Iterable[MoodleAccount], all_usernames: Iterable[str]) -> None:
        """Moodle's active users of the sync's auth, and every non-deleted username."""
        self.moodle_users = list(users)
        self.moodle_usernames = {u.lower() for u in all_usernames}
        self.moodle_skipped = ""

    def moodle_failed(self, reason: str) -> None:
        self.moodle_users = None
        self.moodle_skipped = reason

    # -- analysis ----------------------------------------------------------------------------
    def results(self) -> list[CheckResult]:
        out = {spec.id: CheckResult(spec) for spec in CHECKS}
        people = self.people
        structs_by_dn = {lookup_key(s.dn): s for s in self.structures}
        struct_by_key: dict[str, str] = {}  # UAI / jointure / SIREN -> UAI
        for s in self.structures:
            for key in (s.uai, s.jointure, s.siren):
                if key:
                    struct_by_key[key.upper()] = s.uai.upper()
        person_dns = [lookup_key(p.dn) for p in people]
        person_index = {d: i for i, d in enumerate(person_dns)}
        group_dns = {lookup_key(g.dn) for g in self.groups}
        all_dns = set(person_index) | structs_by_dn.keys() | group_dns
        perimeter = self.perimeter

        # Which people concern the périmètre.
        concerned = [False] * len(people)
        for i, p in enumerate(people):
            found = False
            attached = False
            for sdn in p.struct_dns:
                struct = structs_by_dn.get(lookup_key(sdn))
                if struct is not None:
                    found = True
                    if perimeter is None or struct.uai.upper() in perimeter:
                        attached = True
            concerned[i] = attached or not found
            if not found:
                detail = (
                    "aucun établissement de rattachement"
                    if not p.struct_dns
                    else "introuvable : " + ", ".join(p.struct_dns)
                )
                out["dangling_struct"].findings.append(_finding(p, detail))

        # Duplicates (judged on the whole directory, reported when one of them is concerned).
        self._duplicates(out["duplicate_login"], concerned, lambda p: [p.login.lower()] if p.login else [], "login")
        self._duplicates(
            out["duplicate_jointure"],
            concerned,
            lambda p: list(dict.fromkeys(j.strip().upper() for j in p.jointures if j.strip())),
            "jointure",
        )
        self._duplicates(
            out["same_name_birthdate"],
            concerned,
            lambda p: (
                [f"{_name_key(p.sn)}|{_name_key(p.given_name)}|{p.birth_date.strip()}"]
                if p.birth_date.strip() and p.sn
                else []
            ),
            "birth",
        )

        # Parent <-> child links.
        student_flags = [_has_class(p, "enteleve") for p in people]
        parent_flags = [_has_class(p, "entauxpersreleleve") for p in people]
        has_parent = [False] * len(people)
        has_child = [False] * len(people)
        for i, p in enumerate(people):
            if student_flags[i]:
                for pdn in p.parent_dns:
                    j = person_index.get(lookup_key(pdn))
                    if j is None:
                        if concerned[i]:
                            out["dangling_parent"].findings.append(_finding(p, f"parent introuvable : {pdn}"))
                    elif parent_flags[j]:
                        has_parent[i] = True
                        has_child[j] = True
            if parent_flags[i]:
                for cdn in p.child_dns:
                    j = person_index.get(lookup_key(cdn))
                    if j is None:
                        if concerned[i]:
                            out["dangling_child"].findings.append(_finding(p, f"enfant introuvable : {cdn}"))
                    elif student_flags[j]:
                        has_child[i] = True
                        has_parent[j] = True
        for i, p in enumerate(people):
            if not concerned[i]:
                continue
            if student_flags[i] and not has_parent[i]:
                detail = "aucun responsable lié" + (" (élève majeur)" if i in self._majeur else "")
                out["student_without_parent"].findings.append(_finding(p, detail))
            if parent_flags[i] and not has_child[i]:
                out["parent_without_child"].findings.append(_finding(p, "aucun élève existant lié"))

        # Groups: members that point nowhere, empty classes.
        class_keys: set[tuple[str, str]] = set()
        for g in self.groups:
            if g.kind == "classe" and g.uai:
                class_keys.add((g.uai.upper(), g.name.strip().lower()))
            if perimeter is not None and g.uai and g.uai.upper() not in perimeter:
                continue
            own = lookup_key(g.dn)
            normed = [lookup_key(m) for m in g.members]
            missing = [m for m, n in zip(g.members, normed, strict=True) if n not in all_dns]
            # Members that count: people and nested groups (not the group itself, a usual placeholder).
            existing = sum(1 for n in normed if n != own and (n in person_index or n in group_dns))
            if missing:
                shown = ", ".join(missing[:2]) + (f" (+{len(missing) - 2})" if len(missing) > 2 else "")
                out["dangling_member"].findings.append(
                    Finding(
                        g.dn,
                        "",
                        g.cn,
                        f"{plural(len(missing), 'membre introuvable', 'membres introuvables')} : {shown}",
                    )
                )
            if g.kind in ("classe", "groupe") and existing == 0:
                detail = f"aucun membre existant ({plural(len(missing), 'introuvable')})" if missing else "aucun membre"
                out["empty_class"].findings.append(Finding(g.dn, "", g.cn, detail))

        # Students' classes, profiles, mail, activation.
        cutoff_raw = format_ldap_time(self.now - timedelta(days=self.never_activated_days))[:14]
        for i, p in enumerate(people):
            if not concerned[i]:
                continue
            raw = p.raw_classes
            if raw and student_flags[i]:
                for value in raw:
                    prefix, _, name = value.rpartition("$")
                    uai = self._school_of(prefix, p, structs_by_dn, struct_by_key)
                    if uai is None:
                        out["class_not_in_school"].findings.append(
                            _finding(p, f"classe « {name} » d'un établissement inconnu ({prefix or '—'})")
                        )
                    elif (uai, name.strip().lower()) not in class_keys:
                        out["class_not_in_school"].findings.append(
                            _finding(p, f"classe « {name} » absente de l'établissement {uai}")
                        )
            contradiction = _contradiction(p.profils, p.classes_lower) if p.profils else None
            if contradiction is not None:
                out["profile_contradiction"].findings.append(_finding(p, contradiction))
            if not p.mail.strip() and p.target.gets_ent_credentials:
                out["no_mail"].findings.append(_finding(p, f"profil {p.target.label}"))
            if not p.activated and p.created_raw and p.created_raw[:14] <= cutoff_raw:
                created = p.created
                if created is not None:
                    days = (self.now - created).days
                    when = created.astimezone().strftime("%d/%m/%Y")
                    detail = f"créé le {when}, non activé depuis {days} jours"
                    if not p.has_password:
                        detail += " (aucun mot de passe)"
                    out["never_activated"].findings.append(_finding(p, detail))

        self._moodle(out, concerned)
        for result in out.values():
            if result.id not in ("duplicate_login", "duplicate_jointure", "same_name_birthdate"):
                result.findings.sort(key=lambda f: (f.name.casefold(), f.login.casefold(), f.dn.lower()))
        return [out[spec.id] for spec in CHECKS]

    def _school_of(
        self,
        prefix: str,
        person: _Rec,
        structs_by_dn: dict[str, Structure],
        struct_by_key: dict[str, str],
    ) -> str | None:
        if prefix:
            s = structs_by_dn.get(lookup_key(prefix))
            if s is not None:
                return s.uai.upper()
            return struct_by_key.get(prefix.strip().upper())
        for sdn in person.struct_dns:
            s = structs_by_dn.get(lookup_key(sdn))
            if s is not None:
                return s.uai.upper()
        return None

    def _duplicates(self, result: CheckResult, concerned: list[bool], keys_of: Any, kind: str) -> None:
        index: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(self.people):
            for key in keys_of(p):
                index[key].append(i)
        groups = [(key, idx) for key, idx in index.items() if len(idx) > 1 and any(concerned[i] for i in idx)]
        groups.sort(key=lambda item: item[0])
        seen: set[int] = set()
        for key, idx in groups:
            # Within a group, a stable order whatever order the directory returned the entries in.
            idx = sorted(idx, key=lambda j: (self.people[j].full_name.casefold(), self.people[j].dn.lower()))
            for i in idx:
                if i in seen:
                    continue
                seen.add(i)
                p = self.people[i]
                others = [self.people[j] for j in idx if j != i]
                shown = ", ".join(f"{o.full_name} ({o.login or o.dn})" for o in others[:3])
                more = f" (+{len(others) - 3})" if len(others) > 3 else ""
                if kind == "login":
                    detail = f"« {p.login} » aussi porté par : {shown}{more}"
                elif kind == "jointure":
                    detail = f"jointure « {key} » aussi sur : {shown}{more}"
                else:
                    detail = f"né(e) le {p.birth_date}, comme : {shown}{more}"
                result.findings.append(_finding(p, detail))

    def _moodle(self, out: dict[str, CheckResult], concerned: list[bool]) -> None:
        a, b = out["moodle_not_in_directory"], out["directory_not_in_moodle"]
        if self.moodle_users is None:
            a.skipped = b.skipped = self.moodle_skipped
            return
        username = self.usernames.username
        logins = {p.login.lower() for p in self.people if p.login}
        logins |= {username(p.login)[0] for p in self.people if p.login}
        for u in self.moodle_users:
            if u.suspended or u.username.lower() in logins:
                continue
            name = " ".join(x for x in (u.lastname, u.firstname) if x)
            a.findings.append(Finding("", u.username, name, f"compte Moodle n° {u.id} (auth {u.auth})"))
        for i, p in enumerate(self.people):
            if not concerned[i] or not p.login or p.target.value not in self.synced_targets:
                continue
            if username(p.login)[0] not in self.moodle_usernames:
                b.findings.append(_finding(p, f"profil {p.target.label}, pas de compte Moodle"))


def _has_class(p: _Rec, lowered: str) -> bool:
    return lowered in p.classes_lower


def _finding(p: _Rec, detail: str) -> Finding:
    return Finding(p.dn, p.login, p.full_name, detail)
