"""The Annuaire's people search: a query typed on the Utilisateurs screen → one LDAP filter.

Pure logic. Every value a person typed goes through :mod:`enttui.domain.ldapfilter` (escaped), so
``*)(objectClass=*`` finds only the people whose names contain those characters.

- Text: every word must match (AND); a word matches when it is found in the surname, the first
  name, the cn, the display name (the directory's caseIgnore matching handles case), or in the
  login once folded the way logins are written (lower case, no accents): "eloise" finds "Éloïse".
  A login prefix is a substring, so it works too.
- Profile (the five targets): the same decision as :func:`enttui.domain.people.resolve_target`
  (profile codes first, object classes when no known profile, or the reverse). A person carrying
  profile codes of two targets matches both (LDAP cannot say which value comes first).
- Classe: ``ENTEleveClasses`` / ``ENTAuxEnsClasses`` values end with ``$<classe>``.
- Activation: ``pwdReset: TRUE`` (or the configured attribute/value), or no ``userPassword`` at all,
  means "non activé".
- E-mail: presence of ``mail``.
- Établissement: one school of the périmètre, by its DN in ``ENTPersonStructRattach`` (the same
  attribute as the périmètre filter, :meth:`enttui.services.directory.Directory.perimeter_filter`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TypedDict, Unpack

from enttui.domain import ldapfilter as lf
from enttui.domain.folding import fold_accents
from enttui.domain.people import CLASS_TARGETS, PROFILE_TARGETS, Structure, Target

__all__ = [
    "TARGET_CYCLE",
    "TRISTATE_CYCLE",
    "PeopleQuery",
    "activation_filter",
    "classe_filter",
    "fold_login",
    "mail_filter",
    "people_filter",
    "school_filter",
    "school_label",
    "target_filter",
    "text_filter",
]

_NOT_LOGIN = re.compile(r"[^a-z0-9._@-]")
_FILTER_SPECIALS = set("*()\\\x00")

# Real object class names (the resolver compares lower-cased names).
_CLASS_NAMES: dict[str, str] = {
    "enteleve": "ENTEleve",
    "entauxpersreleleve": "ENTAuxPersRelEleve",
    "entauxenseignant": "ENTAuxEnseignant",
    "entauxnonensetab": "ENTAuxNonEnsEtab",
    "entauxnonensservac": "ENTAuxNonEnsServAc",
    "entauxnonenscollloc": "ENTAuxNonEnsCollLoc",
}

# The order the screen's "profil" key cycles through (None = every profile).
TARGET_CYCLE: tuple[Target | None, ...] = (None, *Target)
# Tri-state filters (activation, e-mail): None = tous, True, False.
TRISTATE_CYCLE: tuple[bool | None, ...] = (None, True, False)


class _QueryChanges(TypedDict, total=False):
    """The fields of :class:`PeopleQuery` that :meth:`PeopleQuery.with_` may change."""

    text: str
    target: Target | None
    classe: str
    activated: bool | None
    has_mail: bool | None
    school: Structure | None


@dataclass(frozen=True, slots=True)
class PeopleQuery:
    """What the Utilisateurs screen asks for (every part optional)."""

    text: str = ""
    target: Target | None = None
    classe: str = ""
    activated: bool | None = None
    has_mail: bool | None = None
    school: Structure | None = None  # one school of the périmètre (None: every school)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.text.split())

    def with_(self, **changes: Unpack[_QueryChanges]) -> PeopleQuery:
        return replace(self, **changes)

    def describe(self) -> str:
        """French one-liner of the filters (for the screen)."""
        parts = [
            f"Établissement : {school_label(self.school) if self.school else 'tous'}",
            f"Profil : {self.target.label if self.target else 'tous'}",
            f"Classe : {self.classe or 'toutes'}",
            "Compte : " + {None: "tous", True: "activé", False: "non activé"}[self.activated],
            "E-mail : " + {None: "tous", True: "avec", False: "sans"}[self.has_mail],
        ]
        return " · ".join(parts)


def fold_login(word: str) -> str:
    """A typed word as it would appear in a login: lower case, no accents, no apostrophes/spaces.

    The accents fold as in the login rule (:func:`enttui.domain.folding.fold_accents`): "Yılmaz"
    finds ``yilmaz``.
    """
    return _NOT_LOGIN.sub("", fold_accents(word.lower()))


def _word_filter(word: str) -> str:
    parts = [lf.contains(attr, word) for attr in ("sn", "givenName", "cn", "displayName")]
    # The folded form ("Éloïse" → "eloise"); a word with filter characters stays as typed (escaped).
    login = word if _FILTER_SPECIALS & set(word) else (fold_login(word) or word)
    parts.append(lf.contains("ENTPersonLogin", login))
    return lf.or_(*parts)


def text_filter(text: str) -> str | None:
    """Every word of ``text`` in a name or the login (None when nothing was typed)."""
    words = text.split()
    if not words:
        return None
    return lf.and_(*(_word_filter(w) for w in words))


def _profile_codes(target: Target) -> list[str]:
    return sorted(code for code, t in PROFILE_TARGETS.items() if t is target)


def _has_profile(target: Target) -> str | None:
    codes = _profile_codes(target)
    return lf.any_eq("ENTPersonProfils", codes) if codes else None


def _none_of(attribute: str, values: list[str]) -> str:
    # (&(!(a=x))(!(a=y))) rather than (!(|(a=x)(a=y))): the same for a server, and ldap3's
    # in-memory directory (the demo) gets a negated OR wrong.
    return lf.and_(*(lf.not_(lf.eq(attribute, v)) for v in values))


def _no_known_profile() -> str:
    return _none_of("ENTPersonProfils", sorted(PROFILE_TARGETS))


def _class_target(target: Target) -> str | None:
    """People whose object classes decide ``target`` (first match in CLASS_TARGETS order wins)."""
    earlier: list[str] = []
    mine: list[str] = []
    for cls, t in CLASS_TARGETS:
        name = _CLASS_NAMES.get(cls, cls)
        if t is target:
            mine.append(name)
        elif not mine:
            earlier.append(name)
    if not mine:
        return None
    return lf.and_(
        lf.any_eq("objectClass", mine),
        *(lf.not_(lf.eq("objectClass", name)) for name in earlier),
    )


def _no_class_target() -> str:
    return _none_of("objectClass", [_CLASS_NAMES.get(c, c) for c, _ in CLASS_TARGETS])


def target_filter(target: Target, prefer: str = "profils") -> str:
    """People whose resolved target is ``target`` (see :func:`enttui.domain.people.resolve_target`)."""
    if target is Target.AUTRE:
        return lf.and_(_no_known_profile(), _no_class_target())
    by_profile = _has_profile(target)
    by_classes = _class_target(target)
    if prefer == "classes":
        fallback = lf.and_(_no_class_target(), by_profile) if by_profile else None
        return lf.or_(by_classes, fallback)
    fallback = lf.and_(_no_known_profile(), by_classes) if by_classes else None
    return lf.or_(by_profile, fallback)


def classe_filter(classe: str) -> str | None:
    """Students of the class, and teachers who teach it."""
    name = classe.strip()
    if not name:
        return None
    return lf.or_(lf.endswith("ENTEleveClasses", f"${name}"), lf.endswith("ENTAuxEnsClasses", f"${name}"))


def activation_filter(activated: bool | None, attribute: str = "pwdReset", value: str = "TRUE") -> str | None:
    """Activated: a password and no "not activated" flag; not activated: the flag, or no password."""
    if activated is None:
        return None
    flagged = lf.eq(attribute, value)
    has_password = lf.present("userPassword")
    if activated:
        return lf.and_(has_password, lf.not_(flagged))
    return lf.or_(lf.not_(has_password), flagged)


def school_label(school: Structure) -> str:
    """ "0123456A Collège Jean Moulin" (the UAI alone when the school has no name)."""
    return f"{school.uai} {school.name}".strip() if school.name != school.uai else school.uai


def school_filter(school: Structure | None) -> str | None:
    """People attached to ``school`` (``ENTPersonStructRattach`` = its DN, escaped)."""
    if school is None:
        return None
    return lf.eq("ENTPersonStructRattach", school.dn)


def mail_filter(has_mail: bool | None) -> str | None:
    if has_mail is None:
        return None
    return lf.present("mail") if has_mail else lf.not_(lf.present("mail"))


def people_filter(
    query: PeopleQuery,
    *,
    prefer: str = "profils",
    inactive_attribute: str = "pwdReset",
    inactive_value: str = "TRUE",
) -> str | None:
    """The whole query as one filter (None = everybody); the périmètre is ANDed by the service."""
    parts = [
        school_filter(query.school),
        text_filter(query.text),
        target_filter(query.target, prefer) if query.target is not None else None,
        classe_filter(query.classe),
        activation_filter(query.activated, inactive_attribute, inactive_value),
        mail_filter(query.has_mail),
    ]
    kept = [p for p in parts if p]
    if not kept:
        return None
    return lf.and_(*kept)
