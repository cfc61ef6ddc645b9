from __future__ import annotations

import pytest

from enttui.domain import mail
from enttui.errors import ValidationError


def test_subject_rules() -> None:
    assert mail.validate_subject("  Portail GRIS - vos identifiants de connexion ") == (
        "Portail GRIS - vos identifiants de connexion"
    )
    assert mail.validate_subject("x" * 75) == "x" * 75
    for bad in ("", "   ", "x" * 76, "a\nBcc: evil@x", "a\rb"):
        with pytest.raises(ValidationError):
            mail.validate_subject(bad)


def test_defaults_render_with_free_text() -> None:
    t = mail.MailTemplates.defaults()
    values = {
        "prenom": "Zoé",
        "nom": "Durand",
        "identifiant": "zoe.durand",
        "mot_de_passe": "Abc#7xyzKMNP",
        "portail": "Portail GRIS",
        "adresse": "https://ent.example.fr",
        "enfants": "Léo Durand (3A)",
    }
    body = mail.render(t.credentials, values, "Bonne rentrée !\r\nLa direction")
    assert "zoe.durand" in body and "Abc#7xyzKMNP" in body and "https://ent.example.fr" in body
    assert body.rstrip().endswith("Bonne rentrée !\nLa direction")
    assert "Léo Durand (3A)" in mail.render(t.parent, values)
    info = mail.render(t.information, values)
    assert "Abc#7xyzKMNP" not in info and "zoe.durand" in info and "Rectorat" in info


def test_free_text_is_never_interpreted() -> None:
    body = mail.render(
        mail.MailTemplates.defaults().credentials, {"mot_de_passe": "p", "identifiant": "i"}, "$mot_de_passe"
    )
    assert body.rstrip().endswith("$mot_de_passe")


def test_template_checks() -> None:
    with pytest.raises(ValidationError, match="inconnu"):
        mail.parse_template("Bonjour $inconnu $identifiant $mot_de_passe", mail.KIND_CREDENTIALS)
    with pytest.raises(ValidationError, match="mot de passe"):
        mail.parse_template("$identifiant $mot_de_passe", mail.KIND_INFORMATION)
    with pytest.raises(ValidationError, match="doit contenir"):
        mail.parse_template("Bonjour $prenom", mail.KIND_CREDENTIALS)
    with pytest.raises(ValidationError):
        mail.parse_template("Prix : 5 $ $identifiant $mot_de_passe", mail.KIND_CREDENTIALS)
    assert mail.parse_template("${prenom}: $identifiant $mot_de_passe $$", mail.KIND_PARENT)


def test_join_names() -> None:
    assert mail.join_names(["A"]) == "A"
    assert mail.join_names(["A", "B", "C"]) == "A, B et C"
