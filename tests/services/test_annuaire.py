"""The Annuaire service against a real slapd loaded with a generated school (~4.5k people)."""

from __future__ import annotations

import asyncio
import unicodedata
from collections import Counter
from dataclasses import replace

import pytest

from enttui.config import Config, EntConfig
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.domain.annuaire import PeopleQuery
from enttui.domain.dn import lookup_key
from enttui.domain.people import Person, Target, class_name, person_from_entry
from enttui.services import directory as directory_module
from enttui.services.annuaire import COUNT_CAP, Annuaire, MemberList, PeopleSearch
from enttui.services.directory import Directory
from support.fixtures_ldap import entries_to_ldif, ldap_config

BASE = "dc=ent,dc=test"
UAI = "0123456A"
SPEC = WorldSpec(
    base_dn=BASE,
    schools=(
        SchoolSpec(UAI, "Collège Test", students=1750, teachers=140, staff=55, others=30, classes_per_level=9),
        SchoolSpec("0999999Z", "Collège Voisin", students=60, teachers=6, staff=3, others=2, classes_per_level=1),
    ),
    with_defects=True,
    role_groups=False,
)


@pytest.fixture(scope="module")
def school(slapd_factory):
    """A private slapd with the generated school (offline load, once per module) and its people."""
    entries = list(generate(SPEC))
    server = slapd_factory(ldif=entries_to_ldif(entries))
    people = [
        person_from_entry(dn, attrs)
        for dn, attrs in entries
        if "ENTPerson" in attrs.get("objectClass", [])
        and any(UAI in v or "19012345600031" in v for v in attrs.get("ENTPersonStructRattach", []))
    ]
    structure = next(dn for dn, a in entries if UAI in a.get("ENTStructureUAI", []))
    people = [p for p in people if structure in p.struct_dns]
    return server, entries, people


@pytest.fixture
async def annuaire(school):
    server, _entries, _people = school
    config = Config(ent=EntConfig(uai=[UAI]), ldap=ldap_config(server, base_dn=BASE))
    directory = Directory(config.ldap, config.ent)
    await directory.open()
    try:
        yield Annuaire(directory, config)
    finally:
        await directory.close()


async def _all(search: PeopleSearch | MemberList) -> list[Person]:
    out: list[Person] = []
    page = await search.first_page()
    while True:
        assert len(page.people) <= search.page_size
        out.extend(page.people)
        if not page.has_next:
            break
        nxt = await search.next_page()
        if nxt is None:
            break
        page = nxt
    return out


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def _hit(person: Person, text: str) -> bool:
    """What the search promises: every word in a name (any case) or, folded, in the login."""
    names = f"{person.sn} {person.given_name} {person.display_name}".lower()
    return all(w.lower() in names or _fold(w) in person.login.lower() for w in text.split())


async def test_paging_through_everything_without_loss_or_duplicate(annuaire, school):
    _server, _entries, people = school
    search = annuaire.search(PeopleQuery())
    try:
        got = await _all(search)
        count = await search.count()
    finally:
        await search.close()
    dns = [p.dn.lower() for p in got]
    assert len(dns) == len(set(dns)), "duplicates"
    assert set(dns) == {p.dn.lower() for p in people}
    assert len(people) > COUNT_CAP
    assert count.capped and count.label == "plus de 2 000 résultats"


async def test_previous_pages_and_restart_after_eviction(annuaire):
    search = annuaire.search(PeopleQuery(), prefetch=False)
    try:
        first = await search.first_page()
        pages = [first]
        for _ in range(12):
            page = await search.next_page()
            assert page is not None
            pages.append(page)
        back = await search.previous_page()
        assert back is not None and back.index == 11
        assert [p.dn for p in back.people] == [p.dn for p in pages[11].people]
        again = await search.page(0)  # evicted from the small cache: read again from the start
        assert again is not None and [p.dn for p in again.people] == [p.dn for p in first.people]
        assert not again.has_previous and again.has_next
    finally:
        await search.close()


async def test_search_by_name_ignores_accents_and_case(annuaire, school):
    _server, _entries, people = school
    accented = next(p for p in people if p.given_name and _fold(p.given_name) != p.given_name.lower())
    typed = _fold(accented.given_name).upper()  # "ELOISE" for "Éloïse"
    search = annuaire.search(PeopleQuery(text=typed))
    try:
        got = await _all(search)
    finally:
        await search.close()
    assert accented.dn.lower() in {p.dn.lower() for p in got}
    # case differences only, with the accents: matched by the directory's caseIgnore matching
    search = annuaire.search(PeopleQuery(text=accented.sn.swapcase()))
    try:
        got = await _all(search)
    finally:
        await search.close()
    assert accented.dn.lower() in {p.dn.lower() for p in got}
    assert all(_hit(p, accented.sn) for p in got)


