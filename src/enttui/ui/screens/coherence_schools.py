"""Rapports de cohérence › Par établissement: the findings of each school (UAI), the most blocked first.

One row per school with findings (and "sans établissement" for entries of no known school), with
its counts per severity; below the table, the counts per check of the highlighted school. Enter
chooses the school whose findings the report then shows (the first row, "Tous les établissements",
shows them all again); escape goes back without changing anything.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from enttui.domain.coherence_checks import SchoolSummary
from enttui.domain.french import plural
from enttui.jobs.coherence import CoherenceReport
from enttui.ui.screens.base import DetailScreen
from enttui.ui.widgets.prose import Prose
from enttui.ui.widgets.tables import Col, EntTable

ALL = "*"  # the row key of "Tous les établissements"
SCHOOL_COLUMNS = (
    Col("UAI", 8),
    Col("Bloq.", 5, justify="right"),
    Col("À corr.", 7, justify="right"),
    Col("Info.", 5, justify="right"),
    Col("Établissement", 12, extra=True),
)


def _count(n: int, style: str = "") -> Text:
    return Text(str(n), style=style if n else "dim", justify="right")


class SchoolsScreen(DetailScreen):
    """The per-school summary of a coherence report; dismissed with the chosen UAI (None: all)."""

    TITLE_LABEL = "Par établissement"
    HELP = (
        "Le bilan du rapport de cohérence par établissement (UAI) : le nombre de constats bloquants, à "
        "corriger et d'information de chacun, les établissements les plus bloqués d'abord ; sous la liste, "
        "le détail par contrôle de l'établissement sélectionné. « sans établissement » regroupe les entrées "
        "dont l'établissement est inconnu (rattachement introuvable, comptes Moodle absents de l'annuaire).\n"
        "Entrée (ou f) : ne plus voir que les constats de cet établissement dans le rapport ; la première "
        "ligne les montre tous. Échap revient sans rien changer."
    )
    BINDINGS = [
        Binding(
            "f",
            "choose",
            "Filtrer",
            id="schools.filter",
            tooltip="Ne montrer que les constats de cet établissement (ou entrée)",
        ),
    ]

    def __init__(
        self,
        report: CoherenceReport,
        current: str | None = None,
        trail: tuple[str, ...] = ("Annuaire", "Administration"),
    ) -> None:
        super().__init__(trail, classes="schools-screen")
        self.report = report
        self.current = current
        self.summaries: list[SchoolSummary] = report.by_school()

    def compose_body(self) -> ComposeResult:
        n = len([s for s in self.summaries if s.uai])
        head = f"{plural(n, 'établissement')} avec des constats, les plus bloqués d'abord"
        if any(not s.uai for s in self.summaries):
            head += " ; et les entrées sans établissement"
        yield Static(Text(head + "."), id="schools-count", classes="muted")
        table = EntTable(SCHOOL_COLUMNS, id="schools")
        checks = self.report.checks
        table.add_row(
            Text("Tous", style="bold"),
            _count(sum(c.count for c in checks if c.severity == "bloquant"), "bold red"),
            _count(sum(c.count for c in checks if c.severity == "à corriger"), "yellow"),
            _count(sum(c.count for c in checks if c.severity == "information")),
            Text("Tous les établissements"),
            key=ALL,
        )
        for s in self.summaries:
            table.add_row(
                Text(s.uai or "—"),
                _count(s.blocking, "bold red"),
                _count(s.to_fix, "yellow"),
                _count(s.information),
                Text(self.report.schools.get(s.uai, "") if s.uai else s.label),
                key=s.uai or "-",
            )
        yield table
        yield Prose("", id="school-detail")

    def on_mount(self) -> None:
        table = self.query_one("#schools", EntTable)
        table.focus()
        table.refit_later()
        if self.current is not None:
            rows = [s.uai for s in self.summaries]
            if self.current in rows:
                table.move_cursor(row=rows.index(self.current) + 1)
        self._detail()

    def _selected(self) -> SchoolSummary | None:
        """The highlighted school (None: the "Tous" row)."""
        row = self.query_one("#schools", DataTable).cursor_row
        return self.summaries[row - 1] if 1 <= row <= len(self.summaries) else None

    def _detail(self) -> None:
        s = self._selected()
        text = Text()
        if s is None:
            text.append(f"{plural(self.report.total_findings, 'constat')} en tout. ")
            text.append("Entrée : les montrer tous.", style="italic")
        else:
            text.append(f"{self.report.school_label(s.uai)} : ", style="bold")
            parts = [f"{c.title} {s.counts[c.id]}" for c in self.report.checks if s.counts.get(c.id)]
            text.append(" · ".join(parts) + ".")
        self.query_one("#school-detail", Prose).update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        s = self._selected()
        self.dismiss(None if s is None else s.uai)
