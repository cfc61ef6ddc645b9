"""Snapshots of Rapports d'alimentation and Rapports de cohérence (demo world, frozen clock)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from textual.widgets import Input

from enttui.ui.screens.alimentation import AlimentationScreen, RunDetailScreen
from enttui.ui.screens.coherence import CoherenceScreen, FindingsScreen
from enttui.ui.screens.coherence_schools import SchoolsScreen
from enttui.ui.screens.trace import TraceScreen
from enttui.ui.widgets.export import ExportModal
from enttui.ui.widgets.modals import MessageModal
from support.fixtures_ui import make_demo_app, settle, wait_for
from support.snapshots import IDS, SIZES, expect, page


def _seed_runs():
    """The runs seeded by the Pilot tests (one of each kind and status, fixed timestamps)."""
    path = Path(__file__).with_name("test_reports_screens.py")
    spec = importlib.util.spec_from_file_location("reports_screens_seed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.seed_runs


async def _alimentation(pilot) -> None:
    await settle(pilot)
    await _seed_runs()(pilot.app)
    pilot.app.go("alimentation")
    await settle(pilot)
    await expect(pilot, AlimentationScreen)


async def _run_detail(pilot) -> None:
    await _alimentation(pilot)
    await pilot.press("down", "down", "down", "enter")  # the diffusion "avec erreurs"
    await settle(pilot)
    await expect(pilot, RunDetailScreen)


_coherence = page("coherence", CoherenceScreen)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_alimentation_list(snap_compare, tmp_path, size):
    """Every recorded run, newest first: Date, Statut, Type and Comptes in French ("12 créés ·
    3 modifiés", "1 erreur · 2 non envoyés…"), "5 traitements"; Durée and Par when there is room."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_alimentation)


def test_alimentation_filtered_empty(snap_compare, tmp_path):
    """Type Régénération, Statut avec erreurs: "0 traitement" and "Aucun traitement enregistré…"."""

    async def run_before(pilot):
        await _alimentation(pilot)
        await pilot.press("k", "k", "k", "t")  # regeneration, réussi
        await settle(pilot)
        await pilot.press("t")  # regeneration, avec erreurs: nothing
        await settle(pilot)
        await expect(pilot, AlimentationScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_alimentation_run_detail_on_an_error(snap_compare, tmp_path, size):
    """The diffusion "avec erreurs", after e: the header (type, status, options "cibles : Élève,
    Parent", counts in French), "Trace : 6 lignes, 2 erreurs · ligne 3", the cursor on the first
    ERREUR line; entities in French (Comptes, Messages); "[b]" shown as typed, never markup."""

    async def run_before(pilot):
        await _run_detail(pilot)
        await pilot.press("e")
        await settle(pilot)
        await expect(pilot, RunDetailScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_run_trace_full_screen_with_a_search(snap_compare, tmp_path):
    """t then /envoi: the trace full screen ("… > Traitement n° 2 > Trace"), the matching word
    highlighted, the status line "« envoi » : 1 ligne"; its footer: / Chercher, n Suivante, e."""

    async def run_before(pilot):
        await _run_detail(pilot)
        await pilot.press("t")
        await expect(pilot, TraceScreen)
        await pilot.press("slash", *"envoi", "enter")
        await settle(pilot)
        await expect(pilot, TraceScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_export_path_refused(snap_compare, tmp_path):
    """x then /etc/passwd: the path modal stays open with the refusal under the field (a system
    folder, whatever the confirmation); its footer: échap Annuler, F10 Écrire."""

    async def run_before(pilot):
        await _run_detail(pilot)
        await pilot.press("x")
        await expect(pilot, ExportModal, selector="#export-path")
        pilot.app.screen.query_one("#export-path", Input).value = "/etc/passwd"
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: "système" in str(pilot.app.screen.query_one("#err-export-path").content), "the refusal"
        )
        await expect(pilot, ExportModal)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_coherence_report(snap_compare, tmp_path, size):
    """All 16 checks on screen at 80×24 with their whole names, severity and count (right-aligned),
    the explanation of the highlighted check below; footer o Entrées, r Relancer, x, i (and F1 Aide
    "+7": e Établissements and u Étab. suivant are among the keys in the help and the palette)."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_coherence)


def test_coherence_findings(snap_compare, tmp_path):
    """The entries of "Jointure en double": a header, "Vous êtes ici : … > Rapports de cohérence >
    Jointure (ENTPersonJointure) en double", "2 entrées · gravité : bloquant", Nom, Identifiant,
    Détail (DN when there is room)."""

    async def run_before(pilot):
        await _coherence(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        await expect(pilot, FindingsScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_coherence_schools(snap_compare, tmp_path):
    """e on the report: "Vous êtes ici : … > Rapports de cohérence > Par établissement", "1
    établissement avec des constats, les plus bloqués d'abord.", the table UAI, Bloq., À corr., Info.,
    Établissement with the row "Tous" then 0123456A (4 bloquants, Collège Jean Moulin) highlighted, and
    below it the counts of each of its 12 failing checks, down to "Utilisateurs de l'annuaire absents de
    Moodle 1552"; footer f Filtrer."""

    async def run_before(pilot):
        await _coherence(pilot)
        await pilot.press("e")
        await settle(pilot)
        await expect(pilot, SchoolsScreen, selector="#schools")
        await pilot.press("down")
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_coherence_explanation(snap_compare, tmp_path):
    """i on the first check: its whole explanation in a modal."""

    async def run_before(pilot):
        await _coherence(pilot)
        await pilot.press("i")
        await expect(pilot, MessageModal, selector="#dialog-message")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)
