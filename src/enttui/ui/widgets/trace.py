"""The trace of a run, like a log viewer: wrapping, searchable, drawing only the visible lines.

:class:`TraceBuffer` holds the lines of a run (a recorded report, or a sync as it runs) and tells
its views when lines arrive. :class:`TraceView` draws them with Textual's line API (as toolong
does): lines are wrapped to the width once (again on resize) and only the visible rows are drawn,
so a long trace never freezes the screen. :class:`TracePane` adds the status line and the search
line, and the keys: ``/`` search, ``n`` next match, ``e`` next error, début / fin.
:class:`enttui.ui.screens.trace.TraceScreen` shows a pane full screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Label, Static

from enttui.domain.french import nbsp, plural
from enttui.jobs.reports import LEVEL_LABELS, trace_entity_label
from enttui.ui.widgets.prose import wrap_offsets

LEVEL_STYLES = {"error": "bold red", "warning": "yellow", "change": "cyan", "detail": "dim", "info": ""}
INDENT = "    "


@dataclass(frozen=True, slots=True)
class TraceEntry:
    at: str  # "08:30:01"
    level: str  # info, detail, change, warning, error
    entity: str
    text: str

    def render(self) -> Text:
        out = Text(no_wrap=True)
        if self.at:
            out.append(f"{self.at} ", style="dim")
        out.append(f"{LEVEL_LABELS.get(self.level, self.level):<6} ", style=LEVEL_STYLES.get(self.level, ""))
        if self.entity:
            out.append(f"{trace_entity_label(self.entity)} : ", style="bold")
        out.append(nbsp(self.text), style="red" if self.level == "error" else "")
        return out

    def matches(self, needle: str) -> bool:
        text = self.text.casefold()
        return needle in text or needle in nbsp(text) or needle in trace_entity_label(self.entity).casefold()


KEPT_LEVELS = frozenset({"error", "warning"})  # the lines a bounded buffer keeps past its bound


class TraceBuffer:
    """The lines of one trace, kept in memory.

    With ``max_lines``, the oldest ordinary lines go first once the buffer passes its bound (by a
    slack, so that trimming costs little per line): its errors and warnings stay, up to
    ``max_lines`` of them, so that a sync of a million creations still shows the error it met
    first. ``trims`` counts the trims (a view then wraps its lines again).
    """

    def __init__(self, entries: Sequence[TraceEntry] = (), *, max_lines: int | None = None) -> None:
        self.entries: list[TraceEntry] = list(entries)
        self.max_lines = max_lines
        self.dropped = 0
        self.trims = 0
        self.error_count = sum(1 for e in self.entries if e.level == "error")
        self._listeners: list[Callable[[], None]] = []

    def listen(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def forget(self, callback: Callable[[], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def append(self, entry: TraceEntry) -> None:
        self.entries.append(entry)
        if entry.level == "error":
            self.error_count += 1
        limit = self.max_lines
        if limit is not None and len(self.entries) > limit + max(1, limit // 10):
            self._trim(limit)
        for callback in list(self._listeners):
            callback()

    def _trim(self, limit: int) -> None:
        """Down to ``limit`` lines: the oldest ordinary ones first, then the oldest kept ones."""
        entries = self.entries
        kept_levels = sum(1 for e in entries if e.level in KEPT_LEVELS)
        over_kept = max(0, kept_levels - limit)  # errors and warnings beyond their own bound
        over = max(0, len(entries) - limit - over_kept)  # ordinary lines to drop
        out: list[TraceEntry] = []
        for e in entries:
            if e.level in KEPT_LEVELS:
                if over_kept:
                    over_kept -= 1
                    self._dropping(e)
                    continue
            elif over:
                over -= 1
                self._dropping(e)
                continue
            out.append(e)
        self.entries = out
        self.trims += 1

    def _dropping(self, entry: TraceEntry) -> None:
        self.dropped += 1
        if entry.level == "error":
            self.error_count -= 1

    def clear(self) -> None:
        self.entries.clear()
        self.dropped = 0
        self.error_count = 0
        self.trims += 1
        for callback in list(self._listeners):
            callback()

    @property
    def errors(self) -> list[int]:
        return [i for i, e in enumerate(self.entries) if e.level == "error"]


class TraceView(ScrollView, can_focus=True):
    """The lines of a :class:`TraceBuffer`, wrapped, drawn row by row (line API)."""

    COMPONENT_CLASSES = {"trace-view--cursor", "trace-view--match"}
    DEFAULT_CSS = """
    TraceView { height: 1fr; }
    TraceView > .trace-view--cursor { background: $primary 40%; }
    TraceView:focus > .trace-view--cursor { background: $primary 70%; }
    TraceView > .trace-view--match { text-style: reverse; }
    """
    BINDINGS = [
        Binding("up", "move(-1)", "Ligne précédente", show=False),
        Binding("down", "move(1)", "Ligne suivante", show=False),
        Binding("pageup", "move_page(-1)", "Page précédente", show=False),
        Binding("pagedown", "move_page(1)", "Page suivante", show=False),
        Binding("home", "edge(0)", "Début", show=False),
        Binding("end", "edge(1)", "Fin", show=False),
    ]

    def __init__(self, buffer: TraceBuffer, *, id: str | None = None, follow: bool = True) -> None:
        super().__init__(id=id)
        self.buffer = buffer
        self.follow = follow  # stay on the last line while lines arrive (until the cursor moves up)
        self.cursor = 0  # index of the selected entry
        self.needle = ""
        self._rows: list[tuple[int, int, int]] = []  # (entry, start, end) of each drawn row
        self._first_row: list[int] = []  # entry → its first row
        self._wrapped_for = -1
        self._wrapped_entries = 0
        self._wrapped_trims = buffer.trims
        self._offsets: dict[TraceEntry, tuple[tuple[int, int], ...]] = {}  # wrapped once per width
        self._catching_up = False
        self._selected: TraceEntry | None = None  # the line under the cursor (kept across trims)

    def on_mount(self) -> None:
        self.buffer.listen(self._appended)

    def on_unmount(self) -> None:
        self.buffer.forget(self._appended)

    # -- wrapping --------------------------------------------------------------------------
    @property
    def _text_width(self) -> int:
        return max(10, self.scrollable_content_region.width or self.size.width or 80)

    def _rewrap(self, *, full: bool) -> None:
        """Rows for the lines not wrapped yet; all of them after a resize or a trim (a line keeps
        its offsets from one pass to the next: only new lines are measured)."""
        width = self._text_width
        entries = self.buffer.entries
        trimmed = self.buffer.trims != self._wrapped_trims
        if full or trimmed or width != self._wrapped_for or self._wrapped_entries > len(entries):
            if width != self._wrapped_for:
                self._offsets = {}
            self._offsets = {e: self._offsets[e] for e in entries if e in self._offsets}
            self._rows.clear()
            self._first_row.clear()
            self._wrapped_entries = 0
            self._wrapped_for = width
            self._wrapped_trims = self.buffer.trims
        offsets, rows, first_row = self._offsets, self._rows, self._first_row
        room = width - len(INDENT)
        for index in range(self._wrapped_entries, len(entries)):
            entry = entries[index]
            spans = offsets.get(entry)
            if spans is None:
                spans = offsets[entry] = tuple(wrap_offsets(entry.render().plain, room))
            first_row.append(len(rows))
            rows.extend((index, start, end) for start, end in spans)
        self._wrapped_entries = len(entries)
        self.virtual_size = Size(width, len(rows))

    def _appended(self) -> None:
        """Lines arrived: caught up once the job yields (a burst of lines costs one pass)."""
        if not self._catching_up:
            self._catching_up = True
            self.call_later(self._catch_up)

    def _catch_up(self) -> None:
        self._catching_up = False
        entries = self.buffer.entries
        trimmed = self.buffer.trims != self._wrapped_trims
        self._rewrap(full=False)
        if self.follow and entries:
            self.cursor = len(entries) - 1
            self.scroll_end(animate=False)  # after the refresh: the new virtual size is known then
        elif trimmed:
            self.cursor = self._index_after_trim()
            self._scroll_to_cursor()
        self._selected = entries[self.cursor] if self.cursor < len(entries) else None
        self.refresh()
        self.post_message(self.Moved(self))

    def _index_after_trim(self) -> int:
        """The selected line's place once older lines went (the first line when it went too)."""
        entries = self.buffer.entries
        for i in range(min(self.cursor, len(entries) - 1), -1, -1):
            if entries[i] == self._selected:
                return i
        return 0

    def on_resize(self, _event: events.Resize) -> None:
        self._rewrap(full=True)
        self._scroll_to_cursor()
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        row = y + self.scroll_offset.y
        if row >= len(self._rows) or width <= 0:
            return Strip.blank(width, self.rich_style)
        index, start, end = self._rows[row]
        entry = self.buffer.entries[index] if index < len(self.buffer.entries) else None
        if entry is None:
            return Strip.blank(width, self.rich_style)
        text = entry.render()[start:end]
        if row != self._first_row[index]:
            text = Text(INDENT) + text
        if self.needle:
            text.highlight_words(
                [self.needle], style=self.get_component_rich_style("trace-view--match"), case_sensitive=False
            )
        segments = list(text.render(self.app.console))
        strip = Strip(segments, text.cell_len).crop_extend(0, width, self.rich_style)
        if index == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("trace-view--cursor"))
        return strip

    # -- moving ----------------------------------------------------------------------------
    class Moved(Message):
        """The cursor or the content changed (the pane updates its status line)."""

        def __init__(self, view: TraceView) -> None:
            super().__init__()
            self.view = view

    def go(self, index: int) -> None:
        entries = self.buffer.entries
        if not entries:
            return
        self.cursor = max(0, min(index, len(entries) - 1))
        self._selected = entries[self.cursor]
        self.follow = self.cursor == len(entries) - 1
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Moved(self))

    def _scroll_to_cursor(self) -> None:
        if not self._first_row or self.cursor >= len(self._first_row):
            return
        row = self._first_row[self.cursor]
        last = (self._first_row[self.cursor + 1] - 1) if self.cursor + 1 < len(self._first_row) else len(self._rows) - 1
        height = self.scrollable_content_region.height or self.size.height
        top = self.scroll_offset.y
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif last >= top + height:
            self.scroll_to(y=max(0, last - height + 1), animate=False, immediate=True)

    def action_move(self, step: int) -> None:
        self.go(self.cursor + step)

    def action_move_page(self, step: int) -> None:
        height = max(1, (self.scrollable_content_region.height or self.size.height) - 1)
        if not self._first_row:
            return
        row = self._first_row[self.cursor] + step * height
        row = max(0, min(row, len(self._rows) - 1))
        self.go(self._rows[row][0])

    def action_edge(self, last: int) -> None:
        self.go(len(self.buffer.entries) - 1 if last else 0)

    def find(self, test: Callable[[TraceEntry], bool], *, forward: bool = True, include_current: bool = False) -> bool:
        """Move to the next entry (wrapping around) that passes ``test``; False when none does."""
        entries = self.buffer.entries
        n = len(entries)
        if not n:
            return False
        step = 1 if forward else -1
        start = self.cursor if include_current else self.cursor + step
        for k in range(n):
            i = (start + step * k) % n
            if test(entries[i]):
                self.go(i)
                return True
        return False


