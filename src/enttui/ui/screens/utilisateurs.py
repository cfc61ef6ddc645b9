"""Annuaire > Utilisateurs: search the people of the périmètre, paged on the server.

Type-to-search: letters typed in the table go to the search line (typing a name never changes a
filter or turns a page), so the filters are F-keys and the pages pg.suiv / pg.préc. Typing starts
a search after a short pause (debounce); each search runs in an exclusive worker, so a new
keystroke cancels the stale one and the screen never freezes. The table holds one page at most.
"""

from __future__ import annotations

from typing import TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from enttui.domain.annuaire import TARGET_CYCLE, TRISTATE_CYCLE, PeopleQuery, school_label
from enttui.domain.folding import fold_accents
from enttui.domain.people import Structure
from enttui.services.annuaire import Annuaire, PeoplePager, class_names_of
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.footer import KeyFooter
from enttui.ui.widgets.people_table import PeoplePanel
from enttui.ui.widgets.tables import EntTable

DEBOUNCE_SECONDS = 0.25
ALL_CLASSES = "\x00all"
ALL_SCHOOLS = "\x00all"


_T = TypeVar("_T")


def _next(cycle: tuple[_T, ...], value: _T) -> _T:
    return cycle[(cycle.index(value) + 1) % len(cycle)]


class ClassPicker(ModalScreen[str | None]):
    """Pick a class (or every class); escape leaves the filter as it was."""

    BINDINGS = [Binding("escape", "cancel", "Annuler", id="classes.cancel", tooltip="Garder le filtre actuel")]

    def __init__(self, names: list[str], current: str) -> None:
        super().__init__(classes="class-picker")
        self._names = names
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text("Filtrer par classe"), classes="dialog-title")
            options = [Option(Text("Toutes les classes"), id=ALL_CLASSES)]
            options += [Option(Text(name), id=f"c:{name}") for name in self._names]
            yield OptionList(*options, id="class-options")
        yield KeyFooter()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if self._current in self._names:
            options.highlighted = self._names.index(self._current) + 1

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ALL_CLASSES
        self.dismiss("" if option_id == ALL_CLASSES else option_id[2:])

    def action_cancel(self) -> None:
        self.dismiss(None)


def _folded(text: str) -> str:
    return fold_accents(text.lower())


