"""Référentiel local, Imports / Exports CSV, Export CSV spécifique: driven by keys only (demo world)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import DataTable, Input, Static

from enttui.ui.screens.referentiel import AccountForm
from enttui.ui.widgets.modals import ConfirmModal
from support.fixtures_ui import settle, wait_for

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
        assert "Nom manquant" in str(app.screen.query_one("#err-f-sn", Static).content)
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
        assert "Windows-1252" in summary and "1 création," in summary and "1 erreur" in summary
        assert app.screen.query_one("#import-preview", DataTable).row_count == 2
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        summary = str(app.screen.query_one("#import-summary", Static).content)
        assert "0 création," in summary and "1 inchangée," in summary
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


async def test_account_form_shows_every_error_next_to_its_field(demo_app):
    """Référentiel local › n at 80×24: the save key and the buttons are on screen; an invalid
    e-mail and a missing first name are both shown under their fields at once, the first one
    focused and visible, with a toast that counts them."""
    from support.fixtures_ui import screen_text

    app = demo_app(start_page="referentiel")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, AccountForm) and app.screen.query("#f-sn"), "the form")
        form = app.screen
        assert form.focused is form.query_one("#f-sn")  # the first field
        text = screen_text(app)
        assert "Enregistrer (F10)" in text and "Annuler (échap)" in text and "F10" in text.splitlines()[-1]
        form.query_one("#f-sn", Input).value = "Lefèvre"
        form.query_one("#f-mail", Input).value = "chloe@"
        form.query_one("#f-end_date", Input).value = "31/02/2027"
        await pilot.press("f10")
        await pilot.pause()
        assert isinstance(app.screen, AccountForm)
        errors = {
            wid: str(form.query_one(f"#err-{wid}", Static).content) for wid in ("f-given_name", "f-mail", "f-end_date")
        }
        assert errors["f-given_name"].startswith("Prénom manquant")
        assert errors["f-mail"].startswith("E-mail invalide")
        assert "date de fin invalide" in errors["f-end_date"].lower()
        assert str(form.query_one("#err-f-sn", Static).content) == ""
        assert form.focused is form.query_one("#f-given_name")
        assert form.query_one("#f-given_name").has_class("-invalid")
        assert [n.title for n in app._notifications][-1] == "3 erreurs dans le formulaire"
        await wait_for(pilot, lambda: "Prénom manquant" in screen_text(app), "the error on screen")
        assert "Enregistrer (F10)" in screen_text(app), screen_text(app)


async def test_f6_refuses_a_path_changed_since_the_preview(demo_app, tmp_path):
    """The confirmation used to name the old file: now F6 refuses until the new file is previewed;
    a refused file clears the previous preview."""
    first = tmp_path / "a.csv"
    first.write_bytes(CSV.encode("utf-8"))
    other = tmp_path / "b.csv"
    other.write_bytes(b"\x00\x01 not a csv")
    app = demo_app(start_page="imports")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        path = app.screen.query_one("#import-path", Input)
        path.value = str(first)
        await pilot.press("f5")
        await settle(pilot)
        table = app.screen.query_one("#import-preview", DataTable)
        assert table.row_count == 2
        path.value = str(other)
        await pilot.pause()
        assert "a changé depuis l'aperçu" in str(app.screen.query_one("#import-summary", Static).content)
        await pilot.press("f6")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        assert "faites l'aperçu (F5)" in str(app.screen.query_one("#err-import-path", Static).content)
        await pilot.press("f5")  # the other file is refused: nothing of the first one stays
        await settle(pilot)
        assert table.row_count == 0
        assert str(app.screen.query_one("#err-import-path", Static).content)
        assert "Fichier refusé" in str(app.screen.query_one("#import-summary", Static).content)
        await pilot.press("f6")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        assert await app.services.state.list_runs(kind="import") == []


async def test_exports_never_write_a_system_file_or_one_enttui_did_not_write(demo_app, tmp_path):
    """An export to /etc/passwd is refused (even as root, even confirmed), and so is an existing
    file enttui did not write; a file it wrote is replaced after a confirmation."""
    mine = tmp_path / "theirs.csv"
    mine.write_text("à quelqu'un d'autre", encoding="utf-8")
    app = demo_app(start_page="imports")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        field = app.screen.query_one("#export-path", Input)
        for refused in ("/etc/passwd", "/usr/local/share/x.csv", str(mine)):
            field.value = refused
            await pilot.press("f7")
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmModal), refused
            error = str(app.screen.query_one("#err-export-path", Static).content)
            assert error and ("système" in error or "n'a pas été écrit par enttui" in error), error
        assert mine.read_text(encoding="utf-8") == "à quelqu'un d'autre"
        assert not Path("/etc/passwd").read_text(encoding="utf-8").startswith("jointure")  # noqa: ASYNC240


async def test_lists_refresh_when_shown_again_after_an_import(demo_app, tmp_path):
    """Counts after an import used to stay old until r: the Utilisateurs list and the Référentiel
    reload by themselves when shown again."""
    src = tmp_path / "in.csv"
    src.write_bytes(CSV.encode("utf-8"))
    app = demo_app(start_page="utilisateurs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        users = app.screen
        status = users.panel.query_one(".people-status", Static)
        assert str(status.content).startswith("1 593 résultats")
        app.go("referentiel")
        await settle(pilot)
        referentiel = app.screen
        assert referentiel.query_one("#ref-table", DataTable).row_count == 10
        app.go("imports")
        await settle(pilot)
        app.screen.query_one("#import-path", Input).value = str(src)
        await pilot.press("f5")
        await settle(pilot)
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        await pilot.press("y")
        await settle(pilot)
        app.go("utilisateurs")
        await settle(pilot)
        assert app.screen is users
        await wait_for(pilot, lambda: str(status.content).startswith("1 594 résultats"), "the new count")
        app.go("referentiel")
        await settle(pilot)
        assert referentiel.query_one("#ref-table", DataTable).row_count == 11
