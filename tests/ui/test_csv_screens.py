"""Référentiel local, Imports / Exports CSV, Export CSV spécifique: driven by keys only (demo world)."""

from __future__ import annotations

import os

from textual.widgets import DataTable, Input, Static

from enttui.ui.screens.referentiel import AccountForm
from enttui.ui.widgets.modals import ConfirmModal
from support.fixtures_ui import settle

CSV = "jointure;nom;prenom;email\n1001;Lefèvre;Chloé;chloe@asso.example\n1002;;Paul;paul@\n"


async def test_referentiel_create_disable_delete_by_keys(demo_app):
    app = demo_app(start_page="referentiel")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#ref-table", DataTable)
        assert table.row_count == 10
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, AccountForm)
        await pilot.press("f10")  # empty form: refused with reasons
        await pilot.pause()
        assert "nom manquant" in str(app.screen.query_one("#form-errors", Static).content)
        app.screen.query_one("#f-sn", Input).value = "Lefèvre"
        app.screen.query_one("#f-given_name", Input).value = "Chloé"
        await pilot.press("f10")
        await settle(pilot)
        assert table.row_count == 11
        assert app.screen._selected().person.login == "chloe.lefevre"
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen._selected().disabled
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert table.row_count == 10


async def test_import_preview_then_apply_by_keys(demo_app, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(CSV.encode("cp1252"))
    app = demo_app(start_page="imports")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#import-path", Input).value = str(src)
        await pilot.press("f5")
        await settle(pilot)
        summary = str(app.screen.query_one("#import-summary", Static).content)
        assert "Windows-1252" in summary and "1 création(s)" in summary and "1 erreur(s)" in summary
        assert app.screen.query_one("#import-preview", DataTable).row_count == 2
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        summary = str(app.screen.query_one("#import-summary", Static).content)
        assert "0 création(s)" in summary and "1 inchangée(s)" in summary
        runs = await app.services.state.list_runs(kind="import")
        assert len(runs) == 1 and runs[0].counts["import"]["created"] == 1


async def test_exports_by_keys(demo_app, tmp_path):
    out = tmp_path / "p.csv"
    app = demo_app(start_page="imports")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#export-path", Input).value = str(out)
        await pilot.press("f7")
        await settle(pilot)
        assert out.read_bytes().startswith(b"\xef\xbb\xbf") and oct(os.stat(out).st_mode & 0o777) == "0o600"
        await pilot.press("f7")  # exists: asks first
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(pilot)
        app.go("export_specifique")
        await settle(pilot)
        await pilot.press("down")  # moodle
        app.screen.query_one("#spec-path", Input).value = str(tmp_path / "m.csv")
        await pilot.press("f7")
        await settle(pilot)
        assert (tmp_path / "m.csv").read_text().startswith('"username","firstname"')
        app.screen.query_one("#columns").focus()
        await pilot.press("space", "down", "down", "space", "plus")
        assert app.screen.query_one("#columns").chosen == ["nom", "uai"]
        app.screen.query_one("#profile-name", Input).value = "cdi"
        await pilot.press("f8")
        await settle(pilot)
        assert app.screen.query_one("#formats", DataTable).row_count == 5
