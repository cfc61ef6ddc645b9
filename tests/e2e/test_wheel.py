"""The wheel, as a server gets it: built by ``python -m build``, installed into a fresh venv outside
the checkout, run from a folder that is not the checkout: ``--version``, ``--demo status --json``,
``--demo sync --simulate --json``, and the console itself (its packaged stylesheets) in tmux.

Slow (a venv and the dependencies: pip's cache makes the second run quicker), but part of the suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str | Path], cwd: Path, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "JOURNAL_STREAM")}
    env["PYTHONWARNINGS"] = "ignore"
    run = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and run.returncode != 0:
        raise AssertionError(f"{cmd} → {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return run


def _tmux(server: str, *args: str) -> str:
    out = subprocess.run(["tmux", "-L", server, "-f", "/dev/null", *args], capture_output=True, text=True, timeout=20)
    return out.stdout


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, ROOT], cwd=tmp_path)
    (wheel,) = dist.glob("enttui-*.whl")
    version = metadata.version("enttui")
    assert wheel.name == f"enttui-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"enttui/data/enttui.bash", "enttui/data/ent.schema"} <= names
    assert any(n.endswith(".tcss") for n in names)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", "--quiet"]
    _run([*pip, "install", wheel], cwd=tmp_path, timeout=900)
    exe = venv / "bin" / "enttui"
    work = tmp_path / "elsewhere"
    work.mkdir()

    # The installed package, not the checkout.
    where = _run([venv / "bin" / "python", "-c", "import enttui; print(enttui.__file__)"], cwd=work).stdout.strip()
    assert where.startswith(str(venv)), where
    assert _run([exe, "--version"], cwd=work).stdout.strip() == f"enttui {version}"

    demo = tmp_path / "demo"
    status = json.loads(_run([exe, "--demo", "--demo-dir", demo, "status", "--json"], cwd=work).stdout)
    assert status["ok"] is True and [s["key"] for s in status["systems"]] == ["directory", "moodle", "smtp", "state"]
    sync = _run([exe, "--demo", "--demo-dir", demo, "sync", "--simulate", "--json"], cwd=work, check=False)
    assert sync.returncode in (0, 1), sync.stderr  # the demo world holds deliberate errors
    doc = json.loads(sync.stdout)
    assert doc["status"] == "simulé" and doc["counts"]["users"]["created"] > 0
    assert sync.stderr.splitlines()[-1].startswith("enttui[sync] fin : traitement n° ")

    # Package data: the completion script, and every stylesheet the console loads, inside the venv.
    script = _run([exe, "completion", "bash"], cwd=work).stdout
    assert "complete -F _enttui enttui" in script
    probe = (
        "import json\nfrom pathlib import Path\nfrom enttui.ui.resources import styles_folder, stylesheet_names\n"
        "folder = styles_folder()\n"
        "print(json.dumps([str(Path(str(folder / n)).resolve()) for n in stylesheet_names()]))\n"
    )
    sheets = json.loads(_run([venv / "bin" / "python", "-c", probe], cwd=work).stdout)
    assert len(sheets) >= 2 and all(s.startswith(str(venv.resolve())) and Path(s).is_file() for s in sheets), sheets

    # The console itself, headless in tmux: it starts on the Accueil with those stylesheets.
    if shutil.which("tmux") is None:
        pytest.fail("tmux is missing: apt-get install tmux")
    server = f"enttui-wheel-{os.getpid()}"
    done = tmp_path / "exit-status"
    try:
        _tmux(server, "new-session", "-d", "-s", "t", "-x", "80", "-y", "24", "-c", str(work),
              f"{exe} --demo --demo-dir {demo}; echo $? > {done}")  # fmt: skip
        deadline = time.monotonic() + 60
        screen = ""
        while time.monotonic() < deadline and "Vérifié " not in screen:
            screen = _tmux(server, "capture-pane", "-p", "-t", "t")
            time.sleep(0.2)
        assert "Vérifié " in screen and "Annuaire (LDAP)" in screen, screen
        _tmux(server, "send-keys", "-t", "t", "C-q")
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.exists() and done.read_text().strip() == "0"
    finally:
        _tmux(server, "kill-server")
