"""A private MariaDB server for tests and benchmarks (recipe of ENV.md).

Usable without pytest::

    server = MariaDBServer().start()
    engine = sqlalchemy.create_engine(server.url)
    url = server.create_database("t_1")     # a fresh database, same user
    server.stop()

The server runs in a temporary folder on a free loopback port with a real user ``moodle``
(password ``moodle-test-pw``) owning the database ``moodle`` and every database made with
:meth:`MariaDBServer.create_database`. The system MariaDB service of the machine is never used.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "apt-get install mariadb-server"

USER = "moodle"
PASSWORD = "moodle-test-pw"  # not a plain word: registered secrets are scrubbed from every message
DATABASE = "moodle"


class ServerMissing(RuntimeError):
    """The server binaries are not installed; the message says how to install them."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _which(*names: str) -> str | None:
    for name in names:
        for folder in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        found = shutil.which(name)
        if found:
            return found
    return None


class MariaDBServer:
    """One private ``mariadbd`` (see the module docstring)."""

    def __init__(self, base_dir: str | Path | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir else None
        self.dir: Path | None = None
        self.port: int = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._counter = 0

    # -- paths ---------------------------------------------------------------------------------
    @property
    def socket(self) -> str:
        assert self.dir is not None
        return str(self.dir / "s.sock")

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``moodle`` database as the ``moodle`` user."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"mysql+pymysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    # -- life cycle ----------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> MariaDBServer:
        install_db = _which("mariadb-install-db", "mysql_install_db")
        mariadbd = _which("mariadbd", "mysqld")
        if not install_db or not mariadbd or not _which("mariadb", "mysql"):
            raise ServerMissing(f"MariaDB introuvable (mariadbd, mariadb-install-db) : {INSTALL_HINT}")
        self.dir = Path(tempfile.mkdtemp(prefix="enttui-mariadb-", dir=self.base_dir))
        data = self.dir / "data"
        result = subprocess.run(
            [
                install_db,
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {result.stderr.decode(errors='replace')[-2000:]}")
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            self.process = subprocess.Popen(
                [
                    mariadbd,
                    "--no-defaults",
                    f"--datadir={data}",
                    f"--socket={self.socket}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    "--user=root",
                    f"--pid-file={self.dir / 'm.pid'}",
                    f"--log-error={self.dir / 'err.log'}",
                    "--skip-name-resolve",
                    "--skip-log-bin",
                    "--innodb-buffer-pool-size=64M",
                    "--innodb-flush-log-at-trx-commit=2",
                    "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_unicode_ci",
                    "--max-connections=500",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            if self._wait_ready(timeout):
                break
            last_error = self._error_log()
            self._terminate()
        else:
            self.stop()
            raise RuntimeError(f"mariadbd did not start: {last_error[-2000:]}")
        self.sql(
            f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';"
            f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%';"
            f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
        )
        return self

    def _error_log(self) -> str:
        assert self.dir is not None
        try:
            return (self.dir / "err.log").read_text(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, timeout: float) -> bool:
        admin = _which("mariadb-admin", "mysqladmin")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if Path(self.socket).exists():
                ping = subprocess.run(
                    [admin or "mariadb-admin", "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
                    capture_output=True,
                )
                if ping.returncode == 0:
                    return True
            time.sleep(0.05)
        return False

    def sql(self, statements: str, database: str | None = None) -> str:
        """Run SQL as root through the socket (the ``mariadb`` client); returns its output."""
        client = _which("mariadb", "mysql")
        cmd = [client or "mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-B"]
        if database:
            cmd.append(database)
        result = subprocess.run(cmd, input=statements.encode(), capture_output=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"mariadb: {result.stderr.decode(errors='replace')[-2000:]}")
        return result.stdout.decode()

    def create_database(self, name: str | None = None) -> str:
        """Create an empty utf8mb4 database (a new name when none is given); returns its URL."""
        if name is None:
            self._counter += 1
            name = f"t_{os.getpid()}_{self._counter}"
        self.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;")
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS `{name}`;")

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def stop(self) -> None:
        """SIGTERM the server (by PID) and remove its folder."""
        self._terminate()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
