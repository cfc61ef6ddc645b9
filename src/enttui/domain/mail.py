"""Mail texts of the diffusion: templates, placeholders, subject rules.

Templates are plain text with ``string.Template`` placeholders (``$prenom`` or ``${prenom}``;
``$$`` for a dollar sign):

``$prenom`` ``$nom`` ``$identifiant`` ``$mot_de_passe`` ``$portail`` (the portal's name)
``$adresse`` (the portal's address) ``$classes`` ``$enfants`` ``$courriel`` (the recipient).

The administrator's free text is appended to the message. An unknown placeholder is refused when
the template is read (never a half-filled mail); the information mail (teachers and staff) may not
carry ``$mot_de_passe``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from string import Template

from enttui.errors import ValidationError

SUBJECT_MAX = 75
PLACEHOLDERS: tuple[str, ...] = (
    "prenom",
    "nom",
    "identifiant",
    "mot_de_passe",
    "portail",
    "adresse",
    "classes",
    "enfants",
    "courriel",
)
KIND_CREDENTIALS = "credentials"
KIND_PARENT = "parent"
KIND_INFORMATION = "information"
KINDS = (KIND_CREDENTIALS, KIND_PARENT, KIND_INFORMATION)

DEFAULT_CREDENTIALS = """\
Bonjour $prenom $nom,

Voici vos identifiants de connexion à l'ENT « $portail » :

  Identifiant : $identifiant
  Mot de passe provisoire : $mot_de_passe

Connectez-vous à l'adresse $adresse ; il vous sera demandé de choisir
un nouveau mot de passe dès la première connexion.

Ce mot de passe est personnel : ne le communiquez à personne.
"""

DEFAULT_PARENT = """\
Bonjour $prenom $nom,

Voici vos identifiants de connexion à l'ENT « $portail », en tant que
responsable de : $enfants.

  Identifiant : $identifiant
  Mot de passe provisoire : $mot_de_passe

Connectez-vous à l'adresse $adresse ; il vous sera demandé de choisir
un nouveau mot de passe dès la première connexion.

Ce mot de passe est personnel : ne le communiquez à personne, pas même
à vos enfants, qui ont leurs propres identifiants.
"""

DEFAULT_INFORMATION = """\
Bonjour $prenom $nom,

Votre compte sur l'ENT « $portail » est prêt.

  Identifiant : $identifiant

Connectez-vous à l'adresse $adresse avec vos identifiants académiques :
ils vous sont communiqués par le Rectorat (aucun mot de passe n'est
envoyé par ce message).
"""

DEFAULTS: dict[str, str] = {
    KIND_CREDENTIALS: DEFAULT_CREDENTIALS,
    KIND_PARENT: DEFAULT_PARENT,
    KIND_INFORMATION: DEFAULT_INFORMATION,
}


def validate_subject(subject: str) -> str:
    """The "Objet" of the form: required, at most 75 characters, one line. Returns it stripped."""
    if subject is None or not subject.strip():
        raise ValidationError("L'objet du message est obligatoire.", title="Objet")
    if "\r" in subject or "\n" in subject:
        raise ValidationError("L'objet du message doit tenir sur une seule ligne.", title="Objet")
    text = subject.strip()
    if len(text) > SUBJECT_MAX:
        raise ValidationError(
            f"L'objet du message dépasse {SUBJECT_MAX} caractères ({len(text)}).",
            title="Objet",
        )
    return text


def parse_template(text: str, kind: str, *, source: str = "modèle") -> Template:
    """Check a template's placeholders; ValidationError (French) naming ``source`` otherwise."""
    template = Template(text)
    if not template.is_valid():
        raise ValidationError(f"{source} : un « $ » ne précède pas un nom de champ (écrivez $$ pour un dollar).")
    names = set(template.get_identifiers())
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise ValidationError(
            f"{source} : {'champ inconnu' if len(unknown) == 1 else 'champs inconnus'} "
            f"{', '.join('$' + n for n in unknown)} "
            f"(champs possibles : {', '.join('$' + p for p in PLACEHOLDERS)})."
        )
    if kind == KIND_INFORMATION and "mot_de_passe" in names:
        raise ValidationError(f"{source} : le message d'information ne peut pas contenir de mot de passe.")
    if kind in (KIND_CREDENTIALS, KIND_PARENT):
        missing = [f"${n}" for n in ("identifiant", "mot_de_passe") if n not in names]
        if missing:
            raise ValidationError(f"{source} : le modèle doit contenir {' et '.join(missing)}.")
    return template


@dataclass(frozen=True)
class MailTemplates:
    credentials: Template
    parent: Template
    information: Template

    @classmethod
    def defaults(cls) -> MailTemplates:
        return cls.from_texts({})

    @classmethod
    def from_texts(cls, texts: Mapping[str, str], sources: Mapping[str, str] | None = None) -> MailTemplates:
        sources = sources or {}
        parsed = {
            kind: parse_template(texts.get(kind) or DEFAULTS[kind], kind, source=sources.get(kind, f"modèle {kind}"))
            for kind in KINDS
        }
        return cls(**parsed)


def join_names(values: Iterable[str]) -> str:
    items = [v for v in values if v]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


def render(template: Template, values: Mapping[str, str], free_text: str = "") -> str:
    """The body: the template filled in, then the free text (plain, never interpreted)."""
    filled = {name: str(values.get(name, "")) for name in PLACEHOLDERS}
    body = template.substitute(filled).rstrip() + "\n"
    extra = (free_text or "").strip()
    if extra:
        body += "\n" + extra.replace("\r\n", "\n").replace("\r", "\n") + "\n"
    return body
