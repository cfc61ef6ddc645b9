"""Pure sync plans: users, cohorts, role assignments, guards."""

from __future__ import annotations

from enttui.domain.people import Group, Person
from enttui.domain.role_plan import RoleRules, fonction_codes, plan_roles, role_spec
from enttui.domain.sync import (
    DesiredCohort,
    DesiredUser,
    MoodleCohort,
    MoodleUser,
    cohort_identity,
    desired_user,
    plan_cohorts,
    plan_users,
    removal_guard,
)


def d(login: str, idn: str, first: str = "A", last: str = "B") -> DesiredUser:
    return DesiredUser(login, idn, first, last, f"{login}@x")


def m(i: int, login: str, idn: str, auth: str = "cas", suspended: bool = False, first: str = "A") -> MoodleUser:
    return MoodleUser(i, login, idn, auth, first, "B", f"{login}@x", suspended)


def test_desired_user_mapping():
    p = Person(dn="uid=1", login="Jean.Dupont", sn="Dupont", given_name="Jean", mail="j@x", jointures=("AC$12$3",))
    u = desired_user(p)
    assert (u.username, u.idnumber, u.firstname, u.lastname, u.email) == (
        "jean.dupont",
        "12$3",
        "Jean",
        "Dupont",
        "j@x",
    )


def test_users_unchanged_update_rename_clash():
    plan = plan_users(
        [d("a", "1"), d("b2", "2"), d("c", "3", first="Z"), d("admin", "9"), d("new", "5")],
        [m(1, "a", "1"), m(2, "b", "2"), m(3, "c", "3"), m(4, "admin", "", auth="manual")],
        auth="cas",
    )
    assert plan.unchanged == 1
    assert {u.id: u.changes for u in plan.updates} == {2: {"username": "b2", "email": "b2@x"}, 3: {"firstname": "Z"}}
    assert plan.updates[0].renamed_from == "b"
    assert [x.username for x in plan.inserts] == ["new"]
    assert len(plan.errors) == 1 and "manual" in plan.errors[0].text


def test_update_only_and_removals():
    existing = [m(i, f"u{i}", str(i)) for i in range(1, 21)] + [m(30, "hand", "30", suspended=True)]
    desired = [d(f"u{i}", str(i)) for i in range(1, 20)] + [d("newbie", "99")]
    plan = plan_users(desired, existing, auth="cas", update_only=True, removals=True)
    assert not plan.inserts and len(plan.skipped) == 1
    assert [u.username for u in plan.suspends] == ["u20"]  # the hand-suspended one is not touched
    keep = plan_users(desired, existing, auth="cas", removals=True, policy="keep")
    assert keep.suspends == []


def test_revive_only_what_the_sync_suspended():
    existing = [m(1, "a", "1", suspended=True), m(2, "b", "2", suspended=True)]
    plan = plan_users([d("a", "1"), d("b", "2")], existing, auth="cas", sync_suspended={1})
    assert [(u.id, u.revive) for u in plan.updates] == [(1, True)]


def test_removal_guard():
    assert removal_guard(2, 10, 0.1, False)
    assert removal_guard(1, 10, 0.1, False) == ""
    assert removal_guard(5, 10, 0.1, True) == ""
    existing = [m(i, f"u{i}", str(i)) for i in range(10)]
    plan = plan_users([d("u0", "0")], existing, auth="cas", removals=True)
    assert plan.suspends == [] and plan.removal_blocked


