"""Asking where to write an export: the path modal and the flow every export of the console uses.

The rule itself (no system folder, never replace a file enttui did not write, ask before replacing
one it did) lives in :mod:`enttui.jobs.destinations`; the modal checks the typed path with it and
shows a refusal under the field (the modal stays open); the flow asks before replacing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label

from enttui.errors import EnttuiError
from enttui.jobs.destinations import prepare_destination
from enttui.services.localfiles import DestinationExists
from enttui.ui.widgets.fields import field_error, show_field_errors
from enttui.ui.widgets.footer import KeyFooter
from enttui.ui.widgets.modals import ConfirmModal
from enttui.ui.widgets.prose import Prose

if TYPE_CHECKING:
    from enttui.ui.app import EntApp

PRIVATE_NOTE = "Le fichier contient des données personnelles : il est créé en mode 0600."


class ExportModal(ModalScreen[str | None]):
    """The path of a file to write: entrée checks it (a refusal shows under the field), échap cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Annuler", id="path.cancel", tooltip="Ne rien écrire"),
        Binding("f10", "submit", "Écrire", id="path.submit", tooltip="Vérifier le chemin et écrire (aussi entrée)"),
    ]

    def __init__(
        self,
        title: str,
        default: str = "",
        note: str = "",
        *,
        check: Callable[[str], Awaitable[object]] | None = None,
        placeholder: str = "/home/admin/export.csv",
        ok_label: str = "Exporter",
    ) -> None:
        super().__init__(classes="export-modal")
        self._title = title
        self._default = default
        self._note = note
        self._check = check
        self._placeholder = placeholder
        self._ok = ok_label

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(self._title), id="dialog-title", classes="dialog-title")
            yield Label(Text("Chemin du fichier à écrire (ou d'un dossier) :"))
            yield Input(value=self._default, placeholder=self._placeholder, id="export-path")
            yield field_error("export-path")
            if self._note:
                yield Prose(self._note, classes="muted")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Annuler (échap)", id="cancel")
                yield Button(f"{self._ok} (entrée)", id="ok", variant="primary")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        self._submit(self.query_one("#export-path", Input).value)

    @work(exclusive=True, group="export:check", exit_on_error=False)
    async def _submit(self, text: str) -> None:
        if self._check is not None:
            try:
                await self._check(text)
            except DestinationExists:
                pass  # the flow asks before replacing it
            except EnttuiError as exc:
                show_field_errors(self, {"export-path": exc.message}, ["export-path"])
                return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


async def export_flow(
    screen: Screen,
    title: str,
    default: str,
    write: Callable[[str, bool], Awaitable[object]],
    *,
    default_name: str | None = None,
    note: str = PRIVATE_NOTE,
    placeholder: str = "/home/admin/export.csv",
    ok_label: str = "Exporter",
) -> bool:
    """The export flow (call from a worker): path modal (checked), replacement confirmed, write.
    ``write(text, overwrite)`` checks again and writes (a jobs function); True when written."""
    app = screen.app
    services = cast("EntApp", app).services

    async def check(text: str) -> None:
        await prepare_destination(services, text, default_name=default_name)

    text = await app.push_screen_wait(
        ExportModal(title, default, note, check=check, placeholder=placeholder, ok_label=ok_label)
    )
    if text is None:
        return False
    try:
        await write(text, False)
    except DestinationExists as exc:
        if not await app.push_screen_wait(
            ConfirmModal("Remplacer le fichier ?", f"{exc.path} existe (enttui l'a écrit). Le remplacer ?")
        ):
            app.notify("Export annulé : rien n'a été écrit.", markup=False)
            return False
        await write(text, True)
    return True


def default_export_name(prefix: str, screen: Screen, ext: str) -> str:
    now = cast("EntApp", screen.app).services.clock().astimezone()
    return str(Path.home() / f"{prefix}-{now:%Y%m%d_%H%M%S}.{ext}")
