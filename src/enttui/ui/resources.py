"""Where the .tcss files are: the repository's styles/ in a checkout, enttui/styles in a wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def styles_dir() -> Path:
    checkout = Path(__file__).resolve().parents[3] / "styles"
    if (checkout / "app.tcss").is_file():
        return checkout
    packaged = Path(str(resources.files("enttui") / "styles"))
    return packaged


def stylesheets() -> list[Path]:
    folder = styles_dir()
    app = folder / "app.tcss"
    return [app, *sorted(p for p in folder.glob("*.tcss") if p.name != "app.tcss")]
