"""Rapports d'alimentation: every run the console recorded, newest first; a run's detail and trace."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from enttui.errors import EnttuiError
from enttui.jobs.reports import (
    KINDS,
    LEVEL_LABELS,
    STATUSES,
    RunDetail,
    count_rows,
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
)
from enttui.services.state import RunRecord
from enttui.ui.screens.base import PageScreen
from enttui.ui.screens.coherence import ask_and_write, default_export_name

STATUS_STYLES = {
    "réussi": "green",
    "avec erreurs": "bold red",
    "interrompu": "yellow",
    "simulé": "cyan",
    "en cours": "bold",
}
LEVEL_STYLES = {"error": "bold red", "warning": "yellow", "change": "cyan", "detail": "dim"}
FINAL_STATUSES = tuple(s for s in STATUSES if s != "en cours")
MAX_RUNS = 500


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


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
        table: DataTable[Text] = DataTable(id="runs", cursor_type="row")
        table.add_column("Date", key="date", width=16)
        table.add_column("Statut", key="status")
        table.add_column("Type", key="kind")
        table.add_column("Durée", key="duration")
        table.add_column("Par", key="user")
        table.add_column("Comptes", key="counts")
        yield table

    def on_mount(self) -> None:
        self.query_one("#runs", DataTable).focus()
        self.action_refresh()

    def on_screen_resume(self) -> None:
        if self.runs:
            self.action_refresh()

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
        return Text(f"Type : {kind} · Statut : {status} · {len(self.runs)} traitement(s)")

    @work(exclusive=True, group="alimentation:list", exit_on_error=False)
    async def _load(self) -> None:
        services = self.ent_app.services
        try:
            if not self._pruned:
                self._pruned = True
                await prune_old_runs(services)
            runs = await list_reports(services, kind=self.kind, status=self.status, limit=MAX_RUNS)
        except EnttuiError as exc:
            self.ent_app.report_error(exc)
            return
        self.runs = runs
        table = self.query_one("#runs", DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in runs:
            table.add_row(
                Text(format_moment(r.started_at)),
                status_text(r.status),
                Text(kind_label(r.kind)),
                Text(format_duration(r.duration)),
                Text(r.user),
                Text(counts_summary(r.counts)),
                key=str(r.id),
            )
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
        try:
            detail = await run_detail(self.ent_app.services, run_id)
        except EnttuiError as exc:
            self.ent_app.report_error(exc)
            return
        if detail is None:
            self.notify(f"Le traitement n° {run_id} n'existe plus.", severity="warning", markup=False)
            return
        self.app.push_screen(RunDetailScreen(detail))


class RunDetailScreen(Screen):
    """One run: header, counts per entity, the full trace (search with /, errors with e)."""

    HELP = (
        "Le rapport d'un traitement : options, comptes par entité et trace complète.\n"
        "/ cherche dans la trace (n : occurrence suivante), e va à l'erreur suivante, x exporte le rapport."
    )
    BINDINGS = [
        Binding("escape", "back", "Retour", id="run.back", tooltip="Revenir à la liste des traitements"),
        Binding("slash", "search", "Chercher", id="run.search", tooltip="Chercher dans la trace"),
        Binding("n", "next_match", "Suivant", id="run.next", tooltip="Occurrence suivante de la recherche"),
        Binding("e", "next_error", "Erreur suiv.", id="run.error", tooltip="Aller à l'erreur suivante"),
        Binding("x", "export", "Exporter", id="run.export", tooltip="Exporter le rapport dans un fichier"),
    ]

    def __init__(self, detail: RunDetail) -> None:
        super().__init__(classes="run-detail")
        self.detail = detail
        self.needle = ""

    def compose(self) -> ComposeResult:
        r = self.detail.run
        yield Label(Text(f"Rapports d'alimentation > n° {r.id} : {kind_label(r.kind)}"), id="breadcrumb")
        head = Text()
        head.append(f"{r.status}", style=STATUS_STYLES.get(r.status, ""))
        head.append(f" · {format_moment(r.started_at)} · durée {format_duration(r.duration)} · par {r.user}")
        head.append(f"\nOptions : {options_text(r.options)}")
        if r.summary:
            head.append(f"\n{r.summary}")
        yield Static(head, id="run-header")
        counts: DataTable[Text] = DataTable(id="run-counts", cursor_type="none", show_cursor=False)
        counts.add_column("Entité", key="entity")
        counts.add_column("Compte", key="what")
        counts.add_column("Valeur", key="value")
        for entity, what, value in count_rows(r.counts):
            counts.add_row(Text(entity or "—"), Text(what), Text(value))
        yield counts
        errors = len(self.detail.error_lines)
        note = f"Trace : {len(self.detail.trace)} ligne(s), {errors} erreur(s)"
        if r.trace_dropped:
            note += f", {r.trace_dropped} non conservée(s)"
        yield Static(Text(note), id="trace-note", classes="muted")
        trace: DataTable[Text] = DataTable(id="trace", cursor_type="row")
        trace.add_column("Heure", key="at", width=8)
        trace.add_column("Niveau", key="level", width=7)
        trace.add_column("Entité", key="entity")
        trace.add_column("Texte", key="text")
        for t in self.detail.trace:
            trace.add_row(
                Text(t.at.astimezone().strftime("%H:%M:%S")),
                Text(LEVEL_LABELS.get(t.level, t.level), style=LEVEL_STYLES.get(t.level, "")),
                Text(t.entity),
                Text(t.text, style="red" if t.level == "error" else ""),
                key=str(t.seq),
            )
        yield trace
        with Horizontal(id="trace-search-bar"):
            yield Label(Text("Chercher : "))
            yield Input(id="trace-search", placeholder="texte à chercher dans la trace")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#trace-search-bar").display = False
        self.query_one("#trace", DataTable).focus()

    def action_back(self) -> None:
        bar = self.query_one("#trace-search-bar")
        if bar.display:
            bar.display = False
            self.query_one("#trace", DataTable).focus()
            return
        self.app.pop_screen()

    def action_search(self) -> None:
        self.query_one("#trace-search-bar").display = True
        self.query_one("#trace-search", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.needle = event.value.strip().casefold()
        self.query_one("#trace-search-bar").display = False
        self.query_one("#trace", DataTable).focus()
        self._jump(self._matches, f"Aucune ligne ne contient « {event.value.strip()} ».", include_current=True)

    def _matches(self, index: int) -> bool:
        t = self.detail.trace[index]
        return bool(self.needle) and (self.needle in t.text.casefold() or self.needle in t.entity.casefold())

    def _jump(self, test: Callable[[int], bool], missing: str, *, include_current: bool = False) -> None:
        table = self.query_one("#trace", DataTable)
        n = len(self.detail.trace)
        if n == 0:
            self.notify(missing, markup=False)
            return
        start = table.cursor_row if include_current else table.cursor_row + 1
        for k in range(n):
            i = (start + k) % n
            if test(i):
                table.move_cursor(row=i)
                return
        self.notify(missing, markup=False)

    def action_next_match(self) -> None:
        if not self.needle:
            self.action_search()
            return
        self._jump(self._matches, "Aucune autre ligne trouvée.")

    def action_next_error(self) -> None:
        errors = set(self.detail.error_lines)
        self._jump(lambda i: i in errors, "Aucune erreur dans cette trace.")

    def action_export(self) -> None:
        self._export()

    @work(group="alimentation:export", exit_on_error=False)
    async def _export(self) -> None:
        run = self.detail.run
        services = self.app.services  # type: ignore[attr-defined]
        await ask_and_write(
            self,
            f"Exporter le rapport n° {run.id}",
            default_export_name(f"rapport-{run.kind}-{run.id}", self, "txt"),
            lambda path, overwrite: export_run_report(services, run.id, path, overwrite=overwrite),
        )
