"""Moodle > Synchroniser les données de moodle: entities, processing options, launch, trace, summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, ProgressBar, Static
from textual.worker import Worker

from enttui.domain import ldapfilter as lf
from enttui.domain.sync import ENTITY_LABELS, Counts, SyncOptions
from enttui.domain.sync_report import PHASE_DONE, entity_line, number, total_errors
from enttui.domain.sync_schools import SchoolCounts
from enttui.jobs.events import Event, Phase, Progress, Trace
from enttui.ui.quitting import wait_worker
from enttui.ui.screens.base import PageScreen
from enttui.ui.screens.trace import TraceScreen
from enttui.ui.widgets.fields import Case
from enttui.ui.widgets.footer import KeyFooter
from enttui.ui.widgets.modals import ConfirmModal, InfoModal
from enttui.ui.widgets.prose import Prose
from enttui.ui.widgets.trace import TraceBuffer, TraceEntry, TracePane

if TYPE_CHECKING:
    from enttui.jobs.sync import SyncResult
    from enttui.services.directory import Directory

OPTION_LABELS: dict[str, str] = {
    "force": "Forcer la mise à jour de toutes les entrées (y compris celles non modifiées dans la période de référence)",  # noqa: E501
    "update_only": "Uniquement rafraîchir les enregistrements existants. Ne pas en créer de nouveaux.",
    "simulate": "Mode simulation",
    "verbose": "Plus de sorties de trace",
    "no_cohort_lock": "Désactiver le verrou de cohortes automatiques",
}
TRACE_MAX_LINES = 2000
SCHOOL_ROWS = 300  # rows of the Bilan per school on screen (the report and --json hold every school)
# The Bilan per school: (header, [(entity, count key)…]) per column; a column of zeros is left out.
SCHOOL_COLUMNS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Créés", (("users", "created"),)),
    ("Modifiés", (("users", "updated"),)),
    ("Réactivés", (("users", "revived"),)),
    ("Suspendus", (("users", "suspended"),)),
    ("Cohortes", (("cohorts", "created"), ("cohorts", "updated"), ("cohorts", "removed"))),
    ("Erreurs", (("users", "errors"), ("cohorts", "errors"))),
)


def school_table(schools: SchoolCounts, limit: int = SCHOOL_ROWS) -> Table | None:
    """The Bilan per school: one row per school with something done (by UAI, "sans établissement"
    last), the accounts created / modified / revived / suspended, the cohorts changed and the errors;
    the columns that are all zero are left out. None when nothing was counted."""
    uais = schools.schools()
    if not uais:
        return None

    def value(uai: str, parts: tuple[tuple[str, str], ...]) -> int:
        return sum(schools.get(uai, entity, key) for entity, key in parts)

    columns = [(title, parts) for title, parts in SCHOOL_COLUMNS if any(value(u, parts) for u in uais)]
    table = Table(box=None, padding=(0, 1, 0, 0), expand=True, show_edge=False, header_style="bold")
    table.add_column("UAI", no_wrap=True)
    table.add_column("Établissement", no_wrap=True, overflow="ellipsis", ratio=1)
    for title, _parts in columns:
        table.add_column(title, justify="right", no_wrap=True)
    for uai in uais[:limit]:
        errors = value(uai, SCHOOL_COLUMNS[-1][1])
        name = schools.names.get(uai, "") if uai else "sans établissement"
        table.add_row(
            Text(uai or "—"),
            Text(name),
            *(Text(number(value(uai, parts))) for _title, parts in columns),
            style="red" if errors else "",
        )
    return table


def headline_with_hint(headline: str, errors: int) -> str:
    """The run's headline ("Synchronisation terminée avec 8 erreurs"), and the key that shows them."""
    return f"{headline}. Touche e : les voir." if errors else f"{headline}."


