"""Form pieces: a checkbox that reads without colour, and errors shown next to their fields.

:class:`Case` draws ``[X]`` when ticked and ``[ ]`` when not (Textual's Checkbox draws the same
glyph both ways, only its colour changes). :func:`show_field_errors` puts every error of a form
under its field at once, marks the fields, moves the focus to the first one (scrolled into view)
and says how many there are in a toast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Checkbox, Static

from enttui.domain.french import plural

INVALID = "-invalid"
SHOWN = "-shown"


class Case(Checkbox):
    """A checkbox whose state reads without colour: ``[X]`` ticked, ``[ ]`` not."""

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble("[", ("X" if self.value else " ", style), "]")


def field_error(field_id: str) -> Static:
    """The (hidden) error line under the field ``field_id``."""
    return Static(Text(""), id=f"err-{field_id}", classes="field-error")


def clear_field_errors(screen: Screen | Widget) -> None:
    for line in screen.query(".field-error"):
        line.remove_class(SHOWN)
        if isinstance(line, Static):
            line.update(Text(""))
    for widget in screen.query(f".{INVALID}"):
        widget.remove_class(INVALID)


def show_field_errors(
    screen: Screen | Widget, errors: Mapping[str, str], order: Sequence[str], *, general: str = ""
) -> None:
    """Show ``errors`` (field id → French message) next to their fields, all at once; focus the
    first field in ``order`` that has one (scrolled into view); a toast counts them."""
    clear_field_errors(screen)
    first: Widget | None = None
    for field_id in order:
        message = errors.get(field_id)
        if not message:
            continue
        for line in screen.query(f"#err-{field_id}"):
            if isinstance(line, Static):
                line.update(Text(message))
            line.add_class(SHOWN)
        for widget in screen.query(f"#{field_id}"):
            widget.add_class(INVALID)
            if first is None:
                first = widget
    count = sum(1 for m in errors.values() if m) + (1 if general else 0)
    if first is not None:
        if first.focusable:
            first.focus()
        first.scroll_visible(animate=False)
    if count:
        head = plural(count, "erreur") + " dans le formulaire"
        detail = general or next((m for m in errors.values() if m), "")
        screen.app.notify(
            detail if count == 1 else f"{detail} (et les autres sous leurs champs)",
            title=head,
            severity="error",
            markup=False,
            timeout=6,
        )
