"""The real console in a terminal (tmux) against slapd and aiosmtpd: a diffusion driven by keys.

The passwords are changed by child processes (``[diffusion] ldap_processes``): the screen must stay
clean (nothing written over the console), every account must be mailed or in the file, and no
child may outlive the console.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from e2e.test_tmux import ENTTUI, _tmux, _wait_for
from support.diffusion_world import World, mails_by_recipient, write_config
from support.procs import children_of, spawned_children


def console_pid(server: str) -> int:
    """The console's PID: the child of the pane's shell."""
    shell = int(_tmux(server, "display-message", "-p", "-t", "t", "#{pane_pid}").strip())
    (pid,) = children_of(shell)
    return pid


def test_diffusion_by_keys_against_the_real_servers(
    ldap_sandbox: Any, smtp_server: Any, tmp_path: Path, state_store: Any
) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    world = World.on_sandbox(ldap_sandbox)
    creds = [p for p in world.people if p.target.gets_ent_credentials and not p.activated]
    config = write_config(world, smtp_server, tmp_path)
    server = f"enttui-diff-{tmp_path.name}"
    done = tmp_path / "exit-status"
    cmd = f"{ENTTUI} --config {config}"
    try:
        _tmux(server, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", f"sh -c '{cmd}; echo $? > {done}'")
        _wait_for(server, "Vérifié à l'instant")
        _tmux(server, "send-keys", "-t", "t", "C-p")
        time.sleep(0.5)
        _tmux(server, "send-keys", "-t", "t", "-l", "Diffusion des identifiants")
        time.sleep(0.5)
        _tmux(server, "send-keys", "-t", "t", "Enter")
        _wait_for(server, "Cible")
        for key in ("Space", "Tab", "Space", "Tab", "Tab", "Tab", "Space"):  # Élève, Parent, Autre
            _tmux(server, "send-keys", "-t", "t", key)
            time.sleep(0.1)
        _tmux(server, "send-keys", "-t", "t", "F5")
        _wait_for(server, "sans adresse")
        _tmux(server, "send-keys", "-t", "t", "y")
        screen = _wait_for(server, "Diffusion terminée", timeout=60)
        assert "Traceback" not in screen and "Warning" not in screen
        pid = console_pid(server)
        assert spawned_children(pid) == []  # the password processes ended with the diffusion
        _tmux(server, "send-keys", "-t", "t", "C-q")
        deadline = time.monotonic() + 15
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists() and done.read_text().strip() == "0"
    finally:
        _tmux(server, "kill-server")
    mails = mails_by_recipient(smtp_server)
    with_mail = [p for p in creds if p.mail]
    assert set(mails) == {p.mail.lower() for p in with_mail}
    assert all(len(v) == 1 for v in mails.values())
