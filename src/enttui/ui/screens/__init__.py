"""One module per admin screen. ``SCREENS`` maps every page key of the navigation to its screen."""

from __future__ import annotations

from textual.screen import Screen

from enttui.ui.screens.alimentation import AlimentationScreen
from enttui.ui.screens.coherence import CoherenceScreen
from enttui.ui.screens.diffusion import DiffusionScreen
from enttui.ui.screens.export_specifique import ExportSpecifiqueScreen
from enttui.ui.screens.fichiers import FichiersScreen
from enttui.ui.screens.groupes import GroupesScreen
from enttui.ui.screens.home import HomeScreen
from enttui.ui.screens.imports import ImportsScreen
from enttui.ui.screens.moodle_sync import MoodleSyncScreen
from enttui.ui.screens.referentiel import ReferentielScreen
from enttui.ui.screens.utilisateurs import UtilisateursScreen

SCREENS: dict[str, type[Screen]] = {
    "accueil": HomeScreen,
    "diffusion": DiffusionScreen,
    "fichiers": FichiersScreen,
    "moodle_sync": MoodleSyncScreen,
    "utilisateurs": UtilisateursScreen,
    "groupes": GroupesScreen,
    "alimentation": AlimentationScreen,
    "coherence": CoherenceScreen,
    "referentiel": ReferentielScreen,
    "imports": ImportsScreen,
    "export_specifique": ExportSpecifiqueScreen,
}
