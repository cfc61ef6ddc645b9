"""What the private MariaDB and PostgreSQL servers share: a temporary folder, a free loopback port,
start with retries (a port taken between the probe and the bind), readiness, fresh databases, stop
by PID. :mod:`support.mariadb` and :mod:`support.postgres` say how each engine does each step.

Both are usable without pytest::

    with MariaDBServer() as server:            # or PostgresServer()
        url = server.url                       # the ``moodle`` database as the ``moodle`` user
        other = server.create_database()       # a fresh one, same owner
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Self

USER = "moodle"
PASSWORD = "moodle-test-pw"  # not a plain word: registered secrets are scrubbed from every message
DATABASE = "moodle"
START_ATTEMPTS = 3


class ServerMissing(RuntimeError):
    """The server binaries are not installed; the message says how to install them."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def which(*names: str) -> str | None:
    """The first of ``names`` found in the sbin/bin folders, then on PATH."""
    for name in names:
        for folder in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        found = shutil.which(name)
        if found:
            return found
    return None


class PrivateDbServer(ABC):
    """One private database server in a temporary folder (see the module docstring)."""

    NAME = ""  # for messages: "mariadbd", "postgres"
    DIR_PREFIX = ""
    LOG = "server.log"
    STOP_SIGNAL = signal.SIGTERM

    def __init__(self, base_dir: str | Path | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir else None
        self.dir: Path | None = None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._counter = 0

    # -- what each engine says ---------------------------------------------------------------------
    @abstractmethod
    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` as the ``moodle`` user."""

    @abstractmethod
    def _find_binaries(self) -> None:
        """Locate the server's programs; raise :class:`ServerMissing` with the install hint."""

    @abstractmethod
    def _init_data(self) -> None:
        """Create the data folder below :attr:`dir` (raise ``RuntimeError`` with the tool's output)."""

    @abstractmethod
    def _server_command(self) -> list[str]:
        """The server's command line, listening on :attr:`port` (127.0.0.1 only)."""

    @abstractmethod
    def _ping(self) -> bool:
        """Does the server answer its administrator now?"""

    @abstractmethod
    def _create_owner(self) -> None:
        """Create the ``moodle`` user and its ``moodle`` database."""

    @abstractmethod
    def _create_database_statement(self, name: str) -> str: ...

    @abstractmethod
    def _drop_database_statement(self, name: str) -> str: ...

    @abstractmethod
    def sql(self, statement: str) -> object:
        """Run SQL as the administrator (through the local socket)."""

    def _server_pid(self) -> int | None:
        """The PID to signal when it is not :attr:`process` itself (a wrapper started it)."""
        return None

    # -- shared ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``moodle`` database as the ``moodle`` user."""
        return self.url_for(DATABASE)

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / self.LOG

    def start(self, timeout: float = 120.0) -> Self:
        self._find_binaries()
        self.dir = Path(tempfile.mkdtemp(prefix=self.DIR_PREFIX, dir=self.base_dir))
        try:
            self._init_data()
        except BaseException:
            self.stop()
            raise
        last_error = ""
        for _attempt in range(START_ATTEMPTS):
            self.port = free_port()
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    self._server_command(),
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                    cwd=self.dir,
                )
            if self._wait_ready(timeout):
                break
            last_error = self._read_log()
            self._terminate()
        else:
            self.stop()
            raise RuntimeError(f"{self.NAME} did not start ({START_ATTEMPTS} attempts): {last_error[-2000:]}")
        self._create_owner()
        return self

    def _read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, timeout: float) -> bool:
        """True once the server answers; False when it died or did not answer within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if self._ping():
                return True
            time.sleep(0.05)
        return False

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database owned by ``moodle`` (a new name when none is given); returns its URL."""
        if name is None:
            self._counter += 1
            name = f"t_{os.getpid()}_{self._counter}"
        self.sql(self._create_database_statement(name))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.sql(self._drop_database_statement(name))

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._server_pid() or self.process.pid, self.STOP_SIGNAL)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop the server (signal by PID) and remove its folder."""
        self._terminate()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
