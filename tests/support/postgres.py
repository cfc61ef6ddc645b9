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
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from support.mariadb import ServerMissing, free_port

INSTALL_HINT = "apt-get install postgresql"

USER = "moodle"
PASSWORD = "moodle-test-pw"  # not a plain word: registered secrets are scrubbed from every message
DATABASE = "moodle"


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


class PostgresServer:
    """One private ``postgres`` (see the module docstring)."""

    def __init__(self, base_dir: str | Path | None = None) -> None:
        self.base_dir = Path(base_dir) if base_dir else None
        self.dir: Path | None = None
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.run_as: str | None = None
        self._counter = 0

    @property
    def data(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    @property
    def socket_dir(self) -> str:
        assert self.dir is not None
        return str(self.dir)

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``moodle`` database as the ``moodle`` role."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def start(self, timeout: float = 30.0) -> PostgresServer:
        initdb = find_pg_bin("initdb")
        postgres = find_pg_bin("postgres")
        if not initdb or not postgres:
            raise ServerMissing(f"PostgreSQL introuvable (initdb, postgres) : {INSTALL_HINT}")
        self.dir = Path(tempfile.mkdtemp(prefix="enttui-pg-", dir=self.base_dir))
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
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            self._cmd(
                initdb,
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
            timeout=120,
            cwd=self.dir,
        )
        if result.returncode != 0:
            self.stop()
            raise RuntimeError(f"initdb failed: {result.stderr.decode(errors='replace')[-2000:]}")
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            log = self.dir / "pg.log"
            self.process = subprocess.Popen(
                self._cmd(
                    postgres,
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
                ),
                stdout=subprocess.DEVNULL,
                stderr=log.open("wb"),
                start_new_session=True,
                cwd=self.dir,
            )
            if self._wait_ready(timeout):
                break
            last_error = log.read_text(errors="replace")
            self._terminate()
        else:
            self.stop()
            raise RuntimeError(f"postgres did not start: {last_error[-2000:]}")
        self.sql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}' CREATEDB")
        self.sql(f"CREATE DATABASE {DATABASE} OWNER {USER} ENCODING 'UTF8'")
        return self

    def _admin_connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname=database, autocommit=True, connect_timeout=2
        )

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with self._admin_connect() as conn:
                    conn.execute("SELECT 1")
                return True
            except Exception:  # noqa: BLE001 - not ready yet
                time.sleep(0.05)
        return False

    def sql(self, statement: str, database: str = "postgres") -> list[tuple]:
        """Run one statement as the superuser (through the socket, autocommit); returns the rows."""
        with self._admin_connect(database) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database owned by ``moodle`` (a new name when none is given); returns its URL."""
        if name is None:
            self._counter += 1
            name = f"t_{os.getpid()}_{self._counter}"
        self.sql(f"CREATE DATABASE \"{name}\" OWNER {USER} ENCODING 'UTF8'")
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGINT is postgres's fast shutdown (SIGTERM would wait for every client to leave);
            # signal the postmaster itself, by the PID it wrote, not only the runuser wrapper.
            pid = self._postmaster_pid()
            try:
                if pid:
                    os.kill(pid, signal.SIGINT)
                else:
                    self.process.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        """Stop the server (signal by PID) and remove its folder."""
        self._terminate()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
