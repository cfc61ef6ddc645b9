"""The Moodle synchronisation's pure logic: directory → desired Moodle rows, and the plans.

No I/O here: the engine (``enttui.jobs.sync``) reads the directory and Moodle in bulk, hands the
rows to these functions, and writes what the plans say. Every plan is computed in memory with
dict lookups; a plan also carries the French trace lines of its changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from enttui.domain.dn import lookup_key
from enttui.domain.french import plural
from enttui.domain.people import Group, Person
from enttui.domain.usernames import UsernameRule

ENTITIES: tuple[str, ...] = ("users", "cohorts", "roles")
ENTITY_LABELS: dict[str, str] = {
    "users": "Comptes utilisateur",
    "cohorts": "Cohortes",
    "roles": "Associations de rôles",
}
COUNT_KEYS: tuple[str, ...] = (
    "created",
    "updated",
    "unchanged",
    "skipped",
    "suspended",
    "revived",
    "removed",
    "errors",
)
COUNT_LABELS: dict[str, str] = {
    "created": "créés",
    "updated": "modifiés",
    "unchanged": "inchangés",
    "skipped": "ignorés",
    "suspended": "suspendus",
    "revived": "réactivés",
    "removed": "retirés",
    "errors": "erreurs",
}

# Moodle column lengths (install.xml): longer directory values are cut, so they compare equal next run.
USER_FIELDS: tuple[str, ...] = ("username", "idnumber", "firstname", "lastname", "email")
USER_LENGTHS: dict[str, int] = {"username": 100, "idnumber": 255, "firstname": 100, "lastname": 100, "email": 100}
COHORT_NAME_LENGTH = 254
COHORT_IDNUMBER_LENGTH = 100

CONTEXT_LEVELS: dict[str, int] = {"system": 10, "coursecat": 40, "course": 50}


@dataclass(frozen=True, slots=True)
class EntryError:
    """A per-entry error line: ``dn`` is the directory entry to re-examine (retry list), "" if none."""

    dn: str
    text: str


@dataclass
class Counts:
    """Per-entity counters of a run."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    suspended: int = 0
    revived: int = 0
    removed: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def add(self, other: Counts) -> None:
        for key in COUNT_KEYS:
            setattr(self, key, getattr(self, key) + getattr(other, key))


@dataclass(frozen=True)
class SyncOptions:
    """What the operator ticked (screen) or passed (command line)."""

    users: bool = True
    cohorts: bool = True
    roles: bool = True
    user_login: str | None = None
    force: bool = False
    update_only: bool = False
    simulate: bool = False
    verbose: bool = False
    no_cohort_lock: bool = False
    allow_mass_removal: bool = False

    def entities(self) -> tuple[str, ...]:
        return tuple(e for e in ENTITIES if getattr(self, e))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# -- users ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesiredUser:
    username: str
    idnumber: str
    firstname: str
    lastname: str
    email: str
    dn: str = ""
    login: str = ""  # the ENT login as the directory spells it
    problem: str = ""  # why no Moodle username can be made of the login ("" when none)

    def fields(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in USER_FIELDS}

    def values(self) -> tuple[str, str, str, str, str]:
        """The :data:`USER_FIELDS` values, in that order."""
        return (self.username, self.idnumber, self.firstname, self.lastname, self.email)

    @property
    def transliterated(self) -> bool:
        """The username is not the login in lower case (see enttui.domain.usernames)."""
        return bool(self.login) and self.username != self.login.strip().lower()


@dataclass(frozen=True, slots=True)
class MoodleUser:
    id: int
    username: str
    idnumber: str
    auth: str
    firstname: str
    lastname: str
    email: str
    suspended: bool = False
    deleted: bool = False


def _cut(value: str, length: int) -> str:
    return value.strip()[:length].rstrip()


def desired_user(person: Person, rule: UsernameRule = UsernameRule()) -> DesiredUser | None:
    """The Moodle row a directory person should have (None without a login).

    The username follows ``rule`` (:mod:`enttui.domain.usernames`); a login it cannot use gives a
    row whose ``problem`` says why and whose username is empty.
    """
    if not person.login.strip():
        return None
    username, problem = rule.username(person.login)
    return DesiredUser(
        username=username,
        idnumber=_cut(person.idnumber, USER_LENGTHS["idnumber"]),
        firstname=_cut(person.given_name, USER_LENGTHS["firstname"]),
        lastname=_cut(person.sn, USER_LENGTHS["lastname"]),
        email=_cut(person.mail, USER_LENGTHS["email"]),
        dn=person.dn,
        login=person.login,
        problem=problem,
    )


@dataclass
class UserUpdate:
    id: int
    username: str  # the username after the update
    changes: dict[str, object]
    renamed_from: str | None = None
    revive: bool = False


