"""One module per admin screen. ``SCREENS`` maps every page key of the navigation to the class of
its screen, named ``"module:Class"``: a screen's module is imported the first time the page is
shown (:func:`screen_class`), so the console's start only pays for the Accueil."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enttui.ui.screens.base import PageScreen

SCREENS: dict[str, str] = {
    "accueil": "home:HomeScreen",
    "diffusion": "diffusion:DiffusionScreen",
    "fichiers": "fichiers:FichiersScreen",
    "moodle_sync": "moodle_sync:MoodleSyncScreen",
    "utilisateurs": "utilisateurs:UtilisateursScreen",
    "groupes": "groupes:GroupesScreen",
    "alimentation": "alimentation:AlimentationScreen",
    "coherence": "coherence:CoherenceScreen",
    "referentiel": "referentiel:ReferentielScreen",
    "imports": "imports:ImportsScreen",
    "export_specifique": "export_specifique:ExportSpecifiqueScreen",
}


def screen_class(key: str) -> type[PageScreen]:
    """The screen class of the page ``key`` (its module imported now if it was not yet)."""
    module, _, name = SCREENS[key].partition(":")
    cls: type[PageScreen] = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return cls
