"""The fast message renderer used by the diffusion: a mail client reads what Python's email package would build."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from enttui.services.mailer import MailRefused, render_message

SENDER = "ENT Gris <ne-pas-repondre@ent.example.fr>"
BODY = "Bonjour Éloïse,\nIdentifiant : eloise.dupont\nMot de passe : Ab=cd-12 \n\n-- \n« Portail »"


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def reference(to: str, subject: str, when: datetime) -> EmailMessage:
    """The same message built by Python's email package."""
    msg = EmailMessage(policy=email.policy.default)
    msg["From"] = SENDER
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg.set_content(BODY, charset="utf-8", cte="quoted-printable")
    return msg


def test_same_reading_as_the_email_package():
    when = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)
    subject = "Portail GRIS - vos identifiants de connexion (éàü, très long objet pour plier la ligne)"
    raw = render_message(SENDER, "Éloïse Dupont <eloise@example.org>", subject, BODY, date=when)
    built = reference("Éloïse Dupont <eloise@example.org>", subject, when)
    fast = parse(raw.data)
    assert raw.sender == "ne-pas-repondre@ent.example.fr"
    assert raw.recipient == "eloise@example.org"
    for header in ("From", "To", "Subject", "Date"):
        assert str(fast[header]) == str(built[header]), header
    assert fast["Message-ID"].endswith("@ent.example.fr>")
    assert fast.get_content().replace("\r\n", "\n") == built.get_content()
    assert b"\r\n" in raw.data and b"\n" not in raw.data.replace(b"\r\n", b"")
    assert all(len(line) <= 78 for line in raw.data.split(b"\r\n"))
    assert raw.data.isascii()


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("a@example.org\r\nBcc: victim@example.org", "Objet"),
        ("a@example.org", "Objet\r\nBcc: victim@example.org"),
        ("a@example.org", "Objet\nX: y"),
        ("pas une adresse", "Objet"),
    ],
)
def test_header_injection_and_bad_addresses_are_refused(to, subject):
    with pytest.raises(MailRefused):
        render_message(SENDER, to, subject, BODY)
