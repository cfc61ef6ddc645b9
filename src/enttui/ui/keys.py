"""How keys are named on screen (footer, F1 help, palette): in French, short, as on a keyboard."""

from __future__ import annotations

import re

KEY_NAMES: dict[str, str] = {
    "escape": "échap",
    "enter": "entrée",
    "space": "espace",
    "delete": "suppr",
    "backspace": "⌫",
    "pagedown": "pg.suiv",
    "pageup": "pg.préc",
    "home": "début",
    "end": "fin",
    "tab": "tab",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "slash": "/",
    "plus": "+",
    "minus": "-",
    "question_mark": "?",
}
_FKEY = re.compile(r"f\d{1,2}")


def key_label(key: str) -> str:
    """``escape`` → ``échap``, ``f5`` → ``F5``, ``ctrl+q`` → ``^q``, ``shift+tab`` → ``maj+tab``."""
    *mods, last = key.split("+") if key != "+" else ["+"]
    name = KEY_NAMES.get(last) or (last.upper() if _FKEY.fullmatch(last) else last)
    if mods == ["ctrl"]:
        return f"^{name}"
    return "+".join([*("maj" if m == "shift" else m for m in mods), name])
