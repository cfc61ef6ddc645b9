"""Référentiel local against the real slapd: create, edit, disable, delete, login collisions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import ldap3
import pytest

from enttui.config import Config, EntConfig
from enttui.demo.ldif import strip_operational
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.domain.local_account_rows import validate_fields
from enttui.errors import ValidationError
from enttui.jobs import local_accounts
from enttui.services.container import Services
from enttui.services.directory import Directory
from support.fixtures_state import state_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

UAI = "0000001A"
NOW = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)


def world(base: str) -> list:
    spec = WorldSpec(
        base_dn=base,
        schools=(SchoolSpec(UAI, "Collège Test", students=12, teachers=4, staff=2, others=4, classes_per_level=1),),
        role_groups=False,
    )
    return list(strip_operational(generate(spec)))


async def services_for(sandbox, state_store, tmp_path, *, ldap=None) -> Services:
    cfg = Config(ent=EntConfig(uai=[UAI]), ldap=ldap or sandbox.config(), state=state_config(tmp_path))
    directory = Directory(cfg.ldap, cfg.ent)
    await directory.open()
    return Services(config=cfg, directory=directory, state=state_store, clock=lambda: NOW)


def fields(sn: str, given: str, **kw):
    f, errors = validate_fields(sn=sn, given_name=given, today=NOW.date(), perimeter=[UAI], **kw)
    assert not errors, errors
    return f


@pytest.fixture
async def services(ldap_sandbox, state_store, tmp_path):
    ldap_sandbox.add(world(ldap_sandbox.base_dn))
    s = await services_for(ldap_sandbox, state_store, tmp_path)
    try:
        yield s
    finally:
        await s.directory.close()


async def test_list_shows_local_accounts_editable_and_academie_autre_read_only(services, ldap_sandbox):
    # an "Autre" of the académie: no national profile, académie jointure
    school = (await local_accounts.school_dns(services))[UAI]
    ldap_sandbox.add(
        [
            (
                f"uid=FEXT1,{ldap_sandbox.people_dn}",
                {
                    "objectClass": ["inetOrgPerson", "ENTPerson", "ENTAuxPersExt"],
                    "uid": ["FEXT1"],
                    "cn": ["Ext A"],
                    "sn": ["Ext"],
                    "givenName": ["A"],
                    "ENTPersonLogin": ["a.ext"],
                    "ENTPersonJointure": ["AC-GRIS$999"],
                    "ENTPersonStructRattach": [school],
                },
            )
        ]
    )
    accounts, capped = await local_accounts.list_local_accounts(services)
    assert not capped
    local = [a for a in accounts if a.editable]
    assert len(local) == 4 and all(a.person.jointure.startswith("ENT$") for a in local)
    ro = [a for a in accounts if not a.editable]
    assert [a.person.login for a in ro] == ["a.ext"]
    assert "académie" in ro[0].reason and "AC-GRIS$999" in ro[0].reason
    with pytest.raises(ValidationError):
        await local_accounts.set_disabled(services, ro[0].dn, True)
    with pytest.raises(ValidationError):
        await local_accounts.delete_local_account(services, ro[0].dn)


async def test_create_accented_names_and_collision_suffixes(services):
    f = fields("Müller-Lefèvre", "Éloïse", mail="eloise@asso.example", end_date="31/12/2027", profile="tuteur")
    dn1, login1 = await local_accounts.create_local_account(services, f)
    _dn2, login2 = await local_accounts.create_local_account(services, fields("Muller-Lefevre", "Eloise"))
    _dn3, login3 = await local_accounts.create_local_account(services, fields("MÜLLER-LEFÈVRE", "ÉLOÏSE"))
    assert (login1, login2, login3) == ("eloise.muller-lefevre", "eloise.muller-lefevre2", "eloise.muller-lefevre3")
    _dn4, login4 = await local_accounts.create_local_account(services, fields("N'Diaye", "Jean Marc"))
    assert login4 == "jeanmarc.ndiaye"
    a = await local_accounts.get_local_account(services, dn1)
    assert a is not None and a.editable
    assert a.person.sn == "Müller-Lefèvre" and a.person.given_name == "Éloïse"
    assert a.person.jointure.startswith("ENT$") and not a.person.activated  # pwdReset: TRUE, no password
    assert a.end_date == date(2027, 12, 31) and a.profile == "tuteur" and not a.disabled
    assert "ENTAuxTuteurStage" in a.person.object_classes


async def test_login_collision_is_checked_against_the_whole_directory(services, ldap_sandbox):
    # a login taken outside the périmètre (no school attachment) still counts
    ldap_sandbox.add(
        [
            (
                f"uid=FOUT1,{ldap_sandbox.people_dn}",
                {
                    "objectClass": ["inetOrgPerson", "ENTPerson"],
                    "uid": ["FOUT1"],
                    "cn": ["Z"],
                    "sn": ["Zorro"],
                    "ENTPersonLogin": ["Zoe.Zorro"],
                    "ENTPersonJointure": ["AC-X$1"],
                },
            )
        ]
    )
    _dn, login = await local_accounts.create_local_account(services, fields("Zorro", "Zoé"))
    assert login == "zoe.zorro2"


async def test_edit_disable_enable_delete(services):
    dn, login = await local_accounts.create_local_account(services, fields("Durand", "Léa", mail="lea@x.example"))
    notes = await local_accounts.update_local_account(
        services, dn, fields("Durand", "Léa", mail="", profile="enseignant", end_date="01/09/2027")
    )
    assert any("e-mail" in n for n in notes) and any("profil" in n for n in notes)
    a = await local_accounts.get_local_account(services, dn)
    assert a.person.mail == "" and "National_ENS" in a.person.profils and a.end_date == date(2027, 9, 1)
    assert "ENTAuxEnseignant" in a.person.object_classes and "ENTAuxPersExt" not in a.person.object_classes
    assert a.person.login == login  # the login never changes
    assert (
        await local_accounts.update_local_account(
            services, dn, fields("Durand", "Léa", profile="enseignant", end_date="01/09/2027")
        )
        == []
    )
    await local_accounts.set_disabled(services, dn, True)
    assert (await local_accounts.get_local_account(services, dn)).disabled
    assert (await local_accounts.get_local_account(services, dn)).status_label(NOW.date()) == "désactivé"
    await local_accounts.set_disabled(services, dn, False)
    assert not (await local_accounts.get_local_account(services, dn)).disabled
    await local_accounts.delete_local_account(services, dn)
    assert await local_accounts.get_local_account(services, dn) is None
    actions = [r.action for r in await services.state.list_audit()]
    assert {"referentiel.creation", "referentiel.modification", "referentiel.desactivation",
            "referentiel.reactivation", "referentiel.suppression"} <= set(actions)  # fmt: skip


async def test_disable_and_end_date_refuse_the_password_on_slapd(slapd_factory, state_store, tmp_path):
    """The lock and the end date are enforced by slapd's ppolicy (lock: with pwdLockout TRUE)."""
    server = slapd_factory()
    admin = ldap3.Connection(server.url, server.admin_dn, server.admin_password, auto_bind=True)
    admin.modify(f"cn=default,ou=policies,{server.suffix}", {"pwdLockout": [(ldap3.MODIFY_REPLACE, ["TRUE"])]})
    base = server.suffix
    for dn, attrs in world(base):
        assert admin.add(dn, attributes=attrs), admin.result

    class Box:
        def config(self):
            from support.fixtures_ldap import ldap_config

            return ldap_config(server)

    services = await services_for(None, state_store, tmp_path, ldap=Box().config())
    try:
        dn, _login = await local_accounts.create_local_account(services, fields("Bind", "Test"))
        assert admin.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, ["Mot-de-passe-1234"])]})

        def can_bind() -> bool:
            return ldap3.Connection(server.url, dn, "Mot-de-passe-1234").bind()

        assert can_bind()
        await local_accounts.set_disabled(services, dn, True)
        assert not can_bind()
        await local_accounts.set_disabled(services, dn, False)
        assert can_bind()
        # an end date in the past (written straight: the form refuses past dates)
        await services.directory.modify(dn, {"pwdEndTime": ["20260101235959Z"]})
        assert not can_bind()
        assert (await local_accounts.get_local_account(services, dn)).status_label(NOW.date()) == "expiré"
    finally:
        await services.directory.close()
