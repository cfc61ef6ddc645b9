"""Snapshots of Référentiel local, Imports / Exports CSV and Export CSV spécifique (demo, frozen clock)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from support.fixtures_ui import make_demo_app, settle

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CSV = "jointure;nom;prenom;email;profil\n1001;Lefèvre;Chloé;chloe@asso.example;autre\n1002;;Paul;paul@;prof\n"


def _opener(key: str):
    async def run_before(pilot):
        await settle(pilot)
        pilot.app.go(key)
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_referentiel(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_opener("referentiel"))


def test_account_form_errors(snap_compare, tmp_path):
    async def run_before(pilot):
        await _opener("referentiel")(pilot)
        await pilot.press("n")
        await pilot.pause()
        pilot.app.screen.query_one("#f-given_name", Input).value = "Chloé"
        pilot.app.screen.query_one("#f-mail", Input).value = "chloe@"
        await pilot.press("f10")
        await pilot.pause()

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_import_preview(snap_compare, tmp_path, size, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path: the snapshot does not show the temporary folder
    src = tmp_path / "comptes.csv"
    src.write_bytes(CSV.encode("utf-8-sig"))

    async def run_before(pilot):
        await _opener("imports")(pilot)
        pilot.app.screen.query_one("#import-path", Input).value = src.name
        await pilot.press("f5")
        await settle(pilot)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_export_specifique(snap_compare, tmp_path, size):
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_opener("export_specifique"))
