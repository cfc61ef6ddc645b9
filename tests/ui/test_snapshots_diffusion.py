"""Snapshots of "Diffusion des identifiants" and "Fichiers des identifiants" (demo world, frozen clock).

No password is ever on screen; the file names come from the frozen clock.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from enttui.domain.people import Target
from enttui.jobs import diffusion
from enttui.jobs.events import Phase
from enttui.ui.screens.diffusion import DiffusionScreen
from enttui.ui.screens.fichiers import FichiersScreen
from enttui.ui.widgets.export import ExportModal
from enttui.ui.widgets.modals import ConfirmModal, ErrorModal
from support.diffusion_world import interrupt_a_regeneration
from support.fixtures_ui import make_demo_app, settle, wait_for
from support.snapshots import IDS, SIZES, expect


async def tick(pilot, *labels: str) -> None:
    order = ["eleve", "parent", "enseignant", "non-enseignant", "autre"]
    for i, key in enumerate(order):
        if key in labels:
            await pilot.press("space")
        if i < len(order) - 1:
            await pilot.press("tab")


async def _form(pilot) -> None:
    await settle(pilot)
    await expect(pilot, DiffusionScreen)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_form_empty(snap_compare, tmp_path, size):
    """The form of the seed: Cible * with five "[ ]" boxes (Élève focused), the Objet and its
    counter "44/75"; the button "Diffuser les identifiants (F5)" always on screen at the bottom;
    the footer starts with F5 Diffuser les identifiants."""
    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=size, run_before=_form)


def test_form_filled(snap_compare, tmp_path):
    """Élève, Parent and Autre ticked ("[X]"), a free text; 120×40."""

    async def run_before(pilot):
        await _form(pilot)
        await tick(pilot, "eleve", "parent", "autre")
        pilot.app.screen.query_one("#texte-libre").text = "Bonne rentrée à tous !"
        await pilot.press("tab")
        await settle(pilot)
        await expect(pilot, DiffusionScreen)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_form_invalid(snap_compare, tmp_path):
    """F5 with no target and a 76-character subject: both errors at once, "Cochez au moins une
    cible." under the targets and the subject's error under Objet, the focus on Élève, a toast
    "2 erreurs dans le formulaire" at the top."""

    async def run_before(pilot):
        await _form(pilot)
        pilot.app.screen.query_one("#objet", Input).value = "x" * 76
        await pilot.press("f5")
        await settle(pilot)
        await expect(pilot, DiffusionScreen)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_confirmation(snap_compare, tmp_path):
    """The diffusion's confirmation, before anything happens: per target, new passwords mailed, those
    without address (the file), how many of them never had a password, the activated accounts left
    alone; staff get information only."""

    async def run_before(pilot):
        await _form(pilot)
        await tick(pilot, "eleve", "parent", "enseignant", "autre")
        await pilot.press("f5")
        await expect(pilot, ConfirmModal, selector="#dialog-message")

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_progress(snap_compare, tmp_path):
    """A run in progress: its phase and a progress bar at 120 of 619 (no button, no form)."""

    async def run_before(pilot):
        await _form(pilot)
        screen = pilot.app.screen
        screen._show_run()
        screen._on_event(Phase("diffusion", "Changement des mots de passe et envoi des messages"))
        screen.show_progress(120, 619)
        await pilot.pause()
        await expect(pilot, DiffusionScreen)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def diffuse(pilot, *labels: str) -> None:
    """Tick the targets, F5, confirm with y."""
    await _form(pilot)
    await tick(pilot, *labels)
    await pilot.press("f5")
    await expect(pilot, ConfirmModal, selector="#dialog-message")
    await pilot.press("y")


def test_summary(snap_compare, tmp_path):
    """The Bilan of a diffusion: sent, information, in the file, errors, the passwords changed =
    sent + in the file, the file's name (F7); every line fits 80 columns."""

    async def run_before(pilot):
        await diffuse(pilot, "eleve", "parent", "autre")
        await settle(pilot)
        await wait_for(pilot, lambda: "Bilan" in str(pilot.app.screen.query_one("#run-phase").content), "the Bilan")
        await expect(pilot, DiffusionScreen)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_run_failed(snap_compare, tmp_path, monkeypatch):
    """A run that stops on an unexpected failure: after the modal is closed, the run view says
    "Diffusion interrompue : F6 pour la reprendre." and "erreur inattendue" (no raw exception)."""

    async def cannot_start(self, works):
        raise OSError("bad value(s) in fds_to_keep")

    monkeypatch.setattr(diffusion._Diffusion, "_password_setter", cannot_start)

    async def run_before(pilot):
        await diffuse(pilot, "eleve")
        await expect(pilot, ErrorModal, selector="#dialog-detail")
        await pilot.press("escape")
        await settle(pilot)
        await expect(pilot, DiffusionScreen)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def _files(pilot) -> None:
    await settle(pilot)
    request = diffusion.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
    await diffusion.run_diffusion(pilot.app.services, request)
    pilot.app.go("fichiers")
    await settle(pilot)
    await expect(pilot, FichiersScreen)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_files_table(snap_compare, tmp_path, size):
    """ "1 résultat", the file with Fichier, Taille (Octets) and Date de génération whole at 80×24
    (and its Lignes column at 120×40); the regeneration form below and "Régénérer (F5)" at the bottom."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_files)


def test_download_refuses_a_system_path(snap_compare, tmp_path):
    """t then /etc/passwd: "Télécharger <file>", the refusal under the field, the modal stays."""

    async def run_before(pilot):
        await _files(pilot)
        await pilot.press("t")
        await expect(pilot, ExportModal, selector="#export-path")
        pilot.app.screen.query_one("#export-path", Input).value = "/etc/passwd"
        await pilot.press("enter")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#export-path").has_class("-invalid"), "the refusal")
        await expect(pilot, ExportModal)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_regeneration_form(snap_compare, tmp_path):
    """The regeneration form with a date typed, "Régénérer (F5)" on screen at 80×24."""

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#regen-date").focus()
        await pilot.press(*"01/09/2026")
        await settle(pilot)
        await expect(pilot, FichiersScreen)

    app = make_demo_app(tmp_path / "demo", start_page="fichiers")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_regeneration_date_refused(snap_compare, tmp_path):
    """F5 with 31/02/2026: the error under the date field, the field focused and marked."""

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#regen-date", Input).value = "31/02/2026"
        await pilot.press("f5")
        await settle(pilot)
        await expect(pilot, FichiersScreen)

    app = make_demo_app(tmp_path / "demo", start_page="fichiers")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_regeneration_interrupted(snap_compare, tmp_path, size):
    """Fichiers des identifiants after a regeneration that stopped after its first batch: a banner
    above the table says "La régénération n° 1 du … a été interrompue après 50 lignes : F7 pour la
    reprendre" (the rows really in the file); the file's row gives its 50 rows (Lignes) and, where
    there is room (120×40), "interrompu : F7" (État); F7 Reprendre in the 120×40 footer. No password."""

    async def run_before(pilot):
        await settle(pilot)
        await interrupt_a_regeneration(pilot.app.services)
        await pilot.press("f6")
        await settle(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#regen-banner").display, "the banner")
        await expect(pilot, FichiersScreen)

    app = make_demo_app(tmp_path / "demo", start_page="fichiers")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_regeneration_resume_confirmation(snap_compare, tmp_path):
    """F7 on an interrupted regeneration: the confirmation "Reprendre la régénération ?" names the
    run (n° 1 du …) and says it is finished in the same file, the accounts already handled keeping
    their password (no row twice); "Reprendre (y)" and the safe choice."""

    async def run_before(pilot):
        await settle(pilot)
        await interrupt_a_regeneration(pilot.app.services)
        await pilot.press("f6")
        await settle(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#regen-banner").display, "the banner")
        await pilot.press("f7")
        await expect(pilot, ConfirmModal, selector="#dialog-message")

    app = make_demo_app(tmp_path / "demo", start_page="fichiers")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
