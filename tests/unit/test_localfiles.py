"""Paths typed by an administrator and private writes: one set of rules for every export."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from enttui.errors import DestinationExists, ValidationError
from enttui.services.localfiles import check_output_path, write_private


def test_relative_absolute_and_folder(tmp_path: Path):
    assert check_output_path("r.csv", base=tmp_path) == tmp_path / "r.csv"
    assert check_output_path(str(tmp_path / "r.csv")) == tmp_path / "r.csv"
    assert check_output_path(str(tmp_path), default_name="x.csv") == tmp_path / "x.csv"


@pytest.mark.parametrize("bad", ["", "  ", "../r.csv", "a/../r.csv", "a\x00b", "nope/r.csv", "."])
def test_refused_paths(tmp_path: Path, bad: str):
    with pytest.raises(ValidationError):
        check_output_path(bad, base=tmp_path)


def test_symbolic_links_are_refused(tmp_path: Path):
    target = tmp_path / "target.csv"
    target.write_text("x")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with pytest.raises(ValidationError, match="lien symbolique"):
        check_output_path(str(link))
    # ... and at open time too (a link created after the check)
    with pytest.raises(ValidationError, match="lien symbolique"):
        write_private(link, b"data", overwrite=True)
    assert target.read_text() == "x"


def test_private_write_mode_and_overwrite(tmp_path: Path):
    path = tmp_path / "export.csv"
    write_private(path, b"one")
    assert os.stat(path).st_mode & 0o777 == 0o600
    with pytest.raises(DestinationExists) as info:
        write_private(path, b"two")
    assert info.value.path == path
    assert "existe déjà" in info.value.message
    assert path.read_bytes() == b"one"
    write_private(path, b"two", overwrite=True)
    assert path.read_bytes() == b"two"