async def test_login_prefix_and_two_words(annuaire, school):
    _server, _entries, people = school
    person = next(p for p in people if p.target is Target.ELEVE)
    prefix = person.login[: len(person.login) - 2]
    search = annuaire.search(PeopleQuery(text=prefix))
    try:
        got = await _all(search)
    finally:
        await search.close()
    assert person.dn.lower() in {p.dn.lower() for p in got}
    expected = {p.dn.lower() for p in people if prefix in p.login}
    assert expected <= {p.dn.lower() for p in got}
    search = annuaire.search(PeopleQuery(text=f"{person.given_name} {person.sn}"))
    try:
        got = await _all(search)
    finally:
        await search.close()
    assert person.dn.lower() in {p.dn.lower() for p in got}
    assert all(_hit(p, f"{person.given_name} {person.sn}") for p in got)


@pytest.mark.parametrize(
    "typed", ["*)(objectClass=*", "*", "[", ")(", "\\"], ids=["injection", "star", "bracket", "parens", "backslash"]
)
async def test_filter_characters_typed_in_the_search(annuaire, school, typed):
    _server, _entries, people = school
    search = annuaire.search(PeopleQuery(text=typed))
    try:
        got = await _all(search)
    finally:
        await search.close()
    names = {p.dn.lower() for p in people if typed in f"{p.sn} {p.given_name} {p.display_name} {p.login}"}
    assert {p.dn.lower() for p in got} == names
    if typed == "[":
        assert names, "the generated school has a name containing ["


async def test_every_filter_matches_the_generated_people(annuaire, school):
    _server, _entries, people = school
    klass = next(p.classes[0] for p in people if p.target is Target.ELEVE and p.classes)
    cases: list[tuple[PeopleQuery, set[str]]] = []
    for target in Target:
        cases.append((PeopleQuery(target=target), {p.dn for p in people if p.target is target}))
    cases += [
        (PeopleQuery(classe=klass), {p.dn for p in people if klass in p.classes or klass in p.teacher_classes}),
        (PeopleQuery(activated=True), {p.dn for p in people if p.activated}),
        (PeopleQuery(activated=False), {p.dn for p in people if not p.activated}),
        (PeopleQuery(has_mail=True), {p.dn for p in people if p.mail}),
        (PeopleQuery(has_mail=False), {p.dn for p in people if not p.mail}),
        (
            PeopleQuery(target=Target.ELEVE, classe=klass, activated=False, has_mail=True),
            {p.dn for p in people if p.target is Target.ELEVE and klass in p.classes and not p.activated and p.mail},
        ),
    ]
    for query, expected in cases:
        assert expected, query
        search = annuaire.search(query)
        try:
            got = await _all(search)
            count = await search.count()
        finally:
            await search.close()
        assert {p.dn.lower() for p in got} == {dn.lower() for dn in expected}, query
        assert count.value == min(len(expected), COUNT_CAP), query


async def test_parent_with_three_children_and_their_names_on_the_page(annuaire, school):
    _server, _entries, people = school
    parent = next(p for p in people if p.target is Target.PARENT and len(p.child_dns) == 3)
    details = await annuaire.person_details(parent.dn)
    assert details is not None
    assert [c.dn.lower() for c in details.children] == [d.lower() for d in parent.child_dns]
    assert [label for label, _ in details.relatives] == ["Enfant"] * 3
    assert details.structures == (f"{UAI} — Collège Test",)
    assert details.moodle is None and details.moodle_status == "base Moodle non configurée"
    search = annuaire.search(PeopleQuery(text=parent.login))
    try:
        page = await search.first_page()
    finally:
        await search.close()
    row = next(p for p in page.people if p.dn == parent.dn)
    label = page.children_label(row)
    for child in details.children:
        assert child.given_name in label


async def test_student_in_two_groups_with_parents(annuaire, school):
    _server, entries, people = school
    members: Counter[str] = Counter()
    for _dn, attrs in entries:
        if "ENTGroupe" in attrs.get("objectClass", []):
            members.update(m.lower() for m in attrs.get("member", []))
    student = next(p for p in people if p.target is Target.ELEVE and members[p.dn.lower()] >= 2 and p.parent_dns)
    details = await annuaire.person_details(student.dn)
    assert details is not None
    assert len(details.person.groups) >= 2
    assert {p.dn.lower() for p in details.parents} == {d.lower() for d in student.parent_dns}
    groups = await annuaire.groups()
    in_groups = [g for g in groups if g.kind == "groupe" and student.dn.lower() in {m.lower() for m in g.members}]
    assert len(in_groups) >= 2


async def test_person_details_of_a_teacher_and_a_missing_dn(annuaire, school):
    _server, _entries, people = school
    teacher = next(p for p in people if p.target is Target.ENSEIGNANT and p.teacher_classes)
    details = await annuaire.person_details(teacher.dn)
    assert details is not None and details.person.teacher_classes == teacher.teacher_classes
    assert await annuaire.person_details(f"uid=nobody,ou=people,{BASE}") is None


