"""Export CSV spécifique: Moodle, SACoche, Gepi, and custom profiles (columns picked and ordered)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Static

from enttui.domain.csv_formats import BUILTIN_FORMATS, CATALOGUE
from enttui.domain.french import plural
from enttui.errors import EnttuiError
from enttui.jobs import csv_export
from enttui.services.localfiles import DestinationExists
from enttui.ui.screens.base import PageScreen
from enttui.ui.screens.imports import export_with_confirmation
from enttui.ui.widgets.fields import clear_field_errors, field_error, show_field_errors
from enttui.ui.widgets.modals import ConfirmModal
from enttui.ui.widgets.tables import Col, EntTable

FORMAT_COLUMNS = (Col("Format", 8), Col("Description", 16, max=32), Col("Colonnes", 10))


class ColumnsTable(DataTable):
    """The catalogue of columns: space ticks one (it goes last), + and - move it in the order."""

    BINDINGS = [
        Binding("space", "tick", "Cocher", id="columns.toggle", tooltip="Ajouter ou retirer la colonne"),
        Binding("plus,+", "move(-1)", "Monter", id="columns.up", tooltip="Avancer la colonne dans l'ordre"),
        Binding("minus,-", "move(1)", "Descendre", id="columns.down", tooltip="Reculer la colonne dans l'ordre"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", id=id)
        self.chosen: list[str] = []
        self.add_columns("Choix", "Colonne", "Clé")
        for key, header in CATALOGUE.items():
            self.add_row(Text("[ ]"), Text(header), Text(key, style="dim"), key=key)

    def _key(self) -> str | None:
        keys = list(CATALOGUE)
        return keys[self.cursor_row] if 0 <= self.cursor_row < len(keys) else None

    def set_chosen(self, chosen: list[str]) -> None:
        self.chosen = [c for c in chosen if c in CATALOGUE]
        self._refresh_marks()

    def _refresh_marks(self) -> None:
        for key in CATALOGUE:
            mark = f"[X] {self.chosen.index(key) + 1:>2}" if key in self.chosen else "[ ]"
            self.update_cell(key, self.ordered_columns[0].key, Text(mark, style="bold green"))

    def action_tick(self) -> None:
        key = self._key()
        if key is None:
            return
        if key in self.chosen:
            self.chosen.remove(key)
        else:
            self.chosen.append(key)
        self._refresh_marks()

    def action_move(self, delta: int) -> None:
        key = self._key()
        if key is None or key not in self.chosen:
            return
        i = self.chosen.index(key)
        j = max(0, min(len(self.chosen) - 1, i + delta))
        self.chosen[i], self.chosen[j] = self.chosen[j], self.chosen[i]
        self._refresh_marks()


class ExportSpecifiqueScreen(PageScreen):
    PAGE_KEY = "export_specifique"
    HELP = (
        "Exports au format des outils que l'ENT alimente : Moodle (Téléverser des utilisateurs : username, "
        "firstname, lastname, email, idnumber, auth, cohort1…), SACoche et Gepi (élèves), l'export générique "
        "des personnes, et vos profils personnalisés. Aucun mot de passe n'est jamais exporté ; fichiers 0600.\n"
        "Choisissez le format dans la liste, le fichier de sortie, puis F7.\n"
        "Profil personnalisé : dans la liste des colonnes, espace coche [X] ou décoche [ ] (la colonne va en dernier), "
        "+ et - changent l'ordre ; donnez un nom puis F8 pour l'enregistrer. F9 supprime le profil sélectionné.\n"
        "En ligne de commande : enttui export --format NOM --output FICHIER."
    )
    BINDINGS = [
        Binding("f7", "export", "Exporter", id="export.run", tooltip="Écrire le fichier du format sélectionné"),
        Binding("f8", "save_profile", "Enregistrer profil", id="export.save", tooltip="Enregistrer les colonnes"),
        Binding("f9", "delete_profile", "Supprimer profil", id="export.delete", tooltip="Supprimer le profil"),
    ]

    def __init__(self) -> None:
        super().__init__(name="export_specifique")
        self._names: list[str] = []

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="export-body"):
            yield EntTable(FORMAT_COLUMNS, id="formats")
            with Horizontal(classes="io-row"):
                yield Label(Text("Fichier"), classes="io-label")
                yield Input(placeholder="/home/admin/export.csv", id="spec-path")
            yield field_error("spec-path")
            yield Static(Text(""), id="spec-status")
            yield Label(Text("Profil personnalisé", style="bold"), classes="field-label")
            yield ColumnsTable(id="columns")
            with Horizontal(classes="io-row"):
                yield Label(Text("Nom du profil"), classes="io-label")
                yield Input(placeholder="ex. cdi", id="profile-name", max_length=32)
            yield field_error("profile-name")
        with Horizontal(id="export-buttons", classes="form-buttons"):
            yield Button("Exporter (F7)", id="do-export", variant="primary", compact=True)
            yield Button("Enregistrer le profil (F8)", id="do-save", compact=True)

    def on_mount(self) -> None:
        self.query_one("#formats", DataTable).focus()
        self._reload()

    def on_screen_resume(self) -> None:
        self._reload()

    def _reload(self, want: str | None = None) -> None:
        services = self.ent_app.services
        table = self.query_one("#formats", EntTable)
        current = want or self._selected()
        profiles = csv_export.load_profiles(services)
        table.clear()
        self._names = []
        for name, fmt in BUILTIN_FORMATS.items():
            table.add_row(Text(name), Text(fmt.label), Text(", ".join(fmt.header)), key=name)
            self._names.append(name)
        for name in sorted(profiles):
            cols = ", ".join(CATALOGUE.get(c, c) for c in profiles[name]["columns"])
            table.add_row(Text(name), Text("Profil personnalisé"), Text(cols), key=name)
            self._names.append(name)
        table.refit_later()
        if current in self._names:
            table.move_cursor(row=self._names.index(current))

    def _selected(self) -> str | None:
        table = self.query_one("#formats", DataTable)
        if not self._names or not 0 <= table.cursor_row < len(self._names):
            return None
        return self._names[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "formats":
            return
        name = self._selected()
        if name is None:
            return
        fmt = BUILTIN_FORMATS.get(name)
        status = self.query_one("#spec-status", Static)
        if fmt is not None:
            status.update(Text(f"{fmt.label} — {fmt.note}" if fmt.note else fmt.label))
            return
        profiles = csv_export.load_profiles(self.ent_app.services)
        if name in profiles:
            self.query_one("#columns", ColumnsTable).set_chosen(profiles[name]["columns"])
            self.query_one("#profile-name", Input).value = name
            status.update(Text(f"Profil personnalisé « {name} » : « ; », UTF-8 avec BOM"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "do-export":
            self.action_export()
        elif event.button.id == "do-save":
            self.action_save_profile()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "spec-path":
            self.action_export()
        elif event.input.id == "profile-name":
            self.action_save_profile()

    def action_export(self) -> None:
        name = self._selected()
        if name is None:
            self.notify("Choisissez un format.", markup=False)
            return
        clear_field_errors(self)
        self._run_export(name, self.query_one("#spec-path", Input).value)

    @work(exclusive=True, group="export_specifique:export", exit_on_error=False)
    async def _run_export(self, name: str, output: str) -> None:
        await export_with_confirmation(self, name, output, csv_export.ExportFilter())

    def action_save_profile(self) -> None:
        name = self.query_one("#profile-name", Input).value.strip()
        self._save(name, list(self.query_one("#columns", ColumnsTable).chosen))

    @work(exclusive=True, group="export_specifique:profile", exit_on_error=False)
    async def _save(self, name: str, columns: list[str]) -> None:
        await csv_export.save_profile(self.ent_app.services, name, columns)
        self.notify(f"Profil « {name} » enregistré ({plural(len(columns), 'colonne')}).", markup=False)
        self._reload(want=name)

    def action_delete_profile(self) -> None:
        name = self._selected()
        if name is None or name in BUILTIN_FORMATS:
            self.notify("Sélectionnez un profil personnalisé dans la liste.", markup=False)
            return
        self._delete(name)

    @work(exclusive=True, group="export_specifique:profile", exit_on_error=False)
    async def _delete(self, name: str) -> None:
        if not await self.app.push_screen_wait(ConfirmModal("Supprimer le profil ?", f"Profil d'export « {name} »")):
            return
        await csv_export.delete_profile(self.ent_app.services, name)
        self.notify(f"Profil « {name} » supprimé.", markup=False)
        self._reload()

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        if not isinstance(error, EnttuiError) or isinstance(error, DestinationExists):
            return None
        if group == "export_specifique:export":
            show_field_errors(self, {"spec-path": error.message}, ["spec-path"])
        elif group == "export_specifique:profile":
            show_field_errors(self, {"profile-name": error.message}, ["profile-name"])
        return None
