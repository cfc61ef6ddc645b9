"""Rapports de cohérence: the checks of the directory, their findings, the CSV export."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, ProgressBar, Static

from enttui.domain.coherence_checks import BLOQUANT, INFORMATION, CheckResult, Finding
from enttui.domain.french import plural
from enttui.jobs.coherence import CoherenceReport, run_coherence, write_coherence_report
from enttui.jobs.events import Event, Phase, Progress
from enttui.ui.screens.base import DetailScreen, PageScreen
from enttui.ui.widgets.export import default_export_name, export_flow
from enttui.ui.widgets.modals import MessageModal
from enttui.ui.widgets.prose import Prose
from enttui.ui.widgets.tables import Col, EntTable

SEVERITY_STYLES = {BLOQUANT: "bold red", "à corriger": "yellow", INFORMATION: "dim"}
PROGRESS_LABELS = {"structures": "établissements", "groups": "groupes", "people": "personnes"}
COLUMNS = (Col("Gravité", 10), Col("Nb", 3, justify="right"), Col("Contrôle", 30))
FINDING_COLUMNS = (Col("Nom", 12), Col("Identifiant", 12), Col("Détail", 20), Col("DN", 10, extra=True))


def severity_text(severity: str) -> Text:
    return Text(severity, style=SEVERITY_STYLES.get(severity, ""))


class CoherenceScreen(PageScreen):
    PAGE_KEY = "coherence"
    HELP = (
        "Les contrôles de cohérence de l'annuaire (doublons, liens qui ne pointent nulle part, élèves sans "
        "parent, classes vides, profils contradictoires, comptes sans adresse ou jamais activés) et, si Moodle "
        "est configuré, les écarts entre Moodle et l'annuaire.\n"
        "Gravité : bloquant (à corriger d'urgence), à corriger, information.\n"
        "Sous la liste, l'explication du contrôle sélectionné (i la montre en entier). Entrée (ou o) liste les "
        "entrées concernées ; x exporte tout le rapport en CSV ; r relance les contrôles.\n"
        "En ligne de commande : enttui check [--json] (statut 1 si un contrôle bloquant échoue)."
    )
    BINDINGS = [
        Binding("o", "open", "Entrées", id="coherence.open", tooltip="Lister les entrées concernées (ou entrée)"),
        Binding("r", "run", "Relancer", id="coherence.run", tooltip="Relancer tous les contrôles"),
        Binding("x", "export", "Export CSV", id="coherence.export", tooltip="Exporter tout le rapport en CSV"),
        Binding("i", "explain", "Explication", id="coherence.explain", tooltip="L'explication complète du contrôle"),
    ]

    def __init__(self) -> None:
        super().__init__(name="coherence")
        self.report: CoherenceReport | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Contrôles en cours…"), id="coherence-status", classes="muted")
        yield ProgressBar(id="coherence-progress", show_eta=False)
        yield EntTable(COLUMNS, id="checks")
        yield Prose("", id="check-explanation")

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
        report = await run_coherence(self.ent_app.services, self._on_event, timer=self.ent_app.timer)
        self._show(report)

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        if group == "coherence:run":
            self.query_one("#coherence-progress", ProgressBar).display = False
            self._set_status("Le rapport n'a pas pu être établi (voir le message) : r pour relancer.")
        return None

    def refresh_data(self) -> None:
        self.action_run()

    def _show(self, report: CoherenceReport) -> None:
        self.report = report
        self.query_one("#coherence-progress", ProgressBar).display = False
        table = self.query_one("#checks", EntTable)
        cursor = table.cursor_row
        table.clear()
        for c in report.checks:
            count = (
                Text("—", style="dim", justify="right")
                if c.skipped
                else Text(str(c.count), style="bold" if c.count else "", justify="right")
            )
            table.add_row(severity_text(c.severity), count, Text(c.title), key=c.id)
        table.refit_later()
        table.move_cursor(row=min(max(cursor, 0), len(report.checks) - 1))
        when = report.checked_at.astimezone().strftime("%d/%m/%Y à %H:%M")
        verdict = "au moins un contrôle bloquant échoue" if report.blocking_failed else "aucun contrôle bloquant"
        people = report.read.get("people", 0)
        self._set_status(f"Contrôlé le {when} : {plural(people, 'personne')} ; {verdict}.")
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
            text.append(c.explanation)
            if c.skipped:
                text.append(f" Non fait : {c.skipped}", style="italic")
        self.query_one("#check-explanation", Prose).update(text)

    def action_explain(self) -> None:
        c = self._current()
        if c is not None:
            extra = f"\n\nNon fait : {c.skipped}" if c.skipped else ""
            self.app.push_screen(MessageModal(f"{c.title} ({c.severity})", c.explanation + extra))

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
        self.app.push_screen(FindingsScreen(c, self.trail()))

    def action_export(self) -> None:
        if self.report is None:
            self.notify("Le rapport n'est pas encore établi.", markup=False)
            return
        self._export()

    @work(group="coherence:export", exit_on_error=False)
    async def _export(self) -> None:
        report = self.report
        assert report is not None
        services = self.ent_app.services
        written: list[tuple[Path, int]] = []

        async def write(text: str, overwrite: bool) -> None:
            written.append(await write_coherence_report(services, report, text, overwrite=overwrite))

        if await export_flow(
            self, "Exporter le rapport de cohérence (CSV)", default_export_name("coherence", self, "csv"), write
        ):
            path, rows = written[-1]
            self.notify(f"{plural(rows, 'ligne')} exportée{'s' if rows > 1 else ''} dans {path} (0600).", markup=False)


class FindingsScreen(DetailScreen):
    """The entries one check concerns; enter opens a person."""

    HELP = "Les entrées concernées par le contrôle. Entrée (ou o) ouvre la fiche ; x exporte cette liste en CSV."
    BINDINGS = [
        Binding("o", "open", "Fiche", id="findings.open", tooltip="Ouvrir la fiche de l'entrée (ou entrée)"),
        Binding("x", "export", "Export CSV", id="findings.export", tooltip="Exporter ces entrées en CSV"),
    ]

    def __init__(self, check: CheckResult, trail: tuple[str, ...] = ("Annuaire", "Administration")) -> None:
        super().__init__(trail, classes="findings-screen")
        self.check = check

    def crumb(self) -> str:
        return self.check.title

    def compose_body(self) -> ComposeResult:
        c = self.check
        count = Text(f"{plural(c.count, 'entrée')} · gravité : {c.severity}")
        yield Static(count, id="findings-count", classes="muted")
        table = EntTable(FINDING_COLUMNS, id="findings")
        for i, f in enumerate(c.findings):
            table.add_row(Text(f.name), Text(f.login), Text(f.detail), Text(f.dn), key=str(i))
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#findings", EntTable)
        table.focus()
        table.refit_later()

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
        self.ent_app.open_person(f.dn)

    def action_export(self) -> None:
        self._export()

    @work(group="coherence:export", exit_on_error=False)
    async def _export(self) -> None:
        check = self.check
        services = self.ent_app.services
        report = CoherenceReport(checks=[check], checked_at=services.clock())
        written: list[tuple[Path, int]] = []

        async def write(text: str, overwrite: bool) -> None:
            written.append(await write_coherence_report(services, report, text, overwrite=overwrite))

        if await export_flow(
            self,
            f"Exporter « {check.title} » (CSV)",
            default_export_name(f"coherence-{check.id}", self, "csv"),
            write,
        ):
            path, rows = written[-1]
            self.notify(f"{plural(rows, 'ligne')} exportée{'s' if rows > 1 else ''} dans {path} (0600).", markup=False)
