"""Directory fixtures: private slapd servers with the project's SDET schema (see support/slapd.py).

Fixtures
- ``slapd`` (session): one server, base tree only (``dc=ent,dc=test``, ``ou=people``,
  ``ou=groups``, ``ou=structures``, ``ou=policies``, ``ou=services``), rootdn
  ``cn=admin,dc=ent,dc=test`` / ``secret`` and the ``cn=enttui,ou=services,…`` service account.
  Shared by every test: load your own data into an ``ldap_sandbox`` (or clean up after yourself).
- ``ldap_sandbox`` (function): a private branch ``ou=<unique>,dc=ent,dc=test`` of the session
  server, with ``ou=people``/``ou=groups``/``ou=structures`` below it; ``sandbox.config()`` gives
  the ``LdapConfig`` of a console whose base is that branch; ``sandbox.add(entries)`` loads
  entries fast (``ldapadd``); deleted after the test. Load a generated school (~5k people) here.
- ``slapd_factory`` (session): ``slapd_factory(ldif=..., tls=SlapdTls(...))`` starts another
  server on demand (offline ``slapadd`` load: the fastest way to get thousands of entries; two
  servers with the same LDIF for failover); every server it started is stopped at session end.

Helpers (import from ``support.fixtures_ldap``): ``ldap_add_entries(server, entries)``,
``ldap_config(server, ...)``, ``entries_to_ldif(entries)``.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from enttui.config import LdapConfig
from support.slapd import (
    INSTALL_HINT,
    Entry,
    Slapd,
    SlapdMissingError,
    SlapdTls,
    entries_to_ldif,
    find_binary,
)

__all__ = ["LdapSandbox", "SlapdTls", "entries_to_ldif", "ldap_add_entries", "ldap_config", "ldap_delete_tree"]

_counter = itertools.count(1)


def _start(server: Slapd) -> Slapd:
    try:
        return server.start()
    except SlapdMissingError as exc:
        pytest.fail(f"{exc} (les tests de l'annuaire ont besoin d'un vrai slapd : {INSTALL_HINT})", pytrace=False)


def ldap_config(
    server: Slapd,
    *,
    base_dn: str | None = None,
    admin: bool = False,
    urls: list[str] | None = None,
    **overrides: Any,
) -> LdapConfig:
    """The console's ``[ldap]`` settings for ``server`` (service account unless ``admin``), with
    short timeouts for tests."""
    return server.ldap_config(
        admin=admin, base_dn=base_dn, urls=urls, **{"connect_timeout": 2.0, "timeout": 10.0, **overrides}
    )


def ldap_add_entries(server: Slapd, entries: Iterable[Entry], *, continue_on_error: bool = False) -> None:
    """Add entries to a running server with ``ldapadd`` as rootdn (thousands per second)."""
    ldapadd = _ldap_tool("ldapadd")
    text = entries_to_ldif(entries)
    pw_file = server.workdir / f"pw-{os.getpid()}"
    pw_file.write_text(server.admin_password, encoding="utf-8")
    pw_file.chmod(0o600)
    cmd = [ldapadd, "-x", "-H", server.url, "-D", server.admin_dn, "-y", str(pw_file)]
    if continue_on_error:
        cmd.append("-c")
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"ldapadd a échoué ({proc.returncode}) : {proc.stderr[-2000:]}")


def ldap_delete_tree(server: Slapd, dn: str) -> None:
    """Delete ``dn`` and everything below it (``ldapdelete -r`` as rootdn)."""
    ldapdelete = _ldap_tool("ldapdelete")
    pw_file = server.workdir / f"pw-{os.getpid()}"
    pw_file.write_text(server.admin_password, encoding="utf-8")
    pw_file.chmod(0o600)
    subprocess.run(
        [ldapdelete, "-x", "-r", "-H", server.url, "-D", server.admin_dn, "-y", str(pw_file), dn],
        capture_output=True,
        check=False,
    )


def _ldap_tool(name: str) -> str:
    try:
        return find_binary(name)
    except SlapdMissingError as exc:
        pytest.fail(f"{exc}", pytrace=False)


@dataclass
class LdapSandbox:
    """A private branch of the session slapd (see module docstring)."""

    slapd: Slapd
    base_dn: str

    @property
    def people_dn(self) -> str:
        return f"ou=people,{self.base_dn}"

    @property
    def groups_dn(self) -> str:
        return f"ou=groups,{self.base_dn}"

    @property
    def structures_dn(self) -> str:
        return f"ou=structures,{self.base_dn}"

    def config(self, *, admin: bool = False, **overrides: Any) -> LdapConfig:
        return ldap_config(self.slapd, base_dn=self.base_dn, admin=admin, **overrides)

    def add(self, entries: Iterable[Entry]) -> None:
        ldap_add_entries(self.slapd, entries)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """One private slapd for the session, base tree only (see module docstring)."""
    server = _start(Slapd(tmp_path_factory.mktemp("slapd")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def slapd_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Slapd]]:
    """Start extra servers on demand: ``slapd_factory(ldif=None, tls=None, suffix=..., start=True)``."""
    started: list[Slapd] = []

    def make(
        ldif: str | Path | list[str | Path] | None = None,
        tls: SlapdTls | None = None,
        *,
        suffix: str = "dc=ent,dc=test",
        start: bool = True,
        **kwargs: Any,
    ) -> Slapd:
        server = Slapd(tmp_path_factory.mktemp("slapd-extra"), suffix, ldif, tls, **kwargs)
        started.append(server)
        return _start(server) if start else server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def ldap_sandbox(slapd: Slapd) -> Iterator[LdapSandbox]:
    """A fresh branch ``ou=t<N>,dc=ent,dc=test`` with people/groups/structures, deleted afterwards."""
    name = f"t{os.getpid()}x{next(_counter)}"
    base = f"ou={name},{slapd.suffix}"
    entries: list[Entry] = [(base, {"objectClass": ["organizationalUnit"], "ou": [name]})]
    for ou in ("people", "groups", "structures"):
        entries.append((f"ou={ou},{base}", {"objectClass": ["organizationalUnit"], "ou": [ou]}))
    ldap_add_entries(slapd, entries)
    try:
        yield LdapSandbox(slapd, base)
    finally:
        ldap_delete_tree(slapd, base)
