"""Fichiers des identifiants: the table of files, export (Télécharger), delete, regeneration.

An interrupted regeneration (killed, stopped, or the console quit) is named in a banner above the
table, its file's row says "interrompu", and F7 resumes it after a confirmation that names it.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, ProgressBar, Select, Static
from textual.worker import Worker

from enttui.domain.french import plural
from enttui.domain.idfiles import format_generated, parse_search_date
from enttui.domain.runs import RunKind, RunStatus
from enttui.errors import ValidationError
from enttui.jobs import idfiles, regeneration
from enttui.jobs.events import Event, EventSink, Progress
from enttui.ui.quitting import wait_worker
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.export import export_flow
from enttui.ui.widgets.fields import clear_field_errors, field_error, show_field_errors
from enttui.ui.widgets.modals import ConfirmModal
from enttui.ui.widgets.prose import Prose
from enttui.ui.widgets.tables import Col, EntTable

ALL = "__all__"
# Key columns first; the widths follow the terminal (t and s are in the footer).
COLUMNS = (
    Col("Fichier", 20),
    Col("Taille (Octets)", 6, justify="right", short="Octets"),
    Col("Date de génération", 18),
    Col("Lignes", 6, justify="right"),
    Col("État", 15, extra=True),  # "interrompu : F7" when the run that writes the file stopped
)


def _state_cell(e: idfiles.FileEntry) -> Text:
    """The state of the file's run when it did not finish (the banner says it too)."""
    if e.status == RunStatus.INTERRUPTED:
        return Text(RunStatus.INTERRUPTED + (" : F7" if e.kind == RunKind.REGENERATION else ""), style="bold yellow")
    if e.status == RunStatus.RUNNING:
        return Text(RunStatus.RUNNING.value, style="yellow")
    return Text("")


REGEN_HELP = "Pour générer un fichier contenant tous les comptes de l'établissement, laissez la date non renseignée."


