"""Start-up benchmark: how soon the console shows its first screen, against Textual's own floor.

- import of the app module (``python -c 'import enttui.ui.app'``) against the floor
  ``python -c 'import textual.app'``, each a fresh interpreter;
- the real ``enttui --demo`` in a private tmux server at 80×24, from the start of the process to
  the Accueil on screen ("Vous êtes ici : Accueil") and to its health table filled in ("Vérifié à
  l'instant"), against the floor: a minimal Textual app (one label) on screen in the same terminal.

    .venv/bin/python bench/startup.py [--runs 7]

Runs alternate (floor, console, floor, …) after one warm-up each, so a machine whose speed drifts
affects both alike; prints the median and the range of each figure and the ratio of the medians to
the floor measured in the same run; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
ENTTUI = str(Path(sys.executable).with_name("enttui"))
FLOOR_APP = (
    "from textual.app import App\n"
    "from textual.widgets import Label\n"
    "class Floor(App):\n"
    "    def compose(self):\n"
    "        yield Label('plancher prêt')\n"
    "Floor().run()\n"
)
POLL = 0.005


def time_process(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


class Terminal:
    """A private tmux server at 80×24 running one command; its screen polled."""

    def __init__(self, name: str) -> None:
        self.name = name

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", *args], capture_output=True, text=True)
        return done.stdout

    def times_to(self, command: str, marks: tuple[str, ...], timeout: float = 60.0) -> list[float]:
        """Seconds from the start of ``command`` until each text of ``marks`` is on screen."""
        self.tmux("kill-server")
        start = time.perf_counter()
        self.tmux("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", command)
        found: list[float] = []
        deadline = start + timeout
        try:
            while len(found) < len(marks):
                if time.perf_counter() > deadline:
                    last = self.tmux("capture-pane", "-p", "-t", "t")
                    raise SystemExit(f"{marks[len(found)]!r} never showed; last screen:\n{last}")
                screen = self.tmux("capture-pane", "-p", "-t", "t")
                while len(found) < len(marks) and marks[len(found)] in screen:
                    found.append(time.perf_counter() - start)
                time.sleep(POLL)
        finally:
            self.tmux("kill-server")
        return found


def summary(label: str, values: list[float], *floors: list[float]) -> str:
    """Median (range), then the ratio of the medians to each floor."""
    med = statistics.median(values)
    text = f"{label:<42} {med * 1000:6.0f} ms ({min(values) * 1000:.0f}–{max(values) * 1000:.0f})"
    ratios = " / ".join(f"{med / statistics.median(floor):.2f}×" for floor in floors)
    return text + (f"  {ratios}" if ratios else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is missing: apt-get install tmux")

    floor_import: list[float] = []
    app_import: list[float] = []
    for i in range(args.runs + 1):
        a = time_process([PYTHON, "-c", "import textual.app"])
        b = time_process([PYTHON, "-c", "import enttui.ui.app"])
        if i:  # the first pair warms the file cache
            floor_import.append(a)
            app_import.append(b)

    terminal = Terminal(f"enttui-startup-{os.getpid()}")
    floor_screen: list[float] = []
    first_screen: list[float] = []
    health: list[float] = []
    with tempfile.TemporaryDirectory(prefix="enttui-bench-") as tmp:
        floor_script = Path(tmp) / "floor.py"
        floor_script.write_text(FLOOR_APP, encoding="utf-8")
        demo = Path(tmp) / "demo"
        console = f"{ENTTUI} --demo --demo-dir {demo}"
        for i in range(args.runs + 1):
            (f,) = terminal.times_to(f"{PYTHON} {floor_script}", ("plancher prêt",))
            shown, checked = terminal.times_to(console, ("Vous êtes ici : Accueil", "Vérifié à l'instant"))
            if i:  # the first run creates the demo's files
                floor_screen.append(f)
                first_screen.append(shown)
                health.append(checked)

    print(f"{args.runs} runs each: median (min–max), ratios to the floors [1] / [2]")
    print(summary("[1] python -c 'import textual.app'", floor_import))
    print(summary("[2] a one-label Textual app on screen", floor_screen))
    print(summary("python -c 'import enttui.ui.app'", app_import, floor_import))
    print(summary("enttui --demo: the Accueil on screen", first_screen, floor_import, floor_screen))
    print(summary("enttui --demo: its health table filled in", health, floor_import, floor_screen))


if __name__ == "__main__":
    main()
