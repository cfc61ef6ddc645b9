"""The left navigation, as in the ENT: Accueil, then Annuaire / Administration / Moodle.

The menu is out of the Tab order: F2 opens it (on a narrow terminal it comes over the page, else
it is the left column), arrows move, enter opens a page, escape (or Tab) closes it and gives the
focus back to where it was. On a narrow terminal it is folded away when closed.
"""

from __future__ import annotations

import contextlib

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from enttui.ui.navigation import PAGES, SECTIONS

OPEN_CLASS = "-menu-open"


class NavMenu(OptionList):
    """Arrows move, enter opens. Section titles are not selectable."""

    BINDINGS = [
        Binding("escape", "close", "Fermer le menu", id="nav.close", tooltip="Fermer le menu, revenir à la page"),
    ]

    class Navigate(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, current: str, *, id: str | None = "nav") -> None:
        options: list[Option] = []
        home = next(p for p in PAGES if p.section is None)
        options.append(Option(Text(home.label), id=home.key))
        for section in SECTIONS:
            options.append(Option(Text(section, style="bold"), id=f"section:{section}", disabled=True))
            for page in PAGES:
                if page.section == section:
                    options.append(Option(Text(f"  {page.label}"), id=page.key))
        super().__init__(*options, id=id)
        self._current = current
        self._return_to: Widget | None = None
        self.can_focus = False  # out of the Tab order until F2 opens it

    def on_mount(self) -> None:
        self._highlight_current()

    def _highlight_current(self) -> None:
        with contextlib.suppress(OptionDoesNotExist):  # unknown page: leave the cursor where it is
            self.highlighted = self.get_option_index(self._current)

    @property
    def is_open(self) -> bool:
        return self.can_focus

    def open(self) -> None:
        """Show the menu (over the page when folded) and give it the focus."""
        if self.is_open:
            return
        focused = self.screen.focused
        self._return_to = focused if focused is not self else None
        self.can_focus = True
        self.screen.add_class(OPEN_CLASS)
        self._highlight_current()
        self.screen.set_focus(self)  # at once (not deferred): the keys typed after F2 go to the menu

    def close(self, *, restore_focus: bool = True) -> None:
        """Fold the menu back and give the focus back to the page."""
        if not self.is_open:
            return
        self.can_focus = False
        self.screen.remove_class(OPEN_CLASS)
        target, self._return_to = self._return_to, None
        if restore_focus:
            if target is not None and target.is_attached and target.focusable:
                target.focus()
            else:
                self.screen.focus_next()

    def action_close(self) -> None:
        self.close()

    def on_blur(self) -> None:
        # Tab (or anything else) took the focus away: the menu folds, the focus stays where it went.
        self.close(restore_focus=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and not event.option.id.startswith("section:"):
            self.close()
            self.post_message(self.Navigate(event.option.id))
