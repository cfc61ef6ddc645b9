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


class TraceBuffer:
    """The lines of one trace, kept in memory (at most ``max_lines``: the oldest go first)."""

    def __init__(self, entries: Sequence[TraceEntry] = (), *, max_lines: int | None = None) -> None:
        self.entries: list[TraceEntry] = list(entries)
        self.max_lines = max_lines
        self.dropped = 0
        self._listeners: list[Callable[[], None]] = []

    def listen(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def forget(self, callback: Callable[[], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def append(self, entry: TraceEntry) -> None:
        self.entries.append(entry)
        if self.max_lines is not None and len(self.entries) > self.max_lines:
            cut = len(self.entries) - self.max_lines
            del self.entries[:cut]
            self.dropped += cut
        for callback in list(self._listeners):
            callback()

    def clear(self) -> None:
        self.entries.clear()
        self.dropped = 0
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

    def on_mount(self) -> None:
        self.buffer.listen(self._appended)

    def on_unmount(self) -> None:
        self.buffer.forget(self._appended)

    # -- wrapping --------------------------------------------------------------------------
    @property
    def _text_width(self) -> int:
        return max(10, self.scrollable_content_region.width or self.size.width or 80)

    def _rewrap(self, *, full: bool) -> None:
        width = self._text_width
        entries = self.buffer.entries
        if full or width != self._wrapped_for or self._wrapped_entries > len(entries):
            self._rows.clear()
            self._first_row.clear()
            self._wrapped_entries = 0
            self._wrapped_for = width
        for index in range(self._wrapped_entries, len(entries)):
            plain = entries[index].render().plain
            self._first_row.append(len(self._rows))
            for start, end in wrap_offsets(plain, width - len(INDENT)):
                self._rows.append((index, start, end))
        self._wrapped_entries = len(entries)
        self.virtual_size = Size(width, len(self._rows))

    def _appended(self) -> None:
        at_end = self.follow
        self._rewrap(full=len(self.buffer.entries) < self._wrapped_entries)
        if at_end and self.buffer.entries:
            self.cursor = len(self.buffer.entries) - 1
            self.scroll_end(animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Moved(self))

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
        errors = len(self.buffer.errors)
        text = Text()
        text.append(f"{self.title} : {plural(len(entries), 'ligne')}")
        if self.buffer.dropped:
            text.append(f" (les {plural(self.buffer.dropped, 'plus ancienne')} non conservées)")
        text.append(", ")
        text.append(plural(errors, "erreur"), style="bold red" if errors else "")
        if entries:
            text.append(f" · ligne {self.view.cursor + 1}")
        if self.view.needle:
            count = sum(1 for e in entries if e.matches(self.view.needle))
            text.append(f" · « {self.view.needle} » : {plural(count, 'ligne')}")
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
