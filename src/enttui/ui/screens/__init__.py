"""One module per admin screen. ``SCREENS`` maps a page key to its screen class.

Pages not listed here show an explicit "à venir" panel until their issue lands.
"""

from __future__ import annotations

from textual.screen import Screen

from enttui.ui.screens.diffusion import DiffusionScreen
from enttui.ui.screens.fichiers import FichiersScreen
from enttui.ui.screens.home import HomeScreen

SCREENS: dict[str, type[Screen]] = {
    "accueil": HomeScreen,
    "diffusion": DiffusionScreen,
    "fichiers": FichiersScreen,
}
