"""Snapshots of "Synchroniser les données de moodle" (demo world, frozen clock, no timings in the trace)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Checkbox

from enttui.domain.sync import Counts
from enttui.domain.sync_report import headline
from enttui.domain.sync_schools import SchoolCounts
from enttui.jobs.events import Phase, Progress, Trace
from enttui.ui.screens.moodle_sync import LoginModal, MoodleSyncScreen, SettingsModal
from enttui.ui.screens.trace import TraceScreen
from enttui.ui.widgets.modals import ConfirmModal
from support.fixtures_ui import make_demo_app, settle
from support.snapshots import IDS, SIZES, expect

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EVENTS = (
    Phase("users", "Comptes utilisateur : calcul des différences"),
    Trace("change", "users", "création de jean.dupont (Dupont Jean)"),
    Trace("change", "users", "renommage de [old].login en new.login"),
    Trace(
        "error",
        "users",
        "amine.leguen : identifiant porté par un compte « manual », la synchronisation ne le prend pas",
    ),
    Trace("change", "cohorts", "création de la cohorte « 2026-3A » (3A), 26 membres"),
    Progress("users", 40, 100),
    Progress("cohorts", 0, None),
)


async def _open(pilot) -> MoodleSyncScreen:
    await settle(pilot)
    pilot.app.go("moodle_sync")
    await settle(pilot)
    await expect(pilot, MoodleSyncScreen)
    return pilot.app.screen


async def _running(pilot) -> MoodleSyncScreen:
    screen = await _open(pilot)
    screen.running = True
    screen.set_status("Synchronisation en cours…")
    for event in EVENTS:
        screen.render_event(event)
    await settle(pilot)
    return screen


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_idle(snap_compare, tmp_path, size):
    """The seed's page: Entités "[X]" ticked, the five options "[ ]" with their labels wrapped
    beside, "Prêt. « l » pour lancer.", the progress bars, the (empty) trace; footer l Lancer…"""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_open)


def test_options_ticked(snap_compare, tmp_path):
    """Forcer, Mode simulation and Plus de sorties de trace ticked: "[X]" beside them."""

    async def run_before(pilot):
        screen = await _open(pilot)
        for wid in ("opt-force", "opt-simulate", "opt-verbose"):
            screen.query_one(f"#{wid}", Checkbox).value = True
        screen.query_one("#opt-simulate", Checkbox).focus()
        await settle(pilot)
        await expect(pilot, MoodleSyncScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_running_frozen_trace(snap_compare, tmp_path, size):
    """A run in progress, scrolled to its trace: "Trace : 4 lignes, 1 erreur", entities in French
    (Comptes, Cohortes), the long error line wrapped, "[old]" shown as typed (never markup)."""

    async def run_before(pilot):
        screen = await _running(pilot)
        screen.query_one("#sync-trace").scroll_visible(animate=False)
        await settle(pilot)
        await expect(pilot, MoodleSyncScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_trace_full_screen(snap_compare, tmp_path):
    """t during a run: the trace full screen, wrapped, following the last line; "… > Trace de la
    synchronisation"; its footer / Chercher, n Suivante, e Erreur suiv."""

    async def run_before(pilot):
        await _running(pilot)
        await pilot.press("t")
        await settle(pilot)
        await expect(pilot, TraceScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_finished_summary(snap_compare, tmp_path, size):
    """A run cancelled during the cohorts, with 1 error: the status line is the headline
    "Synchronisation annulée à la fin d'un lot, avec 1 erreur. Touche e : les voir."; the users bar
    full, "interrompu" beside the cohorts bar and "non traité" beside the roles bar; the Bilan one
    French line per entity with agreement ("2 cohortes créées, 1 modifiée … (interrompu par
    l'annulation)", "Associations de rôles : non traité") and the auth warning, fitting 80 columns."""

    async def run_before(pilot):
        screen = await _open(pilot)
        screen.show_summary(
            "interrompu",
            {
                "users": Counts(created=12, unchanged=30, errors=1),
                "cohorts": Counts(created=2, updated=1),
                "roles": Counts(),
            },
            {"users": "traité", "cohorts": "interrompu", "roles": "non traité"},
            [
                "l'authentification « cas » n'est pas activée dans Moodle (config.auth : email) : les comptes "
                "synchronisés ne pourront pas se connecter."
            ],
            headline("interrompu", 1, simulate=False),
        )
        screen.query_one("#sync-summary").scroll_visible(animate=False)
        await settle(pilot)
        await expect(pilot, MoodleSyncScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def _schools() -> SchoolCounts:
    """Four schools with changes (one named with brackets), and the suspensions (no school)."""
    schools = SchoolCounts(
        names={
            "0123456A": "Collège Jean Moulin",
            "0654321B": "Lycée professionnel [Beta] * des métiers du bâtiment",
            "0777777C": "Collège Gamma",
            "0888888D": "Collège Delta",
        }
    )
    for uai, users, cohorts, errors in (
        ("0654321B", 1204, 31, 2),
        ("0123456A", 12, 2, 0),
        ("0777777C", 0, 1, 0),
        ("0888888D", 3, 0, 1),
    ):
        schools.add(uai, "users", "created", users)
        schools.add(uai, "users", "updated", users // 3)
        schools.add(uai, "cohorts", "created", cohorts)
        schools.add(uai, "users", "errors", errors)
    schools.add("", "users", "suspended", 7)
    return schools


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_finished_summary_per_school(snap_compare, tmp_path, size):
    """A finished run over a périmètre of several schools, scrolled to the end of the Bilan: "Par
    établissement (5 établissements avec des changements)", a table UAI, Établissement (the long
    name cut with "…" at 80×24, its "[Beta] *" as typed), Créés, Modifiés, Suspendus, Cohortes,
    Erreurs (no Réactivés column: all zero); sorted by UAI, the rows with errors in red, "sans
    établissement" last with the 7 suspended accounts; fitting 80 columns."""

    async def run_before(pilot):
        screen = await _open(pilot)
        screen.show_summary(
            "avec erreurs",
            {"users": Counts(created=1219, updated=406, suspended=7, errors=3), "cohorts": Counts(created=34)},
            {"users": "traité", "cohorts": "traité"},
            [],
            headline("avec erreurs", 3, simulate=False),
            _schools(),
        )
        await settle(pilot)
        screen.query_one("#sync-schools").scroll_visible(animate=False)
        await settle(pilot)
        await expect(pilot, MoodleSyncScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_confirmation(snap_compare, tmp_path):
    """A forced run that would suspend accounts asks first, with the numbers."""

    async def run_before(pilot):
        await _open(pilot)
        pilot.app.push_screen(
            ConfirmModal(
                "Suspendre des comptes Moodle ?",
                "12 comptes « cas » absents de l'annuaire seront suspendus dans Moodle, sur 1550 comptes gérés (1 %).\n"
                "Seuil configuré : 10 %. Confirmer ces suspensions ?",
            )
        )
        await expect(pilot, ConfirmModal, selector="#dialog-message")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_single_user_modal(snap_compare, tmp_path):
    """u: "Synchroniser un utilisateur unique", the login field focused, its footer."""

    async def run_before(pilot):
        await _open(pilot)
        await pilot.press("u")
        await expect(pilot, LoginModal, selector="#login")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_settings_modal(snap_compare, tmp_path, monkeypatch):
    """v: the settings in force, read-only (the state store as ``sqlite:///demo/state.db``: the
    demo folder is given relative, so the picture never shows the temporary folder)."""
    monkeypatch.chdir(tmp_path)

    async def run_before(pilot):
        await _open(pilot)
        await pilot.press("v")
        await expect(pilot, SettingsModal, selector="#settings-table")

    assert snap_compare(make_demo_app(Path("demo")), terminal_size=(80, 24), run_before=run_before)


def test_quit_confirmation_while_it_runs(snap_compare, tmp_path):
    """ctrl+q while the sync runs: "Un traitement est en cours", what stops and how it is recorded,
    "Non (n)" focused and "Arrêter et quitter (y)"."""

    async def run_before(pilot):
        await _running(pilot)
        await pilot.press("ctrl+q")
        await expect(pilot, ConfirmModal, selector="#dialog-message")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)
