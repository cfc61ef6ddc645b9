"""The real `enttui --demo` in a terminal (tmux), keyboard only: it starts, every page shows its key
columns and save keys at 80×24, nothing of Textual's English defaults shows, ctrl+q quits."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from support.tmux import Tmux

ENTTUI = Path(sys.executable).with_name("enttui")


def test_demo_starts_and_quits_with_ctrl_q(tmp_path):
    assert ENTTUI.exists(), "the enttui console script is not installed in the venv (pip install -e .)"
    tmux = Tmux(f"enttui-test-{tmp_path.name}", tmp_path / "exit-status")
    try:
        tmux.start(f"{ENTTUI} --demo --demo-dir {tmp_path / 'demo'}")
        tmux.wait_for("Vérifié à l'instant")
        screen = tmux.wait_for("Annuaire (LDAP)")
        assert "Vous êtes ici : Accueil" in screen
        tmux.keys("C-q")
        assert tmux.wait_exit() == 0
    finally:
        tmux.kill()


# Texts of Textual's own defaults (palette, system commands, toasts, widgets) that must never show.
ENGLISH = (
    "Search for commands",
    "Quit",
    "Keys",
    "Theme",
    "Screenshot",
    "Maximize",
    "Minimize",
    "No matches",
    "Do you want to quit",
    "Press ",
    "Cancel",
    "Select",
    "^p palette",
)

# Each page of the menu (in menu order) and what must be on screen at 80×24: the key columns of
# its table, the save key / buttons of its form.
PAGES = (
    ("Annuaire > Utilisateurs", ("Nom", "Prénom", "Identifiant", "Profil", "Classe", "F4", "Profil")),
    ("Annuaire > Groupes", ("Nom", "Type", "Élèves", "Parents", "Total", "3G")),
    ("Rapports d'alimentation", ("Date", "Statut", "Type", "Comptes", "0 traitement")),
    (
        "Rapports de cohérence",
        (
            "Gravité",
            "Contrôle",
            "Identifiant (ENTPersonLogin) en double",
            "Utilisateurs de l'annuaire absents de Moodle",
        ),
    ),
    ("Diffusion des identifiants", ("[ ] Élève", "Diffuser les identifiants (F5)", "F5")),
    ("Fichiers des identifiants", ("Fichier", "Date de génération", "Régénérer (F5)")),
    ("Référentiel local", ("Identifiant", "Nom", "Profil", "État", "n", "Créer")),
    ("Imports / Exports CSV", ("Fichier CSV", "Aperçu (F5)", "Importer (F6)", "Exporter (F7)")),
    ("Export CSV spécifique", ("Format", "Exporter (F7)", "Enregistrer le profil (F8)")),
    ("Synchroniser les données de moodle", ("[X] Comptes utilisateur", "[ ] Mode simulation", "Lancer")),
)


def _check(screen: str, where: str, *, modal: bool = False) -> None:
    lines = screen.splitlines()
    if not modal:  # a modal's footer has its own keys only
        assert lines and "F1" in lines[-1] and "Aide" in lines[-1], f"{where}: no F1 in the footer\n{screen}"
    for word in ENGLISH:
        assert not re.search(rf"(?<!\w){re.escape(word)}(?!\w)", screen), f"{where}: English {word!r}\n{screen}"


def test_every_page_at_80x24_by_keys(tmp_path):
    """The real console at 80×24, keyboard only: every page through the F2 menu, its key columns
    and its save keys on screen, F1 in every footer, no English text of Textual's defaults; the
    account form shows "Enregistrer (F10)"; the palette and ctrl+c speak French; ctrl+q quits."""
    tmux = Tmux(f"enttui-pages-{tmp_path.name}", tmp_path / "exit-status")
    try:
        tmux.start(f"{ENTTUI} --demo --reset --demo-dir {tmp_path / 'demo'}")
        _check(tmux.wait_for("Vérifié à l'instant"), "Accueil")
        for index, (crumb, expected) in enumerate(PAGES, start=1):
            tmux.keys("F2", "Home", *(["Down"] * index), "Enter")
            screen = tmux.wait_for(crumb)
            for text in expected:
                screen = tmux.wait_for(text)
            _check(screen, crumb)
            if crumb == "Référentiel local":
                tmux.keys("n")
                screen = tmux.wait_for("Enregistrer (F10)")
                assert "Créer un compte local" in screen and "Annuler (échap)" in screen
                _check(screen, "the account form", modal=True)
                assert "F10" in screen.splitlines()[-1]
                tmux.keys("Escape")
                tmux.wait_for("10 comptes locaux")
        tmux.keys("F2", "Home", "Enter")
        tmux.wait_for("Vous êtes ici : Accueil")
        tmux.keys("C-p")
        tmux.wait_for("Chercher une page ou une commande")
        tmux.keys("q", "u", "i")
        screen = tmux.wait_for("Quitter enttui")
        _check(screen, "the palette", modal=True)
        tmux.keys("Escape")
        tmux.wait_until(lambda s: "Quitter enttui (confirmation" not in s, "the palette to close")
        tmux.keys("C-c")
        tmux.wait_for("Pour quitter enttui, appuyez sur")  # the toast (wrapped)
        tmux.keys("C-q")
        assert tmux.wait_exit() == 0
    finally:
        tmux.kill()