class LoginSuggester(Suggester):
    """Completes a login from the directory (périmètre), one small read per prefix."""

    def __init__(self, directory: Directory) -> None:
        super().__init__(use_cache=True, case_sensitive=False)
        self.directory = directory

    async def get_suggestion(self, value: str) -> str | None:
        if len(value) < 2:
            return None
        try:
            async for page in self.directory.iter_people(
                lf.startswith("ENTPersonLogin", value), attributes=["ENTPersonLogin", "objectClass"]
            ):
                logins = sorted(p.login.lower() for p in page if p.login)
                return logins[0] if logins else None
        except Exception:  # noqa: BLE001 - a suggestion never breaks typing
            return None
        return None


class LoginModal(ModalScreen[str | None]):
    """Synchroniser un utilisateur unique: the login (completion from the directory)."""

    BINDINGS = [Binding("escape", "cancel", "Annuler", id="sync.login.cancel", tooltip="Fermer sans rien lancer")]

    def __init__(self, directory: Directory) -> None:
        super().__init__(classes="confirm-modal")
        self._directory = directory

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text("Synchroniser un utilisateur unique"), classes="dialog-title")
            yield Label(Text("Identifiant (ENTPersonLogin) ; → accepte la suggestion, entrée lance"))
            yield Input(placeholder="prenom.nom", id="login", suggester=LoginSuggester(self._directory))
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#login", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if value:
            self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SettingsModal(InfoModal):
    """Retour aux réglages: the sync settings in force (read-only)."""

    BINDINGS = [Binding("escape,enter,v", "close", "Fermer", id="sync.settings.close", tooltip="Fermer les réglages")]
    DIALOG_CLASSES = "dialog help"

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__("Réglages de la synchronisation (lecture seule)", classes="help-modal")
        self._rows = rows

    def compose_dialog_body(self) -> ComposeResult:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold")
        table.add_column()
        for key, value in self._rows:
            table.add_row(Text(key), Text(value))
        yield Static(table, id="settings-table")
        yield Static(Text("Modifiez-les dans la section [sync] du fichier de configuration."), classes="muted")


