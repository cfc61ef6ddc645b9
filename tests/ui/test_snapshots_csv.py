"""Snapshots of Référentiel local, Imports / Exports CSV and Export CSV spécifique (demo, frozen clock)."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from enttui.ui.screens.export_specifique import ExportSpecifiqueScreen
from enttui.ui.screens.imports import ImportsScreen
from enttui.ui.screens.referentiel import AccountForm, ReferentielScreen
from support.fixtures_ui import make_demo_app, settle, wait_for
from support.snapshots import IDS, SIZES, expect, page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CSV = "jointure;nom;prenom;email;profil\n1001;Lefèvre;Chloé;chloe@asso.example;autre\n1002;;Paul;paul@;prof\n"

_referentiel = page("referentiel", ReferentielScreen)
_imports = page("imports", ImportsScreen)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_referentiel(snap_compare, tmp_path, size):
    """The local accounts: "10 comptes locaux, 0 en lecture seule", Identifiant, Nom, Profil, État
    whole at 80×24 (Fin and Source when there is room), the detail line of the selected one."""
    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=_referentiel)


def test_account_form_empty(snap_compare, tmp_path):
    """n: "Créer un compte local", one line per field, the focus on Nom, the note, and the buttons
    "Annuler (échap)" / "Enregistrer (F10)" on screen at 80×24; its footer F10 Enregistrer."""

    async def run_before(pilot):
        await _referentiel(pilot)
        await pilot.press("n")
        await expect(pilot, AccountForm, selector="#f-sn")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_account_form_errors(snap_compare, tmp_path):
    """F10 with no name and an invalid e-mail: both errors at once, each under its field (red),
    the focus on Nom, the buttons still on screen, a toast "2 erreurs dans le formulaire" at the top."""

    async def run_before(pilot):
        await _referentiel(pilot)
        await pilot.press("n")
        await expect(pilot, AccountForm, selector="#f-sn")
        pilot.app.screen.query_one("#f-given_name", Input).value = "Chloé"
        pilot.app.screen.query_one("#f-mail", Input).value = "chloe@"
        await pilot.press("f10")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#f-sn").has_class("-invalid"), "the errors")
        await expect(pilot, AccountForm)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


def test_account_form_edit(snap_compare, tmp_path):
    """m on a local account: "Modifier <login>", its values in the fields."""

    async def run_before(pilot):
        await _referentiel(pilot)
        await pilot.press("m")
        await expect(pilot, AccountForm, selector="#f-sn")

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_import_preview(snap_compare, tmp_path, size, monkeypatch):
    """F5 on a two-line file: its encoding and separator, "2 lignes : 1 création, 0 modification,
    0 inchangée, 1 erreur", the rows (Ligne, Jointure, Nom, Résultat, Détail); the buttons
    Aperçu (F5), Importer (F6), Exporter (F7) at the bottom."""
    monkeypatch.chdir(tmp_path)  # a relative path: the snapshot does not show the temporary folder
    src = tmp_path / "comptes.csv"
    src.write_bytes(CSV.encode("utf-8-sig"))

    async def run_before(pilot):
        await _imports(pilot)
        pilot.app.screen.query_one("#import-path", Input).value = src.name
        await pilot.press("f5")
        await settle(pilot)
        await expect(pilot, ImportsScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=size, run_before=run_before)


def test_import_path_changed_since_the_preview(snap_compare, tmp_path, monkeypatch):
    """The path changed after the preview, then F6: refused, the reason under the field ("faites
    l'aperçu (F5) de « autre.csv » d'abord"), the summary says the preview is out of date."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "comptes.csv").write_bytes(CSV.encode("utf-8"))

    async def run_before(pilot):
        await _imports(pilot)
        field = pilot.app.screen.query_one("#import-path", Input)
        field.value = "comptes.csv"
        await pilot.press("f5")
        await settle(pilot)
        field.value = "autre.csv"
        await pilot.press("f6")
        await wait_for(pilot, lambda: field.has_class("-invalid"), "the refusal")
        await expect(pilot, ImportsScreen)

    assert snap_compare(make_demo_app(tmp_path / "demo"), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_export_specifique(snap_compare, tmp_path, size):
    """The formats (Format, Description, Colonnes), the path, the custom columns with "[ ]", the
    buttons Exporter (F7) / Enregistrer le profil (F8) at the bottom."""
    assert snap_compare(
        make_demo_app(tmp_path / "demo"),
        terminal_size=size,
        run_before=page("export_specifique", ExportSpecifiqueScreen),
    )
