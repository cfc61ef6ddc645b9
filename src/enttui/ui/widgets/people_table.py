"""The shared people table of the Annuaire: one page of rows at most, plain-text cells.

:class:`PeopleTable` is a table that never holds more than a page of a pager
(:class:`enttui.services.annuaire.PeoplePager`); its key columns come first (Nom, Prénom,
Identifiant, Profil, Classe) and fit 80 columns. :class:`PeoplePanel` adds the status line
("N résultats · page 2") and the page turning: page keys are never lost, they add up
(five quick presses move five pages) and one worker turns them in order.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from enttui.domain.french import plural
from enttui.domain.people import Person, Target
from enttui.services.annuaire import Page, PeoplePager, ResultCount
from enttui.ui.widgets.tables import Col, EntTable

COLUMNS: tuple[Col, ...] = (
    Col("Nom", 10, max=14),
    Col("Prénom", 8, max=12),
    Col("Identifiant", 14, max=19),
    Col("Profil", 6, max=10),
    Col("Classe", 6, max=12),
    Col("E-mail", 14, extra=True),
    Col("État", 6, extra=True),
)
# Short profile names: the table fits 80 columns.
PROFILE_SHORT = {Target.NON_ENSEIGNANT: "Non ens."}


def groups_cell(person: Person, page: Page) -> str:
    """Classe(s) of a student or a teacher, Enfant(s) of a parent."""
    if person.target is Target.PARENT or (person.child_dns and not person.classes):
        return page.children_label(person)
    if person.classes:
        return ", ".join(person.classes)
    return ", ".join(person.teacher_classes)


def person_row(person: Person, page: Page) -> list[Text]:
    state = Text(person.state_label, style="green" if person.activated else "yellow")
    return [
        Text(person.sn or person.display_name),
        Text(person.given_name),
        Text(person.login),
        Text(PROFILE_SHORT.get(person.target, person.target.label)),
        Text(groups_cell(person, page)),
        Text(person.mail or "—"),
        state,
    ]


def missing_row(dn: str) -> list[Text]:
    """A member whose entry does not exist (a dangling DN): said so, with its DN."""
    style = "bold red"
    return [
        Text("entrée absente", style=style),
        Text(""),
        Text(dn, style="red"),
        Text("—"),
        Text(""),
        Text(""),
        Text("lien cassé", style=style),
    ]


class PeopleTable(EntTable):
    """A table with at most one page of people (rows keyed by DN)."""

    def __init__(self, *, type_to_search: bool = False, id: str | None = None) -> None:
        super().__init__(COLUMNS, type_to_search=type_to_search, id=id, zebra_stripes=True)
        self.page: Page | None = None

    def show_page(self, page: Page, *, keep_cursor: bool = False) -> None:
        """Replace the rows by ``page``; keep the cursor on the same person (or row) if asked."""
        previous = self.current_person
        row = self.cursor_row
        self.page = page
        with self.app.batch_update():
            self.clear()
            for person in page.people:
                self.add_row(*person_row(person, page), key=person.dn)
            for dn in page.missing:
                self.add_row(*missing_row(dn), key=f"missing:{dn}")
        self.refit_later()
        if not self.row_count:
            return
        target = 0
        if keep_cursor:
            dns = [p.dn for p in page.people]
            if previous and previous.dn in dns:
                target = dns.index(previous.dn)
            else:
                target = min(max(row, 0), self.row_count - 1)
        self.move_cursor(row=target, animate=False)

    @property
    def current_person(self) -> Person | None:
        if self.page is None or not self.page.people:
            return None
        if 0 <= self.cursor_row < len(self.page.people):
            return self.page.people[self.cursor_row]
        return None


def status_label(page: Page | None, count: ResultCount | None, page_size: int) -> str:
    if page is None:
        return "Recherche…"
    head = "comptage…" if count is None else count.label
    if page.missing and not page.people:
        return f"{head} · {plural(len(page.missing), 'entrée absente', 'entrées absentes')} de l'annuaire"
    if not page.people:
        return "Aucun résultat" if count is not None and count.value == 0 else head
    first = page.index * page_size + 1
    last = first + len(page.people) + len(page.missing) - 1
    pages = ""
    if count is not None and not count.capped:
        pages = f" sur {max(1, -(-count.value // page_size))}"
    tail = f" · {plural(len(page.missing), 'entrée absente', 'entrées absentes')}" if page.missing else ""
    return f"{head} · page {page.index + 1}{pages} (lignes {first}–{last}){tail}"


class PeoplePanel(Vertical):
    """Status line + people table, fed by a pager (see module docstring)."""

    DEFAULT_CSS = """
    PeoplePanel { height: 1fr; }
    PeoplePanel > .people-status { height: 1; }
    PeoplePanel > PeopleTable { height: 1fr; }
    """

    def __init__(self, *, type_to_search: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pager: PeoplePager | None = None
        self.count: ResultCount | None = None
        self._type_to_search = type_to_search
        self.pending_steps = 0  # page keys pressed and not turned yet
        self.turning = False  # a worker is turning pages (it takes the new presses too)

    def compose(self) -> ComposeResult:
        yield Static(Text(""), classes="people-status")
        yield PeopleTable(type_to_search=self._type_to_search)

    @property
    def table(self) -> PeopleTable:
        return self.query_one(PeopleTable)

    def set_status(self, text: str) -> None:
        self.query_one(".people-status", Static).update(Text(text))

    def refresh_status(self) -> None:
        size = self.pager.page_size if self.pager else 50
        self.set_status(status_label(self.table.page, self.count, size))

    async def load(self, pager: PeoplePager, *, keep_cursor: bool = False) -> None:
        """Show the first page of ``pager``, then its count (call from a worker)."""
        self.pager = pager
        self.count = None
        self.pending_steps = 0
        self.set_status("Recherche…")
        page = await pager.first_page()
        if self.pager is not pager:
            return
        self.table.show_page(page, keep_cursor=keep_cursor)
        self.refresh_status()
        count = await pager.count()
        if self.pager is pager:
            self.count = count
            self.refresh_status()

    def page_key(self, step: int) -> None:
        """A page key (+1 next, -1 previous): counted, and turned by one worker in order."""
        self.pending_steps += step
        if not self.turning:
            self.turning = True
            # A worker of the screen: a failure takes the screen's error route.
            self.screen.run_worker(self._turn_worker(), group="people:pages", exit_on_error=False)

    async def _turn_worker(self) -> None:
        try:
            note = await self.turn_pending()
        finally:
            self.turning = False
        if note:
            self.notify(note, timeout=2, markup=False)

    async def turn_pending(self) -> str | None:
        """Turn the pages asked for, one by one, until none is pending (new presses made while
        a page loads are taken by the same loop). Returns a French note when the first or last
        page stopped the turning."""
        note = None
        while self.pending_steps:
            step = 1 if self.pending_steps > 0 else -1
            self.pending_steps -= step
            pager = self.pager
            current = self.table.page
            if pager is None:
                self.pending_steps = 0
                break
            if current is not None and not (current.has_next if step > 0 else current.has_previous):
                self.pending_steps = 0
                note = "Dernière page." if step > 0 else "Première page."
                break
            page = await (pager.next_page() if step > 0 else pager.previous_page())
            if self.pager is not pager:
                break
            if page is None:
                self.pending_steps = 0
                note = "Dernière page." if step > 0 else "Première page."
                break
            self.table.show_page(page)
            self.refresh_status()
        return note
