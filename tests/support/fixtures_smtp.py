"""SMTP fixtures: private aiosmtpd servers on 127.0.0.1, started once per session.

- ``smtp_server``: STARTTLS required, certificate from a throw-away trustme CA
  (``.ca_pem_path``), no AUTH;
- ``smtp_auth``: the same with AUTH required (``support.smtp.TEST_LOGIN`` / ``TEST_PASSWORD``);
- ``smtp_implicit``: implicit TLS (``security = "tls"``);
- ``smtp_plain``: no TLS at all (``security = "none"``).

Each fixture resets the server (messages, connection count, scripted failures) before and after
the test. ``server.smtp_config(**overrides)`` gives an ``SmtpConfig`` pointing at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def _harness() -> Any:
    try:
        from support import smtp
    except ImportError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"aiosmtpd/trustme manquants ({exc}) : pip install 'aiosmtpd>=1.4' 'trustme>=1.1'")
    return smtp


@pytest.fixture(scope="session")
def smtp_ca() -> Any:
    """One trustme CA for every TLS test server of the session."""
    import trustme

    return trustme.CA()


def _session_server(tmp_path_factory: pytest.TempPathFactory, ca: Any, **options: Any) -> Iterator[Any]:
    smtp = _harness()
    server = smtp.SmtpTestServer(ca=ca, workdir=tmp_path_factory.mktemp("smtp"), **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _smtp_starttls_session(tmp_path_factory: pytest.TempPathFactory, smtp_ca: Any) -> Iterator[Any]:
    yield from _session_server(tmp_path_factory, smtp_ca, tls="starttls")


@pytest.fixture(scope="session")
def _smtp_auth_session(tmp_path_factory: pytest.TempPathFactory, smtp_ca: Any) -> Iterator[Any]:
    yield from _session_server(tmp_path_factory, smtp_ca, tls="starttls", auth=True)


@pytest.fixture(scope="session")
def _smtp_implicit_session(tmp_path_factory: pytest.TempPathFactory, smtp_ca: Any) -> Iterator[Any]:
    yield from _session_server(tmp_path_factory, smtp_ca, tls="implicit")


@pytest.fixture(scope="session")
def _smtp_plain_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from _session_server(tmp_path_factory, None, tls="none")


def _fresh(server: Any) -> Iterator[Any]:
    server.reset()
    try:
        yield server
    finally:
        server.reset()


@pytest.fixture
def smtp_server(_smtp_starttls_session: Any) -> Iterator[Any]:
    """STARTTLS-only aiosmtpd with a trustme certificate for localhost / 127.0.0.1."""
    yield from _fresh(_smtp_starttls_session)


@pytest.fixture
def smtp_auth(_smtp_auth_session: Any) -> Iterator[Any]:
    """STARTTLS + AUTH required (login ``support.smtp.TEST_LOGIN``)."""
    yield from _fresh(_smtp_auth_session)


@pytest.fixture
def smtp_implicit(_smtp_implicit_session: Any) -> Iterator[Any]:
    """Implicit TLS from the first byte."""
    yield from _fresh(_smtp_implicit_session)


@pytest.fixture
def smtp_plain(_smtp_plain_session: Any) -> Iterator[Any]:
    """No TLS at all (STARTTLS not offered)."""
    yield from _fresh(_smtp_plain_session)