class TracePane(Vertical):
    """A trace with its status line and search line (see module docstring)."""

    DEFAULT_CSS = """
    TracePane { height: 1fr; }
    TracePane > .trace-status { height: 1; color: $text-muted; }
    TracePane > .trace-search-bar { height: 1; display: none; }
    TracePane > .trace-search-bar.-open { display: block; }
    TracePane > .trace-search-bar > Label { width: auto; }
    TracePane > .trace-search-bar > Input { width: 1fr; height: 1; border: none; padding: 0; }
    """
    BINDINGS = [
        Binding("slash", "search", "Chercher", id="trace.search", tooltip="Chercher dans la trace"),
        Binding("n", "next_match", "Suivante", id="trace.next", tooltip="Ligne suivante contenant la recherche"),
        Binding(
            "N",
            "previous_match",
            "Précédente",
            id="trace.previous",
            tooltip="Ligne précédente contenant la recherche",
            show=False,
        ),
        Binding("e", "next_error", "Erreur suiv.", id="trace.error", tooltip="Aller à l'erreur suivante"),
    ]

    def __init__(self, buffer: TraceBuffer, *, id: str | None = None, title: str = "Trace") -> None:
        super().__init__(id=id)
        self.buffer = buffer
        self.title = title

    def compose(self) -> ComposeResult:
        yield Static(Text(""), classes="trace-status")
        yield TraceView(self.buffer)
        with Horizontal(classes="trace-search-bar"):
            yield Label(Text("Chercher : "))
            yield Input(placeholder="texte, puis entrée (échap : fermer)", classes="trace-search")

    def on_mount(self) -> None:
        self.view._rewrap(full=True)
        self.refresh_status()

    @property
    def view(self) -> TraceView:
        return self.query_one(TraceView)

    @on(TraceView.Moved)
    def _moved(self, event: TraceView.Moved) -> None:
        event.stop()
        self.refresh_status()

    def refresh_status(self) -> None:
        entries = self.buffer.entries
        errors = self.buffer.error_count
        text = Text()
        text.append(f"{self.title} : {plural(len(entries), 'ligne')}, ")
        text.append(plural(errors, "erreur"), style="bold red" if errors else "")
        if entries:
            text.append(f" · ligne {self.view.cursor + 1}")
        if self.view.needle:
            count = sum(1 for e in entries if e.matches(self.view.needle))
            text.append(f" · « {self.view.needle} » : {plural(count, 'ligne')}")
        if self.buffer.dropped:  # last: at 80 columns the counts above come first
            text.append(f" · {plural(self.buffer.dropped, 'autre retirée', 'autres retirées')} (erreurs gardées)")
        self.query_one(".trace-status", Static).update(text)

    # -- keys ------------------------------------------------------------------------------
    def action_search(self) -> None:
        self.query_one(".trace-search-bar").add_class("-open")
        self.query_one(".trace-search", Input).focus()

    def close_search(self) -> bool:
        """Close the search line if open (escape); True when it was."""
        bar = self.query_one(".trace-search-bar")
        if not bar.has_class("-open"):
            return False
        bar.remove_class("-open")
        self.view.focus()
        return True

    @on(Input.Submitted, ".trace-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.view.needle = value.casefold()
        self.close_search()
        if value and not self.view.find(lambda e: e.matches(self.view.needle), include_current=True):
            self.notify(f"Aucune ligne ne contient « {value} ».", markup=False)
        self.view.refresh()
        self.refresh_status()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.close_search():
            event.stop()
            event.prevent_default()

    def action_next_match(self) -> None:
        self._match(forward=True)

    def action_previous_match(self) -> None:
        self._match(forward=False)

    def _match(self, *, forward: bool) -> None:
        needle = self.view.needle
        if not needle:
            self.action_search()
            return
        if not self.view.find(lambda e: e.matches(needle), forward=forward):
            self.notify("Aucune autre ligne trouvée.", markup=False)

    def action_next_error(self) -> None:
        if not self.view.find(lambda e: e.level == "error"):
            self.notify("Aucune erreur dans cette trace.", markup=False)
