"""The pages of the console, as the ENT's left navigation lists them (labels stay French)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Page:
    key: str
    label: str
    section: str | None  # "Annuaire", "Administration", "Moodle" or None (Accueil)
    breadcrumb: tuple[str, ...]
    summary: str = ""  # one French line: what the page is for (palette help, placeholders)


PAGES: tuple[Page, ...] = (
    Page("accueil", "Accueil", None, ("Accueil",), "État des systèmes et chiffres clés"),
    Page(
        "utilisateurs",
        "Utilisateurs",
        "Annuaire",
        ("Annuaire", "Utilisateurs"),
        "Rechercher et consulter les personnes de l'annuaire",
    ),
    Page("groupes", "Groupes", "Annuaire", ("Annuaire", "Groupes"), "Classes et groupes du périmètre"),
    Page(
        "alimentation",
        "Rapports d'alimentation",
        "Administration",
        ("Annuaire", "Administration", "Rapports d'alimentation"),
        "Traitements enregistrés (synchronisations, diffusions…)",
    ),
    Page(
        "coherence",
        "Rapports de cohérence",
        "Administration",
        ("Annuaire", "Administration", "Rapports de cohérence"),
        "Contrôles de cohérence de l'annuaire",
    ),
    Page(
        "diffusion",
        "Diffusion des identifiants",
        "Administration",
        ("Annuaire", "Administration", "Diffusion des identifiants"),
        "Envoyer leurs identifiants aux utilisateurs",
    ),
    Page(
        "fichiers",
        "Fichiers des identifiants",
        "Administration",
        ("Annuaire", "Administration", "Fichiers des identifiants"),
        "Fichiers des identifiants non envoyés ou régénérés",
    ),
    Page(
        "referentiel",
        "Référentiel local",
        "Administration",
        ("Annuaire", "Administration", "Référentiel local"),
        "Comptes gérés par l'établissement",
    ),
    Page(
        "imports",
        "Imports / Exports CSV",
        "Administration",
        ("Annuaire", "Administration", "Imports / Exports CSV"),
        "Importer des comptes locaux, exporter des personnes",
    ),
    Page(
        "export_specifique",
        "Export CSV spécifique",
        "Administration",
        ("Annuaire", "Administration", "Export CSV spécifique"),
        "Exports pour Moodle, SACoche, Gepi…",
    ),
    Page(
        "moodle_sync",
        "Synchroniser les données de moodle",
        "Moodle",
        ("Moodle", "Synchroniser les données de moodle"),
        "Synchronisation de Moodle depuis l'annuaire",
    ),
)

PAGES_BY_KEY: dict[str, Page] = {p.key: p for p in PAGES}
SECTIONS: tuple[str, ...] = ("Annuaire", "Administration", "Moodle")