@dataclass
class UserPlan:
    inserts: list[DesiredUser] = field(default_factory=list)
    updates: list[UserUpdate] = field(default_factory=list)
    suspends: list[MoodleUser] = field(default_factory=list)
    skipped: list[DesiredUser] = field(default_factory=list)
    # desired username -> Moodle id of the owned user it matched (unchanged or updated)
    matched: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    errors: list[EntryError] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    transliterated: list[DesiredUser] = field(default_factory=list)  # usable, but not the login as is
    removal_blocked: str = ""  # why the removal phase was skipped (guard), "" when not
    owned_active: int = 0
    removal_candidates: int = 0

    def counts(self) -> Counts:
        return Counts(
            created=len(self.inserts),
            updated=sum(1 for u in self.updates if set(u.changes) - {"suspended"}),
            unchanged=self.unchanged,
            skipped=len(self.skipped),
            suspended=len(self.suspends),
            revived=sum(1 for u in self.updates if u.revive),
            errors=len(self.errors) + (1 if self.removal_blocked else 0),
        )


def removal_guard(to_remove: int, owned: int, max_share: float, allowed: bool) -> str:
    """French reason to skip the removal phase, or "" when removals may go ahead."""
    if allowed or to_remove == 0 or owned == 0:
        return ""
    share = to_remove / owned
    if share > max_share:
        return (
            f"{plural(to_remove, 'suspension')} sur "
            f"{plural(owned, 'compte géré', 'comptes gérés')} ({share:.0%}) dépassent le seuil de "
            f"{max_share:.0%} ([sync] max_removal_share) : suppressions ignorées. Vérifiez l'annuaire, "
            "puis relancez en autorisant explicitement (--allow-mass-removal ou confirmation à l'écran)"
        )
    return ""


