"""The directory facade against a real slapd (and the same key behaviours on the embedded one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import ldap3
import pytest
import trustme

from enttui.config import EntConfig, LdapConfig, Secret
from enttui.domain import attributes
from enttui.domain import ldapfilter as lf
from enttui.domain.dn import dn_key
from enttui.domain.people import Target, format_ldap_time, person_from_entry
from enttui.errors import DirectoryError, IncompleteReadError
from enttui.services.directory import Directory
from enttui.services.directory_ldap import LdapDirectory
from support.fixtures_ldap import LdapSandbox, ldap_config
from support.slapd import Slapd, SlapdTls, free_port

UAI = "0123456A"
OTHER_UAI = "0999999Z"
ENT = EntConfig(uai=[UAI])


def eleve(base: str, uid: str, school: str, cls: str, **extra: list[str]) -> tuple[str, dict[str, list[str]]]:
    attrs = {
        "objectClass": ["ENTEleve"],
        "uid": [uid],
        "cn": [f"Eleve {uid}"],
        "sn": [f"NOM{uid}"],
        "givenName": ["Prenom"],
        "ENTPersonLogin": [f"prenom.{uid}"],
        "ENTPersonJointure": [f"AC-TEST${uid}"],
        "ENTPersonStructRattach": [school],
        "ENTPersonProfils": ["National_ELV"],
        "ENTEleveStatutEleve": ["SCOLAIRE"],
        "ENTEleveMEF": ["10310019110"],
        "ENTEleveLibelleMEF": ["3EME"],
        "ENTEleveNivFormation": ["3EME"],
        "ENTEleveFiliere": ["GENERALE"],
        "ENTEleveClasses": [f"{school}${cls}"],
        "ENTEleveMajeur": ["N"],
    }
    attrs.update(extra)
    return f"uid={uid},ou=people,{base}", attrs


def person(base: str, uid: str, school: str, classes: list[str], **extra: list[str]) -> tuple[str, dict]:
    attrs = {
        "objectClass": ["ENTPerson", *classes],
        "uid": [uid],
        "cn": [f"Personne {uid}"],
        "sn": [f"NOM{uid}"],
        "ENTPersonLogin": [f"login.{uid}"],
        "ENTPersonJointure": [f"AC-TEST${uid}"],
        "ENTPersonStructRattach": [school],
    }
    attrs.update(extra)
    return f"uid={uid},ou=people,{base}", attrs


def school_entries(base: str) -> list[tuple[str, dict[str, list[str]]]]:
    """Two schools (only UAI in the périmètre), five people of UAI, one of the other, three groups."""
    a = f"ou={UAI},ou=structures,{base}"
    z = f"ou={OTHER_UAI},ou=structures,{base}"
    people = f"ou=people,{base}"
    out: list[tuple[str, dict[str, list[str]]]] = []
    for dn, uai, name in ((a, UAI, "COLLEGE JULES FERRY"), (z, OTHER_UAI, "LYCEE AILLEURS")):
        out.append(
            (
                dn,
                {
                    "objectClass": ["ENTEtablissement"],
                    "ou": [uai],
                    "ENTStructureUAI": [uai],
                    "ENTStructureNomCourant": [name],
                    "ENTStructureJointure": [f"AC-TEST${uai}"],
                    "ENTStructureSIREN": ["19350000000000"],
                    "ENTEtablissementMinistereTutelle": ["MENJ"],
                    "ENTEtablissementContrat": ["PU"],
                },
            )
        )
    out.append(eleve(base, "e1", a, "3A", ENTElevePersRelEleve=[f"uid=p1,{people}$10$1$1$0$0"], mail=["e1@x.test"]))
    out.append(person(base, "p1", a, ["ENTAuxPersRelEleve"], ENTAuxPersRelEleveEleve=[f"uid=e1,{people}"]))
    out.append(
        person(base, "t1", a, ["ENTAuxEnseignant"], ENTPersonProfils=["National_ENS"], ENTAuxEnsClasses=[f"{a}$3A"])
    )
    out.append(person(base, "s1", a, ["ENTAuxNonEnsEtab"], ENTPersonProfils=["National_5"]))
    out.append(person(base, "o1", a, [], ENTPersonJointure=["ENT$o1"], ENTPersonLogin=["Jean.Dupont"]))
    out.append(eleve(base, "e2", z, "3B"))
    for cn, cls, member in (
        (f"{UAI}$3A", "ENTClasse", f"uid=e1,{people}"),
        (f"{UAI}$LATIN", "ENTGroupe", f"uid=e1,{people}"),
        (f"{OTHER_UAI}$3B", "ENTClasse", f"uid=e2,{people}"),
    ):
        out.append((f"cn={cn},ou=groups,{base}", {"objectClass": [cls], "cn": [cn], "member": [member]}))
    return out


def mock_config(base: str = "dc=ent,dc=test", **kw: object) -> LdapConfig:
    return LdapConfig(
        urls=["mock://test"],
        base_dn=base,
        people_dn=f"ou=people,{base}",
        groups_dn=f"ou=groups,{base}",
        structures_dn=f"ou=structures,{base}",
        **kw,
    )


@pytest.fixture(params=["slapd", "embedded"])
async def school(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Directory, str]]:
    """A Directory (real slapd via a sandbox, or embedded) holding the small hand-made school."""
    if request.param == "slapd":
        sandbox: LdapSandbox = request.getfixturevalue("ldap_sandbox")
        sandbox.add(school_entries(sandbox.base_dn))
        directory = Directory(sandbox.config(), ENT)
        base = sandbox.base_dn
    else:
        base = "dc=ent,dc=test"
        directory = Directory.embedded(mock_config(base), ENT, school_entries(base))
    await directory.open()
    try:
        yield directory, base
    finally:
        await directory.close()


# ---------------------------------------------------------------------- both kinds


async def test_structures_and_perimeter(school: tuple[Directory, str]) -> None:
    directory, base = school
    structures = await directory.structures()
    assert [(s.uai, s.name) for s in structures] == [(UAI, "COLLEGE JULES FERRY")]
    assert structures[0].dn.lower() == f"ou={UAI},ou=structures,{base}".lower()
    assert await directory.perimeter_filter() == f"(ENTPersonStructRattach={structures[0].dn})"


async def test_iter_people_is_the_perimeter(school: tuple[Directory, str]) -> None:
    directory, _ = school
    uids = set()
    async for page in directory.iter_people():
        uids.update(p.uid for p in page)
    assert uids == {"e1", "p1", "t1", "s1", "o1"}
    only = [p async for page in directory.iter_people(lf.eq("uid", "t1")) for p in page]
    assert [p.uid for p in only] == ["t1"]


@pytest.mark.parametrize(
    "names",
    [attributes.SYNC_PERSON_ATTRIBUTES, attributes.with_attribute(attributes.PLAN_PERSON_ATTRIBUTES, "pwdReset")],
    ids=["sync", "plan"],
)
async def test_iter_people_reads_only_the_attributes_asked_for(school: tuple[Directory, str], names) -> None:
    """A person read with a list is the person built from those attributes of the entry, nothing else
    (the sync's and the plans' lists; the real server and the embedded one alike)."""
    directory, base = school
    wanted = {n.lower() for n in names}
    await directory.modify(f"uid=t1,ou=people,{base}", {"userPassword": ["secret"]})  # activated
    await directory.modify(f"uid=s1,ou=people,{base}", {"userPassword": ["secret"], "pwdReset": ["TRUE"]})
    people = lf.and_(lf.eq("objectClass", "ENTPerson"), await directory.perimeter_filter())
    entries = await directory.search_all(f"ou=people,{base}", people, attributes.PERSON_ATTRIBUTES)
    expected = {
        dn_key(dn): person_from_entry(dn, {k: v for k, v in attrs.items() if k.lower() in wanted})
        for dn, attrs in entries
    }
    got = {dn_key(p.dn): p async for page in directory.iter_people(attributes=names) for p in page}
    assert got == expected and len(got) == 5
    assert all(p.login and p.sn and not p.uid and not p.display_name for p in got.values())
    # activation is only known when the password (and the inactive attribute) are read
    t1, s1 = dn_key(f"uid=t1,ou=people,{base}"), dn_key(f"uid=s1,ou=people,{base}")
    plan = "userPassword" in names
    assert {k for k, p in got.items() if p.has_password} == ({t1, s1} if plan else set())
    assert {k for k, p in got.items() if p.activated} == ({t1} if plan else set())


async def test_person_and_login(school: tuple[Directory, str]) -> None:
    directory, base = school
    people = f"ou=people,{base}"
    e1 = await directory.person(f"uid=e1,{people}")
    assert e1 is not None
    assert e1.target is Target.ELEVE
    assert e1.classes == ("3A",)
    assert [d.lower() for d in e1.parent_dns] == [f"uid=p1,{people}".lower()]
    assert e1.mail == "e1@x.test"
    assert e1.created is not None
    assert await directory.person(f"uid=nobody,{people}") is None
    by_login = await directory.person_by_login("JEAN.DUPONT")  # case-insensitive
    assert by_login is not None and by_login.uid == "o1"
    assert by_login.is_local("ENT")
    assert await directory.person_by_login("nobody.here") is None
    found = await directory.people_by_dns([f"uid=t1,{people}", f"uid=ghost,{people}", f"uid=p1,{people}"])
    assert [p.uid for p in found] == ["t1", "p1"]


async def test_lookup_by_dns_survives_odd_and_invalid_dns(school: tuple[Directory, str]) -> None:
    """Another case and spacing finds the person; a value that is not a DN (for us, for ldap3 or for
    the server) is reported for itself and never stops the lookup of the others (issue 12, cases 1-2)."""
    directory, base = school
    people = f"ou=people,{base}"
    odd = f"UID=t1, OU=People,{base.upper()}"
    deeper = f"uid=p1 ,ou=people, {base}"
    broken = ["not a dn", f"uid=x,,{people}", f"u id=e1,{people}", f"uid=e1,{people}\\"]
    found = await directory.lookup_people([odd, deeper, *broken, f"uid=ghost,{people}", f"uid=e1,{people}"])
    assert sorted(p.uid for p in found.people.values()) == ["e1", "p1", "t1"]
    assert dn_key(odd) in found.people
    assert sorted(dn for dn, _why in found.invalid) == sorted(broken)
    # the old entry point: same people, never aborted by the broken values
    listed = await directory.people_by_dns([*broken, odd, f"uid=e1,{people}"])
    assert [p.uid for p in listed] == ["t1", "e1"]
    # a filter narrows the result (the sync passes its périmètre)
    teachers = await directory.lookup_people([odd, f"uid=e1,{people}"], filt=lf.eq("uid", "t1"))
    assert [p.uid for p in teachers.people.values()] == ["t1"]
    # entries of any kind, by DN
    groups = await directory.entries_at([f"CN={UAI}$3A,OU=groups,{base}", "cn=,"], "(objectClass=*)", ["cn"])
    assert [attrs["cn"] for _dn, attrs in groups.entries.values()] == [[f"{UAI}$3A"]]
    assert [dn for dn, _why in groups.invalid] == ["cn=,"]


async def test_targets_and_groups(school: tuple[Directory, str]) -> None:
    directory, _ = school
    counts = await directory.count_by_target()
    assert counts.counts == {
        Target.ELEVE: 1,
        Target.PARENT: 1,
        Target.ENSEIGNANT: 1,
        Target.NON_ENSEIGNANT: 1,
        Target.AUTRE: 1,
    }
    groups = await directory.groups()
    assert [(g.cn, g.kind, g.name) for g in groups] == [
        (f"{UAI}$3A", "classe", "3A"),
        (f"{UAI}$LATIN", "groupe", "LATIN"),
    ]
    assert len(groups[0].members) == 1


async def test_typed_value_is_escaped(school: tuple[Directory, str]) -> None:
    directory, base = school
    assert await directory.person_by_login("*)(uid=*") is None
    assert await directory.person_by_login("*") is None
    pages = [p async for p in directory.iter_people(lf.contains("cn", "*)(uid=*"))]
    assert pages == []
    # a login that really contains the special characters is found exactly
    dn = f"uid=odd,ou=people,{base}"
    await directory.add(
        dn, person(base, "odd", f"ou={UAI},ou=structures,{base}", [])[1] | {"ENTPersonLogin": ["a*)(b"]}
    )
    found = await directory.person_by_login("a*)(b")
    assert found is not None and found.dn.lower() == dn.lower()


async def test_write_operations(school: tuple[Directory, str]) -> None:
    directory, base = school
    school_dn = f"ou={UAI},ou=structures,{base}"
    dn = f"uid=new1,ou=people,{base}"
    await directory.add(dn, person(base, "new1", school_dn, [])[1])
    created = await directory.person(dn)
    assert created is not None and created.created is not None and created.modified is not None
    await directory.modify(dn, {"mail": ["new1@x.test"], "ENTPersonSexe": None, "givenName": None})
    changed = await directory.person(dn)
    assert changed is not None and changed.mail == "new1@x.test"
    new_dn = await directory.rename(dn, "uid=new2")
    assert new_dn == f"uid=new2,ou=people,{base}"
    assert await directory.person(dn) is None
    moved = await directory.person(new_dn)
    assert moved is not None and moved.login == "login.new1"
    with pytest.raises(DirectoryError, match="existe déjà"):
        await directory.add(new_dn, person(base, "new2", school_dn, [])[1])
    await directory.delete(new_dn)
    assert await directory.person(new_dn) is None
    with pytest.raises(DirectoryError):
        await directory.delete(new_dn)


async def test_set_password_marks_temporary(school: tuple[Directory, str]) -> None:
    directory, base = school
    dn = f"uid=p1,ou=people,{base}"
    before = await directory.person(dn)
    assert before is not None and not before.has_password and not before.activated  # never given credentials
    await directory.set_password(dn, "Nouveau-Mot2Passe")
    after = await directory.person(dn)
    assert after is not None and after.has_password and not after.activated
    assert after.password_state == "pwdReset TRUE"


async def test_set_passwords_batch_marks_every_account(school: tuple[Directory, str]) -> None:
    directory, base = school
    uids = ["p1", "t1", "s1", "o1"]
    items = [(f"uid={uid},ou=people,{base}", f"Lot-Mdp-{i}x{uid}Z") for i, uid in enumerate(uids)]
    missing = (f"uid=absent,ou=people,{base}", "Absent-Mdp-9x")
    results = await directory.set_passwords([*items[:2], missing, *items[2:]])
    assert len(results) == 5
    assert [r is None for r in results] == [True, True, False, True, True]
    err = results[2]
    assert isinstance(err, DirectoryError) and "absent" in err.message
    assert "Absent-Mdp-9x" not in f"{err.message} {err.detail}"
    for dn, _pw in items:
        after = await directory.person(dn)
        assert after is not None and not after.activated, dn
    assert await directory.set_passwords([]) == []


async def test_health_ok(school: tuple[Directory, str]) -> None:
    directory, _ = school
    health = await directory.health()
    assert health.ok, health.message
    assert health.key == "directory" and health.name == "Annuaire (LDAP)"
    assert health.latency_ms is not None and health.latency_ms >= 0
    assert health.version
    assert "secret" not in health.endpoint and "enttui-service-pw" not in health.endpoint


# ---------------------------------------------------------------------- paging


def many_people(base: str, n: int) -> list[tuple[str, dict[str, list[str]]]]:
    school_dn = f"ou={UAI},ou=structures,{base}"
    entries = [school_entries(base)[0]]
    entries += [person(base, f"m{i:05d}", school_dn, [], ENTPersonProfils=["National_ELV"]) for i in range(n)]
    return entries


async def test_paged_read_of_5000_is_complete(slapd_factory) -> None:
    server: Slapd = slapd_factory(ldif=_ldif(many_people("dc=ent,dc=test", 5000)))
    directory = Directory(ldap_config(server, page_size=500), ENT)
    await directory.open()
    try:
        pages = [page async for page in directory.iter_pages(server.people_dn, "(objectClass=ENTPerson)", ["uid"])]
        dns = [dn for page in pages for dn, _ in page]
        assert len(dns) == 5000 and len(set(dns)) == 5000
        assert max(len(p) for p in pages) <= 500 and len(pages) >= 10
        people = [p async for page in directory.iter_people(attributes=["uid", "objectClass"]) for p in page]
        assert len({p.uid for p in people}) == 5000
        assert (await directory.count_by_target()).counts[Target.ELEVE] == 5000
        # a reader that stops after one page leaves the connection usable for the next paged read
        async for _page in directory.iter_pages(server.people_dn, "(objectClass=ENTPerson)", ["uid"]):
            break
        await asyncio.sleep(0)
        again = await directory.search_all(server.people_dn, "(objectClass=ENTPerson)", ["uid"], page_size=700)
        assert len({dn for dn, _ in again}) == 5000
    finally:
        await directory.close()


async def test_size_limit_is_an_incomplete_read(slapd_factory) -> None:
    server: Slapd = slapd_factory(
        ldif=_ldif(many_people("dc=ent,dc=test", 300)),
        extra_db_config='limits dn.exact="cn=enttui,ou=services,dc=ent,dc=test" size=100',
    )
    directory = Directory(ldap_config(server, page_size=50), ENT)
    try:
        with pytest.raises(IncompleteReadError, match=r"après \d+ entrée"):
            await directory.search_all(server.people_dn, "(objectClass=ENTPerson)", ["uid"])
    finally:
        await directory.close()


async def test_embedded_paged_read_of_5000_is_complete() -> None:
    base = "dc=ent,dc=test"
    directory = Directory.embedded(mock_config(base, page_size=500), ENT, many_people(base, 5000))
    pages = [page async for page in directory.iter_pages(f"ou=people,{base}", "(objectClass=ENTPerson)", ["uid"])]
    dns = [dn for page in pages for dn, _ in page]
    assert len(dns) == 5000 and len(set(dns)) == 5000
    assert len(pages) == 10


def _ldif(entries: list) -> str:
    from support.slapd import entries_to_ldif

    return entries_to_ldif(entries)


# ---------------------------------------------------------------------- failures, failover, TLS


async def test_server_down_is_a_french_error() -> None:
    cfg = LdapConfig(urls=[f"ldap://127.0.0.1:{free_port()}"], base_dn="dc=ent,dc=test", connect_timeout=1.0)
    directory = Directory(cfg, ENT)
    # A hang guard, not a measure: a down server must fail every call instead of waiting for ever.
    async with asyncio.timeout(120):
        with pytest.raises(DirectoryError, match="ne répond pas"):
            await directory.open()
        health = await directory.health()
        assert not health.ok and "ne répond pas" in health.message
        with pytest.raises(DirectoryError):
            await directory.person_by_login("x")


async def test_bad_credentials(slapd: Slapd) -> None:
    cfg = replace(ldap_config(slapd), bind_password=Secret("wrong-password-xyz"))
    directory = Directory(cfg, ENT)
    with pytest.raises(DirectoryError, match="Identifiants refusés") as info:
        await directory.open()
    assert "wrong-password-xyz" not in info.value.for_humans()


async def test_failover_to_the_second_server(slapd_factory) -> None:
    base = "dc=ent,dc=test"
    ldif = _ldif(school_entries(base))
    first: Slapd = slapd_factory(ldif=ldif)
    second: Slapd = slapd_factory(ldif=ldif)
    cfg = ldap_config(first, urls=[first.url, second.url])
    directory = Directory(cfg, ENT)
    await directory.open()
    try:
        assert (await directory.health()).endpoint == first.url
        # several idle connections to the first server: all of them die with it
        found_all = await asyncio.gather(*(directory.person_by_login("prenom.e1") for _ in range(4)))
        assert all(p is not None for p in found_all)
        first.stop()
        found = await directory.person_by_login("prenom.e1")  # answered by the second server
        assert found is not None and found.uid == "e1"
        health = await directory.health()
        assert health.ok and health.endpoint == second.url
        assert len([p async for page in directory.iter_people() for p in page]) == 5
    finally:
        await directory.close()


async def test_set_password_with_ppolicy_binds_and_sets_pwdreset(ldap_sandbox: LdapSandbox) -> None:
    base = ldap_sandbox.base_dn
    school_dn = f"ou={UAI},ou=structures,{base}"
    ldap_sandbox.add([school_entries(base)[0], person(base, "pw1", school_dn, [], userPassword=["Ancien-Mdp-000"])])
    dn = f"uid=pw1,ou=people,{base}"
    directory = Directory(ldap_sandbox.config(), ENT)  # service account: plain write access
    try:
        assert await directory.supports_password_exop()
        await directory.set_password(dn, "Tout-Neuf-2026x")
        user = ldap3.Connection(ldap_sandbox.slapd.url, dn, "Tout-Neuf-2026x")
        assert user.bind()
        user.unbind()
        assert not ldap3.Connection(ldap_sandbox.slapd.url, dn, "Ancien-Mdp-000").bind()
        admin = ldap3.Connection(ldap_sandbox.slapd.url, ldap_sandbox.slapd.admin_dn, "secret", auto_bind=True)
        admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["pwdReset", "userPassword"])
        assert admin.entries[0].pwdReset.value is True
        assert not admin.entries[0].userPassword.value.startswith(b"Tout-Neuf")  # hashed by the server
        admin.unbind()
        person_after = await directory.person(dn)
        assert person_after is not None and not person_after.activated
    finally:
        await directory.close()


async def test_set_password_without_exop_uses_replace(ldap_sandbox: LdapSandbox) -> None:
    class NoExop(LdapDirectory):
        async def supports_password_exop(self) -> bool:
            return False

    base = ldap_sandbox.base_dn
    ldap_sandbox.add([person(base, "pw2", f"ou={UAI},ou=structures,{base}", [])])
    dn = f"uid=pw2,ou=people,{base}"
    directory = NoExop(ldap_sandbox.config(), ENT)
    try:
        await directory.set_password(dn, "Remplace-Mdp-77")
        assert ldap3.Connection(ldap_sandbox.slapd.url, dn, "Remplace-Mdp-77").bind()
        after = await directory.person(dn)
        assert after is not None and not after.activated
    finally:
        await directory.close()


@pytest.mark.parametrize("exop", [True, False])
async def test_set_passwords_with_ppolicy(ldap_sandbox: LdapSandbox, exop: bool) -> None:
    class Dir(LdapDirectory):
        async def supports_password_exop(self) -> bool:
            return exop

    base = ldap_sandbox.base_dn
    school_dn = f"ou={UAI},ou=structures,{base}"
    uids = [f"lot{i}" for i in range(7)]
    ldap_sandbox.add(
        [school_entries(base)[0], *(person(base, uid, school_dn, [], userPassword=["Ancien-Mdp-000"]) for uid in uids)]
    )
    items = [(f"uid={uid},ou=people,{base}", f"Neuf-{uid}-2026x") for uid in uids]
    directory = Dir(ldap_sandbox.config(), ENT)  # service account: plain write access
    try:
        assert await directory.set_passwords(items) == [None] * len(items)
    finally:
        await directory.close()
    admin = ldap3.Connection(ldap_sandbox.slapd.url, ldap_sandbox.slapd.admin_dn, "secret", auto_bind=True)
    for dn, password in items:
        user = ldap3.Connection(ldap_sandbox.slapd.url, dn, password)
        assert user.bind(), dn
        user.unbind()
        admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["pwdReset", "userPassword"])
        assert admin.entries[0].pwdReset.value is True
        assert not admin.entries[0].userPassword.value.startswith(b"Neuf-")  # hashed by the server
    admin.unbind()


@pytest.fixture(scope="module")
def tls_server(slapd_factory, tmp_path_factory) -> tuple[Slapd, str, str]:
    """A slapd with a certificate from a throw-away CA; returns (server, good CA file, wrong CA file)."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    trustme.CA().cert_pem.write_to_path(str(folder / "wrong-ca.pem"))
    tls = SlapdTls(str(folder / "cert.pem"), str(folder / "key.pem"), str(folder / "ca.pem"))
    server = slapd_factory(ldif=_ldif(school_entries("dc=ent,dc=test")), tls=tls)
    return server, str(folder / "ca.pem"), str(folder / "wrong-ca.pem")


