"""The real `enttui --demo` in a terminal (tmux): it starts, shows the home screen, quits on ctrl+q."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENTTUI = Path(sys.executable).with_name("enttui")


def _tmux(server: str, *args: str) -> str:
    out = subprocess.run(["tmux", "-L", server, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=20)
    return out.stdout


def _wait_for(server: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux(server, "capture-pane", "-p", "-t", "t")
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; last screen:\n{screen}")


def test_demo_starts_and_quits_with_ctrl_q(tmp_path):
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    assert ENTTUI.exists(), "the enttui console script is not installed in the venv (pip install -e .)"
    server = f"enttui-test-{tmp_path.name}"
    done = tmp_path / "exit-status"
    cmd = f"{ENTTUI} --demo --demo-dir {tmp_path / 'demo'}; echo $? > {done}"
    try:
        _tmux(server, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", cmd)
        screen = _wait_for(server, "Vérifié le")
        assert "Vous êtes ici : Accueil" in screen
        assert "Annuaire (LDAP)" in screen
        _tmux(server, "send-keys", "-t", "t", "C-q")
        deadline = time.monotonic() + 15
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists(), "enttui did not quit on ctrl+q"
        assert done.read_text().strip() == "0"
    finally:
        _tmux(server, "kill-server")
