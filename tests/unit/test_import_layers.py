"""The headless side never loads Textual: the jobs and the command line run under cron without it.

The import contracts (``lint-imports``, [tool.importlinter] in pyproject.toml) check the import
graph statically; these tests check what a fresh interpreter really loads, so a lazy import inside
a function body counts too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

UI_PACKAGES = ("textual", "rich")

_PROBE = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys

    import enttui.cli
    import enttui.jobs

    loaded = []
    for info in pkgutil.walk_packages(enttui.jobs.__path__, "enttui.jobs."):
        importlib.import_module(info.name)
        loaded.append(info.name)
    enttui.cli.build_parser()  # imports every subcommand's module
    loaded += [f"enttui.cli.{name}" for name in enttui.cli.COMMAND_MODULES]
    """
)
_REPORT = 'print(json.dumps({"modules": sorted(sys.modules), "loaded": loaded}))\n'


def _probe(extra: str = "", *args: str) -> dict[str, list[str]]:
    code = _PROBE + textwrap.dedent(extra) + "\n" + _REPORT
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _ui_modules(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in UI_PACKAGES or m.startswith("enttui.ui")]


def test_importing_the_jobs_and_the_cli_never_loads_textual():
    seen = _probe()
    assert "enttui.jobs.diffusion" in seen["loaded"] and "enttui.cli.sync" in seen["loaded"]
    assert _ui_modules(seen["modules"]) == []


def test_a_headless_command_never_loads_textual(tmp_path):
    """``enttui status --demo --json`` opens the demo world, asks every system, and prints JSON."""
    run = """
        import contextlib, io
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = enttui.cli.main(["status", "--demo", "--demo-dir", sys.argv[1], "--json"])
        assert code == 0, (code, out.getvalue())
        assert json.loads(out.getvalue())["ok"] is True
    """
    seen = _probe(run, str(tmp_path / "demo"))
    assert "enttui.jobs.status" in seen["modules"]
    assert _ui_modules(seen["modules"]) == []
