"""Moodle's own PHP code in the tests: the untouched Moodle 4.5 source, unpacked for the session.

The tarball's path comes from ``$ENTTUI_MOODLE_SRC`` (``.ci/run`` sets it; ``scripts/test`` installs
PHP). :meth:`MoodlePhp.unpack` extracts it into a temporary folder once and writes there a
``config.php`` of ours that takes the database from ``ENTTUI_PROBE_*`` environment variables, so
that one tree serves every database. :meth:`MoodlePhp.probe` runs ``moodle_probe.php`` (ours, next
to this file) in one PHP process and returns its JSON answer. No Moodle code lives in the project.

Databases: :func:`load_moodle_dump` restores one of the dumps of a fresh Moodle 4.5 site (the
source of the tarball) into a new database of the private MariaDB or PostgreSQL.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from support.mariadb import MariaDBServer
from support.postgres import PostgresServer, find_pg_bin

ENV = "ENTTUI_MOODLE_SRC"
PHP_PACKAGES = "php-cli php-mysql php-pgsql php-xml php-mbstring php-intl php-curl php-zip php-gd php-soap"
PROBE = Path(__file__).with_name("moodle_probe.php")

CONFIG_PHP = r"""<?php
// Written by enttui's tests (not part of Moodle): the database comes from the environment.
unset($CFG);
global $CFG;
$CFG = new stdClass();
$CFG->dbtype = getenv('ENTTUI_PROBE_DBTYPE');
$CFG->dblibrary = 'native';
$CFG->dbhost = getenv('ENTTUI_PROBE_DBHOST');
$CFG->dbname = getenv('ENTTUI_PROBE_DBNAME');
$CFG->dbuser = getenv('ENTTUI_PROBE_DBUSER');
$CFG->dbpass = getenv('ENTTUI_PROBE_DBPASS');
$CFG->prefix = 'mdl_';
$CFG->dboptions = ['dbport' => (int)getenv('ENTTUI_PROBE_DBPORT')];
$CFG->wwwroot = 'http://localhost/moodle';
$CFG->dataroot = getenv('ENTTUI_PROBE_DATAROOT');
$CFG->directorypermissions = 02777;
$CFG->debugdisplay = 0;
require_once(__DIR__ . '/lib/setup.php');
"""


class ProbeError(AssertionError):
    """The PHP probe failed: its output says why."""


@dataclass
class MoodleDb:
    """A database holding a Moodle site: the SQLAlchemy URL and what Moodle's config.php needs."""

    url: str
    dbtype: str  # "mariadb" or "pgsql"

    def environment(self) -> dict[str, str]:
        u = make_url(self.url)
        return {
            "ENTTUI_PROBE_DBTYPE": self.dbtype,
            "ENTTUI_PROBE_DBHOST": u.host or "127.0.0.1",
            "ENTTUI_PROBE_DBPORT": str(u.port or 0),
            "ENTTUI_PROBE_DBNAME": u.database or "",
            "ENTTUI_PROBE_DBUSER": u.username or "",
            "ENTTUI_PROBE_DBPASS": str(u.password or ""),
        }


class MoodlePhp:
    """An unpacked Moodle source tree and PHP (see the module docstring)."""

    def __init__(self, root: Path, php: str) -> None:
        self.root = root
        self.php = php

    @classmethod
    def unpack(cls, tarball: Path, dest: Path, php: str) -> MoodlePhp:
        tar = shutil.which("tar")
        done = False
        if tar is not None and shutil.which("xz"):  # GNU tar and xz: seconds, where tarfile takes a minute
            done = subprocess.run([tar, "-xJf", str(tarball), "-C", str(dest)], capture_output=True).returncode == 0
        if not done:
            with tarfile.open(tarball) as archive:
                archive.extractall(dest, filter="tar")
        roots = [p for p in dest.iterdir() if (p / "lib" / "setup.php").is_file()]
        if len(roots) != 1:
            raise ProbeError(f"{tarball} : arbre source de Moodle introuvable (lib/setup.php)")
        (roots[0] / "config.php").write_text(CONFIG_PHP, encoding="utf-8")
        return cls(roots[0], php)

    def probe(self, db: MoodleDb, request: dict[str, Any], dataroot: Path, timeout: float = 300) -> dict[str, Any]:
        """Run the probe on ``db`` with its own ``dataroot`` (Moodle's caches live there)."""
        dataroot.mkdir(parents=True, exist_ok=True)
        dataroot.chmod(0o777)
        with tempfile.TemporaryDirectory(prefix="enttui-probe-") as tmp:
            question, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
            question.write_text(json.dumps(request), encoding="utf-8")
            env = dict(
                os.environ, **db.environment(), ENTTUI_PROBE_MOODLE=str(self.root), ENTTUI_PROBE_DATAROOT=str(dataroot)
            )
            proc = subprocess.run(
                [self.php, "-d", "memory_limit=512M", str(PROBE), str(question), str(answer)],
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if proc.returncode != 0 or not answer.exists():
                raise ProbeError(
                    f"la sonde PHP a échoué ({proc.returncode}) :\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
                )
            return json.loads(answer.read_text(encoding="utf-8"))


def find_php() -> str | None:
    return shutil.which("php")


def load_moodle_dump(server: MariaDBServer | PostgresServer, dump: Path, template: str | None = None) -> MoodleDb:
    """A new database of ``server`` holding the dumped Moodle site (user ``moodle``).

    PostgreSQL: the dump is restored once into ``template`` (when given), then each database is a
    file copy of it (well under a second); MariaDB restores the dump each time (about two seconds).
    """
    if isinstance(server, MariaDBServer):
        url = server.create_database()
        name = make_url(url).database or ""
        proc = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={server.socket}", "-uroot", name],
            input=gzip.decompress(dump.read_bytes()),
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise ProbeError(f"chargement de {dump.name} refusé : {proc.stderr.decode(errors='replace')[-2000:]}")
        return MoodleDb(url, "mariadb")
    if template is not None:
        if not server.sql(f"SELECT 1 FROM pg_database WHERE datname = '{template}'"):
            _restore_pg(server, server.create_database(template), dump)
        url = server.url_for(f"t_{os.getpid()}_{next(_counter)}")
        name = make_url(url).database
        server.sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER moodle STRATEGY FILE_COPY')
        return MoodleDb(url, "pgsql")
    url = server.create_database()
    _restore_pg(server, url, dump)
    return MoodleDb(url, "pgsql")


def _restore_pg(server: PostgresServer, url: str, dump: Path) -> None:
    """Restore as ``moodle`` (the dump has no owner: the tables belong to whoever restores them)."""
    u = make_url(url)
    env = dict(os.environ, PGPASSWORD=str(u.password))
    psql, user, name = find_pg_bin("psql") or "psql", str(u.username), str(u.database)
    proc = subprocess.run(
        [psql, "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(server.port), "-U", user, name],
        input=gzip.decompress(dump.read_bytes()),
        capture_output=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise ProbeError(f"chargement de {dump.name} refusé : {proc.stderr.decode(errors='replace')[-2000:]}")


_counter = itertools.count(1)
