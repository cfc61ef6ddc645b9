"""The coherence checks (pure): each check on hand-made entries, the demo world, a clean world."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enttui.demo.world import SchoolSpec, WorldSpec, demo_entries, demo_spec, generate, injected_defects
from enttui.domain.coherence import CoherenceAnalyzer
from enttui.domain.coherence_checks import BLOQUANT, CHECKS, SEVERITIES, MoodleAccount, blocking_failed
from enttui.domain.csv_write import neutralise
from enttui.domain.dn import lookup_key
from enttui.domain.people import Target, person_from_entry, resolve_target
from enttui.errors import ValidationError
from enttui.jobs.coherence import CoherenceReport, coherence_csv, export_coherence_csv

NOW = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)
BASE = "dc=ent,dc=t"
S1 = f"ENTStructureSIREN=1,ou=structures,{BASE}"
S2 = f"ENTStructureSIREN=2,ou=structures,{BASE}"


def structure(dn: str, uai: str) -> tuple[str, dict]:
    return dn, {
        "objectClass": ["top", "organizationalUnit", "ENTStructure", "ENTEtablissement"],
        "ENTStructureUAI": [uai],
    }


def person(uid: str, aux: str, **attrs: object) -> tuple[str, dict]:
    a: dict[str, list[str]] = {
        "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson", aux],
        "sn": [uid.upper()],
        "givenName": ["Prénom"],
        "ENTPersonLogin": [uid],
        "ENTPersonJointure": [f"AC-T${uid}"],
        "ENTPersonStructRattach": [S1],
        "mail": [f"{uid}@example.org"],
    }
    for k, v in attrs.items():
        if v is None:
            a.pop(k, None)
        else:
            a[k] = v if isinstance(v, list) else [str(v)]
    return f"uid={uid},ou=people,{BASE}", a


def dn(uid: str) -> str:
    return f"uid={uid},ou=people,{BASE}"


def group(name: str, members: list[str], kind: str = "ENTClasse", uai: str = "0000001A") -> tuple[str, dict]:
    cn = f"{uai}${name}"
    return f"cn={cn},ou=groups,{BASE}", {"objectClass": ["top", "groupOfNames", kind], "cn": [cn], "member": members}


def family() -> list[tuple[str, dict]]:
    """A clean little school: one student with one parent, one teacher, one class."""
    return [
        person(
            "eleve",
            "ENTEleve",
            ENTEleveClasses=f"{S1}$6A",
            ENTEleveParents=dn("parent"),
            ENTPersonProfils="National_ELV",
        ),
        person("parent", "ENTAuxPersRelEleve", ENTAuxPersRelEleveEleve=dn("eleve"), ENTPersonProfils="National_TUT"),
        person("prof", "ENTAuxEnseignant", ENTPersonProfils="National_ENS"),
    ]


def analyse(people, groups=None, *, perimeter=("0000001A",), moodle=None, **kwargs):
    a = CoherenceAnalyzer(perimeter_uais=perimeter, now=NOW, **kwargs)
    a.add_structures([structure(S1, "0000001A"), structure(S2, "0000002B")])
    a.add_groups(groups if groups is not None else [group("6A", [dn("eleve"), dn("prof")])])
    a.add_people(people)
    if moodle is not None:
        a.set_moodle(*moodle)
    return {r.id: r for r in a.results()}


def found(results, check_id: str) -> list[str]:
    return sorted(f.dn or f.login for f in results[check_id].findings)


def test_catalogue_is_complete_and_french():
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids)) == 16
    for c in CHECKS:
        assert c.severity in SEVERITIES
        assert c.title and len(c.explanation) > 80


def test_clean_family_has_no_finding():
    results = analyse(family())
    assert {k: r.count for k, r in results.items() if r.count} == {}
    assert results["moodle_not_in_directory"].skipped


def test_duplicate_login_is_case_insensitive_and_lists_both():
    people = [*family(), person("autre", "ENTAuxPersExt", ENTPersonLogin="ELEVE")]
    results = analyse(people)
    assert found(results, "duplicate_login") == sorted([dn("eleve"), dn("autre")])
    assert results["duplicate_login"].severity == BLOQUANT
    assert "aussi porté par" in results["duplicate_login"].findings[0].detail
    assert blocking_failed(results.values())


def test_duplicates_outside_the_perimeter_are_not_reported():
    people = [
        *family(),
        person("x1", "ENTAuxPersExt", ENTPersonStructRattach=S2, ENTPersonLogin="dup"),
        person("x2", "ENTAuxPersExt", ENTPersonStructRattach=S2, ENTPersonLogin="dup"),
    ]
    assert analyse(people)["duplicate_login"].count == 0
    # ...but a directory-wide run (no périmètre) sees them
    assert analyse(people, perimeter=None)["duplicate_login"].count == 2


def test_duplicate_jointure_and_same_name_birthdate():
    people = [
        *family(),
        person("a", "ENTAuxPersExt", ENTPersonJointure="AC-T$prof"),
        person("b", "ENTAuxPersExt", sn="Élodie", givenName="Léa", ENTPersonDateNaissance="01/02/1990"),
        person("c", "ENTAuxPersExt", sn="ELODIE", givenName="lea", ENTPersonDateNaissance="01/02/1990"),
        person("d", "ENTAuxPersExt", sn="Elodie", givenName="Léa", ENTPersonDateNaissance="02/02/1990"),
    ]
    results = analyse(people)
    assert found(results, "duplicate_jointure") == sorted([dn("a"), dn("prof")])
    assert found(results, "same_name_birthdate") == sorted([dn("b"), dn("c")])


def test_dangling_links():
    ghost = f"uid=ghost,ou=people,{BASE}"
    people = [
        person("eleve", "ENTEleve", ENTEleveClasses=f"{S1}$6A", ENTEleveParents=[dn("parent"), ghost]),
        person("parent", "ENTAuxPersRelEleve", ENTAuxPersRelEleveEleve=[dn("eleve"), ghost.upper()]),
        person("prof", "ENTAuxEnseignant", ENTPersonStructRattach=f"ENTStructureSIREN=9,ou=structures,{BASE}"),
        person("lost", "ENTAuxPersExt", ENTPersonStructRattach=None),
    ]
    groups = [group("6A", [dn("eleve"), ghost])]
    results = analyse(people, groups)
    assert found(results, "dangling_parent") == [dn("eleve")]
    assert found(results, "dangling_child") == [dn("parent")]
    assert found(results, "dangling_struct") == sorted([dn("prof"), dn("lost")])
    assert found(results, "dangling_member") == [groups[0][0]]
    assert results["student_without_parent"].count == 0
    assert results["empty_class"].count == 0


def test_one_sided_parent_links_are_enough():
    people = [
        person("eleve", "ENTEleve", ENTEleveClasses=f"{S1}$6A"),  # only the parent carries the link
        person("parent", "ENTAuxPersRelEleve", ENTAuxPersRelEleveEleve=dn("eleve")),
        person("eleve2", "ENTEleve", ENTEleveClasses=f"{S1}$6A", ENTElevePersRelEleve=f"{dn('parent2')}$10$1$1$1$0"),
        person("parent2", "ENTAuxPersRelEleve", ENTAuxPersRelEleveEleve=dn("prof")),  # points at a teacher
        person("prof", "ENTAuxEnseignant"),
    ]
    results = analyse(people, [group("6A", [dn("eleve"), dn("eleve2")])])
    assert results["student_without_parent"].count == 0
    assert results["parent_without_child"].count == 0  # eleve2 names parent2


def test_student_without_parent_and_parent_without_child():
    people = [
        person("eleve", "ENTEleve", ENTEleveClasses=f"{S1}$6A", ENTEleveMajeur="O"),
        person("parent", "ENTAuxPersRelEleve", ENTAuxPersRelEleveEleve=dn("prof")),
        person("prof", "ENTAuxEnseignant"),
    ]
    results = analyse(people)
    assert found(results, "student_without_parent") == [dn("eleve")]
    assert "majeur" in results["student_without_parent"].findings[0].detail
    assert found(results, "parent_without_child") == [dn("parent")]


def test_class_not_in_school():
    people = family()
    people[0][1]["ENTEleveClasses"] = [f"{S1}$2NDE1"]
    people.append(person("e2", "ENTEleve", ENTEleveClasses=f"{S2}$6A", ENTEleveParents=dn("parent")))
    people.append(person("e3", "ENTEleve", ENTEleveClasses="0000001A$6A", ENTEleveParents=dn("parent")))
    people.append(person("e4", "ENTEleve", ENTEleveClasses="6A", ENTEleveParents=dn("parent")))
    results = analyse(people)
    # e2: 6A does not exist in school 2; e3 (UAI prefix) and e4 (no prefix: attachment school) are fine
    assert found(results, "class_not_in_school") == sorted([dn("eleve"), dn("e2")])
    details = {f.dn: f.detail for f in results["class_not_in_school"].findings}
    assert "2NDE1" in details[dn("eleve")] and "0000002B" in details[dn("e2")]


def test_empty_classes():
    gdn = f"cn=0000001A$VIDE,ou=groups,{BASE}"
    groups = [
        group("6A", [dn("eleve"), dn("prof")]),
        (gdn, {"objectClass": ["groupOfNames", "ENTClasse"], "cn": ["0000001A$VIDE"], "member": [gdn]}),
        group("CHORALE", [S1], kind="ENTGroupe"),
        group("AUTRE", [dn("eleve")], uai="0000002B"),  # another school: not concerned
        group("VIDE2", [S1], uai="0000002B"),
    ]
    results = analyse(family(), groups)
    assert found(results, "empty_class") == sorted([gdn, groups[2][0]])
    assert results["dangling_member"].count == 0


def test_profile_contradiction():
    people = family()
    people[2][1]["ENTPersonProfils"] = ["National_ELV"]
    people.append(person("sansprofil", "ENTAuxEnseignant"))
    people.append(person("ancien", "ENTAuxEnseignant", ENTPersonProfils="National_3"))
    results = analyse(people)
    assert found(results, "profile_contradiction") == [dn("prof")]
    assert "Enseignant" in results["profile_contradiction"].findings[0].detail


def test_no_mail_only_for_accounts_that_get_credentials():
    people = family()
    for _dn, a in people:
        a.pop("mail")
    results = analyse(people)
    assert found(results, "no_mail") == sorted([dn("eleve"), dn("parent")])


def test_never_activated_after_n_days():
    old = (NOW - timedelta(days=31)).strftime("%Y%m%d%H%M%SZ")
    recent = (NOW - timedelta(days=29)).strftime("%Y%m%d%H%M%SZ")
    people = family()
    people[0][1].update(pwdReset=["TRUE"], createTimestamp=[old])
    people[1][1].update(pwdReset=["TRUE"], createTimestamp=[recent])
    people[2][1].update(createTimestamp=[old], userPassword=["{SSHA}x"])  # activated
    people.append(person("autre", "ENTPerson", createTimestamp=old))  # no password ever: not activated
    results = analyse(people)
    assert found(results, "never_activated") == sorted([dn("eleve"), dn("autre")])
    details = {f.dn: f.detail for f in results["never_activated"].findings}
    assert "31 jours" in details[dn("eleve")] and "aucun mot de passe" in details[dn("autre")]
    assert found(analyse(people, never_activated_days=10), "never_activated") == sorted(
        [dn("eleve"), dn("parent"), dn("autre")]
    )


def test_moodle_cross_checks():
    users = [
        MoodleAccount(1, "eleve", auth="cas"),
        MoodleAccount(2, "gone", "Jean", "Parti", auth="cas"),
        MoodleAccount(3, "gone2", auth="cas", suspended=True),  # already suspended: not reported
    ]
    usernames = ["eleve", "gone", "gone2", "admin"]
    results = analyse(family(), moodle=(users, usernames), synced_targets=["eleve", "parent"])
    assert [f.login for f in results["moodle_not_in_directory"].findings] == ["gone"]
    assert results["moodle_not_in_directory"].findings[0].name == "Parti Jean"
    assert found(results, "directory_not_in_moodle") == [dn("parent")]
    assert not results["directory_not_in_moodle"].skipped


def test_findings_carry_the_school_and_any_attribute_spelling_works():
    """A person's finding carries its attachment school (the périmètre's first when several), a
    group's its cn prefix, an unknown school nothing; names spelled in another case give the same."""
    people = family()
    people[2][1]["ENTPersonProfils"] = ["National_ELV"]  # contradiction, school 1
    people.append(person("lost", "ENTAuxPersExt", ENTPersonStructRattach=f"ENTStructureSIREN=9,ou=s,{BASE}"))
    people.append(person("both", "ENTAuxPersExt", ENTPersonStructRattach=[S2, S1], mail=None))
    gdn = f"cn=0000001A$VIDE,ou=groups,{BASE}"
    groups = [
        group("6A", [dn("eleve"), dn("prof")]),
        (gdn, {"objectClass": ["groupOfNames", "ENTClasse"], "cn": ["0000001A$VIDE"], "member": [gdn]}),
    ]
    results = analyse(people, groups)
    schools = {cid: {f.dn: f.uai for f in r.findings} for cid, r in results.items()}
    assert schools["profile_contradiction"] == {dn("prof"): "0000001A"}
    assert schools["dangling_struct"] == {dn("lost"): ""}
    assert schools["no_mail"] == {dn("both"): "0000001A"}  # of the périmètre, although listed second
    assert schools["empty_class"] == {gdn: "0000001A"}
    assert results["dangling_struct"].findings[0].school == "sans établissement"
    lowered = [(d, {k.lower(): v for k, v in a.items()}) for d, a in people]
    again = analyse(lowered, groups)
    assert {k: [f.as_dict() for f in r.findings] for k, r in again.items()} == {
        k: [f.as_dict() for f in r.findings] for k, r in results.items()
    }


