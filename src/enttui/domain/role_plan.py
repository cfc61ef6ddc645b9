"""The role assignments' pure logic: role groups → (role, context level, context key), and the plan.

A role group names its role, context level and context key through configurable attributes,
regular expressions and mapping tables (SYNC.md, "Associations de rôles"); :func:`plan_roles`
diffs the desired assignments against Moodle's. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from enttui.domain.sync import CONTEXT_LEVELS, Counts


@dataclass(frozen=True)
class RoleRules:
    """How a role group names its role, context level and context key (SYNC.md defaults)."""

    role_attribute: str = "cn"
    role_regex: str = r"^([^:]+):"
    role_mapping: dict[str, str] = field(default_factory=dict)
    level_attribute: str = "cn"
    level_regex: str = r"^[^:]+:([^:]+):"
    level_mapping: dict[str, str] = field(default_factory=dict)
    key_attribute: str = "cn"
    key_regex: str = r"^[^:]+:[^:]+:(.*)$"


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``["DOC=librarian", ...]`` → ``{"DOC": "librarian"}`` (ValueError on a malformed item)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(item)
        out[key.strip()] = value.strip()
    return out


def _extract(attrs: Mapping[str, list[str]], attribute: str, regex: str, mapping: Mapping[str, str]) -> str | None:
    lowered = {k.lower(): v for k, v in attrs.items()}
    values = lowered.get(attribute.lower()) or []
    if not values:
        return None
    value = values[0]
    if regex:
        found = re.search(regex, value)
        if found is None:
            return None
        value = found.group(1) if found.groups() else found.group(0)
    value = value.strip()
    return mapping.get(value, value)


@dataclass(frozen=True, slots=True)
class RoleSpec:
    role: str
    level: str
    key: str
    source: str  # DN of the group (trace)
    members: tuple[str, ...] = ()


def role_spec(dn: str, attrs: Mapping[str, list[str]], rules: RoleRules) -> RoleSpec | str:
    """The role, level and key a role group carries, or a French error."""
    role = _extract(attrs, rules.role_attribute, rules.role_regex, rules.role_mapping)
    level = _extract(attrs, rules.level_attribute, rules.level_regex, rules.level_mapping)
    key = _extract(attrs, rules.key_attribute, rules.key_regex, {}) or ""
    if not role or not level:
        return f"{dn} : rôle ou niveau de contexte illisible ; groupe ignoré"
    if level not in CONTEXT_LEVELS:
        return f"{dn} : niveau de contexte « {level} » inconnu (system, coursecat ou course) ; groupe ignoré"
    if level != "system" and not key:
        return f"{dn} : clé de contexte manquante pour le niveau {level} ; groupe ignoré"
    lowered = {k.lower(): v for k, v in attrs.items()}
    return RoleSpec(role, level, key if level != "system" else "", dn, tuple(lowered.get("member", [])))


def fonction_codes(fonctions: Iterable[str]) -> set[str]:
    """``<structure>$<CODE>$<label>$…`` → the codes."""
    out = set()
    for value in fonctions:
        parts = value.split("$")
        if len(parts) > 1 and parts[1].strip():
            out.add(parts[1].strip())
        elif parts and parts[0].strip():
            out.add(parts[0].strip())
    return out


Assignment = tuple[int, int, int]  # roleid, contextid, userid


@dataclass
class RolePlan:
    add: list[Assignment] = field(default_factory=list)
    remove: list[tuple[int, Assignment]] = field(default_factory=list)  # (role_assignments.id, key)
    unchanged: int = 0
    skipped: int = 0

    def counts(self, errors: int = 0) -> Counts:
        return Counts(
            created=len(self.add),
            unchanged=self.unchanged,
            skipped=self.skipped,
            removed=len(self.remove),
            errors=errors,
        )


def plan_roles(
    desired: Iterable[Assignment],
    existing: Iterable[tuple[int, Assignment, str]],
    *,
    component: str,
    in_scope: Callable[[Assignment], bool],
    update_only: bool = False,
    allow_remove: bool = True,
) -> RolePlan:
    """Diff desired assignments against Moodle's (``existing``: (id, key, component) rows).

    An assignment of any component satisfies a desired one (no duplicate); only owned ones
    (``component``) in scope and no longer desired are removed.
    """
    plan = RolePlan()
    want = set(desired)
    present = {key for _id, key, _comp in existing}
    for key in sorted(want):
        if key in present:
            plan.unchanged += 1
        elif update_only:
            plan.skipped += 1
        else:
            plan.add.append(key)
    if allow_remove:
        for ra_id, key, comp in existing:
            if comp == component and key not in want and in_scope(key):
                plan.remove.append((ra_id, key))
    plan.remove.sort()
    return plan
