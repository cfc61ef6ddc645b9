"""Reusable modals: confirmation (y/n/escape, focus on the safe choice), error details, help.

Every modal has its own footer (its keys, not the page's) and shows plain text only (never
markup): messages may carry names and numbers from the directory.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from enttui.ui.widgets.footer import KeyFooter
from enttui.ui.widgets.prose import Prose


class ConfirmModal(ModalScreen[bool]):
    """Ask before doing something. ``y`` confirms, ``n``/escape cancel; "Non" has the focus."""

    BINDINGS = [
        Binding("y,o", "answer(True)", "Oui", id="confirm.yes", tooltip="Confirmer l'action"),
        Binding("n,escape", "answer(False)", "Non", id="confirm.no", tooltip="Annuler, rien n'est fait"),
    ]

    def __init__(
        self,
        title: str,
        message: str,
        *,
        yes_label: str = "Oui (y)",
        no_label: str = "Non (n)",
        danger: bool = True,
    ) -> None:
        super().__init__(classes="confirm-modal")
        self._title = title
        self._message = message
        self._yes = yes_label
        self._no = no_label
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(self._title), id="dialog-title", classes="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield Prose(self._message, id="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._no, id="no", variant="primary")
                yield Button(self._yes, id="yes", variant="error" if self._danger else "success")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class InfoModal(ModalScreen[None]):
    """A read-only dialog: a title, a scrollable body (focused: arrows scroll it), "Fermer"."""

    BINDINGS = [
        Binding("escape,enter", "close", "Fermer", id="info.close", tooltip="Fermer ce message"),
    ]
    DIALOG_CLASSES = "dialog"

    def __init__(self, title: str, *, classes: str = "info-modal") -> None:
        super().__init__(classes=classes)
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes=self.DIALOG_CLASSES):
            yield Label(Text(self._title), id="dialog-title", classes="dialog-title")
            with VerticalScroll(id="dialog-body"):
                yield from self.compose_dialog_body()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Fermer (échap)", id="close", variant="primary")
        yield KeyFooter()

    def compose_dialog_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#dialog-body", VerticalScroll).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class MessageModal(InfoModal):
    """A plain-text message (details of a row, of a system): never markup."""

    def __init__(self, title: str, message: str, detail: str | None = None, *, classes: str = "info-modal") -> None:
        super().__init__(title, classes=classes)
        self._message = message
        self._detail = detail

    def compose_dialog_body(self) -> ComposeResult:
        yield Prose(self._message, id="dialog-message")
        if self._detail:
            yield Prose(self._detail, id="dialog-detail", classes="muted")


class ErrorModal(MessageModal):
    """The details of an error: French title, message and (redacted) technical detail."""

    DIALOG_CLASSES = "dialog error"

    def __init__(self, title: str, message: str, detail: str | None = None) -> None:
        super().__init__(title, message, detail, classes="error-modal")


class HelpModal(InfoModal):
    """F1: the keys of the current screen first (all of them), then what the screen is for."""

    BINDINGS = [Binding("escape,f1,q,enter", "close", "Fermer", id="help.close", tooltip="Fermer l'aide")]
    DIALOG_CLASSES = "dialog help"

    def __init__(self, title: str, text: str, keys: list[tuple[str, str]]) -> None:
        super().__init__(f"Aide : {title}", classes="help-modal")
        self._text = text
        self._keys = keys

    def compose_dialog_body(self) -> ComposeResult:
        if self._keys:
            width = max(len(k) for k, _ in self._keys)
            lines = Text()
            for i, (key, desc) in enumerate(self._keys):
                lines.append(f"{key:>{width}}  ", style="bold")
                lines.append(desc + ("\n" if i < len(self._keys) - 1 else ""))
            yield Label(Text("Touches", style="bold underline"), classes="help-keys-title")
            yield Prose(lines, id="help-keys")
        yield Label(Text("À quoi sert cet écran", style="bold underline"), classes="help-text-title")
        yield Prose(self._text, id="help-text")
