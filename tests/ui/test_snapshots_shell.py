"""Snapshots of the shell (Accueil, menu, help, palette, modals) at 80×24 (and 120×40), demo world."""

from __future__ import annotations

import pytest

from enttui.ui.commands import FrenchCommandPalette
from enttui.ui.screens.home import HomeScreen
from enttui.ui.widgets.modals import ConfirmModal, ErrorModal, HelpModal, MessageModal
from support.fixtures_ui import make_demo_app, screen_text, settle, wait_for
from support.snapshots import IDS, SIZES, expect


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_home(snap_compare, tmp_path, size):
    """The Accueil: "Vérifié à l'instant (…)", the four systems OK with their latency and version,
    the key figures in French (never split inside "Autre : 10"); at 80×24 no menu (folded away), at
    120×40 the menu on the left; the footer starts with r Actualiser, F1 Aide at the right end."""

    async def run_before(pilot):
        await settle(pilot)
        await expect(pilot, HomeScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_navigation_menu_focused(snap_compare, tmp_path, size):
    """F2 then two downs: at 80×24 the menu comes over the Accueil (the page keeps its layout), at
    120×40 it is the left column; "Groupes" highlighted; the footer offers échap Fermer le menu."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("f2", "down", "down")
        await settle(pilot)
        await expect(pilot, HomeScreen)
        assert pilot.app.screen.has_class("-menu-open")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_help_modal(snap_compare, tmp_path):
    """F1 on the Accueil: "Aide : Accueil", the key list first (r, entrée, then échap, F2, ^q, F1,
    F3, ^p), keys right-aligned, then "À quoi sert cet écran"; its own footer (échap Fermer)."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("f1")
        await expect(pilot, HelpModal, selector="#help-keys")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_confirm_modal(snap_compare, tmp_path):
    """A confirmation: title, plain-text message, "Non (n)" focused and "Oui (y)"; footer y Oui, n Non."""

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.push_screen(
            ConfirmModal("Supprimer le fichier ?", "Identifiants-non-envoyes-20261121_083000.csv (42 comptes)")
        )
        await expect(pilot, ConfirmModal, selector="#dialog-message")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_unexpected_error_modal(snap_compare, tmp_path):
    """An unexpected error: "Erreur inattendue" (red frame), a French message, the technical detail
    labelled "Détail technique :" below; "Fermer (échap)"."""

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.report_error(RuntimeError("boom: connection reset by peer"))
        await expect(pilot, ErrorModal, selector="#dialog-detail")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_system_details_modal(snap_compare, tmp_path):
    """Entrée on "Annuaire (LDAP)": its state, address, version, latency and counts, in French."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("enter")
        await expect(pilot, MessageModal, selector="#dialog-message")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_palette(snap_compare, tmp_path):
    """ctrl+p then "qu": the palette in French ("Chercher une page ou une commande…" replaced by the
    typed text), "Quitter" among the hits, no English system command."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("ctrl+p")
        await expect(pilot, FrenchCommandPalette)
        await pilot.press("q", "u")
        await wait_for(pilot, lambda: "Quitter enttui" in screen_text(pilot.app), "the hits")
        await expect(pilot, FrenchCommandPalette)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)