async def test_ldaps_with_trusted_ca(tls_server) -> None:
    server, ca, _ = tls_server
    directory = Directory(ldap_config(server, urls=[server.ldaps_url], ca_file=ca), ENT)
    try:
        await directory.open()
        assert (await directory.person_by_login("prenom.e1")) is not None
        health = await directory.health()
        assert health.ok and health.endpoint.startswith("ldaps://")
    finally:
        await directory.close()


async def test_starttls_with_trusted_ca(tls_server) -> None:
    server, ca, _ = tls_server
    directory = Directory(ldap_config(server, starttls=True, ca_file=ca), ENT)
    try:
        await directory.open()
        assert len(await directory.groups()) == 2
    finally:
        await directory.close()


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
async def test_untrusted_certificate_is_refused(tls_server, mode: str) -> None:
    server, _, wrong_ca = tls_server
    if mode == "ldaps":
        cfg = ldap_config(server, urls=[server.ldaps_url], ca_file=wrong_ca)
    else:
        cfg = ldap_config(server, starttls=True, ca_file=wrong_ca)
    directory = Directory(cfg, ENT)
    with pytest.raises(DirectoryError, match="certificat") as info:
        await directory.open()
    assert "TLS" in info.value.message
    health = await directory.health()
    assert not health.ok and "certificat" in health.message


