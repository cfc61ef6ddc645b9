"""The console starts on little: importing it loads no database, directory or mail driver, no demo
world and no page but what the Accueil needs; each page's module is imported when it is first shown.

Checked in a fresh interpreter (``sys.modules``), like ``test_import_layers.py``: a module-level
import added anywhere on the way fails here, whatever the import contracts allow. No timing is
asserted; ``bench/startup.py`` prints the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Loaded by the services when they open, in a worker once the first screen is shown.
DRIVERS = ("sqlalchemy", "ldap3", "aiosmtplib", "pymysql", "psycopg")
HEAVY = (
    "enttui.demo",
    "enttui.services.directory",
    "enttui.services.moodle",
    "enttui.services.mailer",
    "enttui.services.state",
    "enttui.jobs.sync",
    "enttui.jobs.diffusion",
)


def _modules(code: str) -> list[str]:
    probe = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in DRIVERS or m.startswith(HEAVY)]


def test_importing_the_console_loads_no_driver_no_demo_and_no_page():
    modules = _modules("import enttui.cli, enttui.ui.app")
    assert "enttui.ui.app" in modules and "textual.app" in modules
    assert _heavy(modules) == []
    pages = [m for m in modules if m.startswith("enttui.ui.screens.") and m != "enttui.ui.screens.base"]
    assert pages == []


def test_a_page_module_is_imported_when_the_page_is_first_asked_for():
    modules = _modules(
        """
        from enttui.ui.screens import screen_class
        assert screen_class("accueil").__name__ == "HomeScreen"
        """
    )
    assert "enttui.ui.screens.home" in modules
    assert "enttui.ui.screens.utilisateurs" not in modules and "enttui.ui.screens.diffusion" not in modules
    assert _heavy(modules) == []
