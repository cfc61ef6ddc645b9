"""The real console in a private tmux server, driven by keys; every wait is for something on screen.

A key is only sent once the screen shows that the console is ready for it (a loaded machine makes
any fixed pause too short), and every wait fails with what it waited for and the last screen.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# Generous: a deadline only turns a hang into a loud failure; a passing run never waits for it.
WAIT = 120.0


class Tmux:
    """One tmux server (``-L name``) with one session ``t`` running ``command``."""

    def __init__(self, name: str, exit_file: Path) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is missing: apt-get install tmux")
        self.name = name
        self.exit_file = exit_file

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.name, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=60
        )
        return done.stdout

    def start(self, command: str, *, width: int = 80, height: int = 24) -> None:
        """Run ``command`` in the session; its exit status is written to ``exit_file``."""
        shell = f"sh -c '{command}; echo $? > {self.exit_file}'"
        self.run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), shell)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "t", "-l", text)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def pane_pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", "t", "#{pane_pid}").strip())

    def wait_until(self, check: Callable[[str], bool], what: str, timeout: float = WAIT) -> str:
        """The screen once ``check(screen)`` is true; fails with ``what`` and the last screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout:.0f} s for {what}; last screen:\n{screen}")

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        return self.wait_until(lambda screen: text in screen, repr(text), timeout)

    def wait_exit(self, timeout: float = WAIT) -> int:
        """The console's exit status, once it has quit."""
        deadline = time.monotonic() + timeout
        while not self.exit_file.exists() or not self.exit_file.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout:.0f} s for the console to quit; last screen:\n{self.screen()}")
            time.sleep(0.1)
        return int(self.exit_file.read_text().strip())

    def palette(self, search: str, hit: str) -> None:
        """Run a command from the palette (ctrl+p): type ``search``, choose once ``hit`` is listed.

        Keys typed before the palette is open would reach the screen below (and run its
        bindings); an Enter before the search has listed its hits would choose nothing.
        """
        before = self.screen()
        self.keys("C-p")
        self.wait_until(lambda screen: screen.count("🔎") > before.count("🔎"), "the command palette")
        self.type(search)
        self.wait_until(lambda screen: search in screen and hit in screen, f"the palette to list {hit!r}")
        self.keys("Enter")

    def kill(self) -> None:
        self.run("kill-server")
