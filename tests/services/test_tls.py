"""TLS told plainly, against real servers: slapd and aiosmtpd with an expired certificate, a
certificate for another host name, an unknown authority, and StartTLS not offered. Each refusal
names its real cause and its fix in French; a pool server with a bad certificate is skipped for the
next one, with a warning the status report shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from enttui.config import Config, EntConfig, StateConfig
from enttui.errors import DirectoryError, MailError
from enttui.jobs.status import collect_status
from enttui.services.container import Services
from enttui.services.directory import Directory
from enttui.services.mailer import SmtpMailer
from enttui.services.state import StateStore
from support.fixtures_ldap import ldap_config
from support.slapd import Slapd, SlapdTls
from support.smtp import SmtpTestServer

ENT = EntConfig(uai=["0123456A"])
PAST = datetime.now(UTC) - timedelta(days=400)


@dataclass(frozen=True)
class Certs:
    ca_file: str  # the authority that signed every certificate below but ``other``
    good: trustme.LeafCert
    expired: trustme.LeafCert
    wrong_host: trustme.LeafCert
    unknown_ca: trustme.LeafCert  # signed by another authority
    ca: trustme.CA


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    folder = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    return Certs(
        ca_file=str(folder / "ca.pem"),
        good=ca.issue_cert("127.0.0.1", "localhost"),
        expired=ca.issue_cert("127.0.0.1", "localhost", not_before=PAST, not_after=PAST + timedelta(days=30)),
        wrong_host=ca.issue_cert("ldap.autre.example"),
        unknown_ca=trustme.CA().issue_cert("127.0.0.1", "localhost"),
        ca=ca,
    )


def _slapd_tls(folder: Path, cert: trustme.LeafCert, ca_file: str) -> SlapdTls:
    folder.mkdir(parents=True, exist_ok=True)
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    return SlapdTls(str(folder / "cert.pem"), str(folder / "key.pem"), ca_file)


@pytest.fixture(scope="module")
def servers(slapd_factory, tmp_path_factory, certs: Certs) -> dict[str, Slapd]:
    """One slapd per certificate (LDAPS and StartTLS), plus the base tree."""
    out = {}
    for name in ("good", "expired", "wrong_host", "unknown_ca"):
        tls = _slapd_tls(tmp_path_factory.mktemp(f"slapd-{name}"), getattr(certs, name), certs.ca_file)
        out[name] = slapd_factory(tls=tls)
    return out


@pytest.mark.parametrize(
    ("name", "mode", "cause", "fix"),
    [
        ("expired", "ldaps", "a expiré", "faites renouveler le certificat"),
        ("expired", "starttls", "a expiré", "faites renouveler le certificat"),
        ("wrong_host", "ldaps", "n'est pas établi pour « ldaps://127.0.0.1:", "le nom qui figure dans le certificat"),
        ("wrong_host", "starttls", "n'est pas établi pour « ldap://127.0.0.1:", "le nom qui figure dans le certificat"),
        ("unknown_ca", "ldaps", "autorité inconnue", "dans [ldap] ca_file"),
        ("unknown_ca", "starttls", "autorité inconnue", "dans [ldap] ca_file"),
    ],
)
async def test_ldap_certificate_errors_name_the_cause(servers, certs, name, mode, cause, fix) -> None:
    server = servers[name]
    if mode == "ldaps":
        cfg = ldap_config(server, urls=[server.ldaps_url], ca_file=certs.ca_file)
    else:
        cfg = ldap_config(server, starttls=True, ca_file=certs.ca_file)
    directory = Directory(cfg, ENT)
    with pytest.raises(DirectoryError) as info:
        await directory.open()
    message = info.value.message
    assert message.startswith("Connexion TLS à l'annuaire refusée : "), message
    assert cause in message and fix in message, message
    assert "vérifiez ca_file" not in message
    health = await directory.health()
    assert not health.ok and cause in health.message
    await directory.close()


async def test_ldap_starttls_not_offered(slapd) -> None:
    """The session slapd has no certificate: StartTLS is refused, and the message says so."""
    directory = Directory(ldap_config(slapd, starttls=True), ENT)
    with pytest.raises(DirectoryError) as info:
        await directory.open()
    assert "ne propose pas StartTLS" in info.value.message
    assert "ldaps://" not in info.value.message or "connexion TLS directe" in info.value.message
    assert "TLSCertificateFile" in info.value.message
    await directory.close()


async def test_pool_skips_a_server_with_a_bad_certificate(servers, certs, tmp_path) -> None:
    """[expired, good]: the first is set aside with a warning, the second serves; status shows it."""
    bad, good = servers["expired"], servers["good"]
    cfg = ldap_config(good, urls=[bad.ldaps_url, good.ldaps_url], ca_file=certs.ca_file)
    directory = Directory(cfg, ENT)
    await directory.open()
    try:
        assert [w for w in directory.tls_warnings] == [
            f"serveur {bad.ldaps_url} ignoré : le certificat de {bad.ldaps_url} a expiré : faites renouveler "
            "le certificat du serveur (ou vérifiez l'horloge de cette machine)"
        ]
        assert await directory.root_dse()  # served by the good one
        health = await directory.health()
        assert health.ok and health.endpoint == good.ldaps_url
        assert any("ignoré" in w and "a expiré" in w for w in health.warnings)
        state = StateStore(StateConfig(url=f"sqlite:///{tmp_path / 'state.db'}", files_dir=str(tmp_path / "f")))
        await state.open()
        services = Services(config=Config(ent=ENT, ldap=cfg), directory=directory, state=state)
        report = await collect_status(services)
        ldap = next(s for s in report.systems if s.key == "directory")
        assert ldap.ok and sum("ignoré" in w for w in ldap.warnings) == 1  # once, not twice
        await state.close()
    finally:
        await directory.close()


async def test_pool_with_every_server_bad_names_the_cause(servers, certs) -> None:
    bad, other = servers["expired"], servers["unknown_ca"]
    directory = Directory(ldap_config(bad, urls=[bad.ldaps_url, other.ldaps_url], ca_file=certs.ca_file), ENT)
    with pytest.raises(DirectoryError) as info:
        await directory.open()
    assert "autorité inconnue" in info.value.message  # the last one tried: each was a real cause
    assert directory.tls_warnings == []  # nothing served: the next attempt tries every server again
    await directory.close()


# -- SMTP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cause", "fix"),
    [
        ("expired", "a expiré", "faites renouveler le certificat"),
        ("wrong_host", "n'est pas établi pour « 127.0.0.1:", "le nom qui figure dans le certificat"),
        ("unknown_ca", "autorité inconnue", "dans [smtp] ca_file"),
    ],
)
@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_smtp_certificate_errors_name_the_cause(certs, tmp_path, name, cause, fix, tls) -> None:
    with SmtpTestServer(ca=certs.ca, cert=getattr(certs, name), tls=tls, workdir=tmp_path) as server:
        mailer = SmtpMailer(server.smtp_config(security="tls" if tls == "implicit" else "starttls"))
        health = await mailer.health()
        await mailer.close()
    assert not health.ok
    assert health.message.startswith("Certificat TLS du serveur SMTP refusé : "), health.message
    assert cause in health.message and fix in health.message, health.message


async def test_smtp_starttls_not_offered_says_how_to_fix(smtp_plain) -> None:
    mailer = SmtpMailer(smtp_plain.smtp_config(security="starttls"))
    with pytest.raises(MailError) as info:
        await mailer.open()
    await mailer.close()
    assert "ne propose pas STARTTLS" in info.value.message