def plan_users(
    desired: Iterable[DesiredUser],
    existing: Iterable[MoodleUser],
    *,
    auth: str,
    update_only: bool = False,
    removals: bool = False,
    policy: str = "suspend",
    sync_suspended: set[int] | frozenset[int] = frozenset(),
    max_share: float = 0.10,
    allow_mass_removal: bool = False,
    verbose: bool = False,
) -> UserPlan:
    """Diff directory users against Moodle users (see SYNC.md, "Comptes utilisateur").

    ``existing`` holds every Moodle user that may matter (any auth: clashes are detected on it).
    ``removals`` is True only on a forced run whose read was complete and covered everybody.
    """
    plan = UserPlan()
    rows = list(existing)
    owned = [u for u in rows if u.auth == auth and not u.deleted]
    by_idnumber: dict[str, MoodleUser] = {}
    for u in owned:
        if u.idnumber:
            by_idnumber.setdefault(u.idnumber, u)
    foreign_idnumber: dict[str, MoodleUser] = {}  # idnumbers held by accounts the sync does not own
    for u in sorted(rows, key=lambda x: x.id):
        if u.idnumber and not u.deleted and u.auth != auth:
            foreign_idnumber.setdefault(u.idnumber, u)
    by_username_owned = {u.username: u for u in owned}
    by_username_all: dict[str, MoodleUser] = {}
    for u in rows:
        by_username_all.setdefault(u.username, u)
        if u.auth == auth and not u.deleted:
            by_username_all[u.username] = u

    # Logins Moodle cannot take are errors; then directory duplicates: an exact login before a
    # transliterated one, then in DN order, keeps the username; the others are errors.
    usable: list[DesiredUser] = []
    for d in desired:
        if d.problem:
            plan.errors.append(EntryError(d.dn, d.problem))
        else:
            usable.append(d)
    usable.sort(key=lambda x: (x.transliterated, lookup_key(x.dn)))
    wanted: list[DesiredUser] = []
    seen_user: dict[str, DesiredUser] = {}
    seen_id: dict[str, str] = {}
    for d in usable:
        first = seen_user.get(d.username)
        if first is not None:
            if d.transliterated or first.transliterated:
                text = (
                    f"identifiant ENT « {d.login} » : il donne l'identifiant Moodle « {d.username} », déjà celui de "
                    f"« {first.login} » ({first.dn}) ; entrée ignorée"
                )
            else:
                text = f"identifiant « {d.username} » en double dans l'annuaire ({d.dn}) : entrée ignorée"
            plan.errors.append(EntryError(d.dn, text))
            continue
        if d.idnumber and d.idnumber in seen_id:
            plan.errors.append(
                EntryError(d.dn, f"jointure « {d.idnumber} » en double dans l'annuaire ({d.dn}) : entrée ignorée")
            )
            continue
        seen_user[d.username] = d
        if d.idnumber:
            seen_id[d.idnumber] = d.dn
        wanted.append(d)
        if d.transliterated:
            plan.transliterated.append(d)

    # Two passes: idnumber first, then username among owned users not claimed yet.
    claimed: dict[int, DesiredUser] = {}
    match: dict[str, MoodleUser] = {}
    for d in wanted:
        m = by_idnumber.get(d.idnumber) if d.idnumber else None
        if m is not None and m.id not in claimed:
            claimed[m.id] = d
            match[d.username] = m
    for d in wanted:
        if d.username in match:
            continue
        m = by_username_owned.get(d.username)
        if m is None or m.id in claimed:
            continue
        if d.transliterated and m.idnumber and m.idnumber != d.idnumber:
            continue  # another person's account: a transliterated login never takes it (error below)
        claimed[m.id] = d
        match[d.username] = m

    for d in wanted:
        m = match.get(d.username)
        if m is None:
            holder = by_username_all.get(d.username)
            if holder is not None:
                if holder.auth == auth and not holder.deleted and d.transliterated:
                    why = (
                        f"(translittéré de « {d.login} ») déjà celui d'un autre compte synchronisé "
                        f"(jointure {holder.idnumber or 'vide'})"
                    )
                elif holder.auth == auth and not holder.deleted:
                    why = f"déjà pris par un autre compte synchronisé (jointure {holder.idnumber or 'vide'})"
                elif holder.deleted:
                    why = "porté par un compte Moodle supprimé"
                else:
                    why = f"porté par un compte « {holder.auth} » que la synchronisation ne gère pas"
                plan.errors.append(EntryError(d.dn, f"{d.username} : identifiant {why} ; compte laissé intact"))
                continue
            other = foreign_idnumber.get(d.idnumber) if d.idnumber else None
            if other is not None:
                plan.errors.append(
                    EntryError(
                        d.dn,
                        f"{d.username} : jointure « {d.idnumber} » déjà portée par le compte « {other.auth} » "
                        f"{other.username} (n° {other.id}) ; compte non créé",
                    )
                )
                continue
            if update_only:
                plan.skipped.append(d)
                if verbose:
                    plan.details.append(f"{d.username} : absent de Moodle, non créé (mise à jour seule)")
                continue
            plan.inserts.append(d)
            continue
        changes: dict[str, object] = {}
        renamed_from = None
        for f in USER_FIELDS:
            value = getattr(d, f)
            if getattr(m, f) != value:
                changes[f] = value
        if "username" in changes:
            holder = by_username_all.get(d.username)
            if holder is not None and holder.id != m.id and claimed.get(holder.id) is None:
                plan.errors.append(
                    EntryError(
                        d.dn,
                        f"{m.username} → {d.username} : renommage impossible, identifiant déjà pris "
                        f"(compte « {holder.auth} ») ; autres champs mis à jour",
                    )
                )
                del changes["username"]
            else:
                renamed_from = m.username
        if "idnumber" in changes and d.idnumber in foreign_idnumber:
            other = foreign_idnumber[d.idnumber]
            plan.errors.append(
                EntryError(
                    d.dn,
                    f"{m.username} : jointure « {d.idnumber} » déjà portée par le compte « {other.auth} » "
                    f"{other.username} (n° {other.id}) ; jointure non modifiée, autres champs mis à jour",
                )
            )
            del changes["idnumber"]
        revive = bool(m.suspended and m.id in sync_suspended)
        if revive:
            changes["suspended"] = 0
        plan.matched[d.username] = m.id
        if changes:
            plan.updates.append(
                UserUpdate(
                    id=m.id,
                    username=str(changes.get("username", m.username)),
                    changes=changes,
                    renamed_from=renamed_from,
                    revive=revive,
                )
            )
        else:
            plan.unchanged += 1
            if verbose:
                plan.details.append(f"{d.username} : inchangé")

    plan.owned_active = len(owned)
    if removals:
        present = {m.id for m in match.values()}
        gone = [u for u in owned if u.id not in present]
        candidates = [u for u in gone if not u.suspended] if policy == "suspend" else []
        plan.removal_candidates = len(candidates)
        plan.removal_blocked = removal_guard(len(candidates), len(owned), max_share, allow_mass_removal)
        if not plan.removal_blocked:
            plan.suspends = sorted(candidates, key=lambda u: u.username)
        if verbose and policy == "keep":
            plan.details.extend(f"{u.username} : absent de l'annuaire, conservé (politique keep)" for u in gone)
    return plan


# -- cohorts ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MoodleCohort:
    id: int
    name: str
    idnumber: str
    component: str
    visible: bool = True
    contextid: int = 0


@dataclass(frozen=True)
class DesiredCohort:
    idnumber: str
    name: str
    component: str
    members: frozenset[int]
    complete: bool = True  # every member DN was resolved: removals of members are allowed
    alt_idnumber: str = ""  # the prefixed idnumber an unlocked run renames from
    source: str = ""  # the group's cn (trace)
    dn: str = ""  # the group's DN (retry list)


