"""Snapshots of the shell (home screen, navigation) at 80×24 and 120×40, on the demo world."""

from __future__ import annotations

import pytest

from support.fixtures_ui import make_demo_app, settle

SIZES = [(80, 24), (120, 40)]


async def _settle(pilot) -> None:
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_home(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_navigation_menu_focused(snap_compare, tmp_path, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("f2", "down", "down")
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_help_modal(snap_compare, tmp_path):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_confirm_modal(snap_compare, tmp_path):
    from enttui.ui.widgets.modals import ConfirmModal

    async def run_before(pilot):
        await settle(pilot)
        pilot.app.push_screen(
            ConfirmModal("Supprimer le fichier ?", "Identifiants-non-envoyes-20261121_083000.csv (42 comptes)")
        )
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)
