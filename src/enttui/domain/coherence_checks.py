"""The coherence checks' catalogue and results: severities, the checks (id, title, severity,
what to do), findings, one result per check, and what the checks read of Moodle. The analyser that
fills them is :mod:`enttui.domain.coherence`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

BLOQUANT = "bloquant"
A_CORRIGER = "à corriger"
INFORMATION = "information"
SEVERITIES: tuple[str, ...] = (BLOQUANT, A_CORRIGER, INFORMATION)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    title: str
    severity: str
    explanation: str  # why it matters, how to fix it (French)
    moodle: bool = False


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        "duplicate_login",
        "Identifiant (ENTPersonLogin) en double",
        BLOQUANT,
        "Deux comptes portent le même identifiant (sans tenir compte de la casse) : à la connexion, l'ENT "
        "ne sait pas lequel ouvrir et la synchronisation Moodle les confond. Renommez l'un des deux "
        "identifiants (suffixe numérique) dans la source (AAF ou référentiel local).",
    ),
    CheckSpec(
        "duplicate_jointure",
        "Jointure (ENTPersonJointure) en double",
        BLOQUANT,
        "La jointure relie le compte à sa source (AAF) et devient l'idnumber Moodle : deux comptes avec la "
        "même jointure sont écrasés l'un par l'autre à chaque alimentation. Supprimez le doublon ou "
        "corrigez la jointure du compte créé à tort.",
    ),
    CheckSpec(
        "same_name_birthdate",
        "Même nom, prénom et date de naissance",
        A_CORRIGER,
        "Deux comptes pour la même personne (un compte local créé en plus du compte académique, une "
        "personne arrivée deux fois) : elle reçoit deux jeux d'identifiants. Vérifiez qu'il ne s'agit pas "
        "d'homonymes, puis supprimez ou fusionnez le compte en trop.",
    ),
    CheckSpec(
        "dangling_struct",
        "Établissement de rattachement introuvable",
        A_CORRIGER,
        "ENTPersonStructRattach désigne un établissement absent de l'annuaire (ou manque) : la personne "
        "n'appartient au périmètre d'aucun établissement et échappe aux diffusions et à la "
        "synchronisation. Corrigez le rattachement ou supprimez le compte.",
    ),
    CheckSpec(
        "dangling_parent",
        "Lien vers un parent introuvable",
        A_CORRIGER,
        "ENTEleveParents (ou ENTElevePersRelEleve) d'un élève désigne une entrée qui n'existe plus : "
        "l'élève apparaît rattaché à un responsable fantôme. Relancez l'alimentation ou retirez le lien.",
    ),
    CheckSpec(
        "dangling_child",
        "Lien vers un enfant introuvable",
        A_CORRIGER,
        "ENTAuxPersRelEleveEleve d'un parent désigne un élève qui n'existe plus : le parent reçoit des "
        "informations sur un enfant disparu. Retirez le lien (ou supprimez le parent s'il n'a plus "
        "d'enfant).",
    ),
    CheckSpec(
        "dangling_member",
        "Membre de groupe introuvable",
        A_CORRIGER,
        "Un membre (member) d'une classe ou d'un groupe désigne une entrée qui n'existe plus : les listes "
        "de classe et les cohortes Moodle sont fausses. Retirez ces membres du groupe.",
    ),
    CheckSpec(
        "student_without_parent",
        "Élève sans parent",
        A_CORRIGER,
        "Aucun responsable existant n'est lié à l'élève (ni ENTEleveParents côté élève, ni "
        "ENTAuxPersRelEleveEleve côté parent) : personne ne peut suivre sa scolarité dans l'ENT. "
        "Vérifiez la fiche dans la source (AAF) ; un élève majeur peut ne pas en avoir.",
    ),
    CheckSpec(
        "parent_without_child",
        "Parent sans enfant",
        A_CORRIGER,
        "Le compte parent n'est lié à aucun élève existant : il ne sert plus à rien et garde un accès à "
        "l'ENT. Supprimez-le, ou rétablissez le lien avec l'enfant.",
    ),
    CheckSpec(
        "class_not_in_school",
        "Classe de l'élève absente de l'établissement",
        A_CORRIGER,
        "ENTEleveClasses désigne une classe qui n'existe pas dans l'établissement : l'élève n'apparaît "
        "dans aucune liste de classe ni cohorte. Corrigez la classe de l'élève ou créez la classe.",
    ),
    CheckSpec(
        "empty_class",
        "Classe ou groupe sans membre",
        A_CORRIGER,
        "La classe ou le groupe n'a aucune personne parmi ses membres : il encombre les listes et crée des cohortes "
        "Moodle vides. Supprimez-le, ou rétablissez ses membres.",
    ),
    CheckSpec(
        "profile_contradiction",
        "Profil contraire aux classes d'objet",
        A_CORRIGER,
        "ENTPersonProfils dit une population et les classes d'objet (ENTEleve, ENTAuxEnseignant…) une "
        "autre : selon le réglage [ent] profile_source, la personne reçoit le mauvais message ou le "
        "mauvais rôle Moodle. Corrigez le profil ou les classes d'objet dans la source.",
    ),
    CheckSpec(
        "no_mail",
        "Comptes sans adresse électronique",
        INFORMATION,
        "Élèves, parents et autres comptes sans attribut mail : la diffusion ne peut pas leur envoyer "
        "leurs identifiants, qui partent dans le fichier des identifiants non envoyés. Faites compléter "
        "l'adresse, ou remettez les identifiants en main propre.",
    ),
    CheckSpec(
        "never_activated",
        "Comptes jamais activés",
        INFORMATION,
        "Le mot de passe provisoire n'a jamais été changé (ou le compte n'a jamais reçu de mot de passe) "
        "longtemps après la création du compte : l'utilisateur n'a sans doute pas reçu ses identifiants. "
        "Diffusez-les à nouveau ou régénérez le fichier des identifiants.",
    ),
    CheckSpec(
        "moodle_not_in_directory",
        "Utilisateurs Moodle absents de l'annuaire",
        A_CORRIGER,
        "Comptes Moodle actifs de l'authentification de la synchronisation dont l'identifiant n'existe "
        "plus dans l'annuaire : ils ne peuvent plus se connecter et occupent des cohortes. Lancez une "
        "synchronisation forcée (suspension) ou suspendez-les dans Moodle.",
        moodle=True,
    ),
    CheckSpec(
        "directory_not_in_moodle",
        "Utilisateurs de l'annuaire absents de Moodle",
        INFORMATION,
        "Personnes du périmètre, de profils synchronisés, sans compte Moodle : elles ne trouvent pas "
        "leurs cours. Lancez la synchronisation des utilisateurs (enttui sync --users).",
        moodle=True,
    ),
)


NO_SCHOOL = "sans établissement"  # the school of a finding whose entry has none (or an unknown one)


@dataclass(frozen=True, slots=True)
class Finding:
    dn: str
    login: str
    name: str
    detail: str
    uai: str = ""  # the entry's school: a person's attachment, a group's cn <UAI>$<name>; "" when unknown

    @property
    def school(self) -> str:
        """The UAI, or "sans établissement"."""
        return self.uai or NO_SCHOOL

    def as_dict(self) -> dict[str, str]:
        return {"dn": self.dn, "login": self.login, "name": self.name, "detail": self.detail, "uai": self.uai}


@dataclass(slots=True)
class CheckResult:
    spec: CheckSpec
    findings: list[Finding] = field(default_factory=list)
    skipped: str = ""  # why the check did not run (French), e.g. Moodle not configured

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def severity(self) -> str:
        return self.spec.severity

    @property
    def explanation(self) -> str:
        return self.spec.explanation

    @property
    def count(self) -> int:
        return len(self.findings)

    @property
    def failed(self) -> bool:
        return bool(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "explanation": self.explanation,
            "count": self.count,
            "skipped": self.skipped,
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class MoodleAccount:
    """A Moodle account as the coherence checks read it (the sync reads a fuller one, sync.MoodleUser)."""

    id: int
    username: str
    firstname: str = ""
    lastname: str = ""
    auth: str = ""
    suspended: bool = False


def blocking_failed(results: Iterable[CheckResult]) -> bool:
    return any(r.severity == BLOQUANT and r.failed for r in results)


@dataclass(frozen=True, slots=True)
class SchoolSummary:
    """The findings of one school (UAI; "" for entries of no known school), per check and severity."""

    uai: str
    counts: dict[str, int]  # check id → findings of this school (checks with none left out)
    blocking: int = 0
    to_fix: int = 0
    information: int = 0

    @property
    def label(self) -> str:
        return self.uai or NO_SCHOOL

    @property
    def total(self) -> int:
        return self.blocking + self.to_fix + self.information

    def as_dict(self) -> dict[str, Any]:
        return {
            "uai": self.uai,
            "label": self.label,
            "bloquant": self.blocking,
            "a_corriger": self.to_fix,
            "information": self.information,
            "total": self.total,
            "counts": dict(self.counts),
        }


def by_school(results: Iterable[CheckResult]) -> list[SchoolSummary]:
    """One summary per school that has findings: the most blocking findings first, then the most
    findings "à corriger", then the most findings; "sans établissement" after the schools at a tie."""
    counts: dict[str, dict[str, int]] = {}
    severity: dict[str, list[int]] = {}
    slot = {BLOQUANT: 0, A_CORRIGER: 1, INFORMATION: 2}
    for r in results:
        s = slot.get(r.severity, 2)
        for f in r.findings:
            per = counts.setdefault(f.uai, {})
            per[r.id] = per.get(r.id, 0) + 1
            severity.setdefault(f.uai, [0, 0, 0])[s] += 1
    out = [SchoolSummary(uai, counts[uai], *severity[uai]) for uai in counts]
    out.sort(key=lambda x: (-x.blocking, -x.to_fix, -x.total, x.uai == "", x.uai))
    return out


def for_school(results: Iterable[CheckResult], uai: str) -> list[CheckResult]:
    """The results with only the findings of school ``uai`` ("" = entries of no known school)."""
    return [CheckResult(r.spec, [f for f in r.findings if f.uai == uai], r.skipped) for r in results]
