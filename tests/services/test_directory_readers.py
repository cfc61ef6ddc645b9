"""Both directory readers ([ldap] reader: ldap3, python-ldap) against real slapd servers.

Every paged read of the python-ldap reader must give exactly what the ldap3 one gives (same DNs in
the same spelling, same attribute names, same str values, same order), page by page, and fail the
same way: a failover, a server killed mid-read, a size limit, a referral, TLS refusals and bad
credentials are worded identically. python-ldap is installed by the test command (the extra
``enttui[fast]``): nothing here is skipped.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from enttui.config import EntConfig, LdapConfig, Secret, config_from_dict
from enttui.demo import world as demo_world
from enttui.domain.attributes import (
    PERSON_ATTRIBUTES,
    PLAN_PERSON_ATTRIBUTES,
    SYNC_PERSON_ATTRIBUTES,
    with_attribute,
)
from enttui.domain.people import Person, person_object_classes
from enttui.errors import ConfigError, DirectoryError, IncompleteReadError
from enttui.services.directory import Directory
from support.fixtures_ldap import ldap_config
from support.slapd import Slapd, SlapdTls, entries_to_ldif, free_port

READERS = ["ldap3", "python-ldap"]
BASE = "dc=ent,dc=test"
PEOPLE = f"ou=people,{BASE}"
PERSON = "(objectClass=ENTPerson)"
PAST = datetime.now(UTC) - timedelta(days=400)


def world_ldif(people: int = 700) -> tuple[str, list[str]]:
    """A generated world of two schools (accents, base64 values, multi-valued attributes, role
    groups), a few DNs that test the spelling, a binary value that is not UTF-8, and a referral."""
    spec = demo_world.big_spec(people, 2, BASE)
    entries = [e for e in demo_world.containers(BASE) if e[0] == f"ou=roles,ou=groups,{BASE}"]
    entries += list(demo_world.generate(spec))
    school = demo_world.school_dn(BASE, spec.schools[0])
    for uid in ("jean-françois", "a\\,b", "Zoé Ü"):
        entries.append(
            (
                f"uid={uid},{PEOPLE}",
                {
                    "objectClass": [*person_object_classes("ENTAuxPersExt")],
                    "uid": [uid.replace("\\", "")],
                    "cn": [f"Spécial {uid}"],
                    "sn": ["Ÿ-Test"],
                    "ENTPersonLogin": [f"special.{len(uid)}"],
                    "ENTPersonJointure": [f"ENT$x{len(uid)}"],
                    "ENTPersonStructRattach": [school],
                    "description": [" espace devant", "deux : points", "<chevron"],
                },
            )
        )
    text = entries_to_ldif(entries)
    photo = base64.b64encode(b"\xff\xd8\xff\xe0 pas de l'UTF-8 \xe9\x00").decode("ascii")
    text += f"\ndn: uid=photo,{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: ENTPerson\nuid: photo\n"
    text += "cn: Photo\nsn: Photo\nENTPersonLogin: photo\nENTPersonJointure: ENT$photo\n"
    text += f"ENTPersonStructRattach: {school}\njpegPhoto:: {photo}\n"
    return text, [s.uai for s in spec.schools]


def referral_ldif() -> str:
    return (
        f"\ndn: ou=ailleurs,{PEOPLE}\nobjectClass: referral\nobjectClass: extensibleObject\nou: ailleurs\n"
        f"ref: ldap://ldap.ailleurs.example/ou=people,{BASE}\n"
    )


@dataclass
class World:
    server: Slapd
    uais: list[str]

    def directory(self, reader: str, **overrides: object) -> Directory:
        return make_directory(self.server, reader, EntConfig(uai=self.uais), **overrides)


def make_directory(server: Slapd, reader: str, ent: EntConfig | None = None, **overrides: object) -> Directory:
    directory = Directory(ldap_config(server, reader=reader, **overrides), ent or EntConfig(uai=["0123456A"]))
    assert directory.reader == reader
    return directory


@pytest.fixture(scope="module")
def world(slapd_factory: Callable[..., Slapd]) -> World:
    text, uais = world_ldif()
    return World(slapd_factory(ldif=text), uais)


async def read_all(directory: Directory, base: str, filt: str, attributes: list[str] | tuple[str, ...], **kw):
    pages = [page async for page in directory.iter_pages(base, filt, attributes, **kw)]
    return pages


async def people_of(directory: Directory) -> list:
    return [p async for page in directory.iter_people() for p in page]


def untimed(person: Person) -> Person:
    """A person without the timestamps its server stamped on its own."""
    return dataclasses.replace(person, created=None, modified=None)


# ---------------------------------------------------------------------- same entries


@pytest.mark.parametrize(
    "attributes",
    [PERSON_ATTRIBUTES, ["*"], ["*", "+"], [], ["uid", "MAIL", "objectclass", "jpegPhoto"]],
    ids=["person", "star", "operational", "none", "some"],
)
async def test_python_ldap_reads_exactly_what_ldap3_reads(world: World, attributes) -> None:
    """Same DNs, names, values and order, page by page (page size far below the population)."""
    got: dict[str, list] = {}
    for reader in READERS:
        directory = world.directory(reader, page_size=97)
        try:
            got[reader] = await read_all(directory, PEOPLE, PERSON, attributes)
            got[reader + " base"] = await read_all(directory, f"uid=photo,{PEOPLE}", PERSON, attributes, scope="BASE")
            got[reader + " level"] = await read_all(
                directory, BASE, "(objectClass=*)", attributes, scope="LEVEL", page_size=2
            )
        finally:
            await directory.close()
    pages = got["python-ldap"]
    assert len(pages) > 7 and all(len(p) <= 97 for p in pages)
    assert [len(p) for p in pages] == [len(p) for p in got["ldap3"]]
    assert pages == got["ldap3"]
    assert got["python-ldap base"] == got["ldap3 base"] and len(got["ldap3 base"][0]) == 1
    assert got["python-ldap level"] == got["ldap3 level"]
    entries = dict(e for p in pages for e in p)
    assert len(entries) > 700
    assert all(isinstance(v, str) for attrs in entries.values() for vs in attrs.values() for v in vs)
    assert any(dn.startswith("uid=jean-françois,") for dn in entries)
    assert f"uid=a\\2Cb,{PEOPLE}" in entries  # the server's own spelling of "uid=a\\,b"
    if attributes and attributes != PERSON_ATTRIBUTES:
        photo = entries[f"uid=photo,{PEOPLE}"]["jpegPhoto"][0]
        assert "\ufffd" in photo  # bytes that are not UTF-8: replaced, the same way by both


async def test_people_counts_structures_and_groups_are_the_same(world: World) -> None:
    out = {}
    plan = with_attribute(PLAN_PERSON_ATTRIBUTES, "pwdReset")
    for reader in READERS:
        directory = world.directory(reader, page_size=150)
        await directory.open()
        try:
            out[reader] = (
                await people_of(directory),
                [p async for page in directory.iter_people(attributes=["ENTPersonLogin", "sn"]) for p in page],
                [p async for page in directory.iter_people(attributes=SYNC_PERSON_ATTRIBUTES) for p in page],
                [p async for page in directory.iter_people(attributes=plan) for p in page],
                (await directory.count_by_target()).counts,
                await directory.structures(),
                await directory.groups(),
                await directory.person_by_login("SPECIAL.13"),
            )
        finally:
            await directory.close()
    assert out["python-ldap"] == out["ldap3"]
    people, few, for_sync, for_plan, _counts, structures, groups, special = out["ldap3"]
    assert len(people) > 700 and len(few) == len(people) and len(structures) == 2 and groups
    assert [p.dn for p in for_sync] == [p.dn for p in for_plan] == [p.dn for p in people]
    assert [(p.target, p.login, p.fonctions) for p in for_sync] == [(p.target, p.login, p.fonctions) for p in people]
    assert [(p.activated, p.has_password, p.classes) for p in for_plan] == [
        (p.activated, p.has_password, p.classes) for p in people
    ]
    assert special is not None and special.uid == "jean-françois"
    assert few[0].login and not few[0].given_name  # only what was asked for


@pytest.mark.parametrize("reader", READERS)
async def test_a_read_stopped_early_leaves_the_reader_usable(world: World, reader: str) -> None:
    directory = world.directory(reader, page_size=100)
    try:
        async for _page in directory.iter_pages(PEOPLE, PERSON, ["uid"]):
            break
        again = await directory.search_all(PEOPLE, PERSON, ["uid"], page_size=300)
        assert len({dn for dn, _ in again}) == len(again) > 700
    finally:
        await directory.close()


@pytest.mark.parametrize("reader", READERS)
async def test_prefetch_gives_the_same_pages_and_can_stop_early(world: World, reader: str) -> None:
    """prefetch=True (the next page asked for while a page is handed out): the same pages; a read
    stopped while the next page is on its way leaves the reader usable."""
    directory = world.directory(reader, page_size=97)
    try:
        plain = await read_all(directory, PEOPLE, PERSON, ["uid", "sn"])
        ahead = await read_all(directory, PEOPLE, PERSON, ["uid", "sn"], prefetch=True)
        assert ahead == plain and len(plain) > 7
        for stop_after in (1, 3):
            seen = 0
            async for _page in directory.iter_pages(PEOPLE, PERSON, ["uid"], prefetch=True):
                seen += 1
                if seen == stop_after:
                    break
            again = await read_all(directory, PEOPLE, PERSON, ["uid", "sn"], prefetch=True)
            assert again == plain
    finally:
        await directory.close()


async def test_a_perimeter_of_300_schools(slapd_factory: Callable[..., Slapd]) -> None:
    """A region: 300 UAIs in [ent] uai (the périmètre filter names 300 schools): both readers find
    every school and every person of the generated world, the same ones."""
    spec = demo_world.big_spec(3000, 300, BASE)
    world = demo_world.World(spec)
    entries = [e for e in demo_world.containers(BASE) if e[0] == f"ou=roles,ou=groups,{BASE}"] + list(world.entries())
    server = slapd_factory(ldif=entries_to_ldif(entries))
    ent = EntConfig(uai=[s.uai for s in spec.schools])
    out = {}
    for reader in READERS:
        directory = make_directory(server, reader, ent)
        try:
            out[reader] = (await directory.structures(), await people_of(directory))
        finally:
            await directory.close()
    assert out["python-ldap"] == out["ldap3"]
    structures, people = out["ldap3"]
    assert len(structures) == 300 and len(people) == sum(world.counts.values())


# ---------------------------------------------------------------------- failover, incomplete reads


@pytest.fixture
def two_servers(slapd_factory: Callable[..., Slapd]) -> tuple[Slapd, Slapd, list[str]]:
    text, uais = world_ldif(400)
    return slapd_factory(ldif=text), slapd_factory(ldif=text), uais


@pytest.mark.parametrize("reader", READERS)
async def test_paged_read_restarts_on_the_second_server(two_servers, reader: str) -> None:
    """The first page fails on a connection the dead server left idle: the read starts again, once,
    on the next server, pages through it completely, and gives what ldap3 gives from a live server."""
    first, second, uais = two_servers
    ent = EntConfig(uai=uais)
    directory = make_directory(first, reader, ent, urls=[first.url, second.url], page_size=60)
    reference = make_directory(second, "ldap3", ent, page_size=60)
    try:
        before = await people_of(directory)  # leaves an idle connection to the first server
        first.stop()
        pages = await read_all(directory, PEOPLE, PERSON, PERSON_ATTRIBUTES)
        assert len(pages) > 5
        assert pages == await read_all(reference, PEOPLE, PERSON, PERSON_ATTRIBUTES)
        # (each server stamped its own createTimestamp at load: a second apart on a busy machine)
        assert [untimed(p) for p in await people_of(directory)] == [untimed(p) for p in before]
        second.stop()
        with pytest.raises(DirectoryError, match="ne répond pas"):
            await read_all(directory, PEOPLE, PERSON, ["uid"])
    finally:
        await directory.close()
        await reference.close()


async def test_server_killed_mid_read_is_an_incomplete_read(two_servers) -> None:
    """A server that dies between two pages: an incomplete read after the entries already given
    (worded the same by both readers); the next read is served whole by the second server."""
    first, second, uais = two_servers
    ent = EntConfig(uai=uais)
    messages = {}
    for reader in READERS:
        first.start()
        directory = make_directory(first, reader, ent, urls=[first.url, second.url], page_size=50)
        read = 0
        try:
            with pytest.raises(IncompleteReadError) as info:
                async for page in directory.iter_pages(PEOPLE, PERSON, PERSON_ATTRIBUTES):
                    read += len(page)
                    if read == 100:
                        first.stop()
            assert read == 100
            messages[reader] = info.value.message
            after = await directory.search_all(PEOPLE, PERSON, PERSON_ATTRIBUTES)
            assert len(after) > 400
        finally:
            await directory.close()
    for message in messages.values():
        assert message.startswith("Lecture de l'annuaire interrompue après 100 entrées : connexion perdue ("), message
        assert message.endswith("). Le résultat est incomplet ; rien n'a été tronqué en silence."), message


async def test_size_limit_and_referral_are_the_same_incomplete_read(slapd_factory) -> None:
    text, uais = world_ldif(300)
    limited = slapd_factory(
        ldif=text, extra_db_config=f'limits dn.exact="cn=enttui,ou=services,{BASE}" size=120 size.pr=50'
    )
    referred = slapd_factory(ldif=text + referral_ldif())
    messages: dict[str, list[str]] = {}
    for reader in READERS:
        messages[reader] = []
        for server in (limited, referred):
            directory = make_directory(server, reader, EntConfig(uai=uais), page_size=50)
            try:
                with pytest.raises(IncompleteReadError) as info:
                    await directory.search_all(PEOPLE, "(objectClass=*)", ["uid"])
                messages[reader].append(info.value.message)
                with pytest.raises(DirectoryError, match="n'existe pas") as missing:
                    await directory.search_all(f"ou=nulle-part,{BASE}", PERSON, ["uid"])
                messages[reader].append(missing.value.message)
            finally:
                await directory.close()
    assert messages["python-ldap"] == messages["ldap3"]
    size_limit, _, referral, _ = messages["ldap3"]
    assert "après " in size_limit and "sizeLimitExceeded" in size_limit, size_limit
    assert "référence non suivie" in referral, referral


# ---------------------------------------------------------------------- connection errors


async def test_bad_credentials_and_no_server_are_worded_the_same(world: World) -> None:
    messages: dict[str, list[str]] = {}
    nobody = f"ldap://127.0.0.1:{free_port()}"
    for reader in READERS:
        bad = world.directory(reader, bind_password=Secret("wrong-password-xyz"))
        down = Directory(
            LdapConfig(urls=[nobody], base_dn=BASE, connect_timeout=1.0, reader=reader),
            EntConfig(uai=world.uais),
        )
        messages[reader] = []
        for directory in (bad, down):
            with pytest.raises(DirectoryError) as info:
                await directory.search_all(PEOPLE, PERSON, ["uid"])
            messages[reader].append(info.value.for_humans().split("\n")[0])
            assert "wrong-password-xyz" not in info.value.for_humans()
            await directory.close()
    assert messages["python-ldap"] == messages["ldap3"]
    assert "Identifiants refusés par l'annuaire pour le compte cn=enttui" in messages["ldap3"][0]
    assert "L'annuaire ne répond pas (ldap://127.0.0.1:" in messages["ldap3"][1]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never says anything (a hung slapd): host:port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("mode", ["ldap", "ldaps", "starttls"])
async def test_a_silent_server_is_given_up(silent_server: str, reader: str, mode: str) -> None:
    """connect_timeout and timeout are honoured, the TLS handshake included: a server that never
    answers is a French error, never a hang (the guard below is a hang guard, not a measure)."""
    url = f"{'ldaps' if mode == 'ldaps' else 'ldap'}://{silent_server}"
    cfg = LdapConfig(
        urls=[url],
        base_dn=BASE,
        bind_dn="cn=enttui,ou=services,dc=ent,dc=test",
        bind_password=Secret("pw-silent-1"),
        starttls=mode == "starttls",
        connect_timeout=1.0,
        timeout=1.0,
        reader=reader,
    )
    directory = Directory(cfg, EntConfig())
    async with asyncio.timeout(120):
        with pytest.raises(DirectoryError) as info:
            await directory.search_all(PEOPLE, PERSON, ["uid"])
    await directory.close()
    if reader == "python-ldap" or mode != "ldaps":  # ldap3 words a stalled TLS handshake as a TLS failure
        assert info.value.message == f"L'annuaire ne répond pas ({url}).", info.value.message


async def test_open_checks_the_python_ldap_connection_too(world: World) -> None:
    directory = world.directory("python-ldap")
    await directory.open()
    try:
        assert (await directory.health()).ok
    finally:
        await directory.close()
    await directory.open()  # usable again after close()
    try:
        assert len(await directory.search_all(PEOPLE, PERSON, ["uid"])) > 700
    finally:
        await directory.close()


# ---------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class TlsServers:
    ca_file: str
    wrong_ca_file: str
    servers: dict[str, Slapd]


def _slapd_tls(folder: Path, cert: trustme.LeafCert, ca_file: str) -> SlapdTls:
    folder.mkdir(parents=True, exist_ok=True)
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    return SlapdTls(str(folder / "cert.pem"), str(folder / "key.pem"), ca_file)


@pytest.fixture(scope="module")
def tls(slapd_factory, tmp_path_factory) -> TlsServers:
    """One slapd per certificate (a good one, expired, for another host, from another authority)."""
    folder = tmp_path_factory.mktemp("reader-tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(folder / "wrong-ca.pem"))
    certs = {
        "good": ca.issue_cert("127.0.0.1", "localhost"),
        "expired": ca.issue_cert("127.0.0.1", "localhost", not_before=PAST, not_after=PAST + timedelta(days=30)),
        "wrong_host": ca.issue_cert("ldap.autre.example"),
        "unknown_ca": trustme.CA().issue_cert("127.0.0.1", "localhost"),
    }
    text, _ = world_ldif(100)
    servers = {
        name: slapd_factory(ldif=text, tls=_slapd_tls(folder / name, cert, str(folder / "ca.pem")))
        for name, cert in certs.items()
    }
    return TlsServers(str(folder / "ca.pem"), str(folder / "wrong-ca.pem"), servers)


def tls_config(server: Slapd, mode: str, reader: str, **overrides: object) -> LdapConfig:
    if mode == "ldaps":
        assert server.ldaps_url
        return ldap_config(server, urls=[server.ldaps_url], reader=reader, **overrides)
    return ldap_config(server, starttls=True, reader=reader, **overrides)


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
async def test_tls_with_the_test_authority(tls: TlsServers, mode: str) -> None:
    got = {}
    for reader in READERS:
        directory = Directory(tls_config(tls.servers["good"], mode, reader, ca_file=tls.ca_file), EntConfig())
        try:
            got[reader] = await directory.search_all(PEOPLE, PERSON, PERSON_ATTRIBUTES, page_size=40)
        finally:
            await directory.close()
    assert got["python-ldap"] == got["ldap3"] and len(got["ldap3"]) > 90


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
@pytest.mark.parametrize(
    ("name", "ca", "cause"),
    [
        ("good", "wrong", "autorité inconnue"),
        ("expired", "good", "a expiré"),
        ("wrong_host", "good", "n'est pas établi pour « ldap"),
        ("unknown_ca", "good", "autorité inconnue"),
    ],
)
async def test_refused_certificate_names_the_same_cause(tls: TlsServers, mode: str, name: str, ca: str, cause: str):
    messages = {}
    for reader in READERS:
        ca_file = tls.ca_file if ca == "good" else tls.wrong_ca_file
        directory = Directory(tls_config(tls.servers[name], mode, reader, ca_file=ca_file), EntConfig())
        with pytest.raises(DirectoryError) as info:
            await directory.search_all(PEOPLE, PERSON, ["uid"])
        messages[reader] = info.value.message
        await directory.close()
    assert messages["python-ldap"] == messages["ldap3"]
    assert messages["ldap3"].startswith("Connexion TLS à l'annuaire refusée : "), messages
    assert cause in messages["ldap3"], messages


async def test_tls_verify_false_accepts_an_unknown_authority(tls: TlsServers) -> None:
    server = tls.servers["unknown_ca"]
    directory = Directory(tls_config(server, "ldaps", "python-ldap", tls_verify=False), EntConfig())
    try:
        assert len(await directory.search_all(PEOPLE, PERSON, ["uid"])) > 90
    finally:
        await directory.close()


async def test_starttls_not_offered_is_worded_the_same(slapd: Slapd) -> None:
    messages = {}
    for reader in READERS:
        directory = Directory(ldap_config(slapd, starttls=True, reader=reader), EntConfig())
        with pytest.raises(DirectoryError) as info:
            await directory.search_all(slapd.people_dn, PERSON, ["uid"])
        messages[reader] = info.value.message
        await directory.close()
    assert messages["python-ldap"] == messages["ldap3"]
    assert "ne propose pas StartTLS" in messages["ldap3"]


async def test_pool_skips_a_server_with_a_bad_certificate(tls: TlsServers) -> None:
    bad, good = tls.servers["expired"], tls.servers["good"]
    assert bad.ldaps_url and good.ldaps_url
    cfg = ldap_config(good, urls=[bad.ldaps_url, good.ldaps_url], ca_file=tls.ca_file, reader="python-ldap")
    directory = Directory(cfg, EntConfig())
    try:
        assert len(await directory.search_all(PEOPLE, PERSON, ["uid"])) > 90
        assert directory.tls_warnings == [
            f"serveur {bad.ldaps_url} ignoré : le certificat de {bad.ldaps_url} a expiré : faites renouveler "
            "le certificat du serveur (ou vérifiez l'horloge de cette machine)"
        ]
    finally:
        await directory.close()
    other = tls.servers["unknown_ca"]
    assert other.ldaps_url
    every_bad = replace(cfg, urls=[bad.ldaps_url, other.ldaps_url])
    directory = Directory(every_bad, EntConfig())
    with pytest.raises(DirectoryError, match="autorité inconnue"):  # the last one tried
        await directory.search_all(PEOPLE, PERSON, ["uid"])
    assert directory.tls_warnings == []
    await directory.close()


# ---------------------------------------------------------------------- choosing the reader


def _config(reader: str) -> dict:
    return {"ent": {"uai": ["0123456A"]}, "ldap": {"urls": ["ldap://x"], "base_dn": BASE, "reader": reader}}


def test_reader_key() -> None:
    assert config_from_dict(_config("python-ldap"), env={}).ldap.reader == "python-ldap"
    assert config_from_dict(_config("auto"), env={}).ldap.reader == "auto"
    assert (
        config_from_dict({"ent": {"uai": ["0123456A"]}, "ldap": {"urls": ["ldap://x"], "base_dn": BASE}}).ldap.reader
        == "ldap3"
    )
    with pytest.raises(ConfigError, match=r"\[ldap\] reader.*valeurs possibles : ldap3, python-ldap, auto"):
        config_from_dict(_config("c"), env={})


def test_auto_and_embedded() -> None:
    ent = EntConfig(uai=["0123456A"])
    assert Directory(LdapConfig(urls=["ldap://x"], base_dn=BASE, reader="auto"), ent).reader == "python-ldap"
    assert Directory(LdapConfig(urls=["ldap://x"], base_dn=BASE), ent).reader == "ldap3"
    embedded = Directory.embedded(LdapConfig(urls=["mock://t"], base_dn=BASE, reader="python-ldap"), ent)
    assert embedded.reader == "ldap3"  # the embedded directory is ldap3's MOCK_SYNC


def test_python_ldap_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without python-ldap (``import ldap`` fails): "auto" falls back on ldap3, "python-ldap" is a
    configuration error that names the key and the install command."""
    monkeypatch.setitem(sys.modules, "ldap", None)
    ent = EntConfig(uai=["0123456A"])
    assert Directory(LdapConfig(urls=["ldap://x"], base_dn=BASE, reader="auto"), ent).reader == "ldap3"
    with pytest.raises(ConfigError) as info:
        config_from_dict(_config("python-ldap"), "/etc/enttui/config.toml", env={})
    message = info.value.message
    assert message.startswith("/etc/enttui/config.toml, clé [ldap] reader : « python-ldap » est demandé"), message
    assert "pipx install --force 'enttui[fast]'" in message and "libldap-dev libsasl2-dev" in message
    with pytest.raises(ConfigError, match=r"clé \[ldap\] reader"):
        Directory(LdapConfig(urls=["ldap://x"], base_dn=BASE, reader="python-ldap"), ent)


async def test_the_ldapsearch_floor_counts_what_the_readers_read(world: World) -> None:
    """The benchmarks' floor (support.slapd.Slapd.ldapsearch_read) reads the same people."""
    count, seconds = world.server.ldapsearch_read(PEOPLE, PERSON, list(PERSON_ATTRIBUTES), page_size=97)
    directory = world.directory("python-ldap")
    try:
        assert count == len(await directory.search_all(PEOPLE, PERSON, ["uid"])) > 700
    finally:
        await directory.close()
    assert seconds > 0
