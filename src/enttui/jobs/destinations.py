"""The one rule for every file an export writes (CSV exports, "Télécharger" of an identifier file,
a run's or a coherence report), used by the screens and the command line alike.

- The path is checked (:func:`enttui.services.localfiles.check_output_path`: no ``..``, no
  symbolic link, an existing folder).
- Never into a system folder (:func:`enttui.domain.destinations.system_path_reason`), except the
  product's own folders.
- An existing file is replaced only if enttui wrote it (the audit trail records every file an
  export writes, :data:`WRITTEN`) and the caller confirmed it (``overwrite``); a file enttui did
  not write is never replaced, even confirmed.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

from enttui.domain.destinations import system_path_reason
from enttui.errors import ValidationError
from enttui.services.container import Services
from enttui.services.localfiles import DestinationExists, check_output_path

WRITTEN = "export.ecriture"  # audit action: a file an export wrote (target: its resolved path)
REFUSED = "Destination refusée"


@dataclass(frozen=True, slots=True)
class Destination:
    path: Path
    overwrite: bool  # True only for an existing file that enttui wrote, after a confirmation


def resolved(path: Path) -> Path:
    """``path`` with its folder's symbolic links resolved (the file itself is not one)."""
    return Path(os.path.realpath(path.parent)) / path.name


def own_folders(services: Services) -> list[Path]:
    """The product's folders (allowed even below /var/lib): identifier files, state store."""
    state = services.config.state
    folders = [Path(state.files_dir), Path("/var/lib/enttui")]
    if state.url.startswith("sqlite:///"):
        folders.append(Path(state.url[len("sqlite:///") :]).parent)
    return [Path(os.path.realpath(f)) for f in folders if str(f)]


async def written_by_enttui(services: Services, path: Path) -> bool:
    records = await services.state.list_audit(1, action=WRITTEN, target=str(resolved(path)))
    return bool(records)


async def prepare_destination(
    services: Services, text: str, *, default_name: str | None = None, overwrite: bool = False
) -> Destination:
    """Check a typed destination (see module docstring). Raises :class:`ValidationError` when it
    is refused, :class:`DestinationExists` when it exists (enttui wrote it) and ``overwrite`` is
    false: ask, then call again with ``overwrite=True``."""
    path = await asyncio.to_thread(partial(check_output_path, text, default_name=default_name))
    real = await asyncio.to_thread(resolved, path)
    own = await asyncio.to_thread(own_folders, services)
    reason = system_path_reason(PurePosixPath(real), [PurePosixPath(f) for f in own])
    if reason:
        raise ValidationError(reason, title=REFUSED)
    if not await asyncio.to_thread(path.exists):
        return Destination(path, overwrite=False)  # created with O_EXCL: never a file that appeared since
    if not await written_by_enttui(services, path):
        raise ValidationError(
            f"{path} existe et n'a pas été écrit par enttui : il n'est jamais remplacé. Choisissez un autre nom.",
            title=REFUSED,
        )
    if not overwrite:
        raise DestinationExists(path)
    return Destination(path, overwrite=True)


async def record_written(services: Services, path: Path, what: str) -> None:
    """Remember that enttui wrote ``path`` (it may be replaced later, after a confirmation)."""
    await services.state.audit(WRITTEN, str(await asyncio.to_thread(resolved, path)), what)
