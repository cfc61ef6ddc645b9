"""Identifier files on disk: write (0600 in a 0700 folder), list, export, delete, purge; all audited.

Names only ever come from the files index (the table on screen, ``enttui files list``) and go
through :func:`enttui.domain.idfiles.check_name`; files are opened relative to the folder's
descriptor with ``O_NOFOLLOW``, so no path typed by a person reaches the file system unchecked.
An export destination is typed by the administrator: ``..`` components and symbolic links are
refused, an existing file is only replaced when the caller confirmed it, the copy is 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from enttui.domain.french import plural
from enttui.domain.idfiles import IdRow, check_name, complete_length, header_bytes, parse_rows, row_bytes, row_key
from enttui.errors import EnttuiError, StateError, ValidationError
from enttui.jobs.destinations import prepare_destination, record_written
from enttui.services.container import Services
from enttui.services.localfiles import open_private, write_all
from enttui.services.state import FileRecord

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class FileStoreError(EnttuiError):
    default_title = "Fichiers des identifiants"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A row of the "Fichiers des identifiants" table."""

    name: str
    size: int
    created_at: datetime
    kind: str
    rows: int
    run_id: int | None
    status: str = ""  # the status of the run that wrote it ("interrompu": a resume can finish it)


def files_dir(services: Services) -> Path:
    return Path(services.config.state.files_dir)


def ensure_dir(path: Path) -> Path:
    """The folder, created 0700 if needed; refused when it is a symbolic link."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise FileStoreError(f"{path} n'est pas un dossier (lien symbolique refusé).")
        if stat.S_IMODE(st.st_mode) != 0o700:
            path.chmod(0o700)
    except OSError as exc:
        raise FileStoreError(f"Dossier des fichiers {path} inutilisable ({exc.strerror or exc}).") from None
    return path


def _dir_fd(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW | CLOEXEC)


class IdFileWriter:
    """Rows appended one by one (``os.write``: a killed process loses nothing already written)."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = check_name(name)
        self.rows = 0
        self._fd: int | None = None
        self._keys: set[tuple[str, str]] = set()
        self._logins: set[str] = set()

    @property
    def path(self) -> Path:
        return self.directory / self.name

    def create(self) -> None:
        """A new file (never replaces one): header written."""
        ensure_dir(self.directory)
        dfd = _dir_fd(self.directory)
        try:
            self._fd = os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, 0o600, dir_fd=dfd)
        finally:
            os.close(dfd)
        os.fchmod(self._fd, 0o600)
        os.write(self._fd, header_bytes())

    def reopen(self) -> bool:
        """Append to an existing file (a resumed run); False when it is gone.

        A half-written last line (the writer was killed in the middle of a row) is cut off; the
        complete rows are counted (:attr:`rows`) and remembered (:meth:`has`), so that a resumed
        run never writes a second row for an account already in the file.
        """
        dfd = _dir_fd(self.directory)
        try:
            fd = os.open(self.name, os.O_RDWR | os.O_APPEND | NOFOLLOW | CLOEXEC, dir_fd=dfd)
        except FileNotFoundError:
            return False
        finally:
            os.close(dfd)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            data = b"".join(chunks)
            end = complete_length(data)
            header = header_bytes()
            if end < len(header):  # killed before even the header was written whole
                os.ftruncate(fd, 0)
                write_all(fd, header)
                data, end = header, len(header)
            elif end < len(data):
                os.ftruncate(fd, end)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        rows = parse_rows(data[:end])
        self.rows = len(rows)
        for cells in rows:
            if len(cells) >= 7:
                self._keys.add(row_key(cells[5], cells[6]))
                self._logins.add(row_key(cells[5], "")[0])
        return True

    def has(self, login: str, password: str | None = None) -> bool:
        """Is there a row for ``login`` (with ``password``, when given) in the file."""
        if password is None:
            return row_key(login, "")[0] in self._logins
        return row_key(login, password) in self._keys

    def append(self, row: IdRow) -> None:
        assert self._fd is not None
        data = row_bytes(row)
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
        self.rows += 1
        self._keys.add(row_key(row.login, row.password))
        self._logins.add(row_key(row.login, "")[0])

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def size(self) -> int:
        return os.fstat(self._fd).st_size if self._fd is not None else 0

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


def new_writer(directory: Path, name: str) -> IdFileWriter:
    """A created writer; ``-2``, ``-3``… is added when the name is taken (same second)."""
    stem, _, ext = name.rpartition(".")
    for n in range(1, 100):
        candidate = name if n == 1 else f"{stem}-{n}.{ext}"
        writer = IdFileWriter(directory, candidate)
        try:
            writer.create()
        except FileExistsError:
            continue
        except OSError as exc:
            raise FileStoreError(f"Création du fichier {candidate} impossible ({exc.strerror or exc}).") from None
        return writer
    raise FileStoreError(f"Aucun nom libre pour le fichier {name}.")


async def index_file(
    services: Services,
    writer: IdFileWriter,
    kind: str,
    created_at: datetime,
    run_id: int | None,
    *,
    uai: str = "",
    rows: int | None = None,
) -> FileRecord:
    size = await asyncio.to_thread(writer.size)
    record = FileRecord(
        name=writer.name,
        kind=kind,
        size=size,
        created_at=created_at,
        run_id=run_id,
        uai=uai,
        rows=writer.rows if rows is None else rows,
    )
    await services.state.add_file(record)
    return record


