"""A diffusion before anything changes: the request, its validation and the plan (who gets what).

:func:`validate_request` applies the form's rules; :func:`plan_diffusion` reads the directory once
and sorts every person of the chosen targets into credentials (a new password, mailed or filed),
information (staff: a mail without password) or left alone (already activated), with the counts
and the text the admin confirms. A resume plans again, restricted to its journal's accounts.

The run itself (passwords, senders, journal, resume) is :mod:`enttui.jobs.diffusion`, which
re-exports these names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enttui.domain import mail
from enttui.domain.dn import lookup_key
from enttui.domain.french import plural
from enttui.domain.people import Person, Target
from enttui.errors import ValidationError
from enttui.jobs import credentials, journal
from enttui.services.container import Services

__all__ = ["DiffusionPlan", "DiffusionRequest", "TargetCounts", "plan_diffusion", "validate_request"]


@dataclass(frozen=True)
class DiffusionRequest:
    targets: tuple[Target, ...]
    subject: str
    free_text: str = ""
    include_activated: bool = False

    def options(self) -> dict[str, Any]:
        return {
            "targets": [t.value for t in self.targets],
            "subject": self.subject,
            "free_text": self.free_text,
            "include_activated": self.include_activated,
        }

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DiffusionRequest:
        return cls(
            targets=tuple(Target(t) for t in options.get("targets", [])),
            subject=str(options.get("subject", "")),
            free_text=str(options.get("free_text", "")),
            include_activated=bool(options.get("include_activated", False)),
        )


def validate_request(
    targets: Sequence[Target | str], subject: str, free_text: str = "", *, include_activated: bool = False
) -> DiffusionRequest:
    """The form's rules, before anything happens (ValidationError in French)."""
    chosen: list[Target] = []
    for t in targets:
        try:
            target = Target(t)
        except ValueError:
            raise ValidationError(
                f"Cible inconnue : « {t} » (eleve, parent, enseignant, non-enseignant, autre).", title="Cible"
            ) from None
        if target not in chosen:
            chosen.append(target)
    if not chosen:
        raise ValidationError("Cochez au moins une cible.", title="Cible")
    clean = mail.validate_subject(subject)
    order = list(Target)
    return DiffusionRequest(tuple(sorted(chosen, key=order.index)), clean, free_text or "", include_activated)


@dataclass
class TargetCounts:
    credentials: int = 0  # new password + mail
    no_mail: int = 0  # new password, no usable address: the file
    no_password: int = 0  # among the two above: accounts that never had a password
    information: int = 0  # information mail only
    info_no_mail: int = 0  # staff without address: nothing to send
    activated: int = 0  # already activated, left alone


@dataclass
class DiffusionPlan:
    request: DiffusionRequest
    counts: dict[Target, TargetCounts]
    credential_people: list[Person] = field(default_factory=list)
    info_people: list[Person] = field(default_factory=list)
    children: dict[str, str] = field(default_factory=dict)  # student DN (lower) -> "Prénom Nom (classe)"
    uai_of: dict[str, str] = field(default_factory=dict)  # structure DN key (domain.dn) -> UAI

    @property
    def changes(self) -> int:
        return len(self.credential_people)

    @property
    def total(self) -> int:
        return len(self.credential_people) + len(self.info_people)

    def confirmation_text(self) -> str:
        lines = [f"Objet : {self.request.subject}", ""]
        for target in self.request.targets:
            c = self.counts[target]
            if target.gets_ent_credentials:
                line = (
                    f"{target.label} : "
                    f"{plural(c.credentials, 'nouveau mot de passe envoyé', 'nouveaux mots de passe envoyés')}"
                    f" par courriel, {c.no_mail} sans adresse utilisable (dans le fichier)"
                )
                if c.no_password:
                    line += f", dont {plural(c.no_password, 'compte')} sans mot de passe"
                    line += " (jamais reçu d'identifiants)"
                if c.activated:
                    line += ", " + plural(
                        c.activated, "compte déjà activé laissé tel quel", "comptes déjà activés laissés tels quels"
                    )
            else:
                line = f"{target.label} : {plural(c.information, 'message')} d'information (sans mot de passe)"
                if c.info_no_mail:
                    line += f", {c.info_no_mail} sans adresse"
            lines.append(line)
        lines += [
            "",
            f"Total : {plural(self.changes, 'mot de passe changé', 'mots de passe changés')}, "
            f"{plural(sum(c.credentials + c.information for c in self.counts.values()), 'courriel')}.",
        ]
        if self.request.include_activated:
            lines.append("Attention : les comptes déjà activés sont inclus (leur mot de passe sera changé).")
        return "\n".join(lines)


async def plan_diffusion(
    services: Services, request: DiffusionRequest, *, only: Mapping[str, str] | None = None
) -> DiffusionPlan:
    """Who gets what. ``only`` (DN key -> kind): a resume's accounts, whatever their activation."""
    counts = {t: TargetCounts() for t in request.targets}
    plan = DiffusionPlan(request, counts, uai_of=await credentials.structures(services))
    wanted = set(request.targets)
    children: dict[str, str] = {}
    child_dns: set[str] = set()
    attributes = credentials.plan_attributes(services)
    async for page in services.directory.iter_people(attributes=attributes, prefetch=True, by_school=True):
        for p in page:
            if p.target is Target.ELEVE:
                children[lookup_key(p.dn)] = credentials.child_label(p)
            if p.target not in wanted:
                continue
            kind = only.get(credentials.dn_key(p.dn)) if only is not None else None
            if only is not None and kind is None:
                continue
            c = counts[p.target]
            staff = kind == journal.INFORMATION if only is not None else not p.target.gets_ent_credentials
            if staff:
                if p.mail:
                    c.information += 1
                    plan.info_people.append(p)
                else:
                    c.info_no_mail += 1
                continue
            if only is None and p.activated and not request.include_activated:
                c.activated += 1
                continue
            plan.credential_people.append(p)
            if p.mail:
                c.credentials += 1
            else:
                c.no_mail += 1
            if not p.has_password:
                c.no_password += 1
            if p.target is Target.PARENT:
                child_dns.update(lookup_key(d) for d in p.child_dns)
    missing = [d for d in child_dns if d not in children]
    if missing:  # children outside the périmètre
        found = await services.directory.lookup_people(missing, attributes=attributes)
        for p in found.people.values():
            children[lookup_key(p.dn)] = credentials.child_label(p)
    plan.children = {d: children[d] for d in child_dns if d in children}
    key = lambda p: (p.sn.lower(), p.given_name.lower(), p.dn.lower())  # noqa: E731
    plan.credential_people.sort(key=key)
    plan.info_people.sort(key=key)
    return plan
