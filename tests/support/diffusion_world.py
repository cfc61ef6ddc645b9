"""A small school in a private slapd branch and an aiosmtpd relay, for the diffusion tests.

Shared by ``tests/jobs/test_diffusion.py`` and the tmux end-to-end test: the school (with an
injected ``=cmd`` last name), a :class:`World` that opens the console's services on it, readers of
the relay's mails and of identifier files, and the TOML file the command line uses.
"""

from __future__ import annotations

import asyncio
import csv
import io
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import ldap3

from enttui.config import Config, DiffusionConfig, EntConfig, StateConfig
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.domain.idfiles import BOM, COLUMNS
from enttui.domain.people import Target, person_from_entry
from enttui.services.container import Services
from enttui.services.directory import Directory
from enttui.services.mailer import SmtpMailer
from enttui.services.state import StateStore

UAI = "0123456A"
EVIL = "=cmd|' /C calc'!A0"


def school_entries(base_dn: str) -> list[tuple[str, dict[str, list[str]]]]:
    spec = WorldSpec(
        base_dn=base_dn,
        schools=(SchoolSpec(UAI, "Collège Test", students=14, teachers=3, staff=2, others=3, classes_per_level=1),),
        role_groups=False,
    )
    # createTimestamp / modifyTimestamp are the server's own (ldapadd cannot set them).
    entries = [
        (dn, {k: list(v) for k, v in attrs.items() if k not in ("createTimestamp", "modifyTimestamp")})
        for dn, attrs in generate(spec)
    ]
    # One not-activated student without mail gets a formula as last name (CSV injection check).
    for _dn, attrs in entries:
        if "ENTEleve" in attrs["objectClass"] and "pwdReset" in attrs and "mail" not in attrs:
            attrs["sn"] = [EVIL]
            break
    return entries


def people_of(entries: list[Any]) -> list[Any]:
    return [person_from_entry(dn, a) for dn, a in entries if "ENTPerson" in a.get("objectClass", [])]


class World:
    @classmethod
    def on_sandbox(cls, sandbox: Any) -> World:
        """The school loaded in ``sandbox``, without services (for the command-line tests)."""
        world = cls.__new__(cls)
        world.sandbox = sandbox
        world.entries = school_entries(sandbox.base_dn)
        sandbox.add(world.entries)
        world.people = people_of(world.entries)
        return world

    def __init__(self, sandbox: Any, smtp: Any, tmp_path: Path, state: StateStore) -> None:
        self.sandbox = sandbox
        self.smtp = smtp
        self.entries = school_entries(sandbox.base_dn)
        sandbox.add(self.entries)
        self.people = people_of(self.entries)
        self.config = Config(
            ent=EntConfig(portal="Portail GRIS", portal_url="https://ent.test", uai=[UAI]),
            ldap=sandbox.config(),
            smtp=smtp.smtp_config(),
            diffusion=DiffusionConfig(retry_delay_seconds=0.05),
            state=StateConfig(url=state.config.url, files_dir=str(tmp_path / "identifiants")),
        )
        self.state = state
        self.tmp_path = tmp_path

    async def services(self) -> Services:
        directory = Directory(self.config.ldap, self.config.ent)
        await directory.open()
        mailer = SmtpMailer(self.config.smtp)
        return Services(config=self.config, directory=directory, state=self.state, mailer=mailer)

    def by_target(self, target: Target, *, activated: bool | None = None, mail: bool | None = None) -> list[Any]:
        out = [p for p in self.people if p.target is target]
        if activated is not None:
            out = [p for p in out if p.activated is activated]
        if mail is not None:
            out = [p for p in out if bool(p.mail) is mail]
        return out

    def bind(self, dn: str, password: str) -> ldap3.Connection:
        conn = ldap3.Connection(ldap3.Server(self.sandbox.slapd.url), user=dn, password=password)
        return conn

    def read(self, dn: str, attrs: list[str]) -> dict[str, list[str]]:
        slapd = self.sandbox.slapd
        conn = ldap3.Connection(ldap3.Server(slapd.url), user=slapd.admin_dn, password=slapd.admin_password)
        conn.bind()
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attrs)
        raw = conn.response[0]["raw_attributes"]
        conn.unbind()
        return {k: [v.decode() for v in vals] for k, vals in raw.items() if vals}


