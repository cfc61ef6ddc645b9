"""The demo world generator: determinism, populations, links, defects, LDIF, scaling, real loads."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import subprocess
import sys
import tracemalloc
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import ldap3
import pytest

from enttui.config import config_from_dict
from enttui.demo import ldif, world_entries
from enttui.demo import world as demo_world
from enttui.domain.people import Target, group_from_entry, person_from_entry, structure_from_entry

BASE = "dc=ent,dc=demo"
GEN_LDIF = Path(__file__).resolve().parents[2] / "scripts" / "gen_ldif.py"


# -- helpers ---------------------------------------------------------------------------------------
def parse_ldif(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    """A tiny RFC 2849 content reader: folding, ``::`` base64, blank-line separated records."""
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    entries: list[tuple[str, dict[str, list[str]]]] = []
    dn: str | None = None
    attrs: dict[str, list[str]] = {}
    for line in [*lines, ""]:
        if not line:
            if dn is not None:
                entries.append((dn, attrs))
            dn, attrs = None, {}
            continue
        if line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        if rest.startswith(":"):
            value = base64.b64decode(rest[1:].strip()).decode("utf-8")
        else:
            value = rest[1:] if rest.startswith(" ") else rest
        if name == "dn":
            dn = value
        else:
            attrs.setdefault(name, []).append(value)
    return entries


def ldif_text(entries) -> str:
    buf = io.StringIO()
    ldif.write_ldif(entries, buf)
    return buf.getvalue()


def pop_of(attrs: dict[str, list[str]]) -> str:
    classes = set(attrs["objectClass"])
    for pop, aux in world_entries._AUX.items():
        if aux in classes:
            return pop
    raise AssertionError(attrs["objectClass"])


@pytest.fixture(scope="module")
def demo() -> list[tuple[str, dict[str, list[str]]]]:
    return demo_world.demo_entries(BASE)


@pytest.fixture(scope="module")
def by_dn(demo) -> dict[str, dict[str, list[str]]]:
    return dict(demo)


@pytest.fixture(scope="module")
def people(demo) -> dict[str, dict[str, list[str]]]:
    return {dn: a for dn, a in demo if dn.startswith("uid=")}


@pytest.fixture(scope="module")
def defects() -> dict[str, list[str]]:
    return demo_world.injected_defects(demo_world.demo_spec(BASE))


# -- determinism -----------------------------------------------------------------------------------
def test_same_spec_same_ldif_and_seed_matters():
    first = hashlib.sha256(ldif_text(demo_world.demo_entries()).encode()).hexdigest()
    again = hashlib.sha256(ldif_text(demo_world.demo_entries()).encode()).hexdigest()
    assert first == again
    other_seed = demo_world.WorldSpec(base_dn=BASE, schools=demo_world.demo_spec().schools, seed=7, with_defects=True)
    assert hashlib.sha256(ldif_text(demo_world.generate(other_seed)).encode()).hexdigest() != first
    assert demo_world.injected_defects(demo_world.demo_spec()) == demo_world.injected_defects(demo_world.demo_spec())


# -- shape and populations -------------------------------------------------------------------------
def test_every_value_is_a_list_of_str(demo):
    for dn, attrs in demo:
        assert isinstance(dn, str)
        for name, values in attrs.items():
            assert isinstance(name, str) and isinstance(values, list) and values, (dn, name)
            assert all(isinstance(v, str) and v for v in values), (dn, name, values)


def test_layout_and_structure(demo):
    dns = [dn for dn, _ in demo]
    assert dns[:4] == [f"ou=people,{BASE}", f"ou=groups,{BASE}", f"ou=roles,ou=groups,{BASE}", f"ou=structures,{BASE}"]
    assert len(set(dns)) == len(dns)
    schools = [(dn, a) for dn, a in demo if "ENTEtablissement" in a["objectClass"]]
    assert len(schools) == 1
    sdn, attrs = schools[0]
    assert re.fullmatch(rf"ENTStructureSIREN=\d{{14}},ou=structures,{BASE}", sdn)
    s = structure_from_entry(sdn, attrs)
    assert (s.uai, s.name, s.jointure.startswith("AC-GRIS$")) == ("0123456A", "Collège Jean Moulin", True)
    assert attrs["ENTEtablissementMinistereTutelle"] == ["MENJ"] and attrs["ENTEtablissementContrat"] == ["PU"]
    for dn, a in demo:
        if dn.startswith("uid="):
            assert dn == f"uid={a['uid'][0]},ou=people,{BASE}" and re.fullmatch(r"F\d{8}", a["uid"][0])
            assert a["ENTPersonStructRattach"] == [sdn]


def test_population_counts(demo):
    world = demo_world.World(demo_world.demo_spec(BASE))
    entries = list(world.entries())
    assert len(entries) == len(demo) - 4
    c = world.counts
    assert c["eleve"] == 600 and c["enseignant"] == 50 and c["non-enseignant"] == 20 and c["autre"] == 10
    assert 850 <= c["parent"] <= 950
    kinds = Counter(group_from_entry(dn, a).kind for dn, a in demo if dn.endswith(f"ou=groups,{BASE}"))
    assert kinds["classe"] == 24 + 1  # 6A..3F plus the injected empty class
    assert kinds["groupe"] == 3


def test_domain_parser_resolves_each_population(people, defects):
    expected = {
        "eleve": Target.ELEVE,
        "parent": Target.PARENT,
        "enseignant": Target.ENSEIGNANT,
        "non-enseignant": Target.NON_ENSEIGNANT,
        "autre": Target.AUTRE,
    }
    for dn, attrs in people.items():
        person = person_from_entry(dn, attrs)
        if dn in defects["profile_contradiction"]:
            assert person.target is Target.ELEVE
            assert person_from_entry(dn, attrs, prefer="classes").target is Target.ENSEIGNANT
            continue
        assert person.target is expected[pop_of(attrs)], dn
        assert person.jointure.startswith("ENT$" if pop_of(attrs) == "autre" else "AC-GRIS$")
        assert re.fullmatch(r"\d\d/\d\d/(19|20)\d\d", person.birth_date) and attrs["ENTPersonSexe"][0] in "MF"


def test_names_are_tricky(people):
    sns = {a["sn"][0] for a in people.values()}
    assert any("'" in s for s in sns) and any("-" in s for s in sns) and any(" " in s for s in sns)
    assert any(re.search(r"[éèëêïôç]", s) for s in sns)
    assert any("[" in a["displayName"][0] and "]" in a["displayName"][0] for a in people.values())
    leas = sorted(a["ENTPersonLogin"][0] for a in people.values() if a["cn"] == ["Martin Léa"])
    assert leas[:2] == ["lea.martin", "lea.martin2"]
    for a in people.values():
        assert a["cn"] == [f"{a['sn'][0]} {a['givenName'][0]}"]
        assert a["displayName"] == [f"{a['givenName'][0]} {a['sn'][0]}"]


def test_logins(people, defects):
    dup = set(defects["duplicate_login"])
    seen: dict[str, str] = {}
    for dn, a in people.items():
        login = a["ENTPersonLogin"][0]
        if dn not in dup:
            assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9-]+", login), login
        key = login.lower()
        if key in seen:
            assert {dn, seen[key]} == dup, (login, dn, seen[key])
        seen[key] = dn
    logins = [people[dn]["ENTPersonLogin"][0] for dn in defects["duplicate_login"]]
    assert logins[0] != logins[1] and logins[0].lower() == logins[1].lower()
    # suffix on collision: every suffixed login has its unsuffixed base
    for key in seen:
        base = re.sub(r"\d+$", "", key)
        if base != key:
            assert base in seen


def test_collision_suffix_is_world_wide():
    spec = demo_world.WorldSpec(
        base_dn=BASE, schools=(demo_world.SchoolSpec("0123456A", "A", 300), demo_world.SchoolSpec("0123457A", "B", 300))
    )
    logins = [a["ENTPersonLogin"][0] for dn, a in demo_world.generate(spec) if dn.startswith("uid=")]
    assert len(logins) == len(set(logins))
    assert any(re.search(r"\d$", login) for login in logins)


# -- links -----------------------------------------------------------------------------------------
def test_parent_child_links_both_ways(people, defects):
    students = {dn: a for dn, a in people.items() if pop_of(a) == "eleve"}
    parents = {dn: a for dn, a in people.items() if pop_of(a) == "parent"}
    for dn, a in students.items():
        ps = a.get("ENTEleveParents", [])
        if dn in defects["student_without_parent"]:
            assert not ps and "ENTElevePersRelEleve" not in a
            assert all(dn not in p["ENTAuxPersRelEleveEleve"] for p in parents.values())
            continue
        assert 1 <= len(ps) <= 2
        assert [r.split("$", 1)[0] for r in a["ENTElevePersRelEleve"]] == ps
        for p in ps:
            assert dn in parents[p]["ENTAuxPersRelEleveEleve"]
    for dn, a in parents.items():
        for child in a["ENTAuxPersRelEleveEleve"]:
            if child not in students:
                assert dn in defects["dangling_child"]
                continue
            assert dn in students[child]["ENTEleveParents"]
    sizes = Counter(len(a["ENTAuxPersRelEleveEleve"]) for a in parents.values())
    assert sizes[2] > 0 and sizes[3] > 0


def test_classes_groups_and_members(demo, by_dn, people, defects):
    sdn = next(dn for dn, a in demo if "ENTEtablissement" in a["objectClass"])
    classes = {a["cn"][0].split("$", 1)[1]: a for dn, a in demo if "ENTClasse" in a["objectClass"]}
    for dn, a in demo:
        if "groupOfNames" not in a["objectClass"]:
            continue
        for m in a["member"]:
            assert m in people or dn in defects["dangling_member"], (dn, m)
    for dn, a in people.items():
        pop = pop_of(a)
        if pop == "eleve":
            (value,) = a["ENTEleveClasses"]
            school, _, name = value.rpartition("$")
            assert school == sdn
            if dn in defects["class_not_in_school"]:
                assert name not in classes
                continue
            assert dn in classes[name]["member"]
            assert a["ENTEleveMEF"][0] and a["ENTEleveMajeur"] == ["N"]
        elif pop == "enseignant" and "ENTAuxEnsClasses" in a:
            assert 2 <= len(a["ENTAuxEnsClasses"]) <= 5
            for value in a["ENTAuxEnsClasses"]:
                assert dn in classes[value.rsplit("$", 1)[1]]["member"]
    in_groups = Counter(len(a.get("ENTEleveGroupes", [])) for a in people.values() if pop_of(a) == "eleve")
    assert in_groups[1] > 0 and in_groups[2] > 0
    assert any("ENTAuxEnsGroupes" in a for a in people.values())


def test_role_groups(by_dn, people):
    roles = {dn.split(",", 1)[0][3:]: a for dn, a in by_dn.items() if dn.endswith(f"ou=roles,ou=groups,{BASE}")}
    roles.pop("roles", None)
    assert {"manager:system:", "coursecreator:coursecat:CAT-COLLEGE", "editingteacher:course:MATH-3A"} <= set(roles)
    (principal,) = roles["manager:system:"]["member"]
    assert people[principal]["ENTPersonProfils"] == ["National_DIR"]
    assert len(roles["coursecreator:coursecat:CAT-COLLEGE"]["member"]) == 2
    for m in roles["editingteacher:course:MATH-3A"]["member"]:
        assert "MATHEMATIQUES" in people[m]["ENTPersonFonctions"][0]
        assert any(v.endswith("$3A") for v in people[m]["ENTAuxEnsClasses"])


def test_mail_activation_and_timestamps(people):
    total = len(people)
    no_mail = sum("mail" not in a for a in people.values())
    assert 0.04 * total <= no_mail <= 0.12 * total
    ref = demo_world.demo_spec().reference
    for pop, low, high in (("eleve", 0.3, 0.5), ("parent", 0.3, 0.5)):
        group = [a for a in people.values() if pop_of(a) == pop]
        share = sum(a.get("pwdReset") == ["TRUE"] or "userPassword" not in a for a in group) / len(group)
        assert low <= share <= high, (pop, share)
        # Both kinds of "not activated": a temporary password never used, and no password at all.
        assert any("pwdReset" in a for a in group) and any("userPassword" not in a for a in group)
    for a in people.values():
        assert "pwdReset" not in a or "userPassword" in a
        if pop_of(a) in ("enseignant", "non-enseignant"):
            assert "pwdReset" not in a and a["ENTPersonFonctions"][0].startswith("0123456A$")
        created = datetime.strptime(a["createTimestamp"][0], "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
        modified = datetime.strptime(a["modifyTimestamp"][0], "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
        assert created <= modified <= ref and (ref - created).days < 80
    assert any(pop_of(a) == "autre" and "pwdReset" in a for a in people.values())


# -- defects ---------------------------------------------------------------------------------------
def test_injected_defects(by_dn, people, defects):
    assert set(defects) == {
        "duplicate_login",
        "duplicate_jointure",
        "same_name_birthdate",
        "student_without_parent",
        "dangling_child",
        "class_not_in_school",
        "empty_class",
        "dangling_member",
        "profile_contradiction",
    }
    for name, dns in defects.items():
        assert 1 <= len(dns) <= 2 and all(dn in by_dn for dn in dns), name
    a, b = (people[dn] for dn in defects["duplicate_jointure"])
    assert a["ENTPersonJointure"] == b["ENTPersonJointure"]
    a, b = (people[dn] for dn in defects["same_name_birthdate"])
    assert (a["cn"], a["ENTPersonDateNaissance"]) == (b["cn"], b["ENTPersonDateNaissance"])
    (empty,) = defects["empty_class"]
    assert all(m not in by_dn for m in by_dn[empty]["member"])
    assert len({dn for dns in defects.values() for dn in dns}) == sum(map(len, defects.values())) - 1
    assert demo_world.injected_defects(demo_world.big_spec(2000, 1)) == {}


# -- LDIF ------------------------------------------------------------------------------------------
def test_ldif_round_trip_and_base64(demo):
    text = ldif_text(demo)
    assert text.isascii()
    assert parse_ldif(text) == demo
    assert "ou:: " in text and "\nsn:: " in text
    assert "Test [démo]" not in text


@pytest.mark.parametrize("value", [" lead", ":colon", "<lt", "trail ", "new\nline", "é", "a\rb", ""])
def test_unsafe_values_are_base64(value):
    line = ldif.ldif_line("description", value)
    if value == "":
        assert line == "description: \n"
    else:
        assert line.startswith("description:: ")
        assert base64.b64decode(line.split(":: ", 1)[1]).decode() == value
    assert ldif.ldif_line("description", "a: b <c>") == "description: a: b <c>\n"


def test_dn_with_accents_is_base64():
    buf = io.StringIO()
    assert ldif.write_ldif([("ou=Établissements,dc=x", {"ou": ["Établissements"]})], buf) == 1
    assert buf.getvalue().startswith("dn:: ")
    assert parse_ldif(buf.getvalue()) == [("ou=Établissements,dc=x", {"ou": ["Établissements"]})]


def test_strip_operational(demo):
    stripped = list(ldif.strip_operational(demo))
    assert all("createTimestamp" not in a and "modifyTimestamp" not in a for _, a in stripped)
    assert any("createTimestamp" in a for _, a in demo)  # the originals are untouched


# -- scaling ---------------------------------------------------------------------------------------
def test_big_spec_scales():
    spec = demo_world.big_spec(5000, schools=2, base_dn="dc=ent,dc=test")
    assert len(spec.schools) == 2 and len({s.uai for s in spec.schools}) == 2
    world = demo_world.World(spec)  # how fast: bench/foundation.py (demo start-up, 100k people to LDIF)
    buf = io.StringIO()
    n = ldif.write_ldif(world.entries(), buf)
    total = sum(world.counts.values())
    assert 4750 <= total <= 5250, world.counts
    assert n > total and world.defects == {}
    roles = [line for line in buf.getvalue().split("\n") if line.startswith("dn: cn=editingteacher")]
    assert any(line.endswith(f"-{spec.schools[1].uai},ou=roles,ou=groups,dc=ent,dc=test") for line in roles)


# -- a region: hundreds of schools, a million people ------------------------------------------------
def test_hundreds_of_schools_make_a_valid_perimeter():
    spec = demo_world.big_spec(3000, 300, base_dn="dc=ent,dc=test")
    uais = [s.uai for s in spec.schools]
    assert len(set(uais)) == 300 and all(re.fullmatch(r"\d{7}[A-Z]", u) for u in uais)
    assert len({demo_world.school_siren(s) for s in spec.schools}) == 300
    assert len({demo_world.school_dn(spec.base_dn, s).lower() for s in spec.schools}) == 300
    assert len({s.name for s in spec.schools}) == 300
    cfg = config_from_dict({"ent": {"uai": uais}, "ldap": {"urls": ["ldap://x"], "base_dn": spec.base_dn}}, env={})
    assert cfg.ent.uai == uais  # the whole region is one périmètre
    world = demo_world.World(spec)
    entries = list(world.entries())
    dns = [dn.lower() for dn, _ in entries]
    assert len(set(dns)) == len(dns)
    people = {dn: a for dn, a in entries if dn.startswith("uid=")}
    assert len(people) == sum(world.counts.values())
    logins = [a["ENTPersonLogin"][0].lower() for a in people.values()]
    assert len(set(logins)) == len(logins)
    schools = {demo_world.school_dn(spec.base_dn, s) for s in spec.schools}
    assert all(a["ENTPersonStructRattach"][0] in schools for a in people.values())
    structures = [structure_from_entry(dn, a) for dn, a in entries if dn.startswith("ENTStructureSIREN=")]
    assert sorted(s.uai for s in structures) == sorted(uais)


def test_gen_ldif_writes_the_same_bytes_for_the_same_arguments(tmp_path):
    """What `scripts/gen_ldif.py --people 1000000 --schools 300` does, on a smaller count."""

    def run(name: str, *extra: str) -> bytes:
        out = tmp_path / name
        args = [sys.executable, str(GEN_LDIF), "--people", "4000", "--schools", "300", "-o", str(out), *extra]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "300 établissements" in proc.stderr and "pic mémoire" in proc.stderr
        return out.read_bytes()

    first = run("a.ldif")
    assert first == run("b.ldif")
    assert first != run("c.ldif", "--seed", "7")
    assert first.count(b"\ndn: ENTStructureSIREN=") == 300


def test_generation_streams_school_by_school():
    """Writing a world never holds its entries: the memory the generation takes at its peak is a
    small fraction of the LDIF it writes (the entries as Python objects would take several times it)."""

    class Sink:
        size = 0

        def write(self, text: str) -> int:
            self.size += len(text)
            return len(text)

    sink = Sink()
    spec = demo_world.big_spec(3000, 300, base_dn="dc=ent,dc=test")
    tracemalloc.start()
    try:
        count = ldif.write_ldif(demo_world.generate(spec), sink)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 5000 and sink.size > 4_000_000
    assert peak < sink.size / 4, (peak, sink.size)


# -- real loads ------------------------------------------------------------------------------------
def test_demo_loads_into_mock_sync_with_the_project_schema(demo):
    import importlib.resources

    from ldap3.protocol.rfc4512 import DsaInfo, SchemaInfo

    data = importlib.resources.files("enttui.demo") / "data"
    schema = SchemaInfo.from_json((data / "ldap_schema.json").read_text(encoding="utf-8"))
    info = DsaInfo.from_json((data / "ldap_info.json").read_text(encoding="utf-8"), schema)
    server = ldap3.Server.from_definition("world-test", info, schema)
    conn = ldap3.Connection(server, client_strategy=ldap3.MOCK_SYNC)
    conn.open()
    entries = [demo_world.base_entry(BASE), *demo]
    rejected = [dn for dn, a in entries if not conn.strategy.add_entry(dn, {k: list(v) for k, v in a.items()})]
    assert rejected == []
    conn.search(f"ou=people,{BASE}", "(&(objectClass=ENTEleve)(ENTPersonProfils=National_ELV))", attributes=["uid"])
    assert len(conn.entries) == 600


def test_demo_loads_into_slapd_with_the_project_schema(slapd_factory, demo, tmp_path, defects):
    path = tmp_path / "demo.ldif"
    with path.open("w", encoding="utf-8") as out:
        # the server's base tree already has the suffix and ou=people/groups/structures
        ldif.write_ldif([e for e in demo if e[0] == f"ou=roles,ou=groups,{BASE}" or not e[0].startswith("ou=")], out)
    server = slapd_factory(ldif=path, suffix=BASE)
    conn = ldap3.Connection(server.url, server.admin_dn, server.admin_password, auto_bind=True)
    try:
        conn.search(f"ou=people,{BASE}", "(objectClass=ENTPerson)", attributes=["ENTPersonLogin"])
        assert len(conn.entries) == sum(1 for dn, _ in demo if dn.startswith("uid="))
        login = demo_login = next(a for dn, a in demo if dn == defects["duplicate_login"][0])["ENTPersonLogin"][0]
        conn.search(f"ou=people,{BASE}", f"(ENTPersonLogin={login.upper()})", attributes=["uid"])
        assert len(conn.entries) == 2, demo_login  # case-insensitive matching finds both
        conn.search(f"ou=people,{BASE}", "(pwdReset=TRUE)", attributes=["uid"])
        assert len(conn.entries) > 300
        activated = next(dn for dn, a in demo if "userPassword" in a and dn.startswith("uid="))
        user = ldap3.Connection(server.url, activated, demo_world.DEMO_PASSWORD)
        assert user.bind()
        user.unbind()
    finally:
        conn.unbind()
