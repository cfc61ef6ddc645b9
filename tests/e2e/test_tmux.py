"""The real `enttui --demo` in a terminal (tmux): it starts, shows the home screen, quits on ctrl+q."""

from __future__ import annotations

import sys
from pathlib import Path

from support.tmux import Tmux

ENTTUI = Path(sys.executable).with_name("enttui")


def test_demo_starts_and_quits_with_ctrl_q(tmp_path):
    assert ENTTUI.exists(), "the enttui console script is not installed in the venv (pip install -e .)"
    tmux = Tmux(f"enttui-test-{tmp_path.name}", tmp_path / "exit-status")
    try:
        tmux.start(f"{ENTTUI} --demo --demo-dir {tmp_path / 'demo'}")
        screen = tmux.wait_for("Vérifié le")
        assert "Vous êtes ici : Accueil" in screen
        assert "Annuaire (LDAP)" in screen
        tmux.keys("C-q")
        assert tmux.wait_exit() == 0
    finally:
        tmux.kill()
