"""Rapports d'alimentation: every run the console recorded, newest first; a run's detail and trace."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from enttui.domain.french import plural
from enttui.domain.runs import FINAL_STATUSES, RunStatus
from enttui.jobs.reports import (
    KINDS,
    RunDetail,
    counts_lines,
    counts_summary,
    cycle,
    export_run_report,
    format_duration,
    format_moment,
    kind_label,
    list_reports,
    options_text,
    prune_old_runs,
    run_detail,
    school_lines,
)
from enttui.services.state import RunRecord
from enttui.ui.screens.base import DetailScreen, PageScreen
from enttui.ui.screens.trace import TraceScreen
from enttui.ui.widgets.export import default_export_name, export_flow
from enttui.ui.widgets.prose import Prose
from enttui.ui.widgets.tables import Col, EntTable
from enttui.ui.widgets.trace import TraceBuffer, TraceEntry, TracePane

SCHOOL_LINES = 8  # a sync's Bilan per school in the header (the export holds every school)

STATUS_STYLES: dict[str, str] = {
    RunStatus.SUCCESS: "green",
    RunStatus.WITH_ERRORS: "bold red",
    RunStatus.INTERRUPTED: "yellow",
    RunStatus.SIMULATED: "cyan",
    RunStatus.RUNNING: "bold",
}
MAX_RUNS = 500
COLUMNS = (
    Col("Date", 16),
    Col("Statut", 12),
    Col("Type", 12, max=22),
    Col("Comptes", 22),
    Col("Durée", 5, extra=True),
    Col("Par", 4, extra=True),
)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def trace_buffer(detail: RunDetail) -> TraceBuffer:
    return TraceBuffer(
        [TraceEntry(t.at.astimezone().strftime("%H:%M:%S"), t.level, t.entity, t.text) for t in detail.trace]
    )


class AlimentationScreen(PageScreen):
    PAGE_KEY = "alimentation"
    HELP = (
        "Tous les traitements que la console a enregistrés (synchronisations Moodle, diffusions, "
        "régénérations, imports), du plus récent au plus ancien : date, durée, type, qui l'a lancé, "
        "statut et comptes.\n"
        "k change le type affiché, t le statut ; entrée ouvre le rapport (options, comptes par entité, "
        "trace complète).\n"
        "Les traitements plus anciens que [state] runs_retention_days sont purgés.\n"
        "En ligne de commande : enttui reports [--json]."
    )
    BINDINGS = [
        Binding("o", "open", "Ouvrir", id="alimentation.open", tooltip="Ouvrir le rapport du traitement (ou entrée)"),
        Binding("k", "cycle_kind", "Type", id="alimentation.kind", tooltip="Filtrer par type de traitement"),
        Binding("t", "cycle_status", "Statut", id="alimentation.status", tooltip="Filtrer par statut"),
        Binding("r", "refresh", "Actualiser", id="alimentation.refresh", tooltip="Relire les traitements"),
    ]

    def __init__(self) -> None:
        super().__init__(name="alimentation")
        self.kind: str | None = None
        self.status: str | None = None
        self.runs: list[RunRecord] = []
        self._pruned = False

    def compose_body(self) -> ComposeResult:
        yield Static(Text(""), id="runs-filter", classes="muted")
        yield EntTable(COLUMNS, id="runs")

    def on_mount(self) -> None:
        self.query_one("#runs", DataTable).focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        if self.runs:
            self.action_refresh()  # a run may have ended since

    def action_refresh(self) -> None:
        self._load()

    def action_cycle_kind(self) -> None:
        self.kind = cycle(KINDS, self.kind)
        self._load()

    def action_cycle_status(self) -> None:
        self.status = cycle(FINAL_STATUSES, self.status)
        self._load()

    def _filter_line(self) -> Text:
        kind = kind_label(self.kind) if self.kind else "tous"
        status = self.status or "tous"
        return Text(f"Type : {kind} · Statut : {status} · {plural(len(self.runs), 'traitement')}")

    @work(exclusive=True, group="alimentation:list", exit_on_error=False)
    async def _load(self) -> None:
        services = self.ent_app.services
        if not self._pruned:
            self._pruned = True
            await prune_old_runs(services)
        runs = await list_reports(services, kind=self.kind, status=self.status, limit=MAX_RUNS)
        self.runs = runs
        table = self.query_one("#runs", EntTable)
        cursor = table.cursor_row
        table.clear()
        for r in runs:
            table.add_row(
                Text(format_moment(r.started_at)),
                status_text(r.status),
                Text(kind_label(r.kind)),
                Text(counts_summary(r.counts)),
                Text(format_duration(r.duration)),
                Text(r.user),
                key=str(r.id),
            )
        table.refit_later()
        if runs:
            table.move_cursor(row=min(max(cursor, 0), len(runs) - 1))
        line = self._filter_line()
        if not runs:
            line.append("\nAucun traitement enregistré pour ce filtre.")
        self.query_one("#runs-filter", Static).update(line)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        row = self.query_one("#runs", DataTable).cursor_row
        if 0 <= row < len(self.runs):
            self._open(self.runs[row].id)

    @work(exclusive=True, group="alimentation:open", exit_on_error=False)
    async def _open(self, run_id: int) -> None:
        detail = await run_detail(self.ent_app.services, run_id)
        if detail is None:
            self.notify(f"Le traitement n° {run_id} n'existe plus.", severity="warning", markup=False)
            return
        self.app.push_screen(RunDetailScreen(detail, self.trail()))

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        if group == "alimentation:list":
            self.query_one("#runs-filter", Static).update(
                Text("Lecture impossible (voir le message) : r pour réessayer.")
            )
        return None


class RunDetailScreen(DetailScreen):
    """One run: header, counts per entity, the trace (search with /, errors with e, t full screen)."""

    HELP = (
        "Le rapport d'un traitement : statut, options, comptes par entité et trace.\n"
        "Dans la trace : / cherche (n : ligne suivante qui contient le texte), e va à l'erreur suivante, "
        "début / fin ; t montre la trace en plein écran (les lignes longues passent à la ligne). "
        "x exporte le rapport dans un fichier."
    )
    BINDINGS = [
        Binding("t", "full_trace", "Trace plein écran", id="run.trace", tooltip="La trace en plein écran"),
        Binding("x", "export", "Exporter", id="run.export", tooltip="Exporter le rapport dans un fichier"),
    ]

    def __init__(self, detail: RunDetail, trail: tuple[str, ...] = ("Annuaire", "Administration")) -> None:
        super().__init__(trail, classes="run-detail")
        self.detail = detail
        self.buffer = trace_buffer(detail)

    def crumb(self) -> str:
        return f"Traitement n° {self.detail.run.id}"

    def compose_body(self) -> ComposeResult:
        r = self.detail.run
        head = Text()
        head.append(f"{kind_label(r.kind)} · ", style="bold")
        head.append(f"{r.status}", style=STATUS_STYLES.get(r.status, ""))
        head.append(f" · {format_moment(r.started_at)} · durée {format_duration(r.duration)} · par {r.user}")
        head.append(f"\nOptions : {options_text(r.options)}")
        for entity, line in counts_lines(r.counts):
            head.append("\n")
            if entity:
                head.append(f"{entity} : ", style="bold")
            head.append(line)
        per_school = school_lines(r.counts)
        if per_school:
            head.append("\nPar établissement :", style="bold")
            for line in per_school[:SCHOOL_LINES]:
                head.append(f"\n  {line}")
            if len(per_school) > SCHOOL_LINES:
                more = plural(len(per_school) - SCHOOL_LINES, "autre établissement", "autres établissements")
                head.append(f"\n  … et {more} : x exporte le rapport complet")
        if r.summary:
            head.append(f"\n{r.summary}", style="italic")
        yield Prose(head, id="run-header")
        yield TracePane(self.buffer, id="trace")

    def on_mount(self) -> None:
        pane = self.query_one(TracePane)
        pane.view.follow = False
        pane.view.focus()
        if self.detail.run.trace_dropped:
            self.buffer.dropped = self.detail.run.trace_dropped
            pane.refresh_status()

    def action_full_trace(self) -> None:
        view = self.query_one(TracePane).view
        screen = TraceScreen(self.buffer, self.trail(), title="Trace")
        self.app.push_screen(screen)
        screen.call_after_refresh(lambda: screen.query_one(TracePane).view.go(view.cursor))

    def action_export(self) -> None:
        self._export()

    @work(group="alimentation:export", exit_on_error=False)
    async def _export(self) -> None:
        run = self.detail.run
        services = self.ent_app.services

        async def write(text: str, overwrite: bool) -> None:
            await export_run_report(services, run.id, text, overwrite=overwrite)

        if await export_flow(
            self,
            f"Exporter le rapport n° {run.id}",
            default_export_name(f"rapport-{run.kind}-{run.id}", self, "txt"),
            write,
        ):
            self.notify(f"Rapport n° {run.id} exporté (0600).", markup=False)
