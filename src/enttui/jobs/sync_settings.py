"""The sync's settings: what is in force (the screen's "Retour aux réglages"), the watermarks, and the
fingerprint the watermarks belong to.

The fingerprint is a digest of every setting that decides *what* is synced: the périmètre's UAIs,
the people / group / role bases and filters, the synced profiles, the auth, the cohort prefix and
lock component, the role rules and mappings, the username rule (and Moodle's
``extendedusernamechars``). A watermark taken with another fingerprint is ignored: after a school
is added to ``[ent] uai``, say, the next normal run reads everything (SYNC.md, "Reference period").
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from enttui.config import Config
from enttui.services.container import Services


def watermark_key(entity: str) -> str:
    return f"sync:{entity}"


def role_base(config: Config) -> str:
    return config.sync.role_base or f"ou=roles,{config.ldap.groups_dn or config.ldap.base_dn}"


def settings_fingerprint(config: Config, extended_usernames: bool = False) -> str:
    """A digest of the settings that decide what is synced (see the module docstring)."""
    s, ldap = config.sync, config.ldap
    decisive = {
        "uai": sorted(config.ent.uai),
        "profile_source": config.ent.profile_source,
        "people": ldap.people_dn or ldap.base_dn,
        "groups": ldap.groups_dn or ldap.base_dn,
        "structures": ldap.structures_dn or ldap.base_dn,
        "user_filter": s.user_filter,
        "group_filter": s.group_filter,
        "role_base": role_base(config),
        "role_filter": s.role_filter,
        "role": [s.role_attribute, s.role_regex, sorted(s.role_mapping)],
        "level": [s.role_level_attribute, s.role_level_regex, sorted(s.role_level_mapping)],
        "key": [s.role_key_attribute, s.role_key_regex],
        "fonction_roles": sorted(s.fonction_roles),
        "profiles": sorted(s.profiles),
        "auth": s.auth,
        "cohort_prefix": s.cohort_prefix,
        "component": s.component,
        "usernames": [s.usernames, extended_usernames],
    }
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class SettingsView:
    """The sync settings in force, for "Retour aux réglages" (read-only)."""

    rows: list[tuple[str, str]] = field(default_factory=list)


def settings_view(services: Services) -> SettingsView:
    cfg = services.config
    s = cfg.sync
    moodle = services.moodle.endpoint if services.moodle is not None else "non configuré"
    usernames = {
        "transliterate": "translittérés (Zoé.Müller → zoe.muller)",
        "refuse": "refusés (ligne d'erreur)",
    }.get(s.usernames, s.usernames)
    rows = [
        ("Base Moodle", moodle),
        ("Préfixe des tables", cfg.moodle.prefix),
        ("Établissements (UAI)", ", ".join(cfg.ent.uai) or "aucun"),
        ("Authentification des comptes (auth)", s.auth),
        ("Préfixe des cohortes", s.cohort_prefix),
        ("Composant du verrou", s.component),
        ("Comptes disparus de l'annuaire", "suspendus" if s.removal == "suspend" else "conservés"),
        ("Seuil de suppressions", f"{s.max_removal_share:.0%} des comptes gérés"),
        ("Profils synchronisés", ", ".join(s.profiles)),
        ("Identifiants refusés par Moodle", usernames),
        ("Marge de la période de référence", f"{s.watermark_margin_minutes} min"),
        ("Taille des lots", str(s.batch_size)),
        ("Filtre des personnes", s.user_filter or "(périmètre seul)"),
        ("Filtre des groupes", s.group_filter or "classes et groupes du périmètre"),
        ("Branche des rôles", role_base(cfg)),
        ("Filtre des rôles", s.role_filter),
        ("Rôle : attribut / expression", f"{s.role_attribute} / {s.role_regex}"),
        ("Niveau : attribut / expression", f"{s.role_level_attribute} / {s.role_level_regex}"),
        ("Clé : attribut / expression", f"{s.role_key_attribute} / {s.role_key_regex}"),
        ("Fonctions → rôles système", ", ".join(s.fonction_roles) or "aucune"),
    ]
    return SettingsView(rows)
