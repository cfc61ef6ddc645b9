"""Rapports de cohérence: the checks of the directory, their findings, the CSV export.

Also the export-path modal shared with "Rapports d'alimentation".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, ProgressBar, Static

from enttui.domain.coherence import BLOQUANT, INFORMATION, CheckResult, Finding
from enttui.errors import EnttuiError
from enttui.jobs.coherence import CoherenceReport, export_coherence_csv, run_coherence
from enttui.jobs.events import Event, Phase, Progress
from enttui.services.localfiles import check_output_path
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.modals import ConfirmModal, MessageModal

SEVERITY_STYLES = {BLOQUANT: "bold red", "à corriger": "yellow", INFORMATION: "dim"}
PROGRESS_LABELS = {"structures": "établissements", "groups": "groupes", "people": "personnes"}


def severity_text(severity: str) -> Text:
    return Text(severity, style=SEVERITY_STYLES.get(severity, ""))


class ExportModal(ModalScreen[str | None]):
    """Ask for the path of a file to write (enter confirms, escape cancels)."""

    BINDINGS = [Binding("escape", "cancel", "Annuler", id="export.cancel", tooltip="Ne rien exporter")]

    def __init__(self, title: str, default: str, note: str = "") -> None:
        super().__init__(classes="export-modal")
        self._title = title
        self._default = default
        self._note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(self._title), id="dialog-title", classes="dialog-title")
            yield Label(Text("Chemin du fichier à écrire :"))
            yield Input(value=self._default, id="export-path")
            if self._note:
                yield Static(Text(self._note), classes="muted")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Annuler (échap)", id="cancel")
                yield Button("Exporter (entrée)", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self.query_one("#export-path", Input).value if event.button.id == "ok" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


async def ask_and_write(screen: Screen, title: str, default: str, write: Callable[[Path, bool], object]) -> None:
    """Export flow (call from a worker): path modal, checks, overwrite confirmation, write, notify."""
    app = screen.app
    text = await app.push_screen_wait(
        ExportModal(title, default, "Le fichier contient des données personnelles : il est créé en mode 0600.")
    )
    if text is None:
        return
    try:
        path = check_output_path(text)
        overwrite = False
        if path.exists():
            if not await app.push_screen_wait(
                ConfirmModal("Remplacer le fichier ?", f"{path} existe déjà. Le remplacer ?")
            ):
                return
            overwrite = True
        result = write(path, overwrite)
        if hasattr(result, "__await__"):
            await result  # type: ignore[misc]
    except EnttuiError as exc:
        app.report_error(exc)  # type: ignore[attr-defined]
        return
    app.notify(f"Exporté dans {path}", title="Export", markup=False)


def default_export_name(prefix: str, screen: Screen, ext: str) -> str:
    now = screen.app.services.clock().astimezone()  # type: ignore[attr-defined]
    return str(Path.home() / f"{prefix}-{now:%Y%m%d_%H%M%S}.{ext}")


class CoherenceScreen(PageScreen):
    PAGE_KEY = "coherence"
    HELP = (
        "Les contrôles de cohérence de l'annuaire (doublons, liens qui ne pointent nulle part, élèves sans "
        "parent, classes vides, profils contradictoires, comptes sans adresse ou jamais activés) et, si Moodle "
        "est configuré, les écarts entre Moodle et l'annuaire.\n"
        "Gravité : bloquant (à corriger d'urgence), à corriger, information.\n"
        "Entrée (ou o) liste les entrées concernées ; x exporte tout le rapport en CSV.\n"
        "En ligne de commande : enttui check [--json] (statut 1 si un contrôle bloquant échoue)."
    )
    BINDINGS = [
        Binding("o", "open", "Entrées", id="coherence.open", tooltip="Lister les entrées concernées (ou entrée)"),
        Binding("r", "run", "Relancer", id="coherence.run", tooltip="Relancer tous les contrôles"),
        Binding("x", "export", "Export CSV", id="coherence.export", tooltip="Exporter tout le rapport en CSV"),
    ]

    def __init__(self) -> None:
        super().__init__(name="coherence")
        self.report: CoherenceReport | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Contrôles en cours…"), id="coherence-status", classes="muted")
        yield ProgressBar(id="coherence-progress", show_eta=False)
        table: DataTable[Text] = DataTable(id="checks", cursor_type="row")
        table.add_column("Gravité", key="severity", width=11)
        table.add_column("Nb", key="count", width=5)
        table.add_column("Contrôle", key="title")
        yield table
        yield Static(Text(""), id="check-explanation", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#checks", DataTable).focus()
        self.action_run()

    def action_run(self) -> None:
        self.query_one("#coherence-progress", ProgressBar).display = True
        self.query_one("#coherence-progress", ProgressBar).update(total=None, progress=0)
        self._set_status("Contrôles en cours…")
        self._run()

    def _set_status(self, text: str) -> None:
        self.query_one("#coherence-status", Static).update(Text(text))

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Phase):
            self._set_status(f"{event.label}…")
        elif isinstance(event, Progress):
            label = PROGRESS_LABELS.get(event.entity, event.entity)
            self._set_status(f"Lecture : {event.done} {label}")
            self.query_one("#coherence-progress", ProgressBar).advance(0)

    @work(exclusive=True, group="coherence:run", exit_on_error=False)
    async def _run(self) -> None:
        try:
            report = await run_coherence(self.ent_app.services, self._on_event, timer=self.ent_app.timer)
        except EnttuiError as exc:
            self.query_one("#coherence-progress", ProgressBar).display = False
            self._set_status("Le rapport n'a pas pu être établi.")
            self.ent_app.report_error(exc)
            return
        self._show(report)

    def _show(self, report: CoherenceReport) -> None:
        self.report = report
        self.query_one("#coherence-progress", ProgressBar).display = False
        table = self.query_one("#checks", DataTable)
        cursor = table.cursor_row
        table.clear()
        for c in report.checks:
            count = Text("—", style="dim") if c.skipped else Text(str(c.count), style="bold" if c.count else "")
            table.add_row(severity_text(c.severity), count, Text(c.title), key=c.id)
        table.move_cursor(row=min(max(cursor, 0), len(report.checks) - 1))
        when = report.checked_at.astimezone().strftime("%d/%m/%Y à %H:%M")
        verdict = "au moins un contrôle bloquant échoue" if report.blocking_failed else "aucun contrôle bloquant"
        people = report.read.get("people", 0)
        self._set_status(f"Contrôlé le {when} : {people} personnes ; {verdict}.")
        self._explain()

    def _current(self) -> CheckResult | None:
        if self.report is None:
            return None
        row = self.query_one("#checks", DataTable).cursor_row
        return self.report.checks[row] if 0 <= row < len(self.report.checks) else None

    def _explain(self) -> None:
        c = self._current()
        text = Text()
        if c is not None:
            text.append(f"{c.title} ({c.severity})\n", style="bold")
            text.append(c.explanation)
            if c.skipped:
                text.append(f"\nNon fait : {c.skipped}", style="italic")
        self.query_one("#check-explanation", Static).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._explain()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        c = self._current()
        if c is None:
            return
        if not c.findings:
            self.notify(c.skipped or "Aucune entrée concernée.", title=c.title, markup=False)
            return
        self.app.push_screen(FindingsScreen(c))

    def action_export(self) -> None:
        if self.report is None:
            self.notify("Le rapport n'est pas encore établi.", markup=False)
            return
        self._export()

    @work(group="coherence:export", exit_on_error=False)
    async def _export(self) -> None:
        report = self.report
        assert report is not None
        await ask_and_write(
            self,
            "Exporter le rapport de cohérence (CSV)",
            default_export_name("coherence", self, "csv"),
            lambda path, overwrite: export_coherence_csv(report, path, overwrite=overwrite),
        )


class FindingsScreen(Screen):
    """The entries one check concerns; enter opens a person."""

    HELP = "Les entrées concernées par le contrôle. Entrée (ou o) ouvre la fiche ; x exporte cette liste en CSV."
    BINDINGS = [
        Binding("escape", "back", "Retour", id="findings.back", tooltip="Revenir à la liste des contrôles"),
        Binding("o", "open", "Fiche", id="findings.open", tooltip="Ouvrir la fiche de l'entrée (ou entrée)"),
        Binding("x", "export", "Export CSV", id="findings.export", tooltip="Exporter ces entrées en CSV"),
    ]

    def __init__(self, check: CheckResult) -> None:
        super().__init__(classes="findings-screen")
        self.check = check

    def compose(self) -> ComposeResult:
        c = self.check
        yield Label(Text(f"Rapports de cohérence > {c.title}"), id="breadcrumb")
        yield Static(Text(f"{c.count} entrée(s) · gravité : {c.severity}"), id="findings-count", classes="muted")
        table: DataTable[Text] = DataTable(id="findings", cursor_type="row")
        table.add_column("Nom", key="name")
        table.add_column("Identifiant", key="login")
        table.add_column("Détail", key="detail")
        table.add_column("DN", key="dn")
        for i, f in enumerate(c.findings):
            table.add_row(Text(f.name), Text(f.login), Text(f.detail), Text(f.dn), key=str(i))
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#findings", DataTable).focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def _current(self) -> Finding | None:
        row = self.query_one("#findings", DataTable).cursor_row
        return self.check.findings[row] if 0 <= row < len(self.check.findings) else None

    def action_open(self) -> None:
        f = self._current()
        if f is None:
            return
        if not f.dn:
            self.app.push_screen(MessageModal(f.name or f.login, f"{f.login}\n{f.detail}"))
            return
        opener = getattr(self.app, "open_person", None)
        if callable(opener):
            opener(f.dn)
            return
        self._show_entry(f)

    @work(group="coherence:entry", exit_on_error=False)
    async def _show_entry(self, f: Finding) -> None:
        """Fallback until the Annuaire detail view exists: the entry's attributes as plain text."""
        services = self.app.services  # type: ignore[attr-defined]
        try:
            entries = await services.directory.search_all(f.dn, "(objectClass=*)", ["*"], scope="BASE")
        except EnttuiError as exc:
            self.app.report_error(exc)  # type: ignore[attr-defined]
            return
        lines = [f"DN : {f.dn}", f"Constat : {f.detail}", ""]
        if not entries:
            lines.append("L'entrée n'existe pas dans l'annuaire.")
        for _dn, attrs in entries:
            for name in sorted(attrs, key=str.lower):
                if name.lower() == "userpassword":
                    continue
                lines.extend(f"{name} : {v}" for v in attrs[name])
        self.app.push_screen(MessageModal(f.name or f.login or f.dn, "\n".join(lines)))

    def action_export(self) -> None:
        self._export()

    @work(group="coherence:export", exit_on_error=False)
    async def _export(self) -> None:
        check = self.check
        report = CoherenceReport(checks=[check], checked_at=self.app.services.clock())  # type: ignore[attr-defined]
        await ask_and_write(
            self,
            f"Exporter « {check.title} » (CSV)",
            default_export_name(f"coherence-{check.id}", self, "csv"),
            lambda path, overwrite: export_coherence_csv(report, path, overwrite=overwrite),
        )
