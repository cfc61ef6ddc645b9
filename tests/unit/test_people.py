"""People, groups, structures and profile resolution (enttui.domain.people)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from enttui.domain.people import (
    PROFILE_TARGETS,
    ProfileCounts,
    Target,
    class_name,
    format_ldap_time,
    group_from_entry,
    jointure_key,
    jointure_source,
    normalise_attrs,
    parse_ldap_time,
    person_from_entry,
    resolve_target,
    structure_from_entry,
)

SCHOOL = "ou=0123456A,ou=structures,dc=ent,dc=test"


@pytest.mark.parametrize(
    ("code", "target"),
    [
        ("National_ELV", Target.ELEVE),
        ("National_TUT", Target.PARENT),
        ("National_ENS", Target.ENSEIGNANT),
        ("National_DOC", Target.ENSEIGNANT),
        ("National_DIR", Target.NON_ENSEIGNANT),
        ("National_EVS", Target.NON_ENSEIGNANT),
        ("National_ETA", Target.NON_ENSEIGNANT),
        ("National_ACA", Target.NON_ENSEIGNANT),
        ("National_COL", Target.NON_ENSEIGNANT),
    ],
)
def test_national_codes(code: str, target: Target) -> None:
    assert resolve_target([code], []) is target


@pytest.mark.parametrize(
    ("n", "target"),
    [
        (1, Target.ELEVE),
        (2, Target.PARENT),
        (3, Target.ENSEIGNANT),
        (4, Target.NON_ENSEIGNANT),
        (5, Target.NON_ENSEIGNANT),
        (6, Target.NON_ENSEIGNANT),
        (7, Target.NON_ENSEIGNANT),
        (8, Target.NON_ENSEIGNANT),
        (9, Target.NON_ENSEIGNANT),
    ],
)
def test_old_numbered_codes(n: int, target: Target) -> None:
    assert resolve_target([f"National_{n}"], []) is target


def test_every_code_is_mapped() -> None:
    assert len(PROFILE_TARGETS) == 18


@pytest.mark.parametrize(
    ("classes", "target"),
    [
        (["top", "inetOrgPerson", "ENTPerson", "ENTEleve"], Target.ELEVE),
        (["ENTPerson", "entauxpersreleleve"], Target.PARENT),  # case-insensitive
        (["ENTPerson", "ENTAuxEnseignant"], Target.ENSEIGNANT),
        (["ENTPerson", "ENTAuxNonEnsEtab"], Target.NON_ENSEIGNANT),
        (["ENTPerson", "ENTAuxNonEnsServAc"], Target.NON_ENSEIGNANT),
        (["ENTPerson", "ENTAuxNonEnsCollLoc"], Target.NON_ENSEIGNANT),
        (["ENTPerson", "ENTAuxPersExt"], Target.AUTRE),
        (["ENTPerson", "ENTAuxTuteurStage"], Target.AUTRE),
        (["ENTPerson"], Target.AUTRE),
    ],
)
def test_object_classes_decide_without_profile(classes: list[str], target: Target) -> None:
    assert resolve_target([], classes) is target


def test_unknown_profile_falls_back_to_classes_then_autre() -> None:
    assert resolve_target(["Local_INTERVENANT"], ["ENTAuxEnseignant"]) is Target.ENSEIGNANT
    assert resolve_target(["Local_INTERVENANT"], []) is Target.AUTRE
    assert resolve_target([" National_ELV "], []) is Target.ELEVE  # stray spaces


def test_prefer_decides_which_source_wins() -> None:
    profils, classes = ["National_TUT"], ["ENTPerson", "ENTAuxEnseignant"]
    assert resolve_target(profils, classes) is Target.PARENT
    assert resolve_target(profils, classes, prefer="profils") is Target.PARENT
    assert resolve_target(profils, classes, prefer="classes") is Target.ENSEIGNANT
    # each source still fills in when the other is silent
    assert resolve_target(profils, ["ENTPerson"], prefer="classes") is Target.PARENT
    assert resolve_target([], ["ENTEleve"], prefer="profils") is Target.ELEVE


def test_targets_and_credentials() -> None:
    assert [t.label for t in Target] == ["Élève", "Parent", "Enseignant", "Non enseignant", "Autre"]
    assert {t for t in Target if t.gets_ent_credentials} == {Target.ELEVE, Target.PARENT, Target.AUTRE}


def test_class_names_and_jointures() -> None:
    assert class_name(f"{SCHOOL}$3A") == "3A"
    assert class_name("0123456A$4 EME B ") == "4 EME B"
    assert class_name("3A") == "3A"
    assert jointure_key("AC-RENNES$128407") == "128407"
    assert jointure_source("AC-RENNES$128407") == "AC-RENNES"
    assert jointure_key("ENT$a$b") == "a$b"
    assert jointure_key("nodollar") == "nodollar" and jointure_source("nodollar") == ""


def test_ldap_times() -> None:
    moment = parse_ldap_time("20261121083000Z")
    assert moment == datetime(2026, 11, 21, 8, 30, tzinfo=UTC)
    assert parse_ldap_time("20261121083000.123Z") == moment
    assert parse_ldap_time("") is None and parse_ldap_time(None) is None and parse_ldap_time("garbage") is None
    assert format_ldap_time(moment) == "20261121083000Z"


def test_normalise_attrs() -> None:
    out = normalise_attrs(
        {
            "cn": "A",
            "pwdReset": [True],
            "jpeg": [b"\xc3\xa9t\xc3\xa9"],
            "modifyTimestamp": [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)],
            "empty": [],
            "none": None,
        }
    )
    assert out == {"cn": ["A"], "pwdReset": ["TRUE"], "jpeg": ["été"], "modifyTimestamp": ["20260102030405Z"]}


def test_student_with_parents_from_both_attributes() -> None:
    p1 = "uid=p1,ou=people,dc=ent,dc=test"
    p2 = "uid=p2,ou=people,dc=ent,dc=test"
    attrs = {
        "objectclass": ["top", "ENTPerson", "ENTEleve"],  # attribute names are case-insensitive
        "ENTPERSONLOGIN": ["lea.martin"],
        "sn": ["MARTIN"],
        "givenName": ["Léa"],
        "ENTPersonJointure": ["AC-TEST$42", "ENT$9"],
        "ENTPersonStructRattach": [SCHOOL],
        "ENTEleveClasses": [f"{SCHOOL}$3A"],
        "ENTEleveGroupes": [f"{SCHOOL}$LATIN"],
        "ENTEleveParents": [p1],
        "ENTElevePersRelEleve": [f"{p1.upper()}$10$1$1$0$0", f"{p2}$20$1$0$0$0"],
        "ENTPersonDateNaissance": ["01/02/2012"],
        "createTimestamp": ["20260101000000Z"],
        "userPassword": ["{SSHA}x"],
    }
    person = person_from_entry("uid=e1,ou=people,dc=ent,dc=test", attrs)
    assert person.login == "lea.martin"
    assert person.target is Target.ELEVE
    assert person.classes == ("3A",) and person.groups == ("LATIN",)
    assert person.parent_dns == (p1, p2)  # p1 given twice (case differs), kept once
    assert person.jointure == "AC-TEST$42" and person.idnumber == "42"
    assert person.full_name == "MARTIN Léa"
    assert person.birth_date == "01/02/2012"
    assert person.created == datetime(2026, 1, 1, tzinfo=UTC)
    assert person.activated and person.has_password  # a password, no pwdReset
    assert person.is_local("ENT")


def test_activation_flag_and_its_configuration() -> None:
    base = {"objectClass": ["ENTPerson"], "ENTPersonLogin": ["x"], "pwdReset": ["TRUE"], "userPassword": ["{SSHA}x"]}
    assert not person_from_entry("uid=x", base).activated
    assert person_from_entry("uid=x", {**base, "pwdReset": ["FALSE"]}).activated
    custom = {
        "objectClass": ["ENTPerson"],
        "ENTPersonLogin": ["x"],
        "ENTPersonEtat": ["inactif"],
        "userPassword": ["{SSHA}x"],
    }
    assert not person_from_entry(
        "uid=x", custom, inactive_attribute="ENTPersonEtat", inactive_value="INACTIF"
    ).activated
    assert person_from_entry("uid=x", custom).activated


def test_an_account_without_password_is_not_activated_and_the_hash_is_not_kept() -> None:
    """DOMAIN.md "Credentials": no userPassword at all = never given credentials = not activated."""
    bare = {"objectClass": ["ENTPerson"], "ENTPersonLogin": ["x"]}
    person = person_from_entry("uid=x", bare)
    assert not person.activated and not person.has_password
    assert person.state_label == "non activé" and person.password_state == "aucun mot de passe"
    hashed = person_from_entry("uid=x", {**bare, "userPassword": [b"{SSHA}secret-hash"]})
    assert hashed.activated and hashed.password_state == "pwdReset absent"
    assert "secret-hash" not in repr(hashed)
    for spelling in ("userpassword", "USERPASSWORD", "UserPassword"):  # the server's own spelling
        assert person_from_entry("uid=x", {**bare, spelling: ["{SSHA}x"]}).has_password, spelling


def test_parent_teacher_and_staff() -> None:
    parent = person_from_entry(
        "uid=p",
        {"objectClass": ["ENTPerson", "ENTAuxPersRelEleve"], "ENTAuxPersRelEleveEleve": ["uid=e1", "uid=e2"]},
    )
    assert parent.target is Target.PARENT and parent.child_dns == ("uid=e1", "uid=e2")
    teacher = person_from_entry(
        "uid=t",
        {
            "objectClass": ["ENTPerson", "ENTAuxEnseignant"],
            "ENTPersonProfils": ["National_DOC"],
            "ENTAuxEnsClasses": [f"{SCHOOL}$3A", f"{SCHOOL}$4B"],
            "ENTAuxEnsGroupes": [f"{SCHOOL}$LATIN"],
        },
    )
    assert teacher.target is Target.ENSEIGNANT
    assert teacher.teacher_classes == ("3A", "4B") and teacher.teacher_groups == ("LATIN",)
    staff = person_from_entry(
        "uid=s", {"objectClass": ["ENTPerson", "ENTAuxNonEnsEtab"], "ENTAuxNonEnsEtabService": ["Intendance"]}
    )
    assert staff.target is Target.NON_ENSEIGNANT and staff.service == "Intendance"
    nobody = person_from_entry("uid=n", {})
    assert nobody.target is Target.AUTRE and nobody.login == "" and nobody.full_name == ""


def test_groups_and_structures() -> None:
    classe = group_from_entry(
        "cn=0123456A$3A,ou=groups", {"objectClass": ["ENTClasse"], "cn": ["0123456A$3A"], "member": ["uid=a", "uid=b"]}
    )
    assert (classe.kind, classe.uai, classe.name, classe.group_id) == ("classe", "0123456A", "3A", "0123456A$3A")
    assert classe.members == ("uid=a", "uid=b")
    groupe = group_from_entry("cn=g", {"objectclass": ["entgroupe"], "cn": ["0123456A$LATIN"]})
    assert groupe.kind == "groupe" and groupe.name == "LATIN"
    other = group_from_entry("cn=x", {"objectClass": ["groupOfNames"], "cn": ["plain"]})
    assert (other.kind, other.uai, other.name) == ("autre", "", "plain")
    school = structure_from_entry(
        SCHOOL, {"ou": ["0123456A"], "ENTStructureUAI": ["0123456A"], "ENTStructureSIREN": ["1"]}
    )
    assert (school.uai, school.name, school.siren) == ("0123456A", "0123456A", "1")  # name falls back to ou


def test_profile_counts() -> None:
    counts = ProfileCounts()
    counts.add(Target.ELEVE)
    counts.add(Target.ELEVE, 2)
    counts.add(Target.AUTRE)
    assert counts.counts[Target.ELEVE] == 3 and counts.counts[Target.PARENT] == 0
    assert counts.total == 4
