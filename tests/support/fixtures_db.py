"""Database fixtures: private MariaDB and PostgreSQL servers, and fresh Moodle databases.

- ``mariadb_server`` / ``postgres_server`` (session): one private server each, started on first use
  on a free loopback port and stopped at the end of the session. ``.url`` is the SQLAlchemy URL of
  the ``moodle`` database; ``.create_database()`` makes a fresh one and returns its URL.
- ``moodle_db`` (function, parametrized over ``mariadb``, ``postgresql``, ``sqlite``): an opened
  :class:`enttui.services.moodle.Moodle` on a brand-new database holding our tables and the base
  rows of a fresh Moodle 4.5 site (``create_schema(allow=True)``); closed and dropped afterwards.
- ``moodle_mariadb`` / ``moodle_postgres`` / ``moodle_sqlite``: the same, for one engine only.
- ``moodle_config_for(url)``: a :class:`MoodleConfig` for a URL (password passed as a Secret).

A missing server binary fails the test with an install hint (never a skip).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from enttui.config import MoodleConfig, Secret
from enttui.services.moodle import Moodle
from support.dbserver import ServerMissing
from support.mariadb import MariaDBServer
from support.postgres import PostgresServer

ENGINES = ["mariadb", "postgresql", "sqlite"]


def moodle_config_for(url: str, prefix: str = "mdl_") -> MoodleConfig:
    """A Moodle configuration for ``url``: the password leaves the URL and becomes a Secret."""
    parsed = make_url(url)
    password = parsed.password
    bare = parsed._replace(password=None).render_as_string(hide_password=False)
    return MoodleConfig(url=bare, password=Secret(str(password)) if password else None, prefix=prefix)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """A private MariaDB for the session (user ``moodle``, database ``moodle``)."""
    server = MariaDBServer()
    try:
        server.start()
    except ServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL for the session (role ``moodle``, database ``moodle``)."""
    server = PostgresServer()
    try:
        server.start()
    except ServerMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


async def _fresh_moodle(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Moodle]:
    server: MariaDBServer | PostgresServer | None = None
    if engine == "mariadb":
        server = request.getfixturevalue("mariadb_server")
    elif engine == "postgresql":
        server = request.getfixturevalue("postgres_server")
    if server is None:
        url = f"sqlite:///{tmp_path / 'moodle.db'}"
    else:
        url = server.create_database()
    moodle = Moodle(moodle_config_for(url))
    await moodle.open()
    try:
        await moodle.create_schema(allow=True)
        yield moodle
    finally:
        await moodle.close()
        if server is not None:
            server.drop_database(make_url(url).database or "")


@pytest.fixture(params=ENGINES)
async def moodle_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Moodle]:
    """An opened Moodle on a fresh database with our schema and base rows, on each engine.

    ``moodle_db.dialect`` is ``"mysql"``, ``"postgresql"`` or ``"sqlite"``; the database is dropped
    after the test.
    """
    async for moodle in _fresh_moodle(request.param, request, tmp_path):
        yield moodle


@pytest.fixture
async def moodle_mariadb(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Moodle]:
    """Like ``moodle_db``, on MariaDB only."""
    async for moodle in _fresh_moodle("mariadb", request, tmp_path):
        yield moodle


@pytest.fixture
async def moodle_postgres(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Moodle]:
    """Like ``moodle_db``, on PostgreSQL only."""
    async for moodle in _fresh_moodle("postgresql", request, tmp_path):
        yield moodle


@pytest.fixture
async def moodle_sqlite(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Moodle]:
    """Like ``moodle_db``, on a SQLite file (the demo engine) only."""
    async for moodle in _fresh_moodle("sqlite", request, tmp_path):
        yield moodle
