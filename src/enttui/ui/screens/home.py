"""Accueil: the health panel an administrator opens first during an incident."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from enttui.domain.health import SystemHealth
from enttui.jobs.status import StatusReport, collect_status
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.modals import MessageModal

AUTO_REFRESH_SECONDS = 60.0

COUNT_LABELS = {
    "users": "utilisateurs",
    "suspended": "suspendus",
    "runs": "traitements enregistrés",
    "files": "fichiers des identifiants",
    "last_sync": "dernière synchronisation",
}


def format_latency(ms: float | None) -> str:
    if ms is None:
        return "—"
    if ms < 1:
        return "< 1 ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.1f} s"


def state_text(health: SystemHealth) -> Text:
    if not health.configured:
        return Text("non configuré", style="dim")
    if health.ok and health.warnings:
        return Text("OK ⚠", style="bold yellow")
    return Text("OK", style="bold green") if health.ok else Text("EN PANNE", style="bold red")


def counts_line(health: SystemHealth) -> str:
    parts = [f"{COUNT_LABELS.get(k, k)} : {v}" for k, v in health.counts.items()]
    return " · ".join(parts)


class HomeScreen(PageScreen):
    PAGE_KEY = "accueil"
    HELP = (
        "L'état de chaque système (annuaire LDAP, base Moodle, serveur SMTP, base d'état de la console) : "
        "s'il répond, en combien de temps, sa version, et les chiffres clés du périmètre.\n"
        "Entrée sur une ligne affiche le détail (pourquoi un système est en panne, avertissements).\n"
        "La même vérification existe en ligne de commande : enttui status [--json]."
    )
    BINDINGS = [
        Binding("r", "refresh", "Actualiser", id="home.refresh", tooltip="Vérifier à nouveau tous les systèmes"),
        Binding("enter", "details", "Détail", id="home.details", tooltip="Détail du système sélectionné", show=True),
    ]

    def __init__(self) -> None:
        super().__init__(name="accueil")
        self._report: StatusReport | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Vérification des systèmes…"), id="checked-at", classes="muted")
        table: DataTable[Text] = DataTable(id="health", cursor_type="row", zebra_stripes=False)
        table.add_columns("Système", "État", "Latence", "Version")
        yield table
        yield Static(Text(""), id="key-figures", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#health", DataTable).focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        self.query_one("#checked-at", Static).update(Text("Vérification des systèmes…"))
        self._check()

    @work(exclusive=True, group="accueil:status", exit_on_error=False)
    async def _check(self) -> None:
        report = await collect_status(self.ent_app.services, timer=self.ent_app.timer)
        self._show(report)
        self.set_timer(AUTO_REFRESH_SECONDS, self._auto_refresh)

    def _auto_refresh(self) -> None:
        if self.is_current:
            self._check()

    def _show(self, report: StatusReport) -> None:
        self._report = report
        table = self.query_one("#health", DataTable)
        cursor = table.cursor_row
        table.clear()
        for h in report.systems:
            table.add_row(
                Text(h.name),
                state_text(h),
                Text(format_latency(h.latency_ms) if h.configured else "—"),
                Text(h.version or ("—" if h.ok else h.message)),
                key=h.key,
            )
        if report.systems:
            table.move_cursor(row=min(cursor, len(report.systems) - 1))
        summary = "Tous les systèmes répondent." if report.ok else "Au moins un système ne répond pas."
        self.query_one("#checked-at", Static).update(Text(f"Vérifié le {report.checked_at}. {summary}"))
        self.query_one("#key-figures", Static).update(self._figures(report))

    def _figures(self, report: StatusReport) -> Text:
        out = Text()
        out.append("Chiffres clés du périmètre\n", style="bold")
        if report.people:
            out.append(" · ".join(f"{label} : {n}" for label, n in report.people.items()))
            out.append(f"  (total {sum(report.people.values())})\n")
        else:
            out.append(f"Personnes : indisponible ({report.people_error})\n")
        for h in report.systems:
            if h.configured and h.counts:
                out.append(f"{h.name} : ", style="bold")
                out.append(counts_line(h) + "\n")
        for h in report.systems:
            for warning in h.warnings:
                out.append(f"⚠ {h.name} : {warning}\n", style="yellow")
            if h.configured and not h.ok:
                out.append(f"✖ {h.name} : {h.message}\n", style="red")
        return out

    def action_details(self) -> None:
        if self._report is None:
            return
        table = self.query_one("#health", DataTable)
        if not 0 <= table.cursor_row < len(self._report.systems):
            return
        h = self._report.systems[table.cursor_row]
        lines = [
            f"État : {'répond' if h.ok else ('non configuré' if not h.configured else 'ne répond pas')}",
            f"Adresse : {h.endpoint or '—'}",
            f"Version : {h.version or '—'}",
            f"Latence : {format_latency(h.latency_ms)}",
        ]
        if h.message:
            lines.append(f"Message : {h.message}")
        if h.counts:
            lines.append(f"Chiffres : {counts_line(h)}")
        lines.extend(f"Avertissement : {w}" for w in h.warnings)
        self.app.push_screen(MessageModal(h.name, "\n".join(lines)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()