def test_cohorts_diff_vanish_and_unowned():
    g = Group(dn="cn=x", cn="0123456A$3A", kind="classe", uai="0123456A", name="3A")
    assert cohort_identity(g, "2026", "lock") == ("2026_0123456A$3A", "2026 3A", "lock")
    assert cohort_identity(g, "2026", "lock", locked=False) == ("0123456A$3A", "3A", "")
    existing = [
        MoodleCohort(1, "2026 3A", "2026_0123456A$3A", "lock"),
        MoodleCohort(2, "2026 3B", "2026_0123456A$3B", "lock"),
        MoodleCohort(3, "Club", "club", ""),
        MoodleCohort(4, "Mine?", "2026_0123456A$3C", ""),
    ]
    desired = [
        DesiredCohort("2026_0123456A$3A", "2026 3A", "lock", frozenset({1, 2})),
        DesiredCohort("2026_0123456A$3C", "2026 3C", "lock", frozenset({1})),
        DesiredCohort("2026_0123456A$4A", "2026 4A", "lock", frozenset({3})),
    ]
    members = {1: {2, 5}, 2: {7}, 3: {1}}
    plan = plan_cohorts(desired, existing, members, component="lock", vanish=True)
    assert [(c.cohort_id, c.add, c.remove) for c in plan.changes] == [(1, {1}, {5})]
    assert len(plan.errors) == 1  # unowned cohort with our idnumber
    assert [c.idnumber for c in plan.creates] == ["2026_0123456A$4A"]
    assert [(c.id, ms) for c, ms in plan.vanished] == [(2, {7})]
    none = plan_cohorts(desired, existing, members, component="lock", update_only=True)
    assert not none.creates and none.skipped == 1 and not none.vanished


def test_unlocked_renames_prefixed():
    existing = [MoodleCohort(1, "2026 3A", "2026_X$3A", "lock")]
    desired = [DesiredCohort("X$3A", "3A", "", frozenset(), alt_idnumber="2026_X$3A")]
    plan = plan_cohorts(desired, existing, {}, component="lock", locked=False)
    assert plan.changes[0].values == {"name": "3A", "idnumber": "X$3A", "component": ""}


def test_role_specs_and_plan():
    rules = RoleRules()
    spec = role_spec("cn=r", {"cn": ["editingteacher:course:MATH-3A"], "member": ["uid=1"]}, rules)
    assert (spec.role, spec.level, spec.key, spec.members) == ("editingteacher", "course", "MATH-3A", ("uid=1",))
    assert role_spec("cn=r", {"cn": ["manager:system:"]}, rules).level == "system"
    assert isinstance(role_spec("cn=r", {"cn": ["manager:planet:x"]}, rules), str)
    assert fonction_codes(["0123456A$DOC$Documentation$X$Y"]) == {"DOC"}
    existing = [(10, (1, 1, 5), "lock"), (11, (1, 1, 6), "manual"), (12, (2, 1, 7), "lock"), (13, (3, 9, 7), "lock")]
    plan = plan_roles({(1, 1, 5), (1, 1, 6), (1, 1, 8)}, existing, component="lock", in_scope=lambda k: k[1] == 1)
    assert plan.add == [(1, 1, 8)] and plan.unchanged == 2
    assert plan.remove == [(12, (2, 1, 7))]


def test_transliterated_collisions_and_idnumber_clash():
    from enttui.domain.usernames import UsernameRule

    rule = UsernameRule()
    exact = desired_user(Person(dn="uid=a", login="elise.dupre", jointures=("AC$1",)), rule)
    accented = desired_user(Person(dn="uid=b", login="Élise.Dupré", jointures=("AC$2",)), rule)
    assert exact is not None and accented is not None
    assert accented.username == "elise.dupre" and accented.transliterated and not exact.transliterated
    # in one run, the exact login keeps the username, whatever the order
    plan = plan_users([accented, exact], [], auth="cas")
    assert [x.dn for x in plan.inserts] == ["uid=a"]
    assert [e.dn for e in plan.errors] == ["uid=b"] and "Élise.Dupré" in plan.errors[0].text
    # a later normal run reads only the accented one: it never takes the other person's account
    plan = plan_users([accented], [m(7, "elise.dupre", "1")], auth="cas")
    assert not plan.updates and not plan.inserts and len(plan.errors) == 1
    assert "translittéré" in plan.errors[0].text
    # a "manual" account holding a directory person's idnumber: an error line, no second holder
    plan = plan_users([d("newbie", "42")], [m(9, "hand.made", "42", auth="manual")], auth="cas")
    assert not plan.inserts and len(plan.errors) == 1
    assert "jointure « 42 » déjà portée par le compte « manual » hand.made" in plan.errors[0].text
