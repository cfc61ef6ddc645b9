"""Cheap look-ups for the shell completion: only the state store is opened (no directory, no Moodle)."""

from __future__ import annotations

from pathlib import Path

from enttui.config import Config, default_demo_root, demo_config


def demo_lookup_config(root: str | None) -> Config:
    """The demo's configuration (its state store below ``root``), without building the demo world."""
    return demo_config(Path(root) if root else default_demo_root())


async def identifier_file_names(config: Config) -> list[str]:
    """Names of the identifier files the state store indexes (``enttui files export/delete`` NAME)."""
    from enttui.services.state import StateStore

    state = StateStore(config.state)
    try:
        await state.open()
        return [f.name for f in await state.list_files()]
    finally:
        await state.close()
