"""Rapports de cohérence: the checks of the directory, their findings, the CSV export."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, ProgressBar, Static

from enttui.domain.coherence_checks import BLOQUANT, INFORMATION, NO_SCHOOL, CheckResult, Finding
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
FINDING_COLUMNS = (
    Col("Nom", 12),
    Col("Identifiant", 12),
    Col("Détail", 20),
    Col("UAI", 8, extra=True),
    Col("DN", 10, extra=True),
)


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
        "entrées concernées ; x exporte le rapport en CSV (avec la colonne UAI) ; r relance les contrôles.\n"
        "Par établissement : e montre le bilan de chaque établissement (UAI), les plus bloqués d'abord, et "
        "entrée y choisit celui dont on ne voit plus que les constats ; u passe à l'établissement suivant "
        "(puis à tous). Les entrées sans établissement connu forment « sans établissement ».\n"
        "En ligne de commande : enttui check [--json] (statut 1 si un contrôle bloquant échoue ; les "
        "nombres par établissement suivent les contrôles)."
    )
    BINDINGS = [
        Binding("o", "open", "Entrées", id="coherence.open", tooltip="Lister les entrées concernées (ou entrée)"),
        Binding("r", "run", "Relancer", id="coherence.run", tooltip="Relancer tous les contrôles"),
        Binding("x", "export", "Export CSV", id="coherence.export", tooltip="Exporter tout le rapport en CSV"),
        Binding("i", "explain", "Explication", id="coherence.explain", tooltip="L'explication complète du contrôle"),
        Binding(
            "e",
            "schools",
            "Établissements",
            id="coherence.schools",
            tooltip="Le bilan par établissement (UAI) ; entrée n'y montre que les constats de l'un d'eux",
        ),
        Binding(
            "u",
            "next_school",
            "Étab. suivant",
            id="coherence.school",
            tooltip="Ne montrer que les constats de l'établissement suivant (puis de tous)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__(name="coherence")
        self.full_report: CoherenceReport | None = None  # every school
        self.report: CoherenceReport | None = None  # what is shown: every school, or the one chosen
        self.school: str | None = None  # the UAI the findings are limited to ("" = of no known school)

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
        self.full_report = report
        if self.school is not None and self.school not in {s.uai for s in report.by_school()}:
            self.school = None  # that school has no finding any more
        self._render_report()

    def _render_report(self) -> None:
        full = self.full_report
        if full is None:
            return
        report = self.report = full if self.school is None else full.for_school(self.school)
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
        if self.school is None:
            self._set_status(f"Contrôlé le {when} : {plural(people, 'personne')} ; {verdict}.")
        else:
            shown = f"Établissement {full.school_label(self.school)}" if self.school else "Entrées sans établissement"
            findings = plural(report.total_findings, "constat")
            self._set_status(f"{shown} : {findings} ; {verdict} (u : suivant, e : bilan).")
        self._explain()

    def action_schools(self) -> None:
        if self.full_report is None:
            self.notify("Le rapport n'est pas encore établi.", markup=False)
            return
        from enttui.ui.screens.coherence_schools import SchoolsScreen

        self.app.push_screen(SchoolsScreen(self.full_report, self.school, self.trail()), self.choose_school)

    def choose_school(self, uai: str | None) -> None:
        """Show only the findings of school ``uai`` (None: every school)."""
        self.school = uai
        self._render_report()

    def action_next_school(self) -> None:
        if self.full_report is None:
            self.notify("Le rapport n'est pas encore établi.", markup=False)
            return
        order: list[str | None] = [s.uai for s in self.full_report.by_school()]
        if not order:
            self.notify("Aucun constat : rien à répartir par établissement.", markup=False)
            return
        order.append(None)
        at = order.index(self.school) if self.school in order else len(order) - 1
        self.choose_school(order[(at + 1) % len(order)])

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
        school = ""
        if self.full_report is not None and self.school == "":
            school = NO_SCHOOL
        elif self.full_report is not None and self.school is not None:
            school = f"établissement {self.full_report.school_label(self.school)}"
        self.app.push_screen(FindingsScreen(c, self.trail(), school=school))

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

        title = "Exporter le rapport de cohérence (CSV)"
        if self.school is not None and self.full_report is not None:
            title = f"Exporter les constats de {self.full_report.school_label(self.school)} (CSV)"
        if await export_flow(self, title, default_export_name("coherence", self, "csv"), write):
            path, rows = written[-1]
            self.notify(f"{plural(rows, 'ligne')} exportée{'s' if rows > 1 else ''} dans {path} (0600).", markup=False)


class FindingsScreen(DetailScreen):
    """The entries one check concerns; enter opens a person."""

    HELP = "Les entrées concernées par le contrôle. Entrée (ou o) ouvre la fiche ; x exporte cette liste en CSV."
    BINDINGS = [
        Binding("o", "open", "Fiche", id="findings.open", tooltip="Ouvrir la fiche de l'entrée (ou entrée)"),
        Binding("x", "export", "Export CSV", id="findings.export", tooltip="Exporter ces entrées en CSV"),
    ]

    def __init__(
        self, check: CheckResult, trail: tuple[str, ...] = ("Annuaire", "Administration"), *, school: str = ""
    ) -> None:
        super().__init__(trail, classes="findings-screen")
        self.check = check
        self.school = school  # which school the findings are limited to, in words; "" for all

    def crumb(self) -> str:
        return self.check.title

    def compose_body(self) -> ComposeResult:
        c = self.check
        count = Text(f"{plural(c.count, 'entrée')} · gravité : {c.severity}")
        if self.school:
            count.append(f" · {self.school}")
        yield Static(count, id="findings-count", classes="muted")
        table = EntTable(FINDING_COLUMNS, id="findings")
        for i, f in enumerate(c.findings):
            table.add_row(Text(f.name), Text(f.login), Text(f.detail), Text(f.school), Text(f.dn), key=str(i))
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
