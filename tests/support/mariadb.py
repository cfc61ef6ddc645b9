"""A private MariaDB server for tests and benchmarks (recipe of ENV.md).

Usable without pytest::

    server = MariaDBServer().start()
    engine = sqlalchemy.create_engine(server.url)
    url = server.create_database("t_1")     # a fresh database, same user
    server.stop()

The server runs in a temporary folder on a free loopback port with a real user ``moodle``
(password ``moodle-test-pw``) owning the database ``moodle`` and every database made with
:meth:`MariaDBServer.create_database`. The system MariaDB service of the machine is never used.
What it shares with the PostgreSQL harness is in :mod:`support.dbserver`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.dbserver import DATABASE, PASSWORD, USER, PrivateDbServer, ServerMissing, free_port, which

__all__ = ["INSTALL_HINT", "MariaDBServer", "ServerMissing", "free_port"]

INSTALL_HINT = "apt-get install mariadb-server"


class MariaDBServer(PrivateDbServer):
    """One private ``mariadbd`` (see the module docstring)."""

    NAME = "mariadbd"
    DIR_PREFIX = "enttui-mariadb-"
    LOG = "err.log"

    def __init__(self, base_dir: str | Path | None = None, *, buffer_pool: str = "64M") -> None:
        """``buffer_pool``: InnoDB's buffer pool (64M for tests; the benchmarks size it like a
        Moodle server that holds the site in memory)."""
        super().__init__(base_dir)
        self.buffer_pool = buffer_pool

    @property
    def socket(self) -> str:
        assert self.dir is not None
        return str(self.dir / "s.sock")

    def url_for(self, database: str) -> str:
        return f"mysql+pymysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    def _find_binaries(self) -> None:
        self._install_db = which("mariadb-install-db", "mysql_install_db")
        self._mariadbd = which("mariadbd", "mysqld")
        self._client = which("mariadb", "mysql")
        self._admin = which("mariadb-admin", "mysqladmin")
        if not self._install_db or not self._mariadbd or not self._client:
            raise ServerMissing(f"MariaDB introuvable (mariadbd, mariadb-install-db) : {INSTALL_HINT}")

    def _init_data(self) -> None:
        assert self.dir is not None and self._install_db is not None
        result = subprocess.run(
            [
                self._install_db,
                "--no-defaults",
                f"--datadir={self.dir / 'data'}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {result.stderr.decode(errors='replace')[-2000:]}")

    def _server_command(self) -> list[str]:
        assert self.dir is not None and self._mariadbd is not None
        return [
            self._mariadbd,
            "--no-defaults",
            f"--datadir={self.dir / 'data'}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--user=root",
            f"--pid-file={self.dir / 'm.pid'}",
            f"--log-error={self.log_path}",
            "--skip-name-resolve",
            "--skip-log-bin",
            f"--innodb-buffer-pool-size={self.buffer_pool}",
            "--innodb-flush-log-at-trx-commit=2",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--max-connections=500",
        ]

    def _ping(self) -> bool:
        assert self.dir is not None
        if not (self.dir / "s.sock").exists():
            return False
        ping = subprocess.run(
            [self._admin or "mariadb-admin", "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
            capture_output=True,
            timeout=60,
        )
        return ping.returncode == 0

    def _create_owner(self) -> None:
        self.sql(
            f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';"
            f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';"
            f"{self._create_database_statement(DATABASE)}"
        )

    def _create_database_statement(self, name: str) -> str:
        return f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"

    def _drop_database_statement(self, name: str) -> str:
        return f"DROP DATABASE IF EXISTS `{name}`;"

    def sql(self, statement: str, database: str | None = None) -> str:
        """Run SQL as root through the socket (the ``mariadb`` client); returns its output."""
        cmd = [self._client or "mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-B"]
        if database:
            cmd.append(database)
        result = subprocess.run(cmd, input=statement.encode(), capture_output=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"mariadb: {result.stderr.decode(errors='replace')[-2000:]}")
        return result.stdout.decode()
