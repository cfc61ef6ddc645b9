"""Annuaire > Groupes: the classes and groups of the périmètre, with members by profile.

Enter on a group lists its members in the people table of Utilisateurs (paged); enter on a member
opens the person; escape goes back, cursor kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from enttui.domain.people import Target
from enttui.errors import EnttuiError
from enttui.services.annuaire import Annuaire, GroupSummary
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.people_table import PeoplePanel

if TYPE_CHECKING:
    from enttui.ui.app import EntApp

COLUMNS = ("Nom", "Type", "Élèves", "Parents", "Ens.", "Non ens.", "Autres", "Total")


def group_row(g: GroupSummary) -> list[Text]:
    if not g.counted:  # first pass: the members' profiles are being read
        counts = [Text("…", justify="right", style="dim") for _t in Target]
    else:
        counts = [Text(str(g.counts.get(t, 0)), justify="right") for t in Target]
    total = f"{g.total}" + (f" ({g.unknown} ?)" if g.unknown else "")
    return [Text(g.name), Text(g.kind_label), *counts, Text(total, justify="right")]


class GroupesScreen(PageScreen):
    PAGE_KEY = "groupes"
    HELP = (
        "Les classes (ENTClasse), les groupes (ENTGroupe) et les classes trouvées sur les élèves sans "
        "entrée de classe, avec le nombre de membres par profil. « ? » : membres qui ne sont pas des "
        "personnes du périmètre.\nEntrée liste les membres ; r relit l'annuaire."
    )
    BINDINGS = [
        Binding("r", "refresh", "Actualiser", id="groupes.refresh", tooltip="Relire les groupes dans l'annuaire"),
    ]

    def __init__(self) -> None:
        super().__init__(name="groupes")
        self.groups: list[GroupSummary] = []

    def compose_body(self) -> ComposeResult:
        yield Static(Text("Lecture des groupes…"), id="groups-status", classes="muted")
        table: DataTable[Text] = DataTable(id="groups", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table

    def on_mount(self) -> None:
        self.query_one("#groups", DataTable).focus()
        self._load()

    def action_refresh(self) -> None:
        self._load()

    @work(exclusive=True, group="groupes:load", exit_on_error=False)
    async def _load(self) -> None:
        """Two passes: the groups at once (one search), then the counts by profile (the members'
        profiles are read: a few seconds on a big directory)."""
        status = self.query_one("#groups-status", Static)
        status.update(Text("Lecture des groupes…"))
        annuaire = Annuaire.from_services(self.ent_app.services)
        try:
            self._show(await annuaire.group_list())
            status.update(Text(f"{self._tally()} Comptage des membres par profil…"))
            groups = await annuaire.groups()
        except EnttuiError as exc:
            status.update(Text("Lecture impossible (voir le message)."))
            self.ent_app.report_error(exc)
            return
        self._show(groups)
        status.update(Text(f"{self._tally()} Entrée : les membres."))

    def _tally(self) -> str:
        classes = sum(1 for g in self.groups if g.kind == "classe")
        return f"{classes} classe(s), {len(self.groups) - classes} groupe(s)."

    def _show(self, groups: list[GroupSummary]) -> None:
        table = self.query_one("#groups", DataTable)
        # The cursor stays on its group (a refresh, the counts arriving), but on the top row it stays
        # on top: the counts may bring classes found only on students before it.
        selected = self.groups[table.cursor_row].key if 0 < table.cursor_row < len(self.groups) else None
        self.groups = groups
        with self.app.batch_update():
            table.clear()
            for g in groups:
                table.add_row(*group_row(g), key=g.key)
        keys = [g.key for g in groups]
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = event.cursor_row
        if 0 <= row < len(self.groups):
            self.app.push_screen(GroupMembersScreen(self.groups[row]))


class GroupMembersScreen(Screen):
    """The members of one group, in the shared people table."""

    HELP = "Les membres du groupe, page par page. Entrée ouvre la fiche ; n / b pages suivante / précédente."
    BINDINGS = [
        Binding("escape", "app.back", "Retour", id="members.back", tooltip="Revenir à la liste des groupes"),
        Binding("n", "page(1)", "Suiv.", id="members.next", tooltip="Page suivante (aussi pagedown)"),
        Binding("b", "page(-1)", "Préc.", id="members.previous", tooltip="Page précédente (aussi pageup)"),
        Binding("pagedown", "page(1)", "Page suivante", show=False, priority=True),
        Binding("pageup", "page(-1)", "Page précédente", show=False, priority=True),
    ]

    def __init__(self, group: GroupSummary) -> None:
        super().__init__(classes="members-screen")
        self.group = group

    @property
    def ent_app(self) -> EntApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        g = self.group
        yield Label(Text(f"Vous êtes ici : Annuaire > Groupes > {g.name}"), id="breadcrumb")
        title = f"{g.kind_label} {g.name}" + (f" — {g.description}" if g.description else "")
        yield Label(Text(title), id="members-title", classes="page-title")
        yield PeoplePanel(id="members")
        yield Footer()

    @property
    def panel(self) -> PeoplePanel:
        return self.query_one("#members", PeoplePanel)

    def on_mount(self) -> None:
        self.panel.table.focus()
        self._load()

    @work(exclusive=True, group="members:load", exit_on_error=False)
    async def _load(self) -> None:
        pager = Annuaire.from_services(self.ent_app.services).members(self.group)
        try:
            await self.panel.load(pager)
        except EnttuiError as exc:
            self.panel.set_status("Lecture impossible (voir le message).")
            self.ent_app.report_error(exc)

    @work(exclusive=True, group="members:page", exit_on_error=False)
    async def _turn(self, step: int) -> None:
        try:
            moved = await self.panel.turn(step)
        except EnttuiError as exc:
            self.ent_app.report_error(exc)
            return
        if not moved:
            self.notify("Dernière page." if step > 0 else "Première page.", timeout=2, markup=False)

    def action_page(self, step: int) -> None:
        self._turn(step)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        person = self.panel.table.current_person
        if person is not None:
            self.ent_app.open_person(person.dn)
