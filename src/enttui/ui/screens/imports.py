"""Imports / Exports CSV: import local accounts (preview, then confirmed apply); export people."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Label, Select, Static
from textual.worker import Worker, WorkerState

from enttui.domain.people import Target
from enttui.jobs import csv_export as X
from enttui.jobs import csv_import as I
from enttui.services.localfiles import DestinationExists
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.modals import ConfirmModal

PREVIEW_CAP = 500
ALL = "__all__"
ACTION_STYLES = {"create": "green", "update": "yellow", "unchanged": "dim", "error": "bold red"}


def target_options() -> list[tuple[str, str]]:
    return [("Tous les profils", ALL)] + [(t.label, t.value) for t in Target]


def activation_options() -> list[tuple[str, str]]:
    return [(label, key) for key, label in X.ACTIVATION_CHOICES.items()]


async def export_with_confirmation(screen: PageScreen, fmt: str, output: str, filt: X.ExportFilter) -> None:
    """Run an export; ask before replacing an existing file (used by both export screens)."""
    services = screen.ent_app.services
    try:
        result = await X.run_export(services, fmt, output, filt=filt)
    except DestinationExists as exc:
        if not await screen.app.push_screen_wait(
            ConfirmModal("Le fichier existe déjà", f"{exc.path} existe déjà. Le remplacer ?")
        ):
            screen.notify("Export annulé : rien n'a été écrit.", markup=False)
            return
        result = await X.run_export(services, fmt, output, filt=filt, overwrite=True)
    screen.notify(f"{result.rows} ligne(s) exportée(s) vers {result.path} (0600).", markup=False)


class ImportsScreen(PageScreen):
    PAGE_KEY = "imports"
    HELP = (
        "Import de comptes locaux depuis un fichier CSV (chemin sur le serveur). Séparateur « ; » ou « , » "
        "et encodage (UTF-8 avec ou sans BOM, Windows-1252) détectés. Colonnes : jointure, nom, prenom "
        "(obligatoires), email, profil, date_fin, uai, date_naissance, description (voir le README et "
        "examples/import-comptes-locaux.csv).\n"
        "F5 : aperçu (rien n'est écrit) ; chaque ligne : création, modification, inchangé ou erreur avec la "
        "raison. F6 : importer après confirmation ; le traitement apparaît dans « Rapports d'alimentation ». "
        "Un second import du même fichier ne change rien (clé : la jointure).\n"
        "F7 : exporter les personnes (profil, classe, activation) en CSV « ; », UTF-8 avec BOM, sans mot de passe."
    )
    BINDINGS = [
        Binding("f5", "preview", "Aperçu", id="imports.preview", tooltip="Lire le fichier et montrer le résultat"),
        Binding("f6", "apply", "Importer", id="imports.apply", tooltip="Écrire dans l'annuaire (confirmation)"),
        Binding("f7", "export", "Exporter", id="imports.export", tooltip="Exporter les personnes en CSV"),
    ]

    def __init__(self) -> None:
        super().__init__(name="imports")
        self._preview: I.ImportPreview | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="imports-body"):
            yield Label(Text("Importer des comptes locaux", style="bold"), classes="field-label")
            with Horizontal(classes="io-row"):
                yield Label(Text("Fichier CSV"), classes="io-label")
                yield Input(placeholder="/home/admin/comptes.csv", id="import-path")
            yield Static(Text("F5 : aperçu (rien n'est écrit) · F6 : importer"), id="import-summary")
            table: DataTable[Text] = DataTable(id="import-preview", cursor_type="row")
            table.add_columns("Ligne", "Jointure", "Nom", "Résultat", "Détail")
            yield table
            yield Label(Text("Exporter des personnes", style="bold"), classes="field-label")
            with Horizontal(classes="io-row"):
                yield Select(target_options(), value=ALL, allow_blank=False, id="export-target")
                yield Select(activation_options(), value="tous", allow_blank=False, id="export-activation")
            with Horizontal(classes="io-row"):
                yield Label(Text("Classe"), classes="io-label")
                yield Input(placeholder="toutes (ex. 3A)", id="export-class", max_length=32)
            with Horizontal(classes="io-row"):
                yield Label(Text("Fichier"), classes="io-label")
                yield Input(placeholder="/home/admin/personnes.csv", id="export-path")

    def on_mount(self) -> None:
        self.query_one("#import-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "import-path":
            self.action_preview()
        elif event.input.id in ("export-path", "export-class"):
            self.action_export()

    # -- import ------------------------------------------------------------------------------
    def action_preview(self) -> None:
        self._run_preview(self.query_one("#import-path", Input).value)

    @work(exclusive=True, group="imports:preview", exit_on_error=False)
    async def _run_preview(self, path: str) -> None:
        self._preview = None
        self.query_one("#import-summary", Static).update(Text("Lecture du fichier…"))
        preview = await I.preview_import(self.ent_app.services, path)
        self._preview = preview
        self._show(preview)

    def _show(self, preview: I.ImportPreview) -> None:
        table = self.query_one("#import-preview", DataTable)
        table.clear()
        for r in preview.rows[:PREVIEW_CAP]:
            table.add_row(
                Text(str(r.line), justify="right"),
                Text(r.jointure),
                Text(r.label),
                Text(r.action_label, style=ACTION_STYLES[r.action]),
                Text(r.detail),
            )
        text = preview.describe_file() + "\n" + preview.summary()
        if len(preview.rows) > PREVIEW_CAP:
            text += f" — {PREVIEW_CAP} premières lignes affichées sur {len(preview.rows)}"
        text += "\nF6 : importer (confirmation)" if preview.writes else "\nRien à écrire."
        self.query_one("#import-summary", Static).update(Text(text))

    def action_apply(self) -> None:
        if self._preview is None:
            self.notify("Faites d'abord l'aperçu (F5).", markup=False)
            return
        self._run_apply(self._preview)

    @work(exclusive=True, group="imports:apply", exit_on_error=False)
    async def _run_apply(self, preview: I.ImportPreview) -> None:
        if not preview.writes:
            self.notify("Rien à écrire : toutes les lignes sont inchangées ou en erreur.", markup=False)
            return
        if not await self.app.push_screen_wait(
            ConfirmModal(
                "Importer dans l'annuaire ?",
                f"{preview.path}\n\n{preview.summary()}\n\nLes lignes en erreur sont ignorées.",
                yes_label="Importer (y)",
            )
        ):
            self.notify("Import annulé : rien n'a été écrit.", markup=False)
            return
        result = await I.apply_import(self.ent_app.services, preview)
        c = result.counts
        self.notify(
            f"Import n° {result.run_id} : {c['created']} créé(s), {c['updated']} modifié(s), "
            f"{c['unchanged']} inchangé(s), {c['errors']} erreur(s).",
            markup=False,
        )
        self._run_preview(preview.path)

    # -- export ------------------------------------------------------------------------------
    def action_export(self) -> None:
        target = self.query_one("#export-target", Select).value
        activation = self.query_one("#export-activation", Select).value
        filt = X.ExportFilter(
            targets=() if target in (ALL, Select.NULL) else (Target(str(target)),),
            klass=self.query_one("#export-class", Input).value.strip(),
            activation=str(activation) if activation != Select.NULL else "tous",
        )
        self._run_export(self.query_one("#export-path", Input).value, filt)

    @work(exclusive=True, group="imports:export", exit_on_error=False)
    async def _run_export(self, output: str, filt: X.ExportFilter) -> None:
        await export_with_confirmation(self, "personnes", output, filt)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group.startswith("imports:") and event.worker.error:
            if event.worker.group == "imports:preview":
                self.query_one("#import-summary", Static).update(Text(str(event.worker.error), style="bold red"))
            self.ent_app.report_error(event.worker.error)
