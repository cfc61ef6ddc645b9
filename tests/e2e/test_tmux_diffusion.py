"""The real console in a terminal (tmux) against slapd and aiosmtpd: a diffusion driven by keys.

The passwords are changed by child processes (``[diffusion] ldap_processes``): the screen must stay
clean (nothing written over the console), every account must be mailed or in the file, and no
child may outlive the console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e.test_tmux import ENTTUI
from support.diffusion_world import World, mails_by_login, write_config
from support.procs import children_of, spawned_children
from support.tmux import Tmux


def console_pid(tmux: Tmux) -> int:
    """The console's PID: the child of the pane's shell."""
    (pid,) = children_of(tmux.pane_pid())
    return pid


def test_diffusion_by_keys_against_the_real_servers(
    ldap_sandbox: Any, smtp_server: Any, tmp_path: Path, state_store: Any
) -> None:
    world = World.on_sandbox(ldap_sandbox)
    creds = [p for p in world.people if p.target.gets_ent_credentials and not p.activated]
    config = write_config(world, smtp_server, tmp_path)
    tmux = Tmux(f"enttui-diff-{tmp_path.name}", tmp_path / "exit-status")
    try:
        tmux.start(f"{ENTTUI} --config {config}")
        tmux.wait_for("Vérifié à l'instant")
        tmux.palette("Diffusion des identifiants", "Administration › Diffusion des identifiants")
        tmux.wait_for("Cible")
        tmux.keys("Space", "Tab", "Space", "Tab", "Tab", "Tab", "Space")  # Élève, Parent, Autre
        tmux.keys("F5")
        tmux.wait_for("Diffuser les identifiants ?")  # the confirmation
        tmux.keys("y")
        screen = tmux.wait_for("Diffusion terminée")
        assert "Traceback" not in screen and "Warning" not in screen
        assert spawned_children(console_pid(tmux)) == []  # the password processes ended with the diffusion
        tmux.keys("C-q")
        assert tmux.wait_exit() == 0
    finally:
        tmux.kill()
    mails = mails_by_login(smtp_server)  # (two parents may share a family address)
    with_mail = [p for p in creds if p.mail]
    assert set(mails) == {p.login for p in with_mail}
    assert all(len(v) == 1 for v in mails.values())
