"""The footer of every screen: the screen's own keys first, then the console's; F1 always shown.

Textual's Footer lists bindings in the order of the binding chain and cuts whatever does not fit,
F1 included. This one draws a single line: the keys of the focused widget and of the screen, then
the console-wide keys (Retour, Menu, Accueil, Quitter) while they fit, and "F1 Aide" at the right
end, with the number of keys left out ("F1 Aide (+3)"): they are all in the F1 help.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import RenderResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget

# Binding ids of the console-wide keys: shown after the screen's own keys.
GENERIC_PREFIXES = ("app.", "page.", "nav.")
HELP_ID = "app.help"
# A widget's own binding that ends up in the screen's handler (enter on a table row, on an option).
PASS_THROUGH = frozenset({"select_cursor", "select"})


@dataclass(frozen=True, slots=True)
class FooterKey:
    key: str
    description: str
    enabled: bool = True
    generic: bool = False


def console_bindings(screen: Screen) -> list[tuple[Binding, bool]]:
    """The console's bindings (they all have an id) active on ``screen``, in the order of the
    binding chain (focused widget first), each once, with whether it is enabled. A key that a
    widget also binds (enter in a table) still shows: the screen handles what the widget posts."""
    app = screen.app
    out: list[tuple[Binding, bool]] = []
    seen: set[str] = set()
    taken: set[str] = set()  # keys a closer widget uses for itself (delete in a text field)
    for namespace, bindings in screen._modal_binding_chain:
        for key, binding in bindings:
            if not binding.id:
                if binding.action not in PASS_THROUGH:
                    taken.add(key)
                continue
            if not binding.description or binding.id in seen or (key in taken and not binding.priority):
                continue
            state = app._check_action_state(binding.action, namespace)
            if state is False:
                continue
            seen.add(binding.id)
            out.append((binding, bool(state)))
    return out


def footer_keys(screen: Screen) -> tuple[list[FooterKey], FooterKey | None]:
    """The keys the footer shows for ``screen`` (own first, then generic) and the F1 key."""
    app = screen.app
    own: list[FooterKey] = []
    generic: list[FooterKey] = []
    help_key: FooterKey | None = None
    for binding, enabled in console_bindings(screen):
        assert binding.id is not None
        item = FooterKey(
            app.get_key_display(binding), binding.description, enabled, binding.id.startswith(GENERIC_PREFIXES)
        )
        if binding.id == HELP_ID:
            help_key = item
        elif not binding.show:
            continue
        elif item.generic:
            generic.append(item)
        else:
            own.append(item)
    return own + generic, help_key


def footer_line(keys: list[FooterKey], help_key: FooterKey | None, width: int) -> Text:
    """One line of ``width`` cells: as many keys as fit, then the F1 key at the right end."""

    def piece(item: FooterKey) -> Text:
        out = Text()
        out.append(f" {item.key} ", style="bold reverse" if item.enabled else "dim reverse")
        out.append(f" {item.description} ", style="" if item.enabled else "dim")
        return out

    line = Text(no_wrap=True, overflow="crop")
    shown = 0
    for i, item in enumerate(keys):
        chunk = piece(item)
        rest = len(keys) - i - 1
        reserve = 0
        if help_key is not None:
            reserve = piece(help_key).cell_len + (len(f"(+{rest}) ") if rest else 0)
        if line.cell_len + chunk.cell_len + reserve > width:
            break
        line.append_text(chunk)
        shown += 1
    if help_key is not None:
        hidden = len(keys) - shown
        tail = piece(help_key)
        if hidden:
            tail.append(f"(+{hidden}) ", style="bold")
        line.append(" " * max(0, width - line.cell_len - tail.cell_len))
        line.append_text(tail)
    return line


class KeyFooter(Widget):
    """The one-line footer (see module docstring); follows the focus and the bindings."""

    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        background: $panel;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Screen) -> None:
        self.refresh()

    def render(self) -> RenderResult:
        keys, help_key = footer_keys(self.screen)
        return footer_line(keys, help_key, self.size.width)


def help_keys(screen: Screen) -> list[tuple[str, str]]:
    """Every key of ``screen`` for the F1 help: (key, what it does), the screen's own first."""
    app = screen.app
    own: list[tuple[str, str]] = []
    generic: list[tuple[str, str]] = []
    for binding, enabled in console_bindings(screen):
        assert binding.id is not None
        what = binding.tooltip or binding.description
        row = (app.get_key_display(binding), what if enabled else f"{what} (indisponible ici)")
        (generic if binding.id.startswith(GENERIC_PREFIXES) else own).append(row)
    return own + generic