# ---------------------------------------------------------------------- embedded only


def test_embedded_refuses_unknown_classes() -> None:
    with pytest.raises(DirectoryError, match="refusée"):
        Directory.embedded(
            mock_config(), ENT, [("uid=x,ou=people,dc=ent,dc=test", {"objectClass": ["NoSuchClass"], "uid": ["x"]})]
        )


async def test_embedded_keeps_timestamps_and_reads_changes_since() -> None:
    base = "dc=ent,dc=test"
    entries = school_entries(base)
    for _dn, attrs in entries:
        attrs["createTimestamp"] = ["20250101000000Z"]
        attrs["modifyTimestamp"] = ["20250101000000Z"]
    directory = Directory.embedded(mock_config(base), ENT, entries)
    assert not await directory.supports_password_exop()
    await directory.modify(f"uid=t1,ou=people,{base}", {"mail": ["t1@x.test"]})
    since = format_ldap_time(datetime.now(UTC) - timedelta(minutes=5))
    filt = lf.and_(lf.eq("objectClass", "ENTPerson"), lf.ge("modifyTimestamp", since))
    changed = await directory.search_all(base, filt, ["uid"])
    assert [attrs["uid"] for _dn, attrs in changed] == [["t1"]]
    t1 = await directory.person(f"uid=t1,ou=people,{base}")
    assert t1 is not None and t1.created is not None and t1.created.year == 2025
    assert t1.modified is not None and t1.modified > t1.created


