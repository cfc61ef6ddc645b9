"""A big périmètre read school by school (``iter_people(by_school=True)``), against slapd.

Above ``BY_SCHOOL_ABOVE`` schools, the whole-périmètre reads (the sync's full read, the diffusion's
and the regeneration's plans) ask slapd for one school at a time instead of an OR of every school's
DN. Whatever the reader, they must give exactly the people the OR gives, each once: a person
attached to two schools of the périmètre, a DN spelled another way, a school outside the périmètre.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from enttui.config import EntConfig
from enttui.demo import world as demo_world
from enttui.domain import ldapfilter as lf
from enttui.domain.attributes import SYNC_PERSON_ATTRIBUTES
from enttui.domain.dn import dn_key
from enttui.domain.people import Person, person_object_classes
from enttui.services import directory as directory_module
from enttui.services.directory import Directory
from support.fixtures_ldap import ldap_config
from support.slapd import Slapd, entries_to_ldif

BASE = "dc=ent,dc=test"
PEOPLE = f"ou=people,{BASE}"
SCHOOLS = 11  # the périmètre holds the first 10, above BY_SCHOOL_ABOVE
READERS = ["ldap3", "python-ldap"]


def special(uid: str, structs: list[str]) -> tuple[str, dict[str, list[str]]]:
    return (
        f"uid={uid},{PEOPLE}",
        {
            "objectClass": [*person_object_classes("ENTAuxPersExt")],
            "uid": [uid],
            "cn": [f"Cas {uid}"],
            "sn": ["Cas"],
            "ENTPersonLogin": [uid],
            "ENTPersonJointure": [f"ENT${uid}"],
            "ENTPersonProfils": ["National_DIR"],
            "ENTPersonStructRattach": structs,
        },
    )


@pytest.fixture(scope="module")
def region(slapd_factory: Callable[..., Slapd]) -> tuple[Slapd, list[str]]:
    spec = demo_world.big_spec(600, SCHOOLS, BASE)
    dns = [demo_world.school_dn(BASE, s) for s in spec.schools]
    entries = [e for e in demo_world.containers(BASE) if e[0] == f"ou=roles,ou=groups,{BASE}"]
    entries += list(demo_world.generate(spec))
    entries += [
        special("deux.ecoles", [dns[3], dns[0]]),  # given with school 0 only
        special("deux.ecoles.b", [dns[2], dns[7]]),  # given with school 2 only
        special("autre.graphie", [dns[4].upper().replace(",", " , ")]),  # another spelling of school 4
        special("hors.et.dans", [dns[10], dns[5]]),  # one school outside the périmètre, one inside
        special("hors", [dns[10]]),  # outside only: not read
    ]
    server = slapd_factory(ldif=entries_to_ldif(entries))
    return server, [s.uai for s in spec.schools[:10]]


def people_searches(directory: Directory, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The filters of the people searches the directory sends from now on."""
    asked: list[str] = []
    real_pages = directory.iter_pages

    def counting_pages(base: str, filt: str, attributes: object, **kw: object):  # type: ignore[no-untyped-def]
        if "(objectClass=ENTPerson)" in filt:
            asked.append(filt)
        return real_pages(base, filt, attributes, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(directory, "iter_pages", counting_pages)
    return asked


async def read(directory: Directory, **kw: object) -> list[Person]:
    return [p async for page in directory.iter_people(**kw) for p in page]  # type: ignore[arg-type]


@pytest.mark.parametrize("reader", READERS)
async def test_by_school_reads_what_the_or_reads_each_person_once(
    region: tuple[Slapd, list[str]], reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, uais = region
    directory = Directory(ldap_config(server, reader=reader), EntConfig(uai=uais))
    asked = people_searches(directory, monkeypatch)
    await directory.open()
    try:
        for attributes in (SYNC_PERSON_ATTRIBUTES, ("ENTPersonLogin", "ENTPersonStructRattach")):
            for filt in (None, lf.eq("ENTPersonProfils", "National_DIR")):
                asked.clear()
                whole = await read(directory, filt=filt, attributes=attributes, prefetch=True)
                assert len(asked) == 1  # one search, the OR of the schools
                asked.clear()
                parts = await read(directory, filt=filt, attributes=attributes, prefetch=True, by_school=True)
                assert len(asked) == 10  # one search per school
                counts = Counter(dn_key(p.dn) for p in parts)
                assert [k for k, n in counts.items() if n > 1] == []
                assert set(counts) == {dn_key(p.dn) for p in whole}
                by_dn = {dn_key(p.dn): p for p in whole}
                assert all(p == by_dn[dn_key(p.dn)] for p in parts)  # the same person, field by field
        logins = {p.login for p in await read(directory, attributes=("ENTPersonLogin",), by_school=True)}
        assert {"deux.ecoles", "deux.ecoles.b", "autre.graphie", "hors.et.dans"} <= logins
        assert "hors" not in logins
        # ENTPersonStructRattach is read to tell the schools apart, not handed out when not asked for
        assert all(p.struct_dns == () for p in await read(directory, attributes=("ENTPersonLogin",), by_school=True))
    finally:
        await directory.close()


async def test_small_perimeter_reads_in_one_search(
    region: tuple[Slapd, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, uais = region
    monkeypatch.setattr(directory_module, "BY_SCHOOL_ABOVE", 10)
    directory = Directory(ldap_config(server), EntConfig(uai=uais))
    asked = people_searches(directory, monkeypatch)
    await directory.open()
    try:
        people = await read(directory, attributes=("ENTPersonLogin",), by_school=True)
    finally:
        await directory.close()
    assert len(asked) == 1
    assert "deux.ecoles" in {p.login for p in people}


async def test_counts_by_profile_by_school_are_the_counts_of_one_search(
    region: tuple[Slapd, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, uais = region
    directory = Directory(ldap_config(server, reader="python-ldap"), EntConfig(uai=uais))
    await directory.open()
    try:
        by_school = await directory.count_by_target()
        monkeypatch.setattr(directory_module, "BY_SCHOOL_ABOVE", 10)
        one_search = await directory.count_by_target()
    finally:
        await directory.close()
    assert by_school == one_search
    assert by_school.total > 500
