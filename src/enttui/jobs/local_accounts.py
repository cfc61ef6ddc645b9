"""Référentiel local: the accounts the school manages itself, outside the académie's feed.

A *local* account has a jointure of the configured local source (``[ent] local_source``, ``ENT$…``
by default). The list also shows the other "Autre" people of the périmètre (no national profile),
read-only, with the reason: the académie feeds them, a change here would be overwritten.

Choices, all in existing schema attributes (the LDAP schema is not changed):

- **Creation**: ``uid=L<hex>`` under the people branch, ``ENTPerson`` + the profile's auxiliary
  class, ``ENTPersonJointure = <local source>$<key>``, the login derived as DOMAIN.md says
  (checked against every login of the directory), attached to a school of the périmètre; not
  activated (``[ldap] inactive_attribute`` = ``inactive_value``, ``pwdReset: TRUE`` by default, no
  password): "Diffusion des identifiants" gives it its credentials.
- **End date** ("date de fin"): ppolicy's ``pwdEndTime`` (OpenLDAP 2.5+): the server refuses the
  password after that day, whatever the policy says.
- Every write (create, edit, disable, delete) holds the jobs lock (:mod:`enttui.jobs.locking`): it
  is refused while a diffusion, a regeneration or an import runs.
- **Disable**: ppolicy's administrative lock ``pwdAccountLockedTime: 000001010000Z``; enabling
  removes it. slapd enforces it when the password policy has ``pwdLockout: TRUE``.
- **Delete**: the entry is deleted (after a confirmation in the screen).

Every change is written to the audit trail of the state store.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from enttui.domain import ldapfilter as lf
from enttui.domain.attributes import PERSON_ATTRIBUTES
from enttui.domain.dn import lookup_key
from enttui.domain.local_account_rows import (
    LOCAL_AUX_CLASSES,
    PROFILES_BY_KEY,
    AccountFields,
    end_date_from_ldap,
    end_date_to_ldap,
    format_date,
    profile_of,
)
from enttui.domain.logins import next_free_login
from enttui.domain.people import (
    PROFILE_TARGETS,
    Person,
    Target,
    person_from_entry,
    person_object_classes,
)
from enttui.errors import ValidationError
from enttui.jobs.locking import job_lock
from enttui.services.container import Services
from enttui.services.locks import JobLock

__all__ = [
    "LIST_CAP",
    "LOCAL_ATTRIBUTES",
    "LOCK_VALUE",
    "LocalAccount",
    "account_from_entry",
    "all_logins",
    "create_local_account",
    "create_planned_account",
    "delete_local_account",
    "entry_for",
    "find_by_jointures",
    "get_local_account",
    "list_local_accounts",
    "planned_changes",
    "school_dns",
    "set_disabled",
    "update_local_account",
]

LOCK_VALUE = "000001010000Z"  # ppolicy: locked by an administrator, until unlocked
LOCAL_ATTRIBUTES: tuple[str, ...] = (*PERSON_ATTRIBUTES, "description", "pwdEndTime", "pwdAccountLockedTime")
LIST_CAP = 2000


@dataclass(frozen=True)
class LocalAccount:
    person: Person
    editable: bool
    reason: str  # why it is read-only ("" when editable)
    end_date: date | None
    disabled: bool
    description: str
    profile: str  # local profile key (enttui.domain.local_account_rows.LOCAL_PROFILES)

    @property
    def dn(self) -> str:
        return self.person.dn

    def status_label(self, today: date) -> str:
        if self.disabled:
            return "désactivé"
        if self.end_date is not None and self.end_date < today:
            return "expiré"
        return self.person.state_label

    @property
    def profile_label(self) -> str:
        p = PROFILES_BY_KEY.get(self.profile)
        return p.label if p else self.profile


def _lower(attrs: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    return {k.lower(): list(v) for k, v in attrs.items()}


def account_from_entry(services: Services, dn: str, attrs: Mapping[str, Sequence[str]]) -> LocalAccount:
    cfg = services.config
    person = person_from_entry(
        dn,
        attrs,
        prefer=cfg.ent.profile_source,
        inactive_attribute=cfg.ldap.inactive_attribute,
        inactive_value=cfg.ldap.inactive_value,
    )
    low = _lower(attrs)
    local = person.is_local(cfg.ent.local_source)
    reason = ""
    if not local:
        source = person.jointure.split("$", 1)[0] if "$" in person.jointure else (person.jointure or "aucune")
        reason = (
            f"Compte alimenté par l'académie (jointure {person.jointure or 'absente'}, source {source}) : "
            "il se modifie dans la source, une modification ici serait écrasée par la prochaine alimentation."
        )
    return LocalAccount(
        person=person,
        editable=local,
        reason=reason,
        end_date=end_date_from_ldap((low.get("pwdendtime") or [""])[0]),
        disabled=bool(low.get("pwdaccountlockedtime")),
        description=(low.get("description") or [""])[0],
        profile=profile_of(person),
    )


def _people_base(services: Services) -> str:
    return services.config.ldap.people_dn or services.config.ldap.base_dn


async def list_local_accounts(services: Services, *, cap: int = LIST_CAP) -> tuple[list[LocalAccount], bool]:
    """Local accounts and the other "Autre" people of the périmètre (sorted by name); True if capped."""
    src = services.config.ent.local_source
    directory = services.directory
    known = lf.or_(*(lf.eq("ENTPersonProfils", code) for code in PROFILE_TARGETS))
    filt = lf.and_(
        lf.eq("objectClass", "ENTPerson"),
        await directory.perimeter_filter(),
        lf.or_(lf.startswith("ENTPersonJointure", f"{src}$"), lf.not_(known)),
    )
    out: list[LocalAccount] = []
    capped = False
    async for page in directory.iter_pages(_people_base(services), filt, LOCAL_ATTRIBUTES):
        for dn, attrs in page:
            account = account_from_entry(services, dn, attrs)
            if account.editable or account.person.target is Target.AUTRE:
                out.append(account)
    out.sort(key=lambda a: (not a.editable, a.person.sn.lower(), a.person.given_name.lower(), a.dn.lower()))
    if len(out) > cap:
        out, capped = out[:cap], True
    return out, capped


async def get_local_account(services: Services, dn: str) -> LocalAccount | None:
    entries = await _read(services, dn)
    return account_from_entry(services, *entries[0]) if entries else None


async def _read(services: Services, dn: str) -> list[tuple[str, dict[str, list[str]]]]:
    from enttui.errors import DirectoryError

    try:
        return await services.directory.search_all(
            dn, lf.eq("objectClass", "ENTPerson"), LOCAL_ATTRIBUTES, scope="BASE"
        )
    except DirectoryError as exc:
        if "n'existe pas" in exc.message:
            return []
        raise


async def all_logins(services: Services, prefix: str = "") -> set[str]:
    """Every ``ENTPersonLogin`` of the directory (lower case), or those starting with ``prefix``."""
    filt = lf.and_(
        lf.eq("objectClass", "ENTPerson"),
        lf.startswith("ENTPersonLogin", prefix) if prefix else lf.present("ENTPersonLogin"),
    )
    out: set[str] = set()
    async for page in services.directory.iter_pages(_people_base(services), filt, ["ENTPersonLogin"]):
        for _dn, attrs in page:
            for value in _lower(attrs).get("entpersonlogin", []):
                out.add(value.lower())
    return out


async def find_by_jointures(
    services: Services, *, keys: Collection[str] | None = None
) -> dict[str, tuple[str, dict[str, list[str]]]]:
    """Entries of the whole directory with a local jointure: ``{jointure key (lower): (dn, attrs)}``.

    With ``keys``, only those (a handful: one equality filter each); without, every local account.
    """
    src = services.config.ent.local_source
    if keys is not None:
        if not keys:
            return {}
        filt = lf.and_(lf.eq("objectClass", "ENTPerson"), lf.any_eq("ENTPersonJointure", [f"{src}${k}" for k in keys]))
    else:
        filt = lf.and_(lf.eq("objectClass", "ENTPerson"), lf.startswith("ENTPersonJointure", f"{src}$"))
    out: dict[str, tuple[str, dict[str, list[str]]]] = {}
    async for page in services.directory.iter_pages(_people_base(services), filt, LOCAL_ATTRIBUTES):
        for dn, attrs in page:
            for value in _lower(attrs).get("entpersonjointure", []):
                if value.split("$", 1)[0] == src and "$" in value:
                    out.setdefault(value.split("$", 1)[1].lower(), (dn, attrs))
    return out


async def school_dns(services: Services) -> dict[str, str]:
    """UAI → school DN, for the schools of the périmètre (in the configured order)."""
    found = {s.uai: s.dn for s in await services.directory.structures()}
    return {uai: found[uai] for uai in services.config.ent.uai if uai in found}


def _school(schools: Mapping[str, str], uai: str) -> str:
    if uai:
        if uai not in schools:
            raise ValidationError(f"L'établissement {uai} n'est pas dans l'annuaire (ou hors du périmètre).")
        return schools[uai]
    if not schools:
        raise ValidationError("Aucun établissement du périmètre n'est dans l'annuaire : création impossible.")
    return next(iter(schools.values()))


def _names(fields: AccountFields) -> dict[str, list[str]]:
    return {
        "sn": [fields.sn],
        "givenName": [fields.given_name],
        "cn": [f"{fields.sn} {fields.given_name}"],
        "displayName": [f"{fields.given_name} {fields.sn}"],
    }


def entry_for(
    services: Services, fields: AccountFields, *, uid: str, login: str, school_dn: str
) -> tuple[str, dict[str, list[str]]]:
    """The new entry of a local account (no password; not activated)."""
    cfg = services.config
    profile = PROFILES_BY_KEY[fields.profile]
    attrs: dict[str, list[str]] = {
        "objectClass": person_object_classes(profile.aux_class),
        "uid": [uid],
        **_names(fields),
        "ENTPersonLogin": [login],
        "ENTPersonJointure": [f"{cfg.ent.local_source}${fields.jointure_key}"],
        "ENTPersonStructRattach": [school_dn],
    }
    if profile.profil:
        attrs["ENTPersonProfils"] = [profile.profil]
    if fields.mail:
        attrs["mail"] = [fields.mail]
    if fields.birth_date:
        attrs["ENTPersonDateNaissance"] = [fields.birth_date]
    if fields.description:
        attrs["description"] = [fields.description]
    if fields.end_date:
        attrs["pwdEndTime"] = [end_date_to_ldap(fields.end_date)]
    attrs[cfg.ldap.inactive_attribute] = [cfg.ldap.inactive_value]
    return f"uid={uid},{_people_base(services)}", attrs


def _new_uid() -> str:
    return "L" + secrets.token_hex(5).upper()


async def create_local_account(
    services: Services,
    fields: AccountFields,
    *,
    taken: set[str] | None = None,
    schools: Mapping[str, str] | None = None,
    audit: bool = True,
    lock: JobLock | None = None,
) -> tuple[str, str]:
    """Create the account; returns ``(dn, login)``. ``taken`` (lower-case logins) is updated in place.

    Under the jobs lock (``lock``: the caller's, an import's; else taken here: LockHeldError while a
    diffusion, a regeneration or an import runs).
    """
    async with job_lock(services, "referentiel", lock):
        return await _create(services, fields, taken=taken, schools=schools, audit=audit)


async def _create(
    services: Services,
    fields: AccountFields,
    *,
    taken: set[str] | None,
    schools: Mapping[str, str] | None,
    audit: bool,
) -> tuple[str, str]:
    if not fields.jointure_key:
        fields = replace(fields, jointure_key="L" + secrets.token_hex(4).upper())
    if taken is None:
        existing = await find_by_jointures(services, keys=[fields.jointure_key])
        if existing:
            dn = next(iter(existing.values()))[0]
            raise ValidationError(f"La jointure {fields.jointure_key} est déjà celle de {dn}.")
        from enttui.domain.logins import login_base

        taken = await all_logins(services, login_base(fields.given_name, fields.sn))
    schools = schools if schools is not None else await school_dns(services)
    school = _school(schools, fields.uai)
    login = next_free_login(fields.given_name, fields.sn, taken)
    dn, attrs = entry_for(services, fields, uid=_new_uid(), login=login, school_dn=school)
    taken.add(login)  # reserved before the write: a creation running meanwhile picks another one
    try:
        await services.directory.add(dn, attrs)
    except BaseException:
        taken.discard(login)
        raise
    if audit:
        await services.state.audit("referentiel.creation", dn, f"compte local {login} créé")
    return dn, login


async def create_planned_account(
    services: Services, fields: AccountFields, *, login: str, schools: Mapping[str, str], lock: JobLock
) -> str:
    """Create an import's planned account with the login its plan gave it; returns the DN.

    The plan read every login once and gave each creation of the file its own, in the file's
    order: writes running side by side never pick the same one. Under the import's jobs lock.
    """
    async with job_lock(services, "referentiel", lock):
        school = _school(schools, fields.uai)
        dn, attrs = entry_for(services, fields, uid=_new_uid(), login=login, school_dn=school)
        await services.directory.add(dn, attrs)
        return dn


def planned_changes(
    services: Services,
    attrs: Mapping[str, Sequence[str]],
    fields: AccountFields,
    *,
    schools: Mapping[str, str],
    only: Iterable[str] | None = None,
) -> tuple[dict[str, list[str] | None], list[str]]:
    """What an update would change: ``(modify changes, French descriptions)``; empty when unchanged.

    ``only``: the import columns present (absent columns are left as they are); None = every field.
    """
    low = _lower(attrs)
    given = set(only) if only is not None else None

    def wanted(column: str) -> bool:
        return given is None or column in given

    def current(name: str) -> str:
        return (low.get(name.lower()) or [""])[0]

    changes: dict[str, list[str] | None] = {}
    notes: list[str] = []

    def put(attr: str, new: str, label: str) -> None:
        old = current(attr)
        if old != new:
            changes[attr] = [new] if new else None
            notes.append(f"{label} : « {old} » → « {new} »")

    if wanted("nom") or wanted("prenom"):
        sn = fields.sn if wanted("nom") else current("sn")
        given_name = fields.given_name if wanted("prenom") else current("givenName")
        names = _names(replace(fields, sn=sn, given_name=given_name))
        put("sn", sn, "nom")
        put("givenName", given_name, "prénom")
        for attr in ("cn", "displayName"):
            if current(attr) != names[attr][0]:
                changes[attr] = names[attr]
    if wanted("email"):
        put("mail", fields.mail, "e-mail")
    if wanted("date_naissance"):
        put("ENTPersonDateNaissance", fields.birth_date, "date de naissance")
    if wanted("description"):
        put("description", fields.description, "description")
    if wanted("date_fin"):
        old_end = end_date_from_ldap(current("pwdEndTime"))
        if old_end != fields.end_date:
            changes["pwdEndTime"] = [end_date_to_ldap(fields.end_date)] if fields.end_date else None
            notes.append(f"date de fin : « {format_date(old_end)} » → « {format_date(fields.end_date)} »")
    if wanted("profil"):
        profile = PROFILES_BY_KEY[fields.profile]
        classes = low.get("objectclass", [])
        keep = [c for c in classes if c.lower() not in LOCAL_AUX_CLASSES]
        new_classes = [*keep, profile.aux_class]
        profils = [p for p in low.get("entpersonprofils", []) if p not in PROFILE_TARGETS]
        new_profils = [*profils, profile.profil] if profile.profil else profils
        if {c.lower() for c in classes} != {c.lower() for c in new_classes} or sorted(
            low.get("entpersonprofils", [])
        ) != sorted(new_profils):
            changes["objectClass"] = new_classes
            changes["ENTPersonProfils"] = new_profils or None
            notes.append(f"profil : → {profile.label}")
    if wanted("uai") and fields.uai:
        school = schools.get(fields.uai)
        if school and {lookup_key(d) for d in low.get("entpersonstructrattach", [])} != {lookup_key(school)}:
            changes["ENTPersonStructRattach"] = [school]
            notes.append(f"établissement : → {fields.uai}")
    return changes, notes


async def _editable(services: Services, dn: str) -> LocalAccount:
    account = await get_local_account(services, dn)
    if account is None:
        raise ValidationError(f"Le compte {dn} n'existe plus dans l'annuaire.")
    if not account.editable:
        raise ValidationError(account.reason, title="Compte en lecture seule")
    return account


async def update_local_account(services: Services, dn: str, fields: AccountFields) -> list[str]:
    """Apply the form's fields to a local account; returns the French list of changes (may be empty)."""
    async with job_lock(services, "referentiel"):
        return await _update(services, dn, fields)


async def _update(services: Services, dn: str, fields: AccountFields) -> list[str]:
    await _editable(services, dn)
    entries = await _read(services, dn)
    changes, notes = planned_changes(services, entries[0][1], fields, schools=await school_dns(services))
    if changes:
        await services.directory.modify(dn, changes)
        await services.state.audit("referentiel.modification", dn, "; ".join(notes))
    return notes


async def set_disabled(services: Services, dn: str, disabled: bool) -> None:
    """Lock (``pwdAccountLockedTime``) or unlock a local account."""
    async with job_lock(services, "referentiel"):
        await _editable(services, dn)
        await services.directory.modify(dn, {"pwdAccountLockedTime": [LOCK_VALUE] if disabled else None})
    await services.state.audit(
        "referentiel.desactivation" if disabled else "referentiel.reactivation",
        dn,
        "compte verrouillé (pwdAccountLockedTime)" if disabled else "verrou retiré",
    )


async def delete_local_account(services: Services, dn: str) -> None:
    async with job_lock(services, "referentiel"):
        account = await _editable(services, dn)
        await services.directory.delete(dn)
    await services.state.audit("referentiel.suppression", dn, f"compte local {account.person.login} supprimé")
