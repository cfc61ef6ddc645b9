"""Pilot tests of "Synchroniser les données de moodle", keyboard only, on the demo world."""

from __future__ import annotations

import pytest
from textual.widgets import Checkbox, Input

from enttui.ui.screens.moodle_sync import OPTION_LABELS, LoginModal, MoodleSyncScreen, SettingsModal
from enttui.ui.screens.trace import TraceScreen
from enttui.ui.widgets.modals import ConfirmModal
from enttui.ui.widgets.trace import TracePane
from support.fixtures_ui import settle, wait_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def open_screen(pilot) -> MoodleSyncScreen:
    await settle(pilot)
    pilot.app.go("moodle_sync")
    await settle(pilot)
    assert isinstance(pilot.app.screen, MoodleSyncScreen)
    return pilot.app.screen


async def test_labels_and_launch_by_keys(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        labels = [str(cb.label) for cb in screen.query(Checkbox)]
        assert labels[:3] == ["Comptes utilisateur", "Cohortes", "Associations de rôles"]
        # The long option labels sit beside their checkbox, wrapped, verbatim from the seed.
        option_labels = [str(label.render()) for label in screen.query(".option-label")]
        assert option_labels == list(OPTION_LABELS.values())
        # tick "Mode simulation" with the keyboard: focus it by tab, toggle with space
        target = screen.query_one("#opt-simulate", Checkbox)
        for _ in range(12):
            if app.focused is target:
                break
            await pilot.press("tab")
        assert app.focused is target
        await pilot.press("space")
        assert target.value
        await pilot.press("l")
        await settle(pilot)
        assert screen.result is not None and screen.result.status == "simulé"
        trace = screen.query_one("#sync-trace", TracePane)
        assert any("création de" in e.text for e in trace.buffer.entries)
        # the demo says how cohort enrolments follow: Moodle's own cron task
        assert any("enrol_cohort_sync" in e.text and "toutes les heures" in e.text for e in trace.buffer.entries)
        summary = screen.query_one("#sync-summary").content.plain
        assert summary.startswith("Bilan\n") and "comptes utilisateur créés" in summary
        # the headline counts the errors (the demo has a clash), also in simulation
        errors = screen.result.errors
        status = str(screen.query_one("#sync-status").render())
        assert errors > 0 and f"avec {errors} erreurs" in status and status.endswith("Touche e : les voir.")
        # the sync's auth is enabled in the demo Moodle: no warning
        assert "Attention" not in summary
        # t: the trace full screen, searchable; escape comes back.
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen), "the full-screen trace")
        full = app.screen.query_one(TracePane)
        assert len(full.buffer.entries) == len(trace.buffer.entries)
        await pilot.press("slash", *"création", "enter")
        assert "création" in full.buffer.entries[full.view.cursor].text.casefold()
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_real_run_then_cohort_unlock_asks(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        screen.query_one("#opt-no_cohort_lock", Checkbox).value = True
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the cohort unlock question")
        assert "renommées sans préfixe" in str(app.screen._message)
        await pilot.press("n")
        await settle(pilot)
        assert screen.result.status == "avec erreurs"  # the demo has a clash and missing courses
        entries = screen.query_one("#sync-trace", TracePane).buffer.entries
        assert any("verrou refusée" in e.text for e in entries)
        errors = sum(c.errors for c in screen.result.counts.values())
        assert errors and str(screen.query_one("#sync-status").render()).startswith(
            f"Synchronisation terminée avec {errors} erreur"
        )
        await pilot.press("e")  # the trace, on the first error
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen), "the trace on the errors")
        view = app.screen.query_one(TracePane).view
        await wait_for(pilot, lambda: view.buffer.entries[view.cursor].level == "error", "the first error")


async def test_single_user_and_settings(demo_app):
    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_screen(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, SettingsModal)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, LoginModal)
        people = []
        async for page in app.services.directory.iter_people():
            people.extend(p.login for p in page if p.target.value == "eleve")
        app.screen.query_one(Input).value = sorted(people)[0]
        await pilot.press("enter")
        await settle(pilot)
        assert screen.result is not None
        assert screen.result.counts["users"].created + screen.result.counts["users"].unchanged >= 1
