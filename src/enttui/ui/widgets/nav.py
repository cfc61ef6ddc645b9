"""The left navigation, as in the ENT: Accueil, then Annuaire / Administration / Moodle."""

from __future__ import annotations

import contextlib

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from enttui.ui.navigation import PAGES, SECTIONS


class NavMenu(OptionList):
    """Arrows move, enter opens. Section titles are not selectable."""

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

    def on_mount(self) -> None:
        with contextlib.suppress(OptionDoesNotExist):  # unknown page: leave the cursor where it is
            self.highlighted = self.get_option_index(self._current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and not event.option.id.startswith("section:"):
            self.post_message(self.Navigate(event.option.id))
