"""Files an administrator asks for: a destination path typed on screen or on the command line, and
private writes (0600) of exports that hold personal data.

One place for the rules every export follows: no ``..`` component, no symbolic link (checked with
``lstat`` and again at ``open`` time with ``O_NOFOLLOW``), the folder must exist, an existing file
is only replaced when the caller confirmed it (:class:`DestinationExists` asks), mode 0600.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from enttui.errors import DestinationExists, ValidationError

# DestinationExists lives in enttui.errors (the CLI may not import services); re-exported for the screens.
__all__ = ["DestinationExists", "check_output_path", "open_private", "write_all", "write_private"]

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def check_output_path(text: str, *, default_name: str | None = None, base: Path | None = None) -> Path:
    """The path an administrator typed, checked: not empty, no ``..``, no symbolic link, an existing
    folder. A folder gets ``default_name`` inside it (refused when there is none). A relative path is
    taken from ``base`` (default: the current directory). Whether the file exists is checked when
    writing (:func:`open_private`)."""
    raw = (text or "").strip()
    if not raw:
        raise ValidationError("Indiquez le chemin du fichier à écrire.")
    if "\x00" in raw:
        raise ValidationError("Chemin refusé : caractère nul.")
    path = Path(raw).expanduser()
    if ".." in path.parts:
        raise ValidationError(f"Chemin refusé : « {raw} » contient « .. ».")
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    with contextlib.suppress(FileNotFoundError):
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            raise ValidationError(f"Chemin refusé : {path} est un lien symbolique.")
        if stat.S_ISDIR(st.st_mode):
            if not default_name:
                raise ValidationError(f"« {path} » est un dossier : indiquez un nom de fichier.")
            path = path / default_name
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    raise ValidationError(f"Chemin refusé : {path} est un lien symbolique.")
    if not path.parent.is_dir():
        raise ValidationError(f"Le dossier « {path.parent} » n'existe pas.")
    if path.exists() and not path.is_file():
        raise ValidationError(f"{path} n'est pas un fichier ordinaire.")
    return path


def open_private(path: Path, *, overwrite: bool = False) -> int:
    """Open ``path`` for writing with mode 0600, never through a symbolic link; raises
    :class:`DestinationExists` when it exists and ``overwrite`` is false. Returns the descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | NOFOLLOW | CLOEXEC | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise DestinationExists(path) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValidationError(f"Chemin refusé : {path} est un lien symbolique.") from None
        raise ValidationError(f"Écriture impossible de {path} ({exc.strerror or exc}).") from None
    os.fchmod(fd, 0o600)
    return fd


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_private(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` (0600, see :func:`open_private`)."""
    fd = open_private(path, overwrite=overwrite)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
