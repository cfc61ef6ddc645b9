"""The real `enttui --demo` in a terminal (tmux): it starts, shows the home screen, quits on ctrl+q."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENTTUI = Path(sys.executable).with_name("enttui")


def _tmux(server: str, *args: str) -> str:
    out = subprocess.run(["tmux", "-L", server, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=20)
    return out.stdout


def _wait_for(server: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux(server, "capture-pane", "-p", "-t", "t")
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")


def test_demo_starts_and_quits_with_ctrl_q(tmp_path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    assert ENTTUI.exists(), "the enttui console script is not installed in the venv (pip install -e .)"
    server = f"enttui-test-{tmp_path.name}"
    done = tmp_path / "exit-status"
    cmd = f"{ENTTUI} --demo --demo-dir {tmp_path / 'demo'}; echo $? > {done}"
    try:
        _tmux(server, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", cmd)
        _wait_for(server, "Vérifié à l'instant")
        screen = _wait_for(server, "Annuaire (LDAP)")
        assert "Vous êtes ici : Accueil" in screen
        _tmux(server, "send-keys", "-t", "t", "C-q")
        deadline = time.monotonic() + 15
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists(), "enttui did not quit on ctrl+q"
        assert done.read_text().strip() == "0"
    finally:
        _tmux(server, "kill-server")


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


def _wait_gone(server: str, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text in _tmux(server, "capture-pane", "-p", "-t", "t"):
        assert time.monotonic() < deadline, f"{text!r} still on screen after {timeout:g} s"
        time.sleep(0.2)


def _keys(server: str, *keys: str) -> None:
    _tmux(server, "send-keys", "-t", "t", *keys)


def test_every_page_at_80x24_by_keys(tmp_path):
    """The real console at 80×24, keyboard only: every page through the F2 menu, its key columns
    and its save keys on screen, F1 in every footer, no English text of Textual's defaults; the
    account form shows "Enregistrer (F10)"; the palette and ctrl+c speak French; ctrl+q quits."""
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    server = f"enttui-pages-{tmp_path.name}"
    done = tmp_path / "exit-status"
    cmd = f"{ENTTUI} --demo --reset --demo-dir {tmp_path / 'demo'}; echo $? > {done}"
    try:
        _tmux(server, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", cmd)
        _check(_wait_for(server, "Vérifié à l'instant"), "Accueil")
        for index, (crumb, expected) in enumerate(PAGES, start=1):
            _keys(server, "F2", "Home", *(["Down"] * index), "Enter")
            screen = _wait_for(server, crumb)
            for text in expected:
                screen = _wait_for(server, text)
            _check(screen, crumb)
            if crumb == "Référentiel local":
                _keys(server, "n")
                screen = _wait_for(server, "Enregistrer (F10)")
                assert "Créer un compte local" in screen and "Annuler (échap)" in screen
                _check(screen, "the account form", modal=True)
                assert "F10" in screen.splitlines()[-1]
                _keys(server, "Escape")
                _wait_for(server, "10 comptes locaux")
        _keys(server, "F2", "Home", "Enter")
        _wait_for(server, "Vous êtes ici : Accueil")
        _keys(server, "C-p")
        screen = _wait_for(server, "Chercher une page ou une commande")
        _keys(server, "q", "u", "i")
        screen = _wait_for(server, "Quitter enttui")
        _check(screen, "the palette", modal=True)
        _keys(server, "Escape")
        _wait_gone(server, "Quitter enttui (confirmation")  # the palette closed
        _keys(server, "C-c")
        _wait_for(server, "Pour quitter enttui, appuyez sur")  # the toast (wrapped)
        _keys(server, "C-q")
        deadline = time.monotonic() + 15
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists(), "enttui did not quit on ctrl+q"
        assert done.read_text().strip() == "0"
    finally:
        _tmux(server, "kill-server")
