"""The console's tables: Home/End to the first/last row, columns that fit the width (key columns
first, the others get what is left), and type-to-search.

:class:`EntTable` is a DataTable whose columns are declared with :class:`Col` (a minimum width, the
key columns first). On every resize and every new content the widths are recomputed: each column
gets its minimum, then what is left goes to the columns in order, up to the width their content
needs. With ``type_to_search``, a printable key typed in the table is not a command: the table
posts :class:`EntTable.Typed` and the screen puts the character in its search line (so typing a
name never changes a filter or turns a page).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets._data_table import Column, CursorType

SCROLLBAR = 2
PADDING = 2  # a cell's padding, both sides (DataTable.cell_padding = 1)


@dataclass
class FoldingColumn(Column):
    """A column that takes no width at all while ``hidden`` (an extra column with no room)."""

    hidden: bool = False

    def get_render_width(self, data_table: DataTable[Any]) -> int:
        return 0 if self.hidden else super().get_render_width(data_table)


@dataclass(frozen=True, slots=True)
class Col:
    label: str
    min: int
    key: str | None = None
    max: int | None = None  # never wider than this (None: as wide as the content)
    justify: Literal["left", "center", "right"] = "left"
    extra: bool = False  # not a key column: gets only what the key columns leave
    short: str | None = None  # the header when the column is narrower than its label


def fit_widths(available: int, mins: Sequence[int], naturals: Sequence[int], extras: Sequence[bool]) -> list[int]:
    """Widths (content only; 0: folded away) for ``available`` cells, each column costing
    ``PADDING`` more. The key columns get their minimum, then what is left, in order, each up to
    its natural width; then each extra column in order, if its minimum still fits."""
    widths = [0 if extra else low for low, extra in zip(mins, extras, strict=True)]
    spare = available - sum(widths) - PADDING * sum(1 for extra in extras if not extra)
    for i, natural in enumerate(naturals):
        if not extras[i] and spare > 0:
            grow = min(spare, max(0, natural - widths[i]))
            widths[i] += grow
            spare -= grow
    for i, natural in enumerate(naturals):
        if extras[i] and spare >= mins[i] + PADDING:
            widths[i] = min(natural, spare - PADDING)
            spare -= widths[i] + PADDING
    return widths


class EntTable(DataTable[Text]):
    """See module docstring. ``columns_spec`` set with :meth:`set_columns`."""

    BINDINGS = [
        Binding("home", "first_row", "Première ligne", show=False),
        Binding("end", "last_row", "Dernière ligne", show=False),
    ]

    class Typed(Message):
        """A printable key typed in a table with type-to-search."""

        def __init__(self, table: EntTable, character: str) -> None:
            super().__init__()
            self.table = table
            self.character = character

        @property
        def control(self) -> EntTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Col] = (),
        *,
        type_to_search: bool = False,
        id: str | None = None,
        classes: str | None = None,
        cursor_type: CursorType = "row",
        zebra_stripes: bool = False,
        show_cursor: bool = True,
    ) -> None:
        super().__init__(
            id=id,
            classes=classes,
            cursor_type=cursor_type,
            zebra_stripes=zebra_stripes,
            show_cursor=show_cursor,
        )
        self.type_to_search = type_to_search
        self.spec: list[Col] = []
        if columns:
            self.set_columns(columns)

    def set_columns(self, columns: Sequence[Col]) -> None:
        self.clear(columns=True)
        self.spec = list(columns)
        for col in self.spec:
            label = Text(col.label, justify=col.justify)
            key = self.add_column(label, key=col.key or col.label, width=col.min)
            column = self.columns[key]
            self.columns[key] = FoldingColumn(column.key, column.label, column.width, column.content_width, False)

    # -- keys ------------------------------------------------------------------------------
    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    async def _on_key(self, event: events.Key) -> None:
        char = event.character
        if self.type_to_search and event.is_printable and char and not char.isspace():
            event.stop()
            event.prevent_default()
            self.post_message(self.Typed(self, char))
        # Otherwise Textual's own handler (next in the MRO) runs.

    # -- widths ----------------------------------------------------------------------------
    def fit(self) -> None:
        """Recompute the column widths for the current width and content."""
        if not self.spec or not self.size.width:
            return
        columns = list(self.columns.values())
        if len(columns) != len(self.spec):
            return
        available = self.size.width - SCROLLBAR
        naturals = []
        for index, col in enumerate(self.spec):
            natural = len(col.label) if self.row_count else max(len(col.label), col.min)
            for row in range(self.row_count):
                cell = self.get_cell_at(Coordinate(row, index))
                natural = max(natural, cell.cell_len if isinstance(cell, Text) else len(str(cell)))
            naturals.append(min(natural, col.max) if col.max else natural)
        mins = [min(col.min, n) for col, n in zip(self.spec, naturals, strict=True)]
        widths = fit_widths(available, mins, naturals, [col.extra for col in self.spec])
        changed = False
        for col, column, width in zip(self.spec, columns, widths, strict=True):
            if col.short:
                label = col.label if width >= len(col.label) else col.short
                if column.label.plain != label:
                    column.label = Text(label, justify=col.justify)
                    changed = True
            hidden = width == 0
            if column.width != width or column.auto_width or getattr(column, "hidden", False) != hidden:
                column.width = width
                column.auto_width = False
                if isinstance(column, FoldingColumn):
                    column.hidden = hidden
                changed = True
        if changed:
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh(layout=True)

    def on_resize(self, _event: events.Resize) -> None:
        self.fit()

    def refit_later(self) -> None:
        """Call after the rows changed (the widths follow the content)."""
        self.call_after_refresh(self.fit)
