"""The attribute catalogue names only attributes the directory knows (the SDET schema or core LDAP)."""

import re
from importlib import resources

import pytest

from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.domain import attributes
from enttui.domain.people import person_from_entry
from enttui.domain.role_plan import fonction_codes
from enttui.domain.sync import desired_user
from enttui.domain.usernames import UsernameRule

CORE = {
    "objectClass", "uid", "cn", "sn", "givenName", "displayName", "mail", "userPassword", "description",
    "member", "ou", "pwdReset", "pwdEndTime", "pwdAccountLockedTime", "createTimestamp", "modifyTimestamp",
}  # fmt: skip


def test_every_attribute_read_is_in_the_schema():
    schema = resources.files("enttui.data").joinpath("ent.schema").read_text(encoding="utf-8")
    known = CORE | set(re.findall(r"NAME '([A-Za-z]+)'", schema))
    lists = {n: v for n, v in vars(attributes).items() if n.endswith("_ATTRIBUTES")}
    assert len(lists) == 8
    for name, names in lists.items():
        assert len(set(names)) == len(names), name
        assert set(names) <= known, (name, set(names) - known)


# -- the sync's and the plans' lists are exactly what they use -------------------------------------

WORLD = WorldSpec(
    base_dn="dc=ent,dc=test",
    schools=(SchoolSpec("0123456A", "Collège Un", students=60, teachers=8, staff=4, others=3, classes_per_level=1),),
    with_defects=True,
)


def only(attrs: dict[str, list[str]], names: tuple[str, ...]) -> dict[str, list[str]]:
    """What a directory returns for a read of ``names`` (names case-insensitive)."""
    wanted = {n.lower() for n in names}
    return {k: v for k, v in attrs.items() if k.lower() in wanted}


def world_people() -> list[tuple[str, dict[str, list[str]]]]:
    people = [(dn, a) for dn, a in generate(WORLD) if "ENTPerson" in a.get("objectClass", [])]
    # a person without a profile (target from the object classes), one with a long name and a function
    dn, a = people[0]
    people.append(("uid=noprof," + dn.split(",", 1)[1], {k: v for k, v in a.items() if k != "ENTPersonProfils"}))
    people.append(
        ("uid=long," + dn.split(",", 1)[1], {**a, "givenName": ["É" * 150], "ENTPersonFonctions": ["X$DOC$D$$"]})
    )
    return people


@pytest.mark.parametrize("prefer", ["profils", "classes"])
def test_a_person_read_with_the_sync_list_gives_the_same_moodle_rows(prefer: str) -> None:
    """What the sync takes of a person (SYNC.md: the user row, the synced profile, the functions)."""
    rule = UsernameRule()
    people = world_people()
    assert len(people) > 100
    for dn, attrs in people:
        full = person_from_entry(dn, attrs, prefer=prefer)
        narrow = person_from_entry(dn, only(attrs, attributes.SYNC_PERSON_ATTRIBUTES), prefer=prefer)
        assert desired_user(narrow, rule) == desired_user(full, rule), dn
        assert (narrow.dn, narrow.login, narrow.target, narrow.fonctions) == (
            full.dn,
            full.login,
            full.target,
            full.fonctions,
        ), dn
        assert fonction_codes(narrow.fonctions) == fonction_codes(full.fonctions)


@pytest.mark.parametrize("inactive", [("pwdReset", "TRUE"), ("pwdEndTime", "20260101000000Z")])
def test_a_person_read_with_the_plan_list_gives_the_same_plan_fields(inactive: tuple[str, str]) -> None:
    """What the diffusion and regeneration plans take of a person (who, the mail, the file's row, the
    resume), with ``[ldap] inactive_attribute`` added to the list."""
    attribute, value = inactive
    names = attributes.with_attribute(attributes.PLAN_PERSON_ATTRIBUTES, attribute)
    activated = 0
    for dn, attrs in world_people():
        if attribute != "pwdReset" and "pwdReset" in attrs:
            attrs = {**{k: v for k, v in attrs.items() if k != "pwdReset"}, attribute: [value]}
        kw = {"inactive_attribute": attribute, "inactive_value": value}
        full = person_from_entry(dn, attrs, **kw)
        narrow = person_from_entry(dn, only(attrs, names), **kw)
        fields = (
            "dn", "login", "sn", "given_name", "mail", "target", "struct_dns", "classes", "child_dns", "created",
            "activated", "has_password",
        )  # fmt: skip
        assert [getattr(narrow, f) for f in fields] == [getattr(full, f) for f in fields], dn
        activated += full.activated
    assert 0 < activated < len(world_people())  # both kinds of account are there


def test_with_attribute_adds_the_inactive_attribute_once() -> None:
    plan = attributes.PLAN_PERSON_ATTRIBUTES
    assert attributes.with_attribute(plan, "pwdReset") == (*plan, "pwdReset")
    assert attributes.with_attribute(plan, "USERPASSWORD") == plan
    assert attributes.with_attribute(plan, "") == plan
    assert "pwdReset" not in plan and "modifyTimestamp" not in attributes.SYNC_PERSON_ATTRIBUTES