async def test_group_list_counts_by_profile(annuaire, school):
    _server, _entries, people = school
    groups = await annuaire.groups()
    assert {g.uai for g in groups} == {UAI}
    by_class: Counter[str] = Counter(c for p in people if p.target is Target.ELEVE for c in p.classes)
    classes = {g.name: g for g in groups if g.kind == "classe"}
    assert set(by_class) <= set(classes)
    some = classes[next(iter(by_class))]
    assert some.counts[Target.ELEVE] == by_class[some.name] or some.dn
    assert some.total == sum(some.counts.values()) + some.unknown
    members = annuaire.members(some)
    got = await _all(members)
    assert {p.dn.lower() for p in got} == {lookup_key(d) for d in some.members} - {
        lookup_key(d) for d in some.members if lookup_key(d) not in {lookup_key(p.dn) for p in got}
    }
    assert len(got) == some.total - some.unknown
    assert (await members.count()).value == some.total


@pytest.mark.parametrize("read_mode", ["one search", "by school"])
async def test_group_counts_match_every_member_target(annuaire, school, read_mode, monkeypatch):
    """Counts by profile read only the students and the members, yet match a full read; the same
    when the students are read school by school (a périmètre of more than BY_SCHOOL_ABOVE schools)."""
    if read_mode == "by school":
        monkeypatch.setattr(directory_module, "BY_SCHOOL_ABOVE", 0)
    _server, _entries, people = school
    target_of = {lookup_key(p.dn): p.target for p in people}
    groups = await annuaire.groups()
    assert groups and all(g.counted for g in groups)
    for g in groups:
        expected = Counter(target_of[lookup_key(m)] for m in g.members if lookup_key(m) in target_of)
        assert {t: n for t, n in g.counts.items() if n} == dict(expected), g.name
        assert g.unknown == sum(1 for m in g.members if lookup_key(m) not in target_of)
    assert any(g.counts[Target.ENSEIGNANT] for g in groups if g.kind == "classe")


async def test_group_list_comes_first_without_counts(annuaire):
    quick = await annuaire.group_list()
    full = {g.key: g for g in await annuaire.groups()}
    assert quick and all(not g.counted and not g.counts for g in quick)
    assert [g.key for g in quick] == [k for k in full if full[k].dn]
    for g in quick:
        assert g.members == full[g.key].members and g.total == full[g.key].total


async def test_a_new_keystroke_cancels_the_stale_search_cleanly(annuaire):
    stale = annuaire.search(PeopleQuery(text="a"))
    task = asyncio.ensure_future(stale.first_page())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fresh = annuaire.search(PeopleQuery(text="e"))
    try:
        page = await fresh.first_page()
        assert page.people
    finally:
        await stale.close()
        await fresh.close()
    # the connection of the cancelled search is usable again
    again = annuaire.search(PeopleQuery(text="a"))
    try:
        assert (await again.first_page()).people
    finally:
        await again.close()


async def test_classes_found_only_on_students_are_listed(school):
    server, entries, _people = school
    extra_dn = f"uid=ZZ1,ou=people,{BASE}"
    structure = next(dn for dn, a in entries if UAI in a.get("ENTStructureUAI", []))
    config = Config(ent=EntConfig(uai=[UAI]), ldap=ldap_config(server, base_dn=BASE, admin=True))
    directory = Directory(config.ldap, config.ent)
    await directory.open()
    try:
        await directory.add(
            extra_dn,
            {
                "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson", "ENTEleve"],
                "uid": ["ZZ1"],
                "cn": ["Orphelin Zoé"],
                "sn": ["Orphelin"],
                "givenName": ["Zoé"],
                "ENTPersonLogin": ["zoe.orphelin"],
                "ENTPersonJointure": ["AC-TEST$ZZ1"],
                "ENTPersonStructRattach": [structure],
                "ENTPersonProfils": ["National_ELV"],
                "ENTEleveStatutEleve": ["SCOLAIRE"],
                "ENTEleveMEF": ["10310019110"],
                "ENTEleveLibelleMEF": ["3EME"],
                "ENTEleveNivFormation": ["3EME"],
                "ENTEleveFiliere": ["GENERALE"],
                "ENTEleveClasses": [f"{structure}$3ZZ"],
                "ENTEleveMajeur": ["N"],
            },
        )
        annuaire = Annuaire(directory, replace(config))
        groups = await annuaire.groups()
        only = [g for g in groups if g.name == "3ZZ"]
        assert len(only) == 1 and only[0].dn == "" and only[0].kind_label == "Classe (élèves)"
        assert only[0].counts[Target.ELEVE] == 1
        assert class_name(f"{structure}$3ZZ") == "3ZZ"
    finally:
        await directory.delete(extra_dn)
        await directory.close()