async def close(services: Services) -> None:
    """Close what the test opened (the state store belongs to its fixture)."""
    await services.directory.close()
    if services.mailer is not None:
        await services.mailer.close()


def mails_by_recipient(smtp: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in smtp.messages:
        msg = message_from_bytes(m.content, policy=policy.default)
        for rcpt in m.rcpt_tos:
            out.setdefault(rcpt.lower(), []).append(msg)
    return out


def login_in(body: str) -> str | None:
    for line in body.splitlines():
        if line.strip().startswith("Identifiant :"):
            return line.split(":", 1)[1].strip()
    return None


def mails_by_login(smtp: Any) -> dict[str, list[Any]]:
    """Login (read in the message) -> the messages that carried it. Two parents may share one family
    address and each get their own message: counting by address would see "two mails"."""
    out: dict[str, list[Any]] = {}
    for m in smtp.messages:
        msg = message_from_bytes(m.content, policy=policy.default)
        login = login_in(msg.get_content())
        assert login is not None, "a message without its login"
        out.setdefault(login, []).append(msg)
    return out


def read_file(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(BOM.encode("utf-8"))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert tuple(rows[0]) == COLUMNS
    return [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]


def password_in(body: str) -> str:
    for line in body.splitlines():
        if "Mot de passe provisoire :" in line:
            return line.split(":", 1)[1].strip()
    raise AssertionError("no password in the mail")


def write_config(world: World, smtp: Any, tmp_path: Path) -> Path:
    slapd = world.sandbox.slapd
    secret = tmp_path / "ldap.secret"
    secret.write_text(slapd.service_password, encoding="utf-8")
    secret.chmod(0o600)
    base = world.sandbox.base_dn
    text = f"""
[ent]
portal = "Portail GRIS"
portal_url = "https://ent.test"
uai = ["{UAI}"]

[ldap]
urls = ["{slapd.url}"]
bind_dn = "{slapd.service_dn}"
bind_password_file = "{secret}"
base_dn = "{base}"
people_dn = "ou=people,{base}"
groups_dn = "ou=groups,{base}"
structures_dn = "ou=structures,{base}"

[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "starttls"
ca_file = "{smtp.ca_pem_path}"
sender = "ENT <ne-pas-repondre@ent.test>"
timeout = 30.0

[diffusion]
retry_delay_seconds = 0.05

[state]
url = "sqlite:///{tmp_path / "cli-state.db"}"
files_dir = "{tmp_path / "cli-identifiants"}"
"""
    path = tmp_path / "enttui.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def interrupt_a_regeneration(services) -> int:
    """A regeneration of the whole périmètre that stops after its first batch (50 rows written)."""
    from contextlib import suppress

    import pytest

    from enttui.jobs import regeneration

    original = regeneration._Regeneration.deliver
    calls = 0
    first_written = asyncio.Event()

    async def deliver(self, works):
        # The producers deliver side by side: the failure waits for the first batch to be in the
        # file (else it could cancel that batch mid-write and the run stop after 0 rows).
        nonlocal calls
        calls += 1
        if calls > 1:
            await first_written.wait()
            raise RuntimeError("panne simulée")
        try:
            await original(self, works)
        finally:
            first_written.set()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(regeneration._Regeneration, "deliver", deliver)
        with suppress(RuntimeError):
            await regeneration.run_regeneration(services, regeneration.RegenerationRequest(()))
    run = await services.state.last_run("regeneration")
    assert run is not None and run.status == "interrompu"
    return run.id