def _count_rows(directory: Path, name: str) -> int:
    dfd = _dir_fd(directory)
    try:
        fd = os.open(name, os.O_RDONLY | NOFOLLOW | CLOEXEC, dir_fd=dfd)
    finally:
        os.close(dfd)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return len(parse_rows(b"".join(chunks)))


async def list_files(services: Services) -> list[FileEntry]:
    """The index, newest first, with the size on disk (files gone from disk are dropped from it).

    A file whose size on disk is not the indexed one (its run was killed while writing it, or is
    still writing it) has its complete rows counted again, and the index is corrected.
    """
    from enttui.jobs.locking import refresh_run_states

    await refresh_run_states(services)
    records = await services.state.list_files()
    directory = files_dir(services)

    def sizes() -> dict[str, tuple[int, int] | None]:
        out: dict[str, tuple[int, int] | None] = {}
        for rec in records:
            try:
                st = os.lstat(directory / check_name(rec.name))
                if not stat.S_ISREG(st.st_mode):
                    out[rec.name] = None
                elif st.st_size != rec.size:
                    out[rec.name] = (st.st_size, _count_rows(directory, rec.name))
                else:
                    out[rec.name] = (st.st_size, rec.rows)
            except (OSError, ValidationError):
                out[rec.name] = None
        return out

    found = await asyncio.to_thread(sizes)
    statuses: dict[int, str] = {}
    entries = []
    for rec in records:
        seen = found.get(rec.name)
        if seen is None:
            with contextlib.suppress(StateError):
                await services.state.remove_file(rec.name)
            continue
        size, rows = seen
        if (size, rows) != (rec.size, rec.rows):
            with contextlib.suppress(StateError):
                await services.state.add_file(replace(rec, size=size, rows=rows))
        status = ""
        if rec.run_id is not None:
            if rec.run_id not in statuses:
                run = await services.state.get_run(rec.run_id)
                statuses[rec.run_id] = run.status if run is not None else ""
            status = statuses[rec.run_id]
        entries.append(FileEntry(rec.name, size, rec.created_at, rec.kind, rows, rec.run_id, status))
    return entries


async def _indexed(services: Services, name: str) -> FileRecord:
    clean = check_name(name)
    for rec in await services.state.list_files():
        if rec.name == clean:
            return rec
    raise ValidationError(f"Fichier inconnu : « {clean} » (voir enttui files list).")


def _copy(src_dir: Path, name: str, dest: Path, overwrite: bool) -> None:
    dfd = _dir_fd(src_dir)
    try:
        src = os.open(name, os.O_RDONLY | NOFOLLOW | CLOEXEC, dir_fd=dfd)
    finally:
        os.close(dfd)
    try:
        out = open_private(dest, overwrite=overwrite)
        try:
            while chunk := os.read(src, 65536):
                write_all(out, chunk)
            os.fsync(out)
        finally:
            os.close(out)
    finally:
        os.close(src)


async def export_file(services: Services, name: str, dest: str, *, overwrite: bool = False) -> Path:
    """Copy an indexed file to ``dest`` (a file or an existing folder); returns the path written."""
    rec = await _indexed(services, name)
    destination = await prepare_destination(services, dest, default_name=rec.name, overwrite=overwrite)
    target = destination.path
    try:
        await asyncio.to_thread(_copy, files_dir(services), rec.name, target, destination.overwrite)
    except EnttuiError:
        raise
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1):
            raise ValidationError(f"Chemin refusé : {target} est un lien symbolique.") from None
        raise FileStoreError(f"Export vers {target} impossible ({exc.strerror or exc}).") from None
    await services.state.audit(
        "fichier.export", rec.name, f"copie vers {target}" + (" (remplacé)" if destination.overwrite else "")
    )
    await record_written(services, target, f"copie de {rec.name}")
    return target


async def delete_file(services: Services, name: str, *, reason: str = "") -> None:
    rec = await _indexed(services, name)

    def unlink() -> None:
        dfd = _dir_fd(files_dir(services))
        try:
            os.unlink(rec.name, dir_fd=dfd)
        except FileNotFoundError:
            pass
        finally:
            os.close(dfd)

    try:
        await asyncio.to_thread(unlink)
    except OSError as exc:
        raise FileStoreError(f"Suppression de {rec.name} impossible ({exc.strerror or exc}).") from None
    await services.state.remove_file(rec.name)
    await services.state.audit("fichier.suppression", rec.name, reason or "supprimé")


async def purge_files(services: Services, days: int | None = None) -> list[str]:
    """Delete files older than ``days`` (default ``[state] files_purge_days``; 0 = never)."""
    days = services.config.state.files_purge_days if days is None else days
    if days <= 0:
        return []
    cutoff = services.clock() - timedelta(days=days)
    gone = []
    for rec in await services.state.list_files():
        if rec.created_at < cutoff:
            await delete_file(services, rec.name, reason=f"purge automatique (plus de {plural(days, 'jour')})")
            gone.append(rec.name)
    return gone
