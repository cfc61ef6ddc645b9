"""Accueil: the health panel an administrator opens first during an incident."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import DataTable, Static

from enttui.domain.french import NBSP
from enttui.domain.health import SystemHealth
from enttui.jobs.status import StatusReport, collect_status
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.modals import MessageModal
from enttui.ui.widgets.prose import Prose
from enttui.ui.widgets.tables import Col, EntTable

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


def pair(label: str, value: object) -> str:
    """ "label : value" that never breaks across two lines."""
    return f"{label}{NBSP}:{NBSP}{value}".replace(" ", NBSP)


def counts_line(health: SystemHealth) -> str:
    return " · ".join(pair(COUNT_LABELS.get(k, k), v) for k, v in health.counts.items())


def checked_age(checked: datetime, now: datetime) -> str:
    """ "vérifié à l'instant", "vérifié il y a 3 min", "vérifié il y a 2 h"."""
    minutes = max(0, int((now - checked).total_seconds() // 60))
    if minutes < 1:
        return "vérifié à l'instant"
    if minutes < 120:
        return f"vérifié il y a {minutes} min"
    return f"vérifié il y a {minutes // 60} h"


COLUMNS = (Col("Système", 15), Col("État", 9), Col("Latence", 7), Col("Version", 10))


class HomeScreen(PageScreen):
    PAGE_KEY = "accueil"
    HELP = (
        "L'état de chaque système (annuaire LDAP, base Moodle, serveur SMTP, base d'état de la console) : "
        "s'il répond, en combien de temps, sa version, et les chiffres clés du périmètre. La vérification "
        "se refait toute seule chaque minute tant que l'accueil est affiché (et en y revenant) ; la ligne du "
        "haut dit de quand elle date.\n"
        "Entrée sur une ligne affiche le détail (pourquoi un système est en panne, avertissements).\n"
        "La même vérification existe en ligne de commande : enttui status [--json]."
    )
    BINDINGS = [
        Binding("r", "refresh", "Actualiser", id="home.refresh", tooltip="Vérifier à nouveau tous les systèmes"),
        Binding("enter", "details", "Détail", id="home.details", tooltip="Détail du système sélectionné"),
    ]
    SHOWN_BEFORE_SERVICES = True  # the first screen: "Vérification des systèmes…" until they are open
    # Class attributes: tests shorten them (the clock itself comes from the services).
    REFRESH_SECONDS = 60.0
    AGE_TICK_SECONDS = 15.0

    def __init__(self) -> None:
        super().__init__(name="accueil")
        self._report: StatusReport | None = None
        self.checked: datetime | None = None
        self.checks = 0  # completed checks (tests wait on it)
        self._next_check: Timer | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Vérification des systèmes…"), id="checked-at", classes="muted")
        yield EntTable(COLUMNS, id="health")
        yield Prose("", id="key-figures", classes="panel")

    def on_mount(self) -> None:
        self.query_one("#health", DataTable).focus()
        self.set_interval(self.AGE_TICK_SECONDS, self._show_age)
        self.action_refresh()

    def on_screen_resume(self) -> None:
        # Back on the Accueil after a while: check again at once if the last check is old.
        if self.checked is not None and (self.ent_app.clock() - self.checked).total_seconds() >= self.REFRESH_SECONDS:
            self.action_refresh()

    def refresh_data(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        if self._next_check is not None:
            self._next_check.stop()
            self._next_check = None
        if self.checked is None:
            self.query_one("#checked-at", Static).update(Text("Vérification des systèmes…"))
        self._check()

    @work(exclusive=True, group="accueil:status", exit_on_error=False)
    async def _check(self) -> None:
        try:
            services = await self.ent_app.opened()
            report = await collect_status(services, timer=self.ent_app.timer)
            self.checked = self.ent_app.clock()
            self.checks += 1
            self._show(report)
        finally:
            # The next check is planned after this one ends (never two at once), and only runs
            # while the Accueil is shown.
            self._next_check = self.set_timer(self.REFRESH_SECONDS, self._periodic_check)

    def _periodic_check(self) -> None:
        self._next_check = None
        if self.is_current:
            self._check()

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        self.query_one("#checked-at", Static).update(
            Text("La vérification a échoué (voir le message) : r pour réessayer.")
        )
        return None

    def _age_text(self, report: StatusReport) -> Text:
        assert self.checked is not None
        age = checked_age(self.checked, self.ent_app.clock())
        summary = "Tous les systèmes répondent." if report.ok else "Au moins un système ne répond pas."
        when = self.checked.astimezone().strftime("%d/%m/%Y à %H:%M:%S")
        return Text(f"{age[0].upper()}{age[1:]} ({when}). {summary}", style="" if report.ok else "bold red")

    def _show_age(self) -> None:
        if self._report is not None and self.checked is not None:
            self.query_one("#checked-at", Static).update(self._age_text(self._report))

    def _show(self, report: StatusReport) -> None:
        self._report = report
        table = self.query_one("#health", EntTable)
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
        table.refit_later()
        if report.systems:
            table.move_cursor(row=min(max(cursor, 0), len(report.systems) - 1))
        self._show_age()
        self.query_one("#key-figures", Prose).update(self._figures(report))

    def _figures(self, report: StatusReport) -> Text:
        out = Text()
        out.append("Chiffres clés du périmètre\n", style="bold")
        if report.people:
            out.append(" · ".join(pair(label, n) for label, n in report.people.items()))
            out.append(f" (total{NBSP}{sum(report.people.values())})\n")
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
        out.rstrip()
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
