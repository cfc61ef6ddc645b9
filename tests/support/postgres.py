"""A private PostgreSQL server for tests and benchmarks.

Usable without pytest::

    server = PostgresServer().start()
    url = server.url                         # postgresql+psycopg://moodle:moodle-test-pw@127.0.0.1:PORT/moodle
    url = server.create_database("t_1")      # a fresh database owned by ``moodle``
    server.stop()

``initdb`` + ``postgres -D … -p PORT -k <dir> -h 127.0.0.1`` in a temporary folder on a free
loopback port. ``postgres`` refuses to run as root: as root, both run as the ``postgres`` system
user (else ``nobody``) through ``runuser``, and the folder belongs to that user. The role ``moodle``
(password ``moodle-test-pw``, scram over TCP) owns the databases. The system service is never used.
What it shares with the MariaDB harness is in :mod:`support.dbserver`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from support.dbserver import DATABASE, PASSWORD, USER, PrivateDbServer, ServerMissing

__all__ = ["INSTALL_HINT", "PostgresServer", "find_pg_bin"]

INSTALL_HINT = "apt-get install postgresql"


def find_pg_bin(name: str) -> str | None:
    """``initdb``/``postgres``/``psql``: the newest /usr/lib/postgresql/*/bin, then /usr/local/bin, PATH."""

    def version(path: str) -> float:
        try:
            return float(Path(path).parts[-3])
        except (ValueError, IndexError):
            return 0.0

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version, reverse=True)
    candidates += [f"/usr/local/bin/{name}"]
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(name)


class PostgresServer(PrivateDbServer):
    """One private ``postgres`` (see the module docstring)."""

    NAME = "postgres"
    DIR_PREFIX = "enttui-pg-"
    LOG = "pg.log"
    # SIGINT is postgres's fast shutdown (SIGTERM would wait for every client to leave); it goes to
    # the postmaster itself, by the PID it wrote, not only to the runuser wrapper.
    STOP_SIGNAL = signal.SIGINT

    def __init__(self, base_dir: str | Path | None = None) -> None:
        super().__init__(base_dir)
        self.run_as: str | None = None

    @property
    def data(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    @property
    def socket_dir(self) -> str:
        assert self.dir is not None
        return str(self.dir)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def _find_binaries(self) -> None:
        self._initdb = find_pg_bin("initdb")
        self._postgres = find_pg_bin("postgres")
        if not self._initdb or not self._postgres:
            raise ServerMissing(f"PostgreSQL introuvable (initdb, postgres) : {INSTALL_HINT}")

    def _init_data(self) -> None:
        assert self.dir is not None and self._initdb is not None
        if os.geteuid() == 0:
            for candidate in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(candidate)
                except KeyError:
                    continue
                self.run_as = candidate
                os.chown(self.dir, entry.pw_uid, entry.pw_gid)
                break
        pwfile = self.dir / "pw"
        pwfile.write_text("postgres\n")
        log = self.log_path
        log.touch()
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            for path in (pwfile, log):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            self._cmd(
                self._initdb,
                "-D",
                str(self.data),
                "-U",
                "postgres",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ),
            capture_output=True,
            timeout=300,
            cwd=self.dir,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.decode(errors='replace')[-2000:]}")

    def _server_command(self) -> list[str]:
        assert self._postgres is not None
        return self._cmd(
            self._postgres,
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            self.socket_dir,
            "-h",
            "127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=32MB",
        )

    def _admin_connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname=database, autocommit=True, connect_timeout=2
        )

    def _ping(self) -> bool:
        try:
            with self._admin_connect() as conn:
                conn.execute("SELECT 1")
        except Exception:  # noqa: BLE001 - not ready yet
            return False
        return True

    def _create_owner(self) -> None:
        self.sql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}' CREATEDB")
        self.sql(self._create_database_statement(DATABASE))

    def _create_database_statement(self, name: str) -> str:
        return f"CREATE DATABASE \"{name}\" OWNER {USER} ENCODING 'UTF8'"

    def _drop_database_statement(self, name: str) -> str:
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        """Run one statement as the superuser (through the socket, autocommit); returns the rows."""
        with self._admin_connect(database) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def _server_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
