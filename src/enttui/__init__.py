"""enttui: a terminal console for the administrators of a French school ENT."""

__version__ = "0.1.0"
