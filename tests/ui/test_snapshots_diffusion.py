"""Snapshots of "Diffusion des identifiants" and "Fichiers des identifiants" (demo world, frozen clock).

No password is ever on screen; the file names come from the frozen clock.
"""

from __future__ import annotations

import pytest

from enttui.domain.people import Target
from enttui.jobs import diffusion as D
from enttui.jobs.events import Phase
from enttui.ui.widgets.modals import ConfirmModal, ErrorModal
from support.diffusion_world import interrupt_a_regeneration
from support.fixtures_ui import make_demo_app, settle, wait_until

SIZES = [(80, 24), (120, 40)]


async def wait_modal(pilot, kind: type = ConfirmModal) -> None:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, kind), f"the {kind.__name__}")
    await pilot.pause()


async def tick(pilot, *labels: str) -> None:
    order = ["eleve", "parent", "enseignant", "non-enseignant", "autre"]
    for i, key in enumerate(order):
        if key in labels:
            await pilot.press("space")
        if i < len(order) - 1:
            await pilot.press("tab")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_form_empty(snap_compare, tmp_path, size):
    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=size, run_before=settle)


def test_form_filled(snap_compare, tmp_path):
    async def run_before(pilot):
        await settle(pilot)
        await tick(pilot, "eleve", "parent", "autre")
        pilot.app.screen.query_one("#texte-libre").text = "Bonne rentrée à tous !"
        await pilot.press("tab")
        await settle(pilot)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_form_invalid(snap_compare, tmp_path):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_confirmation(snap_compare, tmp_path):
    """The diffusion's confirmation: per target, new passwords mailed, those without address (the
    file), how many of them never had a password, the activated accounts left alone; staff get
    information only."""

    async def run_before(pilot):
        await settle(pilot)
        await tick(pilot, "eleve", "parent", "enseignant", "autre")
        await pilot.press("f5")
        await wait_modal(pilot)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_progress(snap_compare, tmp_path):
    async def run_before(pilot):
        await settle(pilot)
        screen = pilot.app.screen
        screen._show_run()
        screen._on_event(Phase("diffusion", "Changement des mots de passe et envoi des messages"))
        screen.show_progress(120, 619)
        await pilot.pause()

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def diffuse(pilot, *labels: str) -> None:
    """Tick the targets, F5, confirm with y."""
    await settle(pilot)
    await tick(pilot, *labels)
    await pilot.press("f5")
    await wait_modal(pilot)
    await pilot.press("y")


def test_summary(snap_compare, tmp_path):
    async def run_before(pilot):
        await diffuse(pilot, "eleve", "parent", "autre")
        await settle(pilot)
        await pilot.pause(0.3)
        await settle(pilot)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_run_failed(snap_compare, tmp_path, monkeypatch):
    """A run that stops on an unexpected failure: the run view says so (after the modal is closed)."""

    async def cannot_start(self, works):
        raise OSError("bad value(s) in fds_to_keep")

    monkeypatch.setattr(D._Diffusion, "_password_setter", cannot_start)

    async def run_before(pilot):
        await diffuse(pilot, "eleve")
        await wait_modal(pilot, ErrorModal)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.pause(0.3)
        await settle(pilot)

    app = make_demo_app(tmp_path / "demo", start_page="diffusion")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_files_table(snap_compare, tmp_path, size):
    """The file of a diffusion's leftovers in the table (name from the frozen clock, size, date; at
    120x40 the last column starts with its rows count); F7 Reprendre in the footer."""

    async def run_before(pilot):
        await settle(pilot)
        request = D.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
        await D.run_diffusion(pilot.app.services, request)
        pilot.app.go("fichiers")
        await settle(pilot)
        await pilot.press("f6")  # Actualiser: one load whose layout is final
        await settle(pilot)
        await pilot.pause(0.3)

    app = make_demo_app(tmp_path / "demo")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_regeneration_form(snap_compare, tmp_path):
    """The regeneration form with a search date typed; no file yet; the footer has F5 Régénérer,
    F6 Actualiser and F7 Reprendre."""

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#regen-date").focus()
        await pilot.press(*"01/09/2026")
        await settle(pilot)

    app = make_demo_app(tmp_path / "demo", start_page="fichiers")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_regeneration_interrupted(snap_compare, tmp_path, size):
    """Fichiers des identifiants after a regeneration that stopped after its first batch: a banner
    above the table says "La régénération n° 1 du 21/11/2026 à 09:30 a été interrompue après 50
    lignes : F7 pour la reprendre" (the rows really in the file); the file is listed (its last
    column, "50 lignes · interrompu : F7", is past the right edge); "f7 Reprendre" is in the 120x40
    footer. No password anywhere."""

    async def run_before(pilot):
        await settle(pilot)
        await interrupt_a_regeneration(pilot.app.services)
        await pilot.press("f6")
        await settle(pilot)
        await pilot.pause(0.3)

    app = make_demo_app(tmp_path / "demo", start_page="fichiers")
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_regeneration_resume_confirmation(snap_compare, tmp_path):
    """F7 on an interrupted regeneration: the confirmation "Reprendre la régénération ?" names the
    run (n° 1 du 21/11/2026 à 09:30) and says it is finished in the same file, the accounts already
    handled keeping their password (no row twice); "Reprendre (y)" and the safe choice."""

    async def run_before(pilot):
        await settle(pilot)
        await interrupt_a_regeneration(pilot.app.services)
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("f7")
        await wait_modal(pilot)

    app = make_demo_app(tmp_path / "demo", start_page="fichiers")
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
