"""Reusable modals: confirmation (y/n/escape, focus on the safe choice), error details, help."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmModal(ModalScreen[bool]):
    """Ask before doing something. ``y`` confirms, ``n``/escape cancel; "Non" has the focus.

    ``message`` is plain text (never markup): it may carry names and numbers from the directory.
    """

    DEFAULT_CSS = ""
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
                yield Static(Text(self._message), id="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self._no, id="no", variant="primary")
                yield Button(self._yes, id="yes", variant="error" if self._danger else "success")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class InfoModal(ModalScreen[None]):
    """A read-only dialog: a title, a scrollable body, "Fermer". Subclasses yield the body."""

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

    def compose_dialog_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

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
        yield Static(Text(self._message), id="dialog-message")
        if self._detail:
            yield Static(Text(self._detail), id="dialog-detail", classes="muted")


class ErrorModal(MessageModal):
    """The details of an error: French title, message and (redacted) technical detail."""

    DIALOG_CLASSES = "dialog error"

    def __init__(self, title: str, message: str, detail: str | None = None) -> None:
        super().__init__(title, message, detail, classes="error-modal")


class HelpModal(InfoModal):
    """F1: what the current screen is for, and its keys."""

    BINDINGS = [Binding("escape,f1,q", "close", "Fermer", id="help.close", tooltip="Fermer l'aide")]
    DIALOG_CLASSES = "dialog help"

    def __init__(self, title: str, text: str, keys: list[tuple[str, str]]) -> None:
        super().__init__(f"Aide : {title}", classes="help-modal")
        self._text = text
        self._keys = keys

    def compose_dialog_body(self) -> ComposeResult:
        yield Static(Text(self._text), id="help-text")
        if self._keys:
            width = max(len(k) for k, _ in self._keys)
            lines = Text()
            for key, desc in self._keys:
                lines.append(f"{key:<{width}}  ", style="bold")
                lines.append(f"{desc}\n")
            yield Static(Text("Touches", style="bold underline"), classes="help-keys-title")
            yield Static(lines, id="help-keys")
