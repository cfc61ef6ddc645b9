"""The trace widget under a long run: a bounded buffer keeps its errors, lines stay whole once the
oldest go, and a burst of lines costs one pass (keys only)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from enttui.ui.widgets.trace import TraceBuffer, TraceEntry, TracePane, TraceView


def line(i: int, level: str = "change") -> TraceEntry:
    return TraceEntry("12:00:00", level, "Comptes utilisateur", f"création de eleve.{i} " + "x" * (i % 7 * 9))


def test_a_bounded_buffer_drops_the_oldest_ordinary_lines_and_keeps_errors_and_warnings() -> None:
    buf = TraceBuffer(max_lines=10)
    buf.append(line(0, "error"))
    buf.append(line(1, "warning"))
    for i in range(2, 200):
        buf.append(line(i))
    assert len(buf.entries) <= 11
    assert [e.level for e in buf.entries[:2]] == ["error", "warning"]  # the first error is still there
    assert buf.entries[-1] == line(199)
    assert buf.error_count == 1 and buf.errors == [0]
    assert buf.dropped == 200 - len(buf.entries)
    # errors and warnings have a bound of their own
    for i in range(200, 260):
        buf.append(line(i, "error"))
    assert len(buf.entries) <= 11 and buf.error_count == len(buf.errors) == len(buf.entries)
    assert buf.entries[-1] == line(259, "error") and buf.dropped == 260 - len(buf.entries)


class TraceApp(App[None]):
    def __init__(self, buffer: TraceBuffer) -> None:
        super().__init__()
        self.buffer = buffer

    def compose(self) -> ComposeResult:
        yield TracePane(self.buffer, title="Trace")


async def test_lines_stay_whole_when_the_oldest_go_and_e_finds_the_kept_error() -> None:
    buf = TraceBuffer(max_lines=20)
    app = TraceApp(buf)
    async with app.run_test(size=(80, 24)) as pilot:
        buf.append(line(0, "error"))
        for i in range(1, 500):
            buf.append(line(i))
        await pilot.pause()
        view = app.query_one(TraceView)
        shown = [view.render_line(y).text.rstrip() for y in range(view.size.height)]
        drawn = "".join(s.strip() for s in shown)
        for entry in buf.entries[-5:]:  # every recent line drawn whole, not cut at an older line's length
            assert entry.text.replace(" ", "") in drawn.replace(" ", "")
        status = str(app.query_one(".trace-status").render())
        assert "autres retirées (erreurs gardées)" in status and "1 erreur" in status
        view.focus()
        await pilot.press("home")
        await pilot.press("e")  # the next error: the first line, kept past the bound
        await pilot.pause()
        assert buf.entries[view.cursor].level == "error"


async def test_a_burst_of_lines_is_drawn_in_one_pass() -> None:
    buf = TraceBuffer(max_lines=2000)
    app = TraceApp(buf)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TraceView)
        passes = 0
        original = view._rewrap

        def counting(*, full: bool) -> None:
            nonlocal passes
            passes += 1
            original(full=full)

        view._rewrap = counting  # type: ignore[method-assign]
        for i in range(3000):
            buf.append(line(i))
        await pilot.pause()
        assert passes == 1
        assert view.cursor == len(buf.entries) - 1  # still following the last line
