"""Annuaire > Groupes: the classes and groups of the périmètre, with members by profile.

Enter on a group lists its members (sorted by name, dangling members shown as such) in the people
table of Utilisateurs (paged); enter on a member opens the person; escape goes back, cursor kept.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from enttui.domain.french import plural
from enttui.domain.people import Target
from enttui.services.annuaire import Annuaire, GroupSummary
from enttui.ui.screens.base import DetailScreen, PageScreen
from enttui.ui.widgets.people_table import PeoplePanel
from enttui.ui.widgets.tables import Col, EntTable

COLUMNS = (
    Col("Nom", 8, max=10),
    Col("Type", 12),
    Col("Élèves", 6, justify="right"),
    Col("Parents", 7, justify="right"),
    Col("Ens.", 4, justify="right"),
    Col("Non ens.", 8, justify="right"),
    Col("Autres", 6, justify="right"),
    Col("Total", 7, justify="right"),
)
# "Classe (élèves)": a class found only on students (no class entry); short, the table fits 80 columns.
KIND_SHORT = {"Classe (élèves)": "Classe (él.)"}


def group_row(g: GroupSummary) -> list[Text]:
    if not g.counted:  # first pass: the members' profiles are being read
        counts = [Text("…", justify="right", style="dim") for _t in Target]
    else:
        counts = [Text(str(g.counts.get(t, 0)), justify="right") for t in Target]
    total = f"{g.total}" + (f" ({g.unknown} ?)" if g.unknown else "")
    return [Text(g.name), Text(KIND_SHORT.get(g.kind_label, g.kind_label)), *counts, Text(total, justify="right")]


class GroupesScreen(PageScreen):
    PAGE_KEY = "groupes"
    HELP = (
        "Les classes (ENTClasse), les groupes (ENTGroupe) et les classes trouvées sur les élèves sans "
        "entrée de classe (« Classe (él.) »), avec le nombre de membres par profil. « ? » : membres qui "
        "ne sont pas des personnes du périmètre (entrée absente ou hors périmètre).\n"
        "Entrée liste les membres (par ordre alphabétique) ; r relit l'annuaire."
    )
    BINDINGS = [
        Binding("r", "refresh", "Actualiser", id="groupes.refresh", tooltip="Relire les groupes dans l'annuaire"),
    ]

    def __init__(self) -> None:
        super().__init__(name="groupes")
        self.groups: list[GroupSummary] = []

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Lecture des groupes…"), id="groups-status", classes="muted")
        yield EntTable(COLUMNS, id="groups", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#groups", DataTable).focus()
        self._load()

    def action_refresh(self) -> None:
        self._load()

    def refresh_data(self) -> None:
        self._load()

    @work(exclusive=True, group="groupes:load", exit_on_error=False)
    async def _load(self) -> None:
        """Two passes: the groups at once (one search), then the counts by profile (the members'
        profiles are read: a few seconds on a big directory)."""
        status = self.query_one("#groups-status", Static)
        status.update(Text("Lecture des groupes…"))
        annuaire = Annuaire.from_services(self.ent_app.services)
        self._show(await annuaire.group_list())
        status.update(Text(f"{self._tally()} Comptage des membres par profil…"))
        self._show(await annuaire.groups())
        status.update(Text(f"{self._tally()} Entrée : les membres."))

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        self.query_one("#groups-status", Static).update(
            Text("Lecture impossible (voir le message) : r pour réessayer.")
        )
        return None

    def _tally(self) -> str:
        classes = sum(1 for g in self.groups if g.kind == "classe")
        return f"{plural(classes, 'classe')}, {plural(len(self.groups) - classes, 'groupe')}."

    def _show(self, groups: list[GroupSummary]) -> None:
        table = self.query_one("#groups", EntTable)
        # The cursor stays on its group (a refresh, the counts arriving), but on the top row it stays
        # on top: the counts may bring classes found only on students before it.
        selected = self.groups[table.cursor_row].key if 0 < table.cursor_row < len(self.groups) else None
        self.groups = groups
        with self.app.batch_update():
            table.clear()
            for g in groups:
                table.add_row(*group_row(g), key=g.key)
        table.refit_later()
        keys = [g.key for g in groups]
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = event.cursor_row
        if 0 <= row < len(self.groups):
            self.app.push_screen(GroupMembersScreen(self.groups[row], self.trail()))


class GroupMembersScreen(DetailScreen):
    """The members of one group, sorted by name, in the shared people table."""

    HELP = (
        "Les membres du groupe, par ordre alphabétique, page par page. Un membre dont l'entrée n'existe "
        "plus dans l'annuaire est montré comme tel (« entrée absente », avec son DN).\n"
        "Entrée ouvre la fiche ; n / pg.suiv page suivante, b / pg.préc page précédente (chaque appui "
        "compte) ; début / fin : première / dernière ligne."
    )
    BINDINGS = [
        Binding("n", "page(1)", "Page suiv.", id="members.next", tooltip="Page suivante (aussi pg.suiv)"),
        Binding("b", "page(-1)", "Page préc.", id="members.previous", tooltip="Page précédente (aussi pg.préc)"),
        Binding("pagedown", "page(1)", "Page suivante", show=False, priority=True),
        Binding("pageup", "page(-1)", "Page précédente", show=False, priority=True),
    ]

    def __init__(self, group: GroupSummary, trail: tuple[str, ...] = ("Annuaire", "Groupes")) -> None:
        super().__init__(trail, classes="members-screen")
        self.group = group

    def crumb(self) -> str:
        return self.group.name

    def compose_body(self) -> ComposeResult:
        g = self.group
        title = f"{g.kind_label} {g.name}" + (f" — {g.description}" if g.description else "")
        yield Static(Text(title, style="bold"), id="members-title", classes="page-title")
        yield PeoplePanel(id="members")

    @property
    def panel(self) -> PeoplePanel:
        return self.query_one("#members", PeoplePanel)

    def on_mount(self) -> None:
        self.panel.table.focus()
        self._load()

    def refresh_data(self) -> None:
        self._load()

    @work(exclusive=True, group="members:load", exit_on_error=False)
    async def _load(self) -> None:
        await self.panel.load(Annuaire.from_services(self.ent_app.services).members(self.group))

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        self.panel.set_status("Lecture impossible (voir le message).")
        return None

    def action_page(self, step: int) -> None:
        self.panel.page_key(step)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        person = self.panel.table.current_person
        if person is not None:
            self.ent_app.open_person(person.dn)
