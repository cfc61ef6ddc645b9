"""Imports / Exports CSV: import local accounts (preview, then confirmed apply); export people.

F6 imports exactly the file that was previewed: a path changed since the preview is refused (the
preview is marked out of date), and a refused file clears the preview.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static
from textual.worker import Worker

from enttui.domain.french import plural
from enttui.domain.people import Target
from enttui.errors import EnttuiError
from enttui.jobs import csv_export, csv_import
from enttui.services.localfiles import DestinationExists
from enttui.ui.quitting import wait_worker
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.fields import clear_field_errors, field_error, show_field_errors
from enttui.ui.widgets.modals import ConfirmModal
from enttui.ui.widgets.tables import Col, EntTable

PREVIEW_CAP = 500
ALL = "__all__"
ACTION_STYLES = {"create": "green", "update": "yellow", "unchanged": "dim", "error": "bold red"}
COLUMNS = (Col("Ligne", 5, justify="right"), Col("Jointure", 8), Col("Nom", 12), Col("Résultat", 10), Col("Détail", 10))
IDLE = "F5 : aperçu (rien n'est écrit) · F6 : importer"


def target_options() -> list[tuple[str, str]]:
    return [("Tous les profils", ALL)] + [(t.label, t.value) for t in Target]


def activation_options() -> list[tuple[str, str]]:
    return [(label, key) for key, label in csv_export.ACTIVATION_CHOICES.items()]


async def export_with_confirmation(screen: PageScreen, fmt: str, output: str, filt: csv_export.ExportFilter) -> None:
    """Run an export; ask before replacing a file enttui wrote (used by both export screens)."""
    services = screen.ent_app.services
    try:
        result = await csv_export.run_export(services, fmt, output, filt=filt)
    except DestinationExists as exc:
        if not await screen.app.push_screen_wait(
            ConfirmModal("Le fichier existe déjà", f"{exc.path} existe (enttui l'a écrit). Le remplacer ?")
        ):
            screen.notify("Export annulé : rien n'a été écrit.", markup=False)
            return
        result = await csv_export.run_export(services, fmt, output, filt=filt, overwrite=True)
    rows = plural(result.rows, "ligne exportée", "lignes exportées")
    screen.notify(f"{rows} vers {result.path} (0600).", markup=False)


class ImportsScreen(PageScreen):
    PAGE_KEY = "imports"
    HELP = (
        "Import de comptes locaux depuis un fichier CSV (chemin sur le serveur). Séparateur « ; » ou « , » "
        "et encodage (UTF-8 avec ou sans BOM, Windows-1252) détectés. Colonnes : jointure, nom, prenom "
        "(obligatoires), email, profil, date_fin, uai, date_naissance, description (voir le README et "
        "examples/import-comptes-locaux.csv).\n"
        "F5 : aperçu (rien n'est écrit) ; chaque ligne : création, modification, inchangé ou erreur avec la "
        "raison. F6 : importer le fichier de l'aperçu, après confirmation (si le chemin a changé depuis, "
        "refaites l'aperçu) ; le traitement apparaît dans « Rapports d'alimentation ». Un second import du "
        "même fichier ne change rien (clé : la jointure).\n"
        "F7 : exporter les personnes (profil, classe, activation) en CSV « ; », UTF-8 avec BOM, sans mot de "
        "passe ; jamais dans un dossier du système ni à la place d'un fichier qu'enttui n'a pas écrit."
    )
    BINDINGS = [
        Binding("f5", "preview", "Aperçu", id="imports.preview", tooltip="Lire le fichier et montrer le résultat"),
        Binding("f6", "apply", "Importer", id="imports.apply", tooltip="Écrire dans l'annuaire (confirmation)"),
        Binding("f7", "export", "Exporter", id="imports.export", tooltip="Exporter les personnes en CSV"),
    ]

    def __init__(self) -> None:
        super().__init__(name="imports")
        self._preview: csv_import.ImportPreview | None = None
        self._previewed_text = ""  # the path as typed for the preview on screen
        self._apply_worker: Worker | None = None
        self._applying = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="imports-body"):
            yield Label(Text("Importer des comptes locaux", style="bold"), classes="field-label")
            with Horizontal(classes="io-row"):
                yield Label(Text("Fichier CSV"), classes="io-label")
                yield Input(placeholder="/home/admin/comptes.csv", id="import-path")
            yield field_error("import-path")
            yield Static(Text(IDLE), id="import-summary")
            yield EntTable(COLUMNS, id="import-preview")
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
            yield field_error("export-path")
        with Horizontal(id="imports-buttons", classes="form-buttons"):
            yield Button("Aperçu (F5)", id="do-preview", compact=True)
            yield Button("Importer (F6)", id="do-apply", variant="primary", compact=True)
            yield Button("Exporter (F7)", id="do-export", compact=True)

    def on_mount(self) -> None:
        self.query_one("#import-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "import-path":
            self.action_preview()
        elif event.input.id in ("export-path", "export-class"):
            self.action_export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"do-preview": self.action_preview, "do-apply": self.action_apply, "do-export": self.action_export}
        action[event.button.id or ""]()

    @on(Input.Changed, "#import-path")
    def _path_changed(self, event: Input.Changed) -> None:
        if self._preview is not None and event.value.strip() != self._previewed_text:
            self.query_one("#import-summary", Static).update(
                Text("Le chemin a changé depuis l'aperçu : F5 pour l'aperçu de ce fichier.", style="bold yellow")
            )

    # -- import ------------------------------------------------------------------------------
    def action_preview(self) -> None:
        self._run_preview(self.query_one("#import-path", Input).value.strip())

    def _clear_preview(self) -> None:
        self._preview = None
        self._previewed_text = ""
        self.query_one("#import-preview", EntTable).clear()

    @work(exclusive=True, group="imports:preview", exit_on_error=False)
    async def _run_preview(self, path: str) -> None:
        self._clear_preview()
        clear_field_errors(self)
        self.query_one("#import-summary", Static).update(Text("Lecture du fichier…"))
        preview = await csv_import.preview_import(self.ent_app.services, path)
        self._preview = preview
        self._previewed_text = path
        self._show(preview)

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        if group == "imports:preview":
            # A refused file leaves nothing of a previous preview on screen.
            self._clear_preview()
            self.query_one("#import-summary", Static).update(
                Text("Fichier refusé : rien à importer.", style="bold red")
            )
            if isinstance(error, EnttuiError):
                show_field_errors(self, {"import-path": error.message}, ["import-path"])
                return None
        if group == "imports:export" and isinstance(error, EnttuiError) and not isinstance(error, DestinationExists):
            show_field_errors(self, {"export-path": error.message}, ["export-path"])
        return None

    def _show(self, preview: csv_import.ImportPreview) -> None:
        table = self.query_one("#import-preview", EntTable)
        table.clear()
        for r in preview.rows[:PREVIEW_CAP]:
            table.add_row(
                Text(str(r.line), justify="right"),
                Text(r.jointure),
                Text(r.label),
                Text(r.action_label, style=ACTION_STYLES[r.action]),
                Text(r.detail),
            )
        table.refit_later()
        text = preview.describe_file() + "\n" + preview.summary()
        if len(preview.rows) > PREVIEW_CAP:
            text += f" — {PREVIEW_CAP} premières lignes affichées sur {len(preview.rows)}"
        text += "\nF6 : importer (confirmation)" if preview.writes else "\nRien à écrire."
        self.query_one("#import-summary", Static).update(Text(text))

    def action_apply(self) -> None:
        if self._preview is None:
            self.notify("Faites d'abord l'aperçu (F5).", markup=False)
            return
        typed = self.query_one("#import-path", Input).value.strip()
        if typed != self._previewed_text:
            message = f"L'aperçu porte sur « {self._previewed_text} » : faites l'aperçu (F5) de « {typed} » d'abord."
            show_field_errors(self, {"import-path": message}, ["import-path"])
            return
        if self._applying:
            self.notify("Un import est déjà en cours.", severity="warning", markup=False)
            return
        self._apply_worker = self._run_apply(self._preview)

    @work(exclusive=True, group="imports:apply", exit_on_error=False)
    async def _run_apply(self, preview: csv_import.ImportPreview) -> None:
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
        self._applying = True
        try:
            result = await csv_import.apply_import(self.ent_app.services, preview)
        finally:
            self._applying = False
            self.ent_app.note_change()
        c = result.counts
        self.notify(
            f"Import n° {result.run_id} : {plural(c['created'], 'créé')}, {plural(c['updated'], 'modifié')}, "
            f"{plural(c['unchanged'], 'inchangé')}, {plural(c['errors'], 'erreur')}.",
            markup=False,
        )
        self._run_preview(self._previewed_text)

    # -- quitting while it runs (ui/quitting.py) --------------------------------------------
    def running_job(self) -> str | None:
        return "l'import des comptes locaux" if self._applying else None

    async def stop_job(self) -> None:
        if self._apply_worker is not None:
            self._apply_worker.cancel()  # recorded "interrompu"; importing the file again completes it
        await wait_worker(self._apply_worker)

    # -- export ------------------------------------------------------------------------------
    def action_export(self) -> None:
        target = self.query_one("#export-target", Select).value
        activation = self.query_one("#export-activation", Select).value
        filt = csv_export.ExportFilter(
            targets=() if target in (ALL, Select.NULL) else (Target(str(target)),),
            klass=self.query_one("#export-class", Input).value.strip(),
            activation=str(activation) if activation != Select.NULL else "tous",
        )
        clear_field_errors(self)
        self._run_export(self.query_one("#export-path", Input).value, filt)

    @work(exclusive=True, group="imports:export", exit_on_error=False)
    async def _run_export(self, output: str, filt: csv_export.ExportFilter) -> None:
        await export_with_confirmation(self, "personnes", output, filt)
