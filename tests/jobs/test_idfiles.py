"""Identifier files on disk: modes, names from the index only, export checks, delete, purge, audit."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from enttui.config import Config, StateConfig
from enttui.domain.idfiles import KIND_DIFFUSION, IdRow, file_name
from enttui.errors import DestinationExists, ValidationError
from enttui.jobs import idfiles
from enttui.services.container import Services
from enttui.services.state import StateStore

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


@pytest.fixture
def services(tmp_path: Path, state_store: StateStore, state_clock) -> Services:
    cfg = Config(state=StateConfig(url=state_store.config.url, files_dir=str(tmp_path / "files"), files_purge_days=30))
    return Services(config=cfg, directory=None, state=state_store, clock=state_clock)  # type: ignore[arg-type]


async def make_file(services: Services, moment: datetime = NOW) -> str:
    writer = idfiles.new_writer(idfiles.files_dir(services), file_name(KIND_DIFFUSION, moment))
    writer.append(IdRow("0123456A", "Élève", "=cmd", "Zoé", "3A", "zoe.d", "Abc#7xyzKMNP", moment, "motif"))
    await idfiles.index_file(services, writer, KIND_DIFFUSION, moment, None)
    writer.close()
    return writer.name


async def test_write_modes_and_list(services: Services) -> None:
    name = await make_file(services)
    folder = idfiles.files_dir(services)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    entries = await idfiles.list_files(services)
    assert [e.name for e in entries] == [name]
    assert entries[0].size == (folder / name).stat().st_size
    # Same second: a second file gets a suffix, never overwrites.
    second = idfiles.new_writer(folder, name)
    assert second.name != name
    second.close()


async def test_export(services: Services, tmp_path: Path) -> None:
    name = await make_file(services)
    out = tmp_path / "out"
    out.mkdir()
    path = await idfiles.export_file(services, name, str(out))
    assert path == out / name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == (idfiles.files_dir(services) / name).read_bytes()
    with pytest.raises(DestinationExists):
        await idfiles.export_file(services, name, str(out))
    await idfiles.export_file(services, name, str(out), overwrite=True)
    for bad in (str(out / ".." / "x.csv"), "../x.csv", ""):
        with pytest.raises(ValidationError):
            await idfiles.export_file(services, name, bad)
    link = out / "link.csv"
    link.symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(ValidationError, match="lien symbolique"):
        await idfiles.export_file(services, name, str(link), overwrite=True)
    assert not (tmp_path / "elsewhere.csv").exists()
    with pytest.raises(ValidationError):
        await idfiles.export_file(services, "../../etc/passwd", str(out / "p"))
    with pytest.raises(ValidationError, match="inconnu"):
        await idfiles.export_file(services, "Identifiants-non-envoyes-20000101_000000.csv", str(out / "p"))
    audit = await services.state.list_audit()
    assert [a.action for a in audit].count("fichier.export") == 2
    assert all(a.user for a in audit)


async def test_delete_and_purge(services: Services, state_clock) -> None:
    old = await make_file(services, NOW - timedelta(days=40))
    new = await make_file(services, NOW)
    with pytest.raises(ValidationError):
        await idfiles.delete_file(services, "../" + new)
    assert await idfiles.purge_files(services) == [old]
    assert [e.name for e in await idfiles.list_files(services)] == [new]
    await idfiles.delete_file(services, new)
    assert await idfiles.list_files(services) == []
    assert os.listdir(idfiles.files_dir(services)) == [".runs"]  # only the jobs lock's folder is left
    actions = [a.action for a in await services.state.list_audit()]
    assert actions.count("fichier.suppression") == 2


async def test_reopen_cuts_a_half_written_row_and_knows_the_rows(services: Services) -> None:
    """A writer killed in the middle of a row: the resume cuts the half row, counts and remembers the rest."""
    name = await make_file(services)
    path = idfiles.files_dir(services) / name
    row = IdRow("0123456A", "Élève", 'Nom "avec"\r\nretour', "Léa", "3A", "lea.m", "Pq#7xyzKMNP", NOW, "m")
    writer = idfiles.IdFileWriter(idfiles.files_dir(services), name)
    assert writer.reopen() and writer.rows == 1
    writer.append(row)
    writer.close()
    whole = path.read_bytes()
    path.write_bytes(whole + b'"0123456A";"\xc3\x89l\xc3\xa8ve";"Dup')  # killed mid-row
    writer = idfiles.IdFileWriter(idfiles.files_dir(services), name)
    assert writer.reopen()
    assert path.read_bytes() == whole and writer.rows == 2
    assert writer.has("zoe.d", "Abc#7xyzKMNP") and writer.has("LEA.M", "Pq#7xyzKMNP") and writer.has("lea.m")
    assert not writer.has("lea.m", "autre-mot-de-passe") and not writer.has("dup")
    writer.close()
    # The index is corrected from the disk when the sizes differ (a run killed while writing).
    (entry,) = await idfiles.list_files(services)
    assert entry.rows == 2 and entry.size == len(whole)
    # A file killed before its header was whole gets its header back.
    path.write_bytes(b'\xef\xbb\xbf"UA')
    writer = idfiles.IdFileWriter(idfiles.files_dir(services), name)
    assert writer.reopen() and writer.rows == 0
    writer.close()
    assert path.read_bytes().startswith(b'\xef\xbb\xbf"UAI"') and path.read_bytes().endswith(b"\r\n")
