"""Snapshots of Rapports d'alimentation and Rapports de cohérence (demo world, frozen clock)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from support.fixtures_ui import make_demo_app, settle

SIZES = [(80, 24), (120, 40)]


def _seed_runs():
    """The runs seeded by the Pilot tests (one of each kind and status, fixed timestamps)."""
    path = Path(__file__).with_name("test_reports_screens.py")
    spec = importlib.util.spec_from_file_location("reports_screens_seed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.seed_runs


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_alimentation_list(snap_compare, tmp_path, size):
    async def run_before(pilot):
        await settle(pilot)
        await _seed_runs()(pilot.app)
        pilot.app.go("alimentation")
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_alimentation_filtered_empty(snap_compare, tmp_path):
    async def run_before(pilot):
        await settle(pilot)
        await _seed_runs()(pilot.app)
        pilot.app.go("alimentation")
        await settle(pilot)
        await pilot.press("k", "k", "k", "t")  # regeneration, réussi
        await settle(pilot)
        await pilot.press("t")  # regeneration, avec erreurs: nothing
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_alimentation_run_detail_on_an_error(snap_compare, tmp_path, size):
    async def run_before(pilot):
        await settle(pilot)
        await _seed_runs()(pilot.app)
        pilot.app.go("alimentation")
        await settle(pilot)
        await pilot.press("down", "down", "down", "enter")  # the diffusion "avec erreurs"
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_coherence_report(snap_compare, tmp_path, size):
    async def run_before(pilot):
        await settle(pilot)
        pilot.app.go("coherence")
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_coherence_findings(snap_compare, tmp_path):
    async def run_before(pilot):
        await settle(pilot)
        pilot.app.go("coherence")
        await settle(pilot)
        await pilot.press("down", "enter")  # duplicate jointures
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)