class SchoolPicker(ModalScreen[Structure | None]):
    """Pick a school of the périmètre (or every school); escape leaves the filter as it was.

    Hundreds of schools: the focus stays in the line at the top, where typing keeps the schools
    whose UAI or name contains every word typed (accents and case ignored); the arrows and the page
    keys move in the list below, entrée takes the highlighted line.
    """

    BINDINGS = [
        Binding("escape", "cancel", "Annuler", id="schools.cancel", tooltip="Garder le filtre actuel"),
        Binding("down", "move(1)", "Suivant", id="schools.down", tooltip="Établissement suivant", show=False),
        Binding("up", "move(-1)", "Précédent", id="schools.up", tooltip="Établissement précédent", show=False),
        Binding("pagedown", "move(10)", "Page suiv.", id="schools.next", tooltip="Dix plus bas", show=False),
        Binding("pageup", "move(-10)", "Page préc.", id="schools.previous", tooltip="Dix plus haut", show=False),
    ]

    def __init__(self, schools: list[Structure], current: Structure | None) -> None:
        super().__init__(classes="school-picker")
        self._school_list = schools
        self._current = current
        self._shown: list[Structure] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text("Filtrer par établissement"), classes="dialog-title")
            yield Input(placeholder="Filtrer : UAI ou nom (tapez)", id="school-filter")
            yield OptionList(id="school-options")
            yield Label(Text(""), id="school-count", classes="muted")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#school-options", OptionList).can_focus = False
        self._fill("")
        self.query_one("#school-filter", Input).focus()

    def _fill(self, typed: str) -> None:
        words = _folded(typed).split()
        self._shown = [s for s in self._school_list if all(w in _folded(f"{s.uai} {s.name}") for w in words)]
        options = self.query_one("#school-options", OptionList)
        options.clear_options()
        options.add_option(Option(Text("Tous les établissements"), id=ALL_SCHOOLS))
        options.add_options(Option(Text(school_label(s)), id=f"s:{i}") for i, s in enumerate(self._shown))
        highlighted = 0
        if self._current is not None and self._current in self._shown:
            highlighted = self._shown.index(self._current) + 1
        elif words and self._shown:
            highlighted = 1  # the first school that matches what was typed
        options.highlighted = highlighted
        total = len(self._school_list)
        count = f"{len(self._shown)} sur {total}" if words else str(total)
        self.query_one("#school-count", Label).update(
            Text(f"{count} établissement{'s' if total > 1 else ''} · entrée choisit, échap annule")
        )

    @on(Input.Changed, "#school-filter")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._fill(event.value)

    @on(Input.Submitted, "#school-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one("#school-options", OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if not option_id or option_id == ALL_SCHOOLS:
            self.dismiss(Structure(dn="", uai=""))  # "every school" (None means: cancelled)
            return
        self.dismiss(self._shown[int(option_id[2:])])

    def action_move(self, step: int) -> None:
        options = self.query_one("#school-options", OptionList)
        last = options.option_count - 1
        current = options.highlighted if options.highlighted is not None else 0
        options.highlighted = max(0, min(last, current + step))

    def action_cancel(self) -> None:
        self.dismiss(None)


class UtilisateursScreen(PageScreen):
    PAGE_KEY = "utilisateurs"
    HELP = (
        "Les personnes du périmètre. Tapez un nom, un prénom ou le début d'un identifiant : les lettres "
        "tapées dans la liste vont dans la ligne de recherche (/ y va aussi) ; chaque mot doit se retrouver, "
        "les accents et les majuscules sont indifférents. Entrée revient à la liste.\n"
        "Filtres (touches F, jamais des lettres) : F4 profil, F5 classe, F6 compte activé ou non, "
        "F7 avec ou sans adresse e-mail, F9 établissement, F8 tout effacer.\n"
        "F9 ouvre la liste des établissements du périmètre (UAI et nom) : tapez une partie de l'UAI ou du "
        "nom pour la réduire, flèches pour choisir, entrée pour filtrer ; « Tous les établissements » "
        "enlève ce filtre. Un établissement choisi, F5 ne propose que ses classes.\n"
        "Les résultats arrivent page par page depuis l'annuaire : pg.suiv / pg.préc tournent les pages "
        "(chaque appui compte), début / fin vont à la première / dernière ligne. Entrée ouvre la fiche de "
        "la personne ; échap revient à la liste, recherche et curseur gardés."
    )
    BINDINGS = [
        Binding("escape", "leave", "Retour", id="page.back", tooltip="Quitter la recherche / écran précédent"),
        Binding("slash", "focus_search", "Chercher", id="utilisateurs.search", tooltip="Aller dans la recherche"),
        Binding("f4", "cycle_target", "Profil", id="utilisateurs.profil", tooltip="Filtrer par profil (cycle)"),
        Binding("f5", "pick_class", "Classe", id="utilisateurs.classe", tooltip="Filtrer par classe"),
        Binding("f6", "cycle_activated", "Activé", id="utilisateurs.activation", tooltip="Compte activé ou non"),
        Binding("f7", "cycle_mail", "E-mail", id="utilisateurs.mail", tooltip="Avec ou sans adresse e-mail"),
        Binding("f8", "clear_filters", "Effacer", id="utilisateurs.clear", tooltip="Effacer recherche et filtres"),
        Binding(
            "f9", "pick_school", "Établissement", id="utilisateurs.etablissement", tooltip="Filtrer par établissement"
        ),
        Binding("pagedown", "page(1)", "Page suiv.", id="utilisateurs.next", tooltip="Page suivante", priority=True),
        Binding(
            "pageup", "page(-1)", "Page préc.", id="utilisateurs.previous", tooltip="Page précédente", priority=True
        ),
        Binding("ctrl+r", "refresh", "Actualiser", id="utilisateurs.refresh", tooltip="Relire la page (curseur gardé)"),
    ]

    def __init__(self) -> None:
        super().__init__(name="utilisateurs")
        self.query_state = PeopleQuery()
        self._annuaire: Annuaire | None = None
        self._debounce: Timer | None = None
        self._class_pairs: list[tuple[str, str]] | None = None  # (uai, class name) of the périmètre
        self._school_list: list[Structure] | None = None

    @property
    def annuaire(self) -> Annuaire:
        if self._annuaire is None:
            self._annuaire = Annuaire.from_services(self.ent_app.services)
        return self._annuaire

    def compose_body(self) -> ComposeResult:
        yield Input(
            placeholder="Rechercher : nom, prénom, identifiant (tapez, ou /)", id="people-search", select_on_focus=False
        )
        yield Static(Text(self.query_state.describe()), id="people-filters", classes="muted")
        yield PeoplePanel(type_to_search=True, id="people")

    @property
    def panel(self) -> PeoplePanel:
        return self.query_one("#people", PeoplePanel)

    def on_mount(self) -> None:
        self.panel.table.focus()
        self._start_search(keep_cursor=False)

    def refresh_data(self) -> None:
        self._start_search(keep_cursor=True)

    # -- searching ----------------------------------------------------------------------------
    @on(EntTable.Typed)
    def _typed_in_table(self, event: EntTable.Typed) -> None:
        """Type-to-search: the character goes to the end of the search line, which takes the focus."""
        event.stop()
        search = self.query_one("#people-search", Input)
        search.focus()
        if event.character != "/":
            search.value += event.character
        search.cursor_position = len(search.value)

    @on(Input.Changed, "#people-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value == self.query_state.text:
            return
        self.query_state = self.query_state.with_(text=event.value)
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE_SECONDS, lambda: self._start_search(keep_cursor=False))

    @on(Input.Submitted, "#people-search")
    def _submitted(self, event: Input.Submitted) -> None:
        """Entrée: search now (no need to wait for the pause) and back to the table."""
        event.stop()
        if self._debounce is not None:
            self._start_search(keep_cursor=False)
        self.panel.table.focus()

    def _filters_changed(self, query: PeopleQuery) -> None:
        self.query_state = query
        self.query_one("#people-filters", Static).update(Text(query.describe()))
        self._start_search(keep_cursor=False)

    def _start_search(self, *, keep_cursor: bool) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        self._search(self.query_state, keep_cursor)

    @work(exclusive=True, group="utilisateurs:search", exit_on_error=False)
    async def _search(self, query: PeopleQuery, keep_cursor: bool) -> None:
        old = self.panel.pager
        if old is not None:
            self._close_later(old)
        search = self.annuaire.search(query)
        self.panel.pager = search  # a stale worker's result is ignored from now on
        await self.panel.load(search, keep_cursor=keep_cursor)

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        if group in ("utilisateurs:search", "people:pages"):
            self.panel.set_status("Recherche impossible (voir le message) : ctrl+r pour réessayer.")
        return None

    def _close_later(self, pager: PeoplePager) -> None:
        self.run_worker(pager.close(), group="utilisateurs:close", exit_on_error=False)

    # -- actions ------------------------------------------------------------------------------
    def action_leave(self) -> None:
        if self.query_one("#people-search", Input).has_focus:
            self.panel.table.focus()
            return
        self.ent_app.action_go_back()

    def action_focus_search(self) -> None:
        self.query_one("#people-search", Input).focus()

    def action_cycle_target(self) -> None:
        self._filters_changed(self.query_state.with_(target=_next(TARGET_CYCLE, self.query_state.target)))

    def action_cycle_activated(self) -> None:
        self._filters_changed(self.query_state.with_(activated=_next(TRISTATE_CYCLE, self.query_state.activated)))

    def action_cycle_mail(self) -> None:
        self._filters_changed(self.query_state.with_(has_mail=_next(TRISTATE_CYCLE, self.query_state.has_mail)))

    def action_clear_filters(self) -> None:
        search = self.query_one("#people-search", Input)
        self.query_state = PeopleQuery()
        search.value = ""
        self._filters_changed(PeopleQuery())

    def action_page(self, step: int) -> None:
        self.panel.page_key(step)

    def action_refresh(self) -> None:
        self._start_search(keep_cursor=True)

    def action_pick_class(self) -> None:
        self._pick_class()

    @work(exclusive=True, group="utilisateurs:classes", exit_on_error=False)
    async def _pick_class(self) -> None:
        if self._class_pairs is None:
            self._class_pairs = await self.annuaire.classes()
        school = self.query_state.school
        names = class_names_of(self._class_pairs, school.uai if school else None)
        self.app.push_screen(ClassPicker(names, self.query_state.classe), self._class_chosen)

    def action_pick_school(self) -> None:
        self._pick_school()

    @work(exclusive=True, group="utilisateurs:schools", exit_on_error=False)
    async def _pick_school(self) -> None:
        if self._school_list is None:
            self._school_list = await self.annuaire.schools()
        self.app.push_screen(SchoolPicker(self._school_list, self.query_state.school), self._school_chosen)

    def _school_chosen(self, chosen: Structure | None) -> None:
        if chosen is None:
            return
        school = chosen if chosen.dn else None
        if school == self.query_state.school:
            return
        query = self.query_state.with_(school=school)
        known = self._class_pairs
        if (
            school is not None
            and query.classe
            and known is not None
            and query.classe not in class_names_of(known, school.uai)
        ):
            query = query.with_(classe="")  # not a class of that school
        self._filters_changed(query)

    def _class_chosen(self, chosen: str | None) -> None:
        if chosen is not None and chosen != self.query_state.classe:
            self._filters_changed(self.query_state.with_(classe=chosen))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        person = self.panel.table.current_person
        if person is not None:
            self.ent_app.open_person(person.dn)