def test_by_school_puts_the_most_blocked_first():
    from enttui.domain.coherence_checks import CheckResult, Finding, by_school, for_school

    spec = {c.id: c for c in CHECKS}
    results = [
        CheckResult(spec["duplicate_login"], [Finding("a", "", "", "", "B"), Finding("b", "", "", "", "B")]),
        CheckResult(spec["empty_class"], [Finding("c", "", "", "", "A"), Finding("d", "", "", "", "")]),
        CheckResult(spec["no_mail"], [Finding("e", "", "", "", "A"), Finding("f", "", "", "", "C")]),
    ]
    summary = by_school(results)
    assert [s.uai for s in summary] == ["B", "A", "", "C"]
    assert summary[0].counts == {"duplicate_login": 2} and summary[0].blocking == 2
    assert (summary[1].to_fix, summary[1].information, summary[1].total) == (1, 1, 2)
    assert [r.count for r in for_school(results, "A")] == [0, 1, 1]


def test_dn_keys_match_lookup_key():
    from enttui.domain.dn import DnKeys

    keys = DnKeys()
    for value in (
        "uid=F0801,ou=people,dc=ent,dc=test",
        "UID=F0801, OU=People,dc=x",
        "uid=jean.dupont,ou=people,dc=x",
        "uid=Éa,ou=P,dc=x",
        "cn=Dupont\\2C Jean,dc=x",
        "uid=x,ou=a+cn=b,dc=x",
        "uid=x,,dc=x",
        "uid=x,ou=bad\\",
        "uid=ab",
        "",
    ):
        assert keys(value) == lookup_key(value), value
        assert keys(value) == lookup_key(value), value  # the parent's key now from the cache