def cohort_identity(
    group: Group, prefix: str, component: str, locked: bool = True, school: str = ""
) -> tuple[str, str, str]:
    """(idnumber, name, component) of a group's cohort; without prefix and component when unlocked.

    ``school`` (the school's name, or its UAI) goes into the name when the périmètre holds several
    schools, so that two schools' "3A" stay distinguishable: ``2026 3A (Collège Jean Moulin)``.
    """
    label = f"{group.name} ({school})" if school else group.name
    if locked and prefix:
        idnumber, name = f"{prefix}_{group.group_id}", f"{prefix} {label}"
    else:
        idnumber, name = group.group_id, label
    return (
        idnumber[:COHORT_IDNUMBER_LENGTH],
        name.strip()[:COHORT_NAME_LENGTH],
        component if locked else "",
    )


@dataclass
class CohortChange:
    cohort_id: int | None  # None: to create
    idnumber: str
    name: str
    values: dict[str, object] = field(default_factory=dict)  # columns to set on an existing cohort
    add: set[int] = field(default_factory=set)
    remove: set[int] = field(default_factory=set)
    component: str = ""


@dataclass
class CohortPlan:
    creates: list[CohortChange] = field(default_factory=list)
    changes: list[CohortChange] = field(default_factory=list)
    vanished: list[tuple[MoodleCohort, set[int]]] = field(default_factory=list)  # emptied + hidden
    unchanged: int = 0
    skipped: int = 0
    errors: list[EntryError] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    renamed: int = 0

    def counts(self) -> Counts:
        return Counts(
            created=len(self.creates),
            updated=len(self.changes),
            unchanged=self.unchanged,
            skipped=self.skipped,
            removed=len(self.vanished),
            errors=len(self.errors),
        )


def plan_cohorts(
    desired: Iterable[DesiredCohort],
    existing: Iterable[MoodleCohort],
    members: Mapping[int, set[int]],
    *,
    component: str,
    locked: bool = True,
    update_only: bool = False,
    vanish: bool = False,
    verbose: bool = False,
) -> CohortPlan:
    """Diff the directory's groups against Moodle's cohorts (see SYNC.md, "Cohortes").

    ``members`` maps the ids of the cohorts that may change to their current member ids.
    ``vanish`` (forced, complete run): owned cohorts without a group are emptied and hidden.
    """
    plan = CohortPlan()
    rows = list(existing)
    by_idnumber: dict[str, MoodleCohort] = {}
    for row in rows:
        if row.idnumber:
            by_idnumber.setdefault(row.idnumber, row)
    matched: set[int] = set()
    for d in desired:
        c = by_idnumber.get(d.idnumber)
        if c is not None and locked and c.component != component:
            plan.errors.append(
                EntryError(
                    d.dn,
                    f"cohorte « {c.name} » ({c.idnumber}) : elle n'appartient pas à la synchronisation "
                    f"(composant « {c.component or 'aucun'} ») ; laissée intacte",
                )
            )
            continue
        if c is None and not locked and d.alt_idnumber:
            alt = by_idnumber.get(d.alt_idnumber)
            if alt is not None and alt.component == component and alt.id not in matched:
                c = alt
        if c is not None and c.id in matched:
            plan.errors.append(
                EntryError(d.dn, f"cohorte « {d.idnumber} » : plusieurs groupes pour la même cohorte ; ignorée")
            )
            continue
        if c is None:
            if update_only:
                plan.skipped += 1
                if verbose:
                    plan.details.append(f"{d.name} : cohorte absente, non créée (mise à jour seule)")
                continue
            plan.creates.append(CohortChange(None, d.idnumber, d.name, add=set(d.members), component=d.component))
            continue
        matched.add(c.id)
        values: dict[str, object] = {}
        if c.name != d.name:
            values["name"] = d.name
        if c.idnumber != d.idnumber:
            values["idnumber"] = d.idnumber
        if c.component != d.component:
            values["component"] = d.component
        if not c.visible:
            values["visible"] = 1
        if "idnumber" in values or "component" in values:
            plan.renamed += 1
        current = members.get(c.id, set())
        add = set(d.members) - current
        remove = (current - set(d.members)) if d.complete else set()
        if values or add or remove:
            plan.changes.append(
                CohortChange(c.id, d.idnumber, d.name, values=values, add=add, remove=remove, component=d.component)
            )
        else:
            plan.unchanged += 1
            if verbose:
                plan.details.append(f"{d.name} : inchangée ({plural(len(current), 'membre')})")
    if vanish:
        for c in rows:
            if c.id in matched:
                continue
            if locked and c.component != component:
                continue
            current = set(members.get(c.id, set()))
            if current or c.visible:
                plan.vanished.append((c, current))
    return plan
