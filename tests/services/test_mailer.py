"""The mail layer against a real aiosmtpd server (STARTTLS with a trustme CA, AUTH, failures)."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
import stat
from pathlib import Path

import pytest
import trustme

from enttui.config import Secret, SmtpConfig
from enttui.services.mailer import (
    MailError,
    MailRefused,
    MailTemporary,
    OutboxMailer,
    RawMessage,
    SmtpMailer,
    make_mailer,
    render_message,
)
from support.smtp import TEST_LOGIN, TEST_PASSWORD

SENDER = "ENT <ne-pas-repondre@ent.example.fr>"


def msg(to: str = "eleve@example.fr", body: str = "Votre mot de passe : Zx9-été=1") -> RawMessage:
    return render_message(SENDER, to, "Vos identifiants ENT", body)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


# -- delivery -------------------------------------------------------------------------------------


async def test_starttls_delivers_with_trusted_ca(smtp_server) -> None:
    mailer = SmtpMailer(smtp_server.smtp_config())
    try:
        await mailer.send(msg())
    finally:
        await mailer.close()
    (received,) = smtp_server.messages
    assert received.tls
    assert received.rcpt_tos == ("eleve@example.fr",)
    assert received.mail_from == "ne-pas-repondre@ent.example.fr"
    parsed = parse(received.content)
    assert parsed.get_content().strip() == "Votre mot de passe : Zx9-été=1"
    assert parsed["Message-ID"].endswith("@ent.example.fr>")
    assert parsed["Date"]


async def test_implicit_tls_delivers(smtp_implicit) -> None:
    mailer = SmtpMailer(smtp_implicit.smtp_config())
    try:
        await mailer.send(msg())
    finally:
        await mailer.close()
    (received,) = smtp_implicit.messages
    assert received.tls


async def test_plain_server_with_security_none(smtp_plain) -> None:
    mailer = SmtpMailer(smtp_plain.smtp_config())
    try:
        await mailer.send(msg())
    finally:
        await mailer.close()
    assert [m.tls for m in smtp_plain.messages] == [False]


async def test_security_none_does_not_upgrade_on_its_own(smtp_server) -> None:
    """security = "none" passes start_tls=False: the STARTTLS-only server refuses MAIL (530)."""
    mailer = SmtpMailer(smtp_server.smtp_config(security="none"))
    with pytest.raises(MailError) as info:
        await mailer.send(msg())
    await mailer.close()
    assert "530" in str(info.value)
    assert not isinstance(info.value, MailRefused | MailTemporary)
    assert smtp_server.messages == []


# -- certificates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["system CAs", "other CA"])
async def test_untrusted_certificate_is_refused(smtp_server, tmp_path, which) -> None:
    ca_file = ""
    if which == "other CA":
        other = tmp_path / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(other))
        ca_file = str(other)
    mailer = SmtpMailer(smtp_server.smtp_config(ca_file=ca_file))
    with pytest.raises(MailError) as info:
        await mailer.send(msg())
    await mailer.close()
    assert str(info.value).startswith("Certificat TLS du serveur SMTP refusé :")
    assert smtp_server.messages == []


async def test_untrusted_certificate_implicit_tls(smtp_implicit) -> None:
    mailer = SmtpMailer(smtp_implicit.smtp_config(ca_file=""))
    with pytest.raises(MailError, match="Certificat TLS du serveur SMTP refusé"):
        await mailer.send(msg())
    await mailer.close()


async def test_tls_verify_off_accepts_any_certificate(smtp_server) -> None:
    mailer = SmtpMailer(smtp_server.smtp_config(ca_file="", tls_verify=False))
    await mailer.send(msg())
    await mailer.close()
    assert len(smtp_server.messages) == 1


async def test_starttls_required_but_not_offered(smtp_plain) -> None:
    mailer = SmtpMailer(smtp_plain.smtp_config(security="starttls"))
    with pytest.raises(MailError, match="ne propose pas STARTTLS"):
        await mailer.send(msg())
    await mailer.close()
    assert smtp_plain.messages == []


# -- authentication -------------------------------------------------------------------------------


async def test_auth_login(smtp_auth) -> None:
    mailer = SmtpMailer(smtp_auth.smtp_config())
    await mailer.send(msg())
    await mailer.close()
    (received,) = smtp_auth.messages
    assert received.login == TEST_LOGIN
    assert received.tls


async def test_auth_refused_never_shows_the_password(smtp_auth) -> None:
    wrong = "Faux-Secret-9921!"
    cfg = smtp_auth.smtp_config(password=Secret(wrong))
    mailer = SmtpMailer(cfg)
    with pytest.raises(MailError) as info:
        await mailer.send(msg())
    await mailer.close()
    exc = info.value
    assert "Authentification refusée" in str(exc)
    assert TEST_LOGIN in str(exc)
    texts = [str(exc), repr(exc), exc.for_humans(), exc.detail or "", repr(mailer), repr(cfg), str(exc.args)]
    for text in texts:
        assert wrong not in text
        assert TEST_PASSWORD not in text
    assert smtp_auth.messages == []


async def test_auth_without_password_in_health(smtp_auth) -> None:
    health = await SmtpMailer(smtp_auth.smtp_config()).health()
    assert health.ok, health.message
    assert TEST_PASSWORD not in repr(health)


# -- server answers -------------------------------------------------------------------------------


async def test_550_is_a_refusal_for_that_recipient_only(smtp_server) -> None:
    smtp_server.refuse("inconnu@example.fr", 550, "5.1.1 Destinataire inconnu")
    mailer = SmtpMailer(smtp_server.smtp_config())
    try:
        with pytest.raises(MailRefused) as info:
            await mailer.send(msg("inconnu@example.fr"))
        await mailer.send(msg("connu@example.fr"))  # the same connection goes on
    finally:
        await mailer.close()
    exc = info.value
    assert exc.code == 550
    assert exc.recipient == "inconnu@example.fr"
    assert "Destinataire inconnu" in exc.reason
    assert "inconnu@example.fr" in str(exc)
    assert [m.rcpt_tos for m in smtp_server.messages] == [("connu@example.fr",)]
    assert smtp_server.connections == 1


@pytest.mark.parametrize("code", [421, 451])
async def test_4xx_is_temporary_then_accepted(smtp_server, code) -> None:
    smtp_server.fail_first("lent@example.fr", 1, code, "4.3.0 Réessayez plus tard")
    mailer = SmtpMailer(smtp_server.smtp_config())
    try:
        with pytest.raises(MailTemporary) as info:
            await mailer.send(msg("lent@example.fr"))
        assert info.value.code == code
        assert not isinstance(info.value, MailRefused)
        await mailer.send(msg("lent@example.fr"))
    finally:
        await mailer.close()
    assert [m.rcpt_tos for m in smtp_server.messages] == [("lent@example.fr",)]


async def test_connection_is_reused(smtp_server) -> None:
    mailer = SmtpMailer(smtp_server.smtp_config())
    try:
        for i in range(5):
            await mailer.send(msg(f"eleve{i}@example.fr"))
    finally:
        await mailer.close()
    assert len(smtp_server.messages) == 5
    assert smtp_server.connections == 1
    assert {m.connection for m in smtp_server.messages} == {1}


async def test_transparent_reconnect_after_server_drop(smtp_server) -> None:
    smtp_server.drop_after(2)
    mailer = SmtpMailer(smtp_server.smtp_config())
    try:
        for i in range(5):
            await mailer.send(msg(f"eleve{i}@example.fr"))
    finally:
        await mailer.close()
    rcpts = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert rcpts == [f"eleve{i}@example.fr" for i in range(5)]  # each exactly once, in order
    assert smtp_server.connections == 3


async def test_resend_when_the_connection_dies_under_the_client(smtp_server) -> None:
    smtp_server.drop_after(1, silently=True)
    mailer = SmtpMailer(smtp_server.smtp_config())
    try:
        for i in range(3):
            await mailer.send(msg(f"eleve{i}@example.fr"))
    finally:
        await mailer.close()
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [f"eleve{i}@example.fr" for i in range(3)]
    assert [m.connection for m in smtp_server.messages] == [1, 2, 3]


async def test_reconnect_after_idle_close(smtp_server) -> None:
    mailer = SmtpMailer(smtp_server.smtp_config())
    try:
        await mailer.open()
        await mailer.send(msg("a@example.fr"))
        # The relay closes the idle connection; the client does not know yet.
        assert mailer._smtp is not None
        mailer._smtp.transport.abort()  # type: ignore[union-attr]
        await mailer.send(msg("b@example.fr"))
    finally:
        await mailer.close()
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == ["a@example.fr", "b@example.fr"]
    assert smtp_server.connections == 2


# -- down servers ---------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_is_a_french_mail_error() -> None:
    port = _closed_port()
    mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=2.0))
    with pytest.raises(MailError) as info:
        await mailer.send(msg())
    assert str(info.value) == f"Le serveur SMTP 127.0.0.1:{port} ne répond pas (connexion refusée)"
    assert not isinstance(info.value, MailRefused | MailTemporary)


async def test_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the TCP handshake, never says a word
        port = listener.getsockname()[1]
        mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=0.5))
        with pytest.raises(MailError, match=r"ne répond pas \(délai de 0.5 s dépassé\)"):
            await mailer.send(msg())
        health = await mailer.health()
    assert not health.ok
    assert "ne répond pas" in health.message


async def test_health_ok(smtp_server) -> None:
    health = await SmtpMailer(smtp_server.smtp_config()).health()
    assert health.ok, health.message
    assert (health.key, health.name) == ("smtp", "SMTP")
    assert health.version == "ESMTP enttui-test-smtpd"
    assert health.latency_ms is not None and health.latency_ms >= 0
    assert health.endpoint == f"127.0.0.1:{smtp_server.port}"
    assert smtp_server.connections == 1


async def test_health_down_never_raises(smtp_server) -> None:
    port = _closed_port()
    down = await SmtpMailer(SmtpConfig(host="127.0.0.1", port=port)).health()
    assert not down.ok
    assert "ne répond pas" in down.message
    untrusted = await SmtpMailer(smtp_server.smtp_config(ca_file="")).health()
    assert not untrusted.ok
    assert untrusted.message.startswith("Certificat TLS du serveur SMTP refusé")


# -- outbox ---------------------------------------------------------------------------------------


async def test_outbox_private_files(tmp_path: Path) -> None:
    box = tmp_path / "outbox"
    mailer = OutboxMailer(box)
    await mailer.open()
    await mailer.send(msg("jean.dupont@example.fr"))
    await mailer.send(msg("jean.dupont@example.fr"))
    await mailer.close()
    assert stat.S_IMODE(box.stat().st_mode) == 0o700
    files = sorted(box.iterdir())
    assert [f.name for f in files] == [
        "000001-jean.dupont_at_example.fr.eml",
        "000002-jean.dupont_at_example.fr.eml",
    ]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    parsed = parse(files[0].read_bytes())
    assert parsed.get_content().strip() == "Votre mot de passe : Zx9-été=1"

    again = OutboxMailer(box)  # numbering goes on after a restart
    await again.send(msg("x@example.fr"))
    assert (box / "000003-x_at_example.fr.eml").is_file()
    health = await again.health()
    assert health.ok and health.counts == {"messages": 3}


@pytest.mark.parametrize("address", ["../../etc/x@y", "/etc/passwd@y", "..@..", "a/../../b@c/d", "\x00@x"])
async def test_outbox_address_cannot_escape(tmp_path: Path, address: str) -> None:
    box = tmp_path / "outbox"
    mailer = OutboxMailer(box)
    await mailer.send(RawMessage("ne-pas-repondre@ent.example.fr", address.replace("\x00", ""), b"x\r\n"))
    (written,) = list(box.iterdir())
    assert written.parent == box
    assert written.name.endswith(".eml")
    assert "/" not in written.name and ".." not in written.name
    assert [p.name for p in tmp_path.iterdir()] == ["outbox"]  # noqa: ASYNC240


async def test_outbox_tightens_an_existing_folder(tmp_path: Path) -> None:
    box = tmp_path / "outbox"
    box.mkdir(mode=0o755)
    box.chmod(0o755)
    await OutboxMailer(box).send(msg())
    assert stat.S_IMODE(box.stat().st_mode) == 0o700


# -- factory and message building -----------------------------------------------------------------


def test_make_mailer(tmp_path: Path) -> None:
    assert isinstance(make_mailer(SmtpConfig(host="smtp.example.fr")), SmtpMailer)
    assert isinstance(make_mailer(SmtpConfig(outbox_dir=str(tmp_path))), OutboxMailer)
    both = make_mailer(SmtpConfig(host="smtp.example.fr", outbox_dir=str(tmp_path)))
    assert isinstance(both, SmtpMailer)
    with pytest.raises(MailError, match="Aucun serveur SMTP configuré"):
        make_mailer(SmtpConfig())
    assert make_mailer(SmtpConfig(host="smtp.x", port=587)).endpoint == "smtp.x:587"


def test_render_message() -> None:
    m = render_message(
        SENDER, "Élève <eleve@example.fr>", "Identifiants « ENT »", "Bonjour Zoé\n", message_id_domain="x.fr"
    )
    parsed = parse(m.data)
    assert parsed["Message-ID"].endswith("@x.fr>")
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content().replace("\r\n", "\n") == "Bonjour Zoé\n"
    assert parsed["Subject"] == "Identifiants « ENT »"
    with pytest.raises(MailRefused):
        render_message(SENDER, "a@example.fr", "Sujet\nBcc: victime@example.fr", "x")


def test_reprs_hide_the_password() -> None:
    cfg = SmtpConfig(host="smtp.example.fr", username="u", password=Secret("Tres-Secret-42"))
    assert "Tres-Secret-42" not in repr(SmtpMailer(cfg))
    assert "Tres-Secret-42" not in repr(dataclasses.asdict(cfg))