class FichiersScreen(PageScreen):
    PAGE_KEY = "fichiers"
    HELP = (
        "Les fichiers des identifiants non envoyés (diffusions) et régénérés. Ils contiennent des mots de "
        "passe : ils restent dans un dossier privé (0700, fichiers 0600).\n"
        "t : Télécharger (copier vers un chemin du serveur, en 0600 ; un fichier existant n'est remplacé "
        "qu'après confirmation). s : supprimer après confirmation.\n"
        "F5 : Régénérer le(s) fichier(s) des identifiants : de nouveaux mots de passe pour les comptes Élève, "
        "Parent et Autre non encore activés du périmètre (créés depuis la date de recherche, si elle est "
        "donnée), tous écrits dans un nouveau fichier.\n"
        "Le fichier copié n'est jamais écrit dans un dossier du système (/etc, /usr…) ni à la place d'un "
        "fichier qu'enttui n'a pas écrit.\n"
        "F7 : reprendre une régénération interrompue (les comptes restants, dans le même fichier ; "
        "les mots de passe déjà posés ne changent pas).\n"
        "En ligne de commande : enttui files list | export NOM DEST | delete NOM | regenerate [--resume]."
    )
    BINDINGS = [
        Binding("t", "export", "Télécharger", id="fichiers.export", tooltip="Copier le fichier vers un chemin"),
        Binding("s,delete", "delete", "Supprimer", id="fichiers.delete", tooltip="Supprimer le fichier"),
        Binding("f5", "regenerate", "Régénérer", id="fichiers.regenerate", tooltip="Régénérer les identifiants"),
        Binding("f6", "refresh", "Actualiser", id="fichiers.refresh", tooltip="Relire la liste des fichiers"),
        Binding("f7", "resume", "Reprendre", id="fichiers.resume", tooltip="Reprendre la régénération interrompue"),
    ]

    def __init__(self) -> None:
        super().__init__(name="fichiers")
        self._names: list[str] = []
        self._want: str | None = None
        self._regen_worker: Worker | None = None
        self._regen_running = False
        self._resumable: int | None = None

    def compose_body(self) -> ComposeResult:
        cfg = self.ent_app.services.config
        with VerticalScroll(id="fichiers-body"):
            banner = Static(Text(""), id="regen-banner", classes="banner")
            banner.display = False
            yield banner
            yield Label(Text("…"), id="files-count")
            yield EntTable(COLUMNS, id="files")
            with Vertical(id="regen"):
                yield Label(Text("Régénérer le(s) fichier(s) des identifiants", style="bold"), classes="field-label")
                with Horizontal(classes="regen-row"):
                    yield Label(Text("Périmètre"), classes="regen-label")
                    options = [(f"{cfg.ent.portal} (tout le périmètre)", ALL)] + [(uai, uai) for uai in cfg.ent.uai]
                    yield Select(options, value=ALL, allow_blank=False, id="regen-uai")
                with Horizontal(classes="regen-row"):
                    yield Label(Text("Date de recherche :"), classes="regen-label")
                    yield Input(placeholder="jj/mm/aaaa", max_length=10, id="regen-date")
                yield field_error("regen-date")
                yield Prose(REGEN_HELP, classes="muted")
                yield Static(Text(""), id="regen-error")
                yield ProgressBar(id="regen-progress", show_eta=False, classes="hidden")
        with Horizontal(id="fichiers-buttons", classes="form-buttons"):
            yield Button("Régénérer (F5)", id="regen-run", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#files", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()  # a diffusion may have written a file since

    # -- the table ---------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self._load()

    @work(exclusive=True, group="fichiers:list", exit_on_error=False)
    async def _load(self) -> None:
        services = self.ent_app.services
        await idfiles.purge_files(services)
        entries = await idfiles.list_files(services)
        table = self.query_one("#files", EntTable)
        current = self._current()
        table.clear()
        self._names = []
        for e in entries:
            table.add_row(
                Text(e.name),
                Text(str(e.size), justify="right"),
                Text(format_generated(e.created_at)),
                Text(str(e.rows), justify="right"),
                _state_cell(e),
                key=e.name,
            )
            self._names.append(e.name)
        table.refit_later()
        self.query_one("#files-count", Label).update(
            Text(plural(len(entries), "résultat") if entries else "Aucun fichier.")
        )
        want = self._want or current
        self._want = None
        if want in self._names:
            table.move_cursor(row=self._names.index(want))
        self._check_resumable()

    def _current(self) -> str | None:
        table = self.query_one("#files", DataTable)
        if not self._names or not 0 <= table.cursor_row < len(self._names):
            return None
        return self._names[table.cursor_row]

    def focus_file(self, name: str) -> None:
        """Select ``name`` in the table (from the diffusion's summary)."""
        self._want = name
        tables = self.query("#files")
        if tables:  # already composed; otherwise on_mount loads and selects it
            tables.first(DataTable).focus()
            self.action_refresh()

    def _selected(self) -> str | None:
        name = self._current()
        if name is None:
            self.notify("Aucun fichier sélectionné.", markup=False)
        return name

    def action_export(self) -> None:
        name = self._selected()
        if name:
            self._export(name)

    def action_delete(self) -> None:
        name = self._selected()
        if name:
            self._delete(name)

    @work(exclusive=True, group="fichiers:export", exit_on_error=False)
    async def _export(self, name: str) -> None:
        services = self.ent_app.services
        written: list[object] = []

        async def write(text: str, overwrite: bool) -> None:
            written.append(await idfiles.export_file(services, name, text, overwrite=overwrite))

        if await export_flow(
            self,
            f"Télécharger {name}",
            "",
            write,
            default_name=name,
            note="Une copie du fichier (mode 0600) : elle contient des mots de passe.",
            placeholder="/home/admin/identifiants.csv",
            ok_label="Copier",
        ):
            self.notify(f"Copié vers {written[-1]} (0600).", markup=False)

    @work(exclusive=True, group="fichiers:delete", exit_on_error=False)
    async def _delete(self, name: str) -> None:
        if not await self.app.push_screen_wait(
            ConfirmModal(
                "Supprimer le fichier ?", f"{name}\n\nLe fichier et les mots de passe qu'il contient seront supprimés."
            )
        ):
            return
        await idfiles.delete_file(self.ent_app.services, name)
        self.notify(f"{name} supprimé.", markup=False)
        self.ent_app.note_change()
        self.action_refresh()

    # -- regeneration ------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "regen-run":
            event.stop()
            self.action_regenerate()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "regen-date":
            event.stop()
            self.action_regenerate()

    def _regen_request(self) -> regeneration.RegenerationRequest:
        since = parse_search_date(self.query_one("#regen-date", Input).value)
        uai = self.query_one("#regen-uai", Select).value
        return regeneration.RegenerationRequest(() if uai in (ALL, Select.NULL) else (str(uai),), since)

    def action_regenerate(self) -> None:
        if self._regen_running:
            self.notify("Une régénération est déjà en cours.", severity="warning", markup=False)
            return
        try:
            request = self._regen_request()
        except ValidationError as exc:
            show_field_errors(self, {"regen-date": exc.message}, ["regen-date"])
            return
        clear_field_errors(self)
        self.query_one("#regen-error", Static).update(Text(""))
        self._regen_worker = self._regenerate(request)

    @work(exclusive=True, group="fichiers:regenerate", exit_on_error=False)
    async def _regenerate(self, request: regeneration.RegenerationRequest) -> None:
        services = self.ent_app.services
        plan = await regeneration.plan_regeneration(services, request)
        if not plan.people:
            self.notify("Aucun compte ne correspond : rien à régénérer.", markup=False)
            return
        if not await self.app.push_screen_wait(
            ConfirmModal("Régénérer les identifiants ?", plan.confirmation_text(), yes_label="Régénérer (y)")
        ):
            self.notify("Régénération annulée : rien n'a été fait.", markup=False)
            return
        bar = self._show_progress()
        bar.update(total=len(plan.people), progress=0)
        self._regen_running = True
        try:
            result = await regeneration.run_regeneration(services, request, self._progress_sink(bar), plan=plan)
        finally:
            self._regen_running = False
            self.ent_app.note_change()
        self._show_result(result)

    # -- resume ------------------------------------------------------------------------------
    @work(exclusive=True, group="fichiers:resumable", exit_on_error=False)
    async def _check_resumable(self) -> None:
        run = await regeneration.resumable_regeneration(self.ent_app.services)
        banner = self.query_one("#regen-banner", Static)
        self._resumable = run.id if run else None
        if run is None:
            banner.update(Text(""))
            banner.display = False
            return
        when = run.started_at.astimezone().strftime("%d/%m/%Y à %H:%M")
        rows = [e.rows for e in await idfiles.list_files(self.ent_app.services) if e.run_id == run.id]
        done = f" après {plural(rows[0], 'ligne')}" if rows else ""
        banner.update(Text(f"La régénération n° {run.id} du {when} a été interrompue{done} : F7 pour la reprendre."))
        banner.display = True

    def action_resume(self) -> None:
        if self._regen_running:
            self.notify("Une régénération est déjà en cours.", severity="warning", markup=False)
            return
        if self._resumable is None:
            self.notify("Aucune régénération interrompue à reprendre.", markup=False)
            return
        self._regen_worker = self._resume(self._resumable)

    @work(exclusive=True, group="fichiers:regenerate", exit_on_error=False)
    async def _resume(self, run_id: int) -> None:
        services = self.ent_app.services
        run = await services.state.get_run(run_id)
        when = run.started_at.astimezone().strftime("%d/%m/%Y à %H:%M") if run else "?"
        if not await self.app.push_screen_wait(
            ConfirmModal(
                "Reprendre la régénération ?",
                f"La régénération n° {run_id} du {when} sera terminée dans le même fichier : les comptes "
                "restants reçoivent leur mot de passe ; ceux déjà traités gardent le leur (aucune ligne en "
                "double).",
                yes_label="Reprendre (y)",
            )
        ):
            self.notify("Reprise annulée : rien n'a été fait.", markup=False)
            return
        bar = self._show_progress()
        self._regen_running = True
        try:
            result = await regeneration.resume_regeneration(services, run_id, self._progress_sink(bar))
        finally:
            self._regen_running = False
            self.ent_app.note_change()
        self._show_result(result)

    def _show_progress(self) -> ProgressBar:
        bar = self.query_one("#regen-progress", ProgressBar)
        bar.remove_class("hidden")
        bar.update(total=None, progress=0)
        bar.scroll_visible(animate=False)
        return bar

    @staticmethod
    def _progress_sink(bar: ProgressBar) -> EventSink:
        def on_event(event: Event) -> None:
            if isinstance(event, Progress):
                bar.update(total=event.total or None, progress=event.done)

        return on_event

    def _show_result(self, result: regeneration.RegenerationResult) -> None:
        changed = plural(result.in_file, "mot de passe régénéré", "mots de passe régénérés")
        text = f"{changed} dans {result.file_name} ; {plural(result.errors, 'erreur')}."
        if result.status == RunStatus.INTERRUPTED:
            text += " Régénération interrompue : F7 pour la reprendre."
        self.query_one("#regen-error", Static).update(Text(text))
        self._want = result.file_name
        self.query_one("#files", DataTable).focus()
        self.action_refresh()

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        if group == "fichiers:regenerate":
            if isinstance(error, ValidationError):
                show_field_errors(self, {"regen-date": error.message}, ["regen-date"])
            else:
                self.query_one("#regen-error", Static).update(
                    Text("Régénération interrompue (voir le message) : F7 pour la reprendre.", style="bold red")
                )
            self.action_refresh()  # an interrupted run shows as such, and can be resumed
        return None

    # -- quitting while it runs (ui/quitting.py) --------------------------------------------
    def running_job(self) -> str | None:
        return "la régénération des identifiants" if self._regen_running else None

    async def stop_job(self) -> None:
        if self._regen_worker is not None:
            self._regen_worker.cancel()
        await wait_worker(self._regen_worker)