def test_dn_normalisation():
    """The checks compare DNs by the one key of enttui.domain.dn (case, spaces, escapes)."""
    assert lookup_key(" UID=A, OU=People ,dc=X") == "uid=a,ou=people,dc=x"
    assert lookup_key("cn=Dupont\\2C Jean,dc=x") == lookup_key("CN=dupont\\, jean,dc=x")


def _split(entries):
    def oc(a):
        return {c.lower() for c in a.get("objectClass", [])}

    return (
        [e for e in entries if "entstructure" in oc(e[1])],
        [e for e in entries if "groupofnames" in oc(e[1])],
        [e for e in entries if "entperson" in oc(e[1])],
    )


def _run_world(entries, uais, now=NOW, days=30):
    structures, groups, people = _split(entries)
    a = CoherenceAnalyzer(perimeter_uais=uais, now=now, never_activated_days=days)
    a.add_structures(structures)
    a.add_groups(groups)
    for start in range(0, len(people), 500):  # fed page by page, as the job does
        a.add_people(people[start : start + 500])
    return {r.id: r for r in a.results()}, people


def test_demo_world_defects_are_found_exactly():
    results, _ = _run_world(demo_entries("dc=ent,dc=demo"), ["0123456A"])
    injected = injected_defects(demo_spec("dc=ent,dc=demo"))
    assert injected
    for check_id, dns in injected.items():
        assert found(results, check_id) == sorted(dns), check_id
    for r in results.values():
        if r.severity != "information" and r.id not in injected:
            assert r.count == 0, r.id