async def test_embedded_accepts_its_own_container_entries() -> None:
    base = "dc=ent,dc=test"
    own = [
        (base, {"objectClass": ["dcObject", "organization"], "dc": ["ent"], "o": ["Mon ENT"]}),
        (f"ou=people,{base}", {"objectClass": ["organizationalUnit"], "ou": ["people"], "description": ["à moi"]}),
    ]
    directory = Directory.embedded(mock_config(base), ENT, [*own, *school_entries(base)])
    mine = await directory.search_all(f"ou=people,{base}", "(objectClass=*)", ["description"], scope="BASE")
    assert mine[0][1]["description"] == ["à moi"]
    with pytest.raises(DirectoryError, match="double"):
        directory.load_entries([own[1]])


async def test_paged_read_on_a_dead_idle_connection_restarts_on_the_second_server(slapd_factory) -> None:
    """The first page fails on a connection the dead server left idle: the read starts again, once,
    on the next server of the pool, and is complete."""
    base = "dc=ent,dc=test"
    ldif = _ldif(school_entries(base))
    first: Slapd = slapd_factory(ldif=ldif)
    second: Slapd = slapd_factory(ldif=ldif)
    directory = Directory(ldap_config(first, urls=[first.url, second.url]), ENT)
    await directory.open()
    try:
        await asyncio.gather(*(directory.person_by_login("prenom.e1") for _ in range(3)))  # idle connections
        first.stop()
        people = [p async for page in directory.iter_people() for p in page]
        assert len(people) == 5
        second.stop()
        with pytest.raises(DirectoryError):
            [p async for page in directory.iter_people() for p in page]
    finally:
        await directory.close()
