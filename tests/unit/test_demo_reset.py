"""`enttui --demo --reset` (what scripts/demo runs): a fresh demo world, nothing else touched."""

from __future__ import annotations

import pytest

from enttui.cli import main, reset_demo_world


def test_reset_removes_the_demo_records_only(tmp_path):
    root = tmp_path / "demo"
    (root / "outbox").mkdir(parents=True)
    (root / "outbox" / "1.eml").write_text("x")
    (root / "identifiants").mkdir()
    (root / "identifiants" / "Identifiants-non-envoyes-20261121_083000.csv").write_text("x")
    for name in ("state.db", "state.db-wal", "moodle.db"):
        (root / name).write_text("x")
    (root / "notes.txt").write_text("à garder")
    reset_demo_world(root)
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]


def test_reset_needs_demo(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--reset"])
    assert exit_info.value.code == 2
    assert "--reset ne s'emploie qu'avec --demo" in capsys.readouterr().err
