"""A trace full screen (``t`` from the sync, or from a run's report): see widgets/trace.py."""

from __future__ import annotations

from textual.app import ComposeResult

from enttui.ui.screens.base import DetailScreen
from enttui.ui.widgets.trace import TraceBuffer, TracePane


class TraceScreen(DetailScreen):
    """A trace full screen (wrapping, searchable); escape goes back."""

    HELP = (
        "La trace complète, ligne par ligne (les lignes longues passent à la ligne). / cherche un texte "
        "(entrée valide, échap ferme la recherche), n va à la ligne suivante qui le contient, N à la "
        "précédente ; e va à l'erreur suivante ; début / fin, pg.suiv / pg.préc et les flèches parcourent "
        "la trace. Pendant un traitement, la trace suit les nouvelles lignes tant que le curseur est sur "
        "la dernière."
    )
    TITLE_LABEL = "Trace"

    def __init__(self, buffer: TraceBuffer, trail: tuple[str, ...], *, title: str = "Trace") -> None:
        super().__init__(trail, classes="trace-screen")
        self.buffer = buffer
        self._title = title

    def crumb(self) -> str:
        return self._title

    def compose_body(self) -> ComposeResult:
        yield TracePane(self.buffer, id="trace-full", title=self._title)

    def on_mount(self) -> None:
        pane = self.query_one(TracePane)
        pane.view.focus()
        pane.view.go(pane.view.cursor if not pane.view.follow else len(self.buffer.entries) - 1)
