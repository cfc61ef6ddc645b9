"""Where an export may be written: never into the system's own folders.

An administrator types the destination of an export (CSV exports, "Télécharger" of an identifier
file, a run's report) in a form or on the command line, often as root. A typo must not replace
``/etc/passwd``: the folders of the operating system are refused, whatever the confirmation. The
product's own folders (its state store and identifier files, even below ``/var/lib``) stay
allowed. Pure logic on resolved paths; :mod:`enttui.jobs.destinations` applies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath, PurePosixPath

# The operating system's folders: nothing the console writes goes there.
SYSTEM_DIRS: tuple[PurePosixPath, ...] = tuple(
    PurePosixPath(p)
    for p in (
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/proc",
        "/run",
        "/sbin",
        "/sys",
        "/usr",
        "/var/lib",
        "/var/log",
        "/var/spool",
        "/var/cache",
        "/var/mail",
        "/var/backups",
    )
)


def _inside(path: PurePath, folder: PurePath) -> bool:
    return path == folder or folder in path.parents


def system_path_reason(path: PurePath, own: Iterable[PurePath] = ()) -> str | None:
    """Why ``path`` (absolute, symbolic links resolved) is refused, or None when it may be
    written. ``own``: the product's folders, allowed even inside a system folder."""
    if any(_inside(path, folder) for folder in own):
        return None
    if path == PurePosixPath("/") or path.parent == PurePosixPath("/"):
        return f"« {path} » est à la racine du système : choisissez un fichier dans un dossier à vous."
    for folder in SYSTEM_DIRS:
        if _inside(path, folder):
            return f"« {path} » est dans {folder}, un dossier du système : l'export y est refusé."
    return None