def test_clean_generated_school_has_no_defect():
    spec = WorldSpec(base_dn=BASE, schools=(SchoolSpec("0000001A", "Collège A", students=400),), role_groups=False)
    entries = list(generate(spec))
    ref = spec.reference
    results, people = _run_world(entries, ["0000001A"], now=ref, days=100)
    for r in results.values():
        if r.id != "no_mail":
            assert r.count == 0, (r.id, r.findings[:3])
    expected = sorted(
        p.dn
        for p in (person_from_entry(d, a) for d, a in people)
        if not p.mail and resolve_target(p.profils, p.object_classes) in (Target.ELEVE, Target.PARENT, Target.AUTRE)
    )
    assert found(results, "no_mail") == expected


# -- CSV and export paths -------------------------------------------------------------------------


def _report(results) -> CoherenceReport:
    return CoherenceReport(checks=list(results.values()), checked_at=NOW)


def test_csv_is_excel_friendly_and_neutralised(tmp_path: Path):
    people = [*family(), person("autre", "ENTAuxPersExt", ENTPersonLogin="=ELEVE", sn="+cmd", givenName="@x")]
    people.append(person("autre2", "ENTAuxPersExt", ENTPersonLogin="=eleve", sn="-1;2"))
    report = _report(analyse(people))
    data = coherence_csv(report.checks)
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0] == '"UAI";"Contrôle";"Gravité";"DN";"Identifiant";"Nom";"Détail"'
    assert '"\'=ELEVE"' in text and '"\'+cmd @x"' in text
    assert "\"'-1;2" in text
    assert neutralise("-3") == "'-3" and neutralise("a=b") == "a=b"
    path = tmp_path / "rapport.csv"
    rows = export_coherence_csv(report, path, check_id="duplicate_login")
    assert rows == 2
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValidationError, match="existe déjà"):
        export_coherence_csv(report, path)
    assert export_coherence_csv(report, path, overwrite=True) == report.total_findings


def test_report_as_dict_is_json_ready():
    import json

    report = _report(analyse([*family(), person("autre", "ENTAuxPersExt", ENTPersonLogin="eleve")]))
    doc = json.loads(json.dumps(report.as_dict()))
    assert doc["blocking_failed"] is True and doc["ok"] is False
    assert doc["checks"][0]["id"] == "duplicate_login" and doc["checks"][0]["count"] == 2
    assert dataclasses.is_dataclass(report)
