"""The console's stylesheets, read as package resources (``enttui/ui/styles/*.tcss``).

They are data files of the ``enttui.ui`` package: the same code works from a checkout, an
installed wheel or a zip, with no guess about where the files are on disk.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

FIRST = "app.tcss"  # the shared frame; the screens' files follow in name order


def styles_folder() -> Traversable:
    return resources.files("enttui.ui") / "styles"


def stylesheet_names() -> list[str]:
    names = sorted(p.name for p in styles_folder().iterdir() if p.name.endswith(".tcss") and p.name != FIRST)
    return [FIRST, *names]


def stylesheet() -> str:
    """Every .tcss of the package, the frame first, as one stylesheet."""
    folder = styles_folder()
    return "\n".join(f"/* {name} */\n{(folder / name).read_text(encoding='utf-8')}" for name in stylesheet_names())
