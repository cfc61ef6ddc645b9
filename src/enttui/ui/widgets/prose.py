"""Prose: French text that wraps without ever splitting « … » (its spaces are non-breaking).

Rich and Textual wrap at any Unicode space, U+00A0 included; this widget wraps at plain spaces
only, so what :func:`enttui.domain.french.nbsp` joined stays on one line. Untrusted text is fine:
the content is a ``Text`` (or a plain string), never markup.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.widget import Widget

from enttui.domain.french import nbsp


def wrap_offsets(plain: str, width: int) -> list[tuple[int, int]]:
    """(start, end) of each line of ``plain`` wrapped to ``width`` cells, breaking at spaces
    (U+0020) only; a word longer than the width is cut."""
    width = max(1, width)
    lines: list[tuple[int, int]] = []
    pos = 0
    for para in plain.split("\n"):
        start = pos
        end_of_para = pos + len(para)
        line_start = start
        line_end = start  # end of the last word that fits
        i = start
        while i <= end_of_para:
            j = plain.find(" ", i, end_of_para)
            j = end_of_para if j < 0 else j
            if cell_len(plain[line_start:j]) <= width:
                line_end = j
            else:
                if line_end > line_start:
                    lines.append((line_start, line_end))
                    line_start = line_end + 1  # drop the space at the break
                    line_end = line_start
                while cell_len(plain[line_start:j]) > width:  # a word longer than the line
                    cut = line_start + width
                    lines.append((line_start, cut))
                    line_start = cut
                line_end = j
            i = j + 1
        lines.append((line_start, max(line_start, line_end)))
        pos = end_of_para + 1
    return lines


def wrap_text(text: Text, width: int) -> list[Text]:
    return [text[a:b] for a, b in wrap_offsets(text.plain, width)]


class Prose(Widget):
    """A block of text that wraps at plain spaces only (see module docstring)."""

    DEFAULT_CSS = "Prose { height: auto; }"

    def __init__(self, content: str | Text = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = self._as_text(content)

    @staticmethod
    def _as_text(content: str | Text) -> Text:
        text = Text(content) if isinstance(content, str) else content.copy()
        plain = nbsp(text.plain)
        if plain != text.plain:  # same length: the spans stay where they were
            styled = Text(plain, style=text.style)
            styled.spans = list(text.spans)
            text = styled
        return text

    @property
    def content(self) -> Text:
        return self._text

    def update(self, content: str | Text) -> None:
        self._text = self._as_text(content)
        self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(wrap_offsets(self._text.plain, width)) if self._text.plain else 0

    def render(self) -> RenderResult:
        lines = wrap_text(self._text, self.content_region.width or self.size.width)
        out = Text("\n").join(lines)
        out.no_wrap = True
        out.overflow = "crop"
        return out
