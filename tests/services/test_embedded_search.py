"""The embedded directory's in-memory searches (services.ldap_match) answer as MOCK_SYNC does.

Every filter the product builds is asked of both, on the demo world: same entries, same attributes,
same values. Where they differ on purpose (a substring's escaped characters match themselves, as on
a server), the test says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from enttui.config import Config, EntConfig, LdapConfig
from enttui.demo.world import demo_entries
from enttui.domain import ldapfilter as lf
from enttui.domain.annuaire import PeopleQuery
from enttui.domain.attributes import COUNT_ATTRIBUTES, LIST_ATTRIBUTES, PERSON_ATTRIBUTES
from enttui.domain.people import Target
from enttui.services.annuaire import Annuaire
from enttui.services.directory import Directory
from enttui.services.directory_core import DirectoryCore
from enttui.services.ldap_match import FilterSyntaxError, compile_filter
from enttui.services.ldap_results import LdapFailed

BASE = "dc=ent,dc=demo"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
UAI = "0123456A"


LDAP = LdapConfig(
    urls=["mock://embedded"],
    base_dn=BASE,
    people_dn=PEOPLE,
    groups_dn=GROUPS,
    structures_dn=f"ou=structures,{BASE}",
)
ENT = EntConfig(uai=[UAI])


@pytest.fixture(scope="module")
def demo() -> Directory:
    return Directory.embedded(LDAP, ENT, demo_entries(BASE))


def both(directory: Any, base: str, filt: str, attributes: Sequence[str], scope: str = "SUBTREE") -> tuple[Any, Any]:
    """(in memory, MOCK_SYNC) for one search, each sorted by DN."""
    conn = directory._checkout()
    try:
        mine = directory._memory_search(base, filt, attributes, scope)
        theirs = DirectoryCore._search_once(directory, conn, base, filt, attributes, scope)
    finally:
        directory._checkin(conn)
    assert mine is not None, f"the in-memory search declined {filt}"
    return sorted(mine), sorted(theirs)


async def product_filters(directory: Directory) -> list[str]:
    """The filters the Annuaire, the counts and the jobs build, over every kind of query."""
    config = Config(ldap=LDAP, ent=ENT)
    annuaire = Annuaire(directory, config)
    perimeter = await directory.perimeter_filter()
    queries = [
        PeopleQuery(),
        PeopleQuery(text="m"),
        PeopleQuery(text="martin"),
        PeopleQuery(text="Éloïse"),
        PeopleQuery(text="dup"),
        PeopleQuery(text="jean mar"),
        PeopleQuery(text="zz"),
        PeopleQuery(text="Test [démo]"),
        PeopleQuery(target=Target.ELEVE, classe="3A"),
        PeopleQuery(target=Target.PARENT, activated=False),
        PeopleQuery(activated=True, has_mail=False),
        PeopleQuery(target=Target.AUTRE),
        PeopleQuery(has_mail=True, text="a"),
    ]
    filters = [await annuaire.people_search_filter(q) for q in queries]
    return [
        *filters,
        perimeter,
        lf.and_(lf.eq("objectClass", "ENTPerson"), perimeter),
        lf.and_(lf.eq("objectClass", "ENTPerson"), lf.ge("modifyTimestamp", "20260101000000Z")),
        lf.and_(lf.eq("objectClass", "ENTPerson"), lf.not_(lf.present("userPassword"))),
        lf.or_(lf.eq("objectClass", "ENTClasse"), lf.eq("objectClass", "ENTGroupe")),
        lf.or_(),  # matches nothing
        lf.and_(),  # everything
        lf.startswith("cn", f"{UAI}$3"),
        "(cn=*a*e*)",
        "(ENTPersonLogin=*)",
    ]


async def test_every_product_filter_answers_as_mock_sync(demo: Directory) -> None:
    lists: list[Sequence[str]] = [LIST_ATTRIBUTES, COUNT_ATTRIBUTES, PERSON_ATTRIBUTES, [], ["*"]]
    for i, filt in enumerate(await product_filters(demo)):
        attributes = lists[i % len(lists)]
        mine, theirs = both(demo, BASE, filt, attributes)
        assert [dn for dn, _ in mine] == [dn for dn, _ in theirs], filt
        assert mine == theirs, (filt, attributes)


async def test_scopes_and_bases_answer_as_mock_sync(demo: Directory) -> None:
    some = both(demo, PEOPLE, lf.eq("objectClass", "ENTPerson"), ["ENTPersonLogin"])[1][0][0]
    for base, scope in ((some, "BASE"), (some.upper(), "BASE"), (PEOPLE, "LEVEL"), (BASE, "LEVEL")):
        mine, theirs = both(demo, base, lf.present("objectClass"), ["objectClass", "cn"], scope)
        assert mine == theirs, (base, scope)
        assert mine, (base, scope)


def test_a_base_that_does_not_exist_is_no_such_object(demo: Any) -> None:
    with pytest.raises(LdapFailed) as failed:
        demo._memory_search(f"uid=absent,{PEOPLE}", lf.present("objectClass"), ["cn"], "BASE")
    assert failed.value.code == 32


def test_what_it_leaves_to_mock_sync(demo: Any) -> None:
    """Filters it does not parse, unknown attributes, and bases that are not DNs go to MOCK_SYNC."""
    assert demo._memory_search(BASE, "(cn:dn:=x)", ["cn"], "SUBTREE") is None
    assert demo._memory_search(BASE, "(notAnAttribute=x)", ["cn"], "SUBTREE") is None
    assert demo._memory_search("not a dn", lf.present("objectClass"), ["cn"], "SUBTREE") is None
    assert demo._memory_search(BASE, "(cn=x", ["cn"], "SUBTREE") is None


def test_a_final_substring_is_anchored(demo: Any) -> None:
    """``(sn=*in)`` ends with "in", as on a server (MOCK_SYNC also took any "in" inside)."""
    found = demo._memory_search(PEOPLE, lf.endswith("sn", "in"), ["sn"], "SUBTREE")
    assert found and all(attrs["sn"][0].lower().endswith("in") for _, attrs in found)
    everyone = demo._memory_search(PEOPLE, lf.present("sn"), ["sn"], "SUBTREE")
    assert len(found) == sum(attrs["sn"][0].lower().endswith("in") for _, attrs in everyone)


def test_escaped_characters_match_themselves(demo: Any) -> None:
    """A typed ``[``, ``*`` or ``(`` is searched for as it is, never as a wildcard (slapd does the same)."""
    found = demo._memory_search(PEOPLE, lf.contains("sn", "Test [démo]"), ["sn"], "SUBTREE")
    assert [attrs["sn"] for _, attrs in found] == [["Test [démo]"]]
    assert demo._memory_search(PEOPLE, lf.contains("sn", "*"), ["sn"], "SUBTREE") == []
    assert demo._memory_search(PEOPLE, lf.contains("sn", "*)(objectClass=*"), ["sn"], "SUBTREE") == []


async def test_paged_reads_come_whole_and_in_order(demo: Directory) -> None:
    filt = lf.eq("objectClass", "ENTPerson")
    pages = [page async for page in demo.iter_pages(PEOPLE, filt, ["ENTPersonLogin"], page_size=100)]
    assert len(pages) > 10 and all(len(p) == 100 for p in pages[:-1])
    dns = [dn for page in pages for dn, _ in page]
    assert len(dns) == len(set(dns))
    assert sorted(dns) == sorted(dn for dn, _ in both(demo, PEOPLE, filt, ["ENTPersonLogin"])[1])
    assert not demo._pagings  # type: ignore[attr-defined]


async def test_an_abandoned_paged_read_is_forgotten(demo: Directory) -> None:
    pages = demo.iter_pages(PEOPLE, lf.eq("objectClass", "ENTPerson"), ["cn"], page_size=50)
    assert len(await anext(pages)) == 50
    await pages.aclose()
    assert not demo._pagings  # type: ignore[attr-defined]


def test_filter_text_errors() -> None:
    for text in ("", "(", "(cn=x", "(&)", "(!(a=1)(b=2))", "(cn=x)(sn=y)", "(=x)", "(cn=\\2)"):
        with pytest.raises(FilterSyntaxError):
            compile_filter(text)
    predicate, names = compile_filter("(&(objectClass=ENTPerson)(|(sn=Du*)(!(mail=*))))")
    assert names == {"objectclass", "sn", "mail"}
    entry = {"objectclass": [b"ENTPerson"], "sn": [b"Dupont"]}
    assert predicate(entry.get)


def test_ordering_and_numbers_follow_mock_sync() -> None:
    predicate, _ = compile_filter("(uidNumber>=900)")
    assert predicate({"uidnumber": [b"1000"]}.get)  # numbers as numbers, not as text
    predicate, _ = compile_filter("(modifyTimestamp>=20260901000000Z)")
    assert predicate({"modifytimestamp": [b"20261207120000Z"]}.get)
    assert not predicate({"modifytimestamp": [b"20250101000000Z"]}.get)
    assert not predicate({}.get)
    predicate, _ = compile_filter("(uidNumber=0042)")
    assert predicate({"uidnumber": [b"42"]}.get)