class MoodleSyncScreen(PageScreen):
    PAGE_KEY = "moodle_sync"
    HELP = (
        "Synchronise Moodle depuis l'annuaire. Cochez les entités et les options (tab, espace : [X] coché, "
        "[ ] non coché), puis « l » pour lancer. « u » synchronise un utilisateur unique, « a » annule le "
        "traitement en cours (arrêt à la fin du lot), « v » montre les réglages en vigueur. Un traitement "
        "forcé qui suspendrait des comptes, et la désactivation du verrou de cohortes, demandent "
        "confirmation. Les inscriptions aux cours par cohorte suivent au prochain passage de la tâche "
        "« enrol_cohort_sync » du cron de Moodle (toutes les heures).\n"
        "La trace défile sous les barres de progression : t la montre en plein écran (recherche avec /), "
        "e va à la première erreur. Le bilan dit, par entité, ce qui a été fait, puis, par établissement "
        "(UAI et nom ; seuls ceux qui ont changé), les comptes créés, modifiés, réactivés, suspendus, les "
        "cohortes changées et les erreurs ; un compte suspendu n'est plus dans l'annuaire : il compte "
        "« sans établissement »."
    )
    BINDINGS = [
        Binding("l", "launch", "Lancer", id="sync.launch", tooltip="Lancer la synchronisation"),
        Binding("u", "single_user", "Utilisateur unique", id="sync.user", tooltip="Synchroniser un utilisateur unique"),
        Binding("a", "cancel_run", "Annuler", id="sync.cancel", tooltip="Annuler le traitement (fin du lot en cours)"),
        Binding("t", "full_trace", "Trace", id="sync.trace", tooltip="La trace en plein écran (recherche avec /)"),
        Binding("e", "errors", "Erreurs", id="sync.errors", tooltip="La trace, sur la première erreur"),
        Binding("v", "settings", "Réglages", id="sync.settings", tooltip="Retour aux réglages (lecture seule)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.running = False
        self._stop = False
        self.result: SyncResult | None = None
        self.trace = TraceBuffer(max_lines=TRACE_MAX_LINES)
        self._worker: Worker | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="sync-body"):
            yield Label(Text("Entités"), classes="section-title")
            with Horizontal(classes="sync-row"):
                yield Case("Comptes utilisateur", True, id="ent-users")
                yield Label(Text("[u] Synchroniser un utilisateur unique"), id="single-user-hint")
            yield Case("Cohortes", True, id="ent-cohorts")
            yield Case("Associations de rôles", True, id="ent-roles")
            yield Label(Text("Options de traitement"), classes="section-title")
            for key, label in OPTION_LABELS.items():
                with Horizontal(classes="option-row"):
                    yield Case("", False, id=f"opt-{key}", classes="option", tooltip=label)
                    yield Label(Text(label), classes="option-label")
            yield Label(Text("[v] Retour aux réglages"), id="settings-hint")
            yield Label(Text("Prêt. « l » pour lancer."), id="sync-status")
            for entity, label in ENTITY_LABELS.items():
                with Horizontal(classes="sync-progress"):
                    yield Label(Text(label), classes="progress-label")
                    yield ProgressBar(id=f"progress-{entity}", show_eta=False)
                    yield Label(Text(""), id=f"progress-state-{entity}", classes="progress-state")
            yield TracePane(self.trace, id="sync-trace", title="Trace")
            yield Prose("", id="sync-summary")
            yield Static(Text(""), id="sync-schools-title")
            yield Static(Text(""), id="sync-schools")

    def on_mount(self) -> None:
        self.query_one("#ent-users", Case).focus()

    # -- options -------------------------------------------------------------------------------
    def options(self, user_login: str | None = None) -> SyncOptions:
        def ticked(wid: str) -> bool:
            return self.query_one(f"#{wid}", Case).value

        return SyncOptions(
            users=ticked("ent-users") or bool(user_login),
            cohorts=ticked("ent-cohorts"),
            roles=ticked("ent-roles"),
            user_login=user_login,
            **{key: ticked(f"opt-{key}") for key in OPTION_LABELS},
        )

    # -- actions -------------------------------------------------------------------------------
    def action_launch(self) -> None:
        if self.running:
            self.notify("Une synchronisation est déjà en cours.", severity="warning", markup=False)
            return
        options = self.options()
        if not options.entities():
            self.notify("Cochez au moins une entité.", severity="warning", markup=False)
            return
        self.start(options)

    def action_single_user(self) -> None:
        if self.running:
            self.notify("Une synchronisation est déjà en cours.", severity="warning", markup=False)
            return

        def chosen(login: str | None) -> None:
            if login:
                self.start(self.options(login))

        self.app.push_screen(LoginModal(self.ent_app.services.directory), chosen)

    def action_cancel_run(self) -> None:
        if self.running:
            self._stop = True
            self.set_status("Annulation demandée : arrêt à la fin du lot en cours…")

    def action_settings(self) -> None:
        from enttui.jobs.sync import settings_view

        self.app.push_screen(SettingsModal(settings_view(self.ent_app.services).rows))

    def action_full_trace(self) -> None:
        self.app.push_screen(TraceScreen(self.trace, self.trail(), title="Trace de la synchronisation"))

    def action_errors(self) -> None:
        errors = self.trace.errors
        if not errors:
            self.notify("Aucune erreur dans la trace.", markup=False)
            return
        screen = TraceScreen(self.trace, self.trail(), title="Trace de la synchronisation")
        self.app.push_screen(screen)
        first = errors[0]
        screen.call_after_refresh(lambda: screen.query_one(TracePane).view.go(first))

    # -- quitting while it runs (ui/quitting.py) --------------------------------------------
    def running_job(self) -> str | None:
        return "la synchronisation Moodle" if self.running else None

    async def stop_job(self) -> None:
        self._stop = True
        await wait_worker(self._worker)

    # -- running -------------------------------------------------------------------------------
    def set_status(self, text: str) -> None:
        self.query_one("#sync-status", Label).update(Text(text))

    def reset_view(self) -> None:
        self.trace.clear()
        self.query_one("#sync-summary", Prose).update("")
        self._show_schools(SchoolCounts())
        for entity in ENTITY_LABELS:
            self.query_one(f"#progress-{entity}", ProgressBar).update(total=None, progress=0)
            self.query_one(f"#progress-state-{entity}", Label).update(Text(""))

    def start(self, options: SyncOptions) -> None:
        self.running = True
        self._stop = False
        self.reset_view()
        self.set_status("Simulation en cours…" if options.simulate else "Synchronisation en cours…")
        self._worker = self.run_sync(options)

    def render_event(self, event: Event) -> None:
        """Render one job event (also called by tests to freeze a running state)."""
        if isinstance(event, Trace):
            at = self.ent_app.clock().astimezone().strftime("%H:%M:%S")
            self.trace.append(TraceEntry(at, event.level, event.entity, event.text))
        elif isinstance(event, Progress):
            if event.entity in ENTITY_LABELS:
                bar = self.query_one(f"#progress-{event.entity}", ProgressBar)
                bar.update(total=event.total, progress=event.done)
        elif isinstance(event, Phase):
            self.set_status(event.label)

    async def _confirm(self, kind: str, title: str, message: str) -> bool:
        return await self.app.push_screen_wait(ConfirmModal(title, message))

    @work(exclusive=True, group="moodle_sync:run", exit_on_error=False)
    async def run_sync(self, options: SyncOptions) -> None:
        from enttui.jobs.sync import run_sync

        try:
            result = await run_sync(
                self.ent_app.services,
                options,
                self.render_event,
                should_stop=lambda: self._stop,
                confirm=self._confirm,
            )
        finally:
            self.running = False
        self.result = result
        self.show_summary(result.status, result.counts, result.phases, result.warnings, result.headline, result.schools)
        if not options.simulate:
            self.ent_app.note_change()

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        if group == "moodle_sync:run":
            self.set_status("Échec de la synchronisation (voir le message).")
        return None

    def show_summary(
        self,
        status: str,
        counts: dict[str, Counts],
        phases: dict[str, str] | None = None,
        warnings: list[str] | None = None,
        headline: str = "",
        schools: SchoolCounts | None = None,
    ) -> None:
        """The headline (with the number of errors), one line per entity, the warnings, then the
        Bilan per school (when given)."""
        phases = phases or {}
        self.set_status(headline_with_hint(headline or f"Terminé : {status}", total_errors(counts)))
        for entity in counts:
            if entity not in ENTITY_LABELS:
                continue
            phase = phases.get(entity, PHASE_DONE)
            bar = self.query_one(f"#progress-{entity}", ProgressBar)
            if phase == PHASE_DONE:
                total = bar.total or 1
                bar.update(total=total, progress=total)
            else:  # "non traité" (never reached) or "interrompu" (cancelled during the phase)
                self.query_one(f"#progress-state-{entity}", Label).update(Text(phase))
        bilan = Text()
        bilan.append("Bilan\n", style="bold underline")
        for i, (entity, c) in enumerate(counts.items()):
            if i:
                bilan.append("\n")
            bilan.append(entity_line(entity, c, phases.get(entity, PHASE_DONE)), style="red" if c.errors else "")
        for warning in warnings or []:
            bilan.append(f"\nAttention : {warning}", style="bold")
        self.query_one("#sync-summary", Prose).update(bilan)
        self._show_schools(schools or SchoolCounts())

    def _show_schools(self, schools: SchoolCounts) -> None:
        """The Bilan per school below the lines per entity (only the schools with changes)."""
        uais = schools.schools()
        table = school_table(schools)
        title = self.query_one("#sync-schools-title", Static)
        body = self.query_one("#sync-schools", Static)
        title.display = body.display = table is not None
        if table is None:
            return
        with_changes = f"{number(len(uais))} établissement{'s' if len(uais) > 1 else ''} avec des changements"
        more = len(uais) - SCHOOL_ROWS
        tail = f" ; les {number(SCHOOL_ROWS)} premiers ici, tous dans le rapport et --json" if more > 0 else ""
        title.update(Text(f"Par établissement ({with_changes}{tail})", style="bold"))
        body.update(table)
