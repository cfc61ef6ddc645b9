"""The one rule for export destinations (jobs/destinations.py), from the jobs and the CLI."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from enttui.cli import main
from enttui.demo.wiring import demo_services
from enttui.domain.destinations import system_path_reason
from enttui.errors import ValidationError
from enttui.jobs import csv_export
from enttui.jobs.destinations import prepare_destination
from enttui.services.localfiles import DestinationExists


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/usr/local/x.csv", "/bin/x", "/boot/x", "/dev/sda", "/proc/x", "/sys/x", "/var/lib/dpkg/x", "/x"],
)
def test_system_paths_are_refused(path):
    assert system_path_reason(PurePosixPath(path))


def test_the_products_own_folders_and_homes_are_allowed():
    own = [PurePosixPath("/var/lib/enttui/identifiants")]
    assert system_path_reason(PurePosixPath("/var/lib/enttui/identifiants/copie.csv"), own) is None
    assert system_path_reason(PurePosixPath("/home/admin/export.csv")) is None
    assert system_path_reason(PurePosixPath("/tmp/export.csv")) is None
    assert system_path_reason(PurePosixPath("/root/export.csv")) is None


async def test_an_existing_file_is_replaced_only_if_enttui_wrote_it(tmp_path):
    services = await demo_services(tmp_path / "demo")
    try:
        theirs = tmp_path / "theirs.csv"
        theirs.write_text("pas à enttui", encoding="utf-8")
        for overwrite in (False, True):  # even "confirmed"
            with pytest.raises(ValidationError, match="n'a pas été écrit par enttui"):
                await prepare_destination(services, str(theirs), overwrite=overwrite)
            with pytest.raises(ValidationError, match="dossier du système"):
                await csv_export.run_export(services, "personnes", "/etc/passwd", overwrite=overwrite)
        assert theirs.read_text(encoding="utf-8") == "pas à enttui"
        ours = tmp_path / "ours.csv"
        await csv_export.run_export(services, "personnes", str(ours))
        with pytest.raises(DestinationExists):
            await csv_export.run_export(services, "personnes", str(ours))
        result = await csv_export.run_export(services, "personnes", str(ours), overwrite=True)
        assert result.rows > 1000 and ours.read_bytes().startswith(b"\xef\xbb\xbf")
        # A symbolic link to a system folder does not get around the rule.
        link = tmp_path / "etc"
        link.symlink_to("/etc")
        with pytest.raises(ValidationError, match="dossier du système"):
            await prepare_destination(services, str(link / "enttui-test.csv"))
        assert not Path("/etc/enttui-test.csv").exists()  # noqa: ASYNC240
    finally:
        await services.close()


def test_the_command_line_refuses_etc_passwd(tmp_path, capsys):
    before = Path("/etc/passwd").read_bytes()
    code = main(
        [
            "export",
            "--demo",
            "--demo-dir",
            str(tmp_path / "demo"),
            "--format",
            "personnes",
            "--output",
            "/etc/passwd",
            "--force",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "Destination refusée" in err and "dossier du système" in err
    assert Path("/etc/passwd").read_bytes() == before
