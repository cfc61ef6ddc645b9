"""Fixtures that run Moodle's own PHP code against the databases the sync writes.

- ``moodle_php`` (session): the Moodle 4.5 source tree of ``$ENTTUI_MOODLE_SRC`` unpacked once into a
  temporary folder, and PHP. Without the variable, every test that uses it is SKIPPED with the
  reason; with it but without ``php``, they fail with the install hint (``scripts/test`` installs
  PHP when run as root; ``.ci/run`` sets the variable).
- ``moodle_site`` (function, parametrized ``mariadb`` / ``postgresql``): a new database of the private
  server holding the fresh Moodle 4.5 site of the dumps next to the tarball, as
  :class:`MoodleSite`: ``.moodle`` (an opened :class:`~enttui.services.moodle.Moodle`) and
  ``.probe(request)`` (Moodle's answer, see ``support/moodle_probe.php``). Dropped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from enttui.services.moodle import Moodle
from support.fixtures_db import moodle_config_for
from support.mariadb import MariaDBServer
from support.moodle_php import ENV, PHP_PACKAGES, MoodleDb, MoodlePhp, find_php, load_moodle_dump
from support.postgres import PostgresServer

PG_TEMPLATE = "moodle_site_template"


@pytest.fixture(scope="session")
def moodle_php(tmp_path_factory: pytest.TempPathFactory) -> MoodlePhp:
    """Moodle's source unpacked once for the session (see the module docstring)."""
    src = os.environ.get(ENV, "").strip()
    if not src:
        pytest.skip(
            f"${ENV} n'est pas défini : les tests qui interrogent le code PHP de Moodle 4.5 sont sautés "
            f"(.ci/run le définit : ENTTUI_MOODLE_SRC=…/moodle-4.5-src.tar.xz)"
        )
    tarball = Path(src)
    if not tarball.is_file():
        pytest.fail(f"${ENV} = {src} : fichier introuvable", pytrace=False)
    php = find_php()
    if php is None:
        pytest.fail(f"php introuvable alors que ${ENV} est défini : apt-get install {PHP_PACKAGES}", pytrace=False)
    return MoodlePhp.unpack(tarball, tmp_path_factory.mktemp("moodle-src"), php)


@dataclass
class MoodleSite:
    """A Moodle 4.5 site in a private database, and Moodle's own code to question it."""

    engine: str
    db: MoodleDb
    moodle: Moodle
    php: MoodlePhp
    dataroot: Path

    def probe(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.php.probe(self.db, request, self.dataroot)


@pytest.fixture(params=["mariadb", "postgresql"])
async def moodle_site(
    request: pytest.FixtureRequest, moodle_php: MoodlePhp, tmp_path: Path
) -> AsyncIterator[MoodleSite]:
    """A fresh Moodle 4.5 site (from the dumps) on MariaDB, then on PostgreSQL."""
    dumps = Path(os.environ[ENV]).parent
    server: MariaDBServer | PostgresServer
    if request.param == "mariadb":
        server = request.getfixturevalue("mariadb_server")
        db = load_moodle_dump(server, dumps / "moodle-mariadb.sql.gz")
    else:
        server = request.getfixturevalue("postgres_server")
        db = load_moodle_dump(server, dumps / "moodle-pgsql.sql.gz", template=PG_TEMPLATE)
    moodle = Moodle(moodle_config_for(db.url))
    await moodle.open()
    try:
        yield MoodleSite(request.param, db, moodle, moodle_php, tmp_path / "moodledata")
    finally:
        await moodle.close()
        server.drop_database(make_url(db.url).database or "")
