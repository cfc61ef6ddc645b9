"""The shared people table of the Annuaire: one page of rows at most, plain-text cells.

:class:`PeopleTable` is a DataTable that never holds more than a page of a pager
(:class:`enttui.services.annuaire.PeoplePager`); :class:`PeoplePanel` adds the status line
("N résultats · page 2") and the page turning. Screens drive them from their own workers.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from enttui.domain.people import Person, Target
from enttui.services.annuaire import Page, PeoplePager, ResultCount

COLUMNS: tuple[str, ...] = ("Nom", "Prénom", "Identifiant", "Profil", "Classe(s) / Enfant(s)", "E-mail", "État")


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
        Text(person.target.label),
        Text(groups_cell(person, page)),
        Text(person.mail or "—"),
        state,
    ]


class PeopleTable(DataTable[Text]):
    """A DataTable with at most one page of people (rows keyed by DN)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.page: Page | None = None

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show_page(self, page: Page, *, keep_cursor: bool = False) -> None:
        """Replace the rows by ``page``; keep the cursor on the same person (or row) if asked."""
        previous = self.current_person
        row = self.cursor_row
        self.page = page
        with self.app.batch_update():
            self.clear()
            for person in page.people:
                self.add_row(*person_row(person, page), key=person.dn)
        if not page.people:
            return
        target = 0
        if keep_cursor:
            dns = [p.dn for p in page.people]
            target = dns.index(previous.dn) if previous and previous.dn in dns else min(max(row, 0), len(dns) - 1)
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
    if count is None:
        head = "comptage…"
    else:
        head = count.label
    if not page.people:
        return "Aucun résultat" if count is not None and count.value == 0 else head
    first = page.index * page_size + 1
    last = first + len(page.people) - 1
    pages = ""
    if count is not None and not count.capped:
        pages = f" sur {max(1, -(-count.value // page_size))}"
    return f"{head} · page {page.index + 1}{pages} (lignes {first}–{last})"


class PeoplePanel(Vertical):
    """Status line + people table, fed by a pager (see module docstring)."""

    DEFAULT_CSS = """
    PeoplePanel { height: 1fr; }
    PeoplePanel > .people-status { height: 1; }
    PeoplePanel > PeopleTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.pager: PeoplePager | None = None
        self.count: ResultCount | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(""), classes="people-status")
        yield PeopleTable()

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

    async def turn(self, step: int) -> bool:
        """Next (+1) or previous (-1) page; False when there is none (call from a worker)."""
        pager = self.pager
        current = self.table.page
        if pager is None or (current is not None and not (current.has_next if step > 0 else current.has_previous)):
            return False
        page = await (pager.next_page() if step > 0 else pager.previous_page())
        if page is None or self.pager is not pager:
            return False
        self.table.show_page(page)
        self.refresh_status()
        return True
