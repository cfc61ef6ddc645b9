"""Snapshots of the Annuaire screens at 80×24 and 120×40, on the demo world (frozen clock)."""

from __future__ import annotations

import pytest

from support.fixtures_ui import make_demo_app, settle

SIZES = [(80, 24), (120, 40)]
IDS = ["80x24", "120x40"]


async def _utilisateurs(pilot) -> None:
    await settle(pilot)
    pilot.app.go("utilisateurs")
    await settle(pilot)


async def _search(pilot, text: str) -> None:
    await pilot.press("/")  # focus the search line, as a person does
    pilot.app.screen.query_one("#people-search").value = text
    await pilot.pause(0.35)
    await settle(pilot)
    await pilot.press("escape")  # back to the table
    await settle(pilot)


def _person(login: str):
    async def run_before(pilot) -> None:
        await _utilisateurs(pilot)
        await _search(pilot, login)
        await pilot.press("enter")
        await settle(pilot)
        from enttui.ui.screens.person import PersonScreen

        assert isinstance(pilot.app.screen, PersonScreen), "the person detail did not open"

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_user_list(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_utilisateurs)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_filtered_list(snap_compare, tmp_path, size):
    async def run_before(pilot) -> None:
        await _utilisateurs(pilot)
        await _search(pilot, "ma")
        await pilot.press("p", "p", "m")  # Parent, avec e-mail
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_student_detail(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_person("louise.joly"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_parent_detail(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_person("pierre.gaudin"))


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_teacher_detail(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_person("coralie.pham"))


async def _groupes(pilot) -> None:
    await settle(pilot)
    pilot.app.go("groupes")
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_group_list(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_groupes)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_group_members(snap_compare, tmp_path, size):
    async def run_before(pilot) -> None:
        await _groupes(pilot)
        names = [g.name for g in pilot.app.screen.groups]
        await pilot.press(*(["down"] * names.index("6A")), "enter")
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)
