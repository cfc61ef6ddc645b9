"""Snapshots of "Synchroniser les données de moodle" (demo world, frozen clock, no timings in the trace)."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox

from enttui.domain.sync import Counts
from enttui.domain.sync_report import headline
from enttui.jobs.events import Phase, Progress, Trace
from support.fixtures_ui import make_demo_app, settle

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _open(pilot):
    await settle(pilot)
    pilot.app.go("moodle_sync")
    await settle(pilot)
    return pilot.app.screen


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_idle(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_open)


def test_options_ticked(snap_compare, tmp_path):
    async def run_before(pilot):
        screen = await _open(pilot)
        for wid in ("opt-force", "opt-simulate", "opt-verbose"):
            screen.query_one(f"#{wid}", Checkbox).value = True
        screen.query_one("#opt-simulate", Checkbox).focus()
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_running_frozen_trace(snap_compare, tmp_path):
    async def run_before(pilot):
        screen = await _open(pilot)
        screen.running = True
        screen.set_status("Synchronisation en cours…")
        for event in (
            Phase("users", "Comptes utilisateur : calcul des différences"),
            Trace("change", "users", "création de jean.dupont (Dupont Jean)"),
            Trace("change", "users", "renommage de [old].login en new.login"),
            Trace("error", "users", "amine.leguen : identifiant porté par un compte « manual »"),
            Progress("users", 40, 100),
            Progress("cohorts", 0, None),
        ):
            screen.render_event(event)
        screen.query_one("#sync-trace").scroll_visible()
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(120, 40), run_before=run_before)


def test_finished_summary(snap_compare, tmp_path):
    """A run cancelled during the cohorts: the status line is the headline with the number of errors;
    the summary has one French line per entity with agreement ("2 cohortes créées"), "Associations de
    rôles : non traité" (also beside its progress bar), and the auth warning."""

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
        screen.query_one("#sync-summary").scroll_visible()
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(120, 40), run_before=run_before)


def test_confirmation(snap_compare, tmp_path):
    from enttui.ui.widgets.modals import ConfirmModal

    async def run_before(pilot):
        await _open(pilot)
        pilot.app.push_screen(
            ConfirmModal(
                "Suspendre des comptes Moodle ?",
                "12 compte(s) « cas » absents de l'annuaire seront suspendus dans Moodle, sur 1550 comptes gérés (1%).\n"  # noqa: E501
                "Seuil configuré : 10%. Confirmer ces suspensions ?",
            )
        )
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)
