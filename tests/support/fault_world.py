"""A population for the fault-injection tests, and the checks every trial ends with.

``population(n)``: one school, ``n`` people: students and "Autre" accounts not yet activated
(half never given a password, half with a temporary one: ``pwdReset: TRUE``), some activated
(left alone), some without an address (the file), and a few teachers (information mails). It is
loaded offline (``slapadd``) in a private slapd whose database is copied once, so that each trial
starts from the same directory in a fraction of a second (:class:`FaultSlapd`).

:func:`check_outcome` is the promise of DOMAIN.md ("What a diffusion or a regeneration promises,
whatever happens"), checked on the directory, every message the relay stored, the identifier
file, the state store and the run's secret folder.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import random
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import ldap3

from enttui.domain.idfiles import BOM, COLUMNS
from support.slapd import Slapd, SlapdStartError, entries_to_ldif, free_port

SUFFIX = "dc=ent,dc=test"
UAI = "0123456A"
STRUCT_DN = f"ENTStructureSIREN=19012345600031,ou=structures,{SUFFIX}"
ACTIVE_PASSWORD = "Active-Pass-2026"
_SALT = b"faults!!"
ACTIVE_HASH = "{SSHA}" + base64.b64encode(hashlib.sha1(ACTIVE_PASSWORD.encode() + _SALT).digest() + _SALT).decode()
OLD_TEMPORARY = "{SSHA}" + base64.b64encode(hashlib.sha1(b"Old-Temp-1" + _SALT).digest() + _SALT).decode()


@dataclass(frozen=True)
class Account:
    dn: str
    login: str
    mail: str
    kind: str  # "credentials" (not activated), "activated", "staff"


@dataclass
class Population:
    entries: list[tuple[str, dict[str, list[str]]]]
    accounts: list[Account] = field(default_factory=list)

    @property
    def targeted(self) -> list[Account]:
        """Those a diffusion or a regeneration gives a new password."""
        return [a for a in self.accounts if a.kind == "credentials"]

    @property
    def staff(self) -> list[Account]:
        return [a for a in self.accounts if a.kind == "staff"]


def population(n: int, *, seed: int = 7) -> Population:
    rng = random.Random(seed)
    entries: list[tuple[str, dict[str, list[str]]]] = [
        (
            STRUCT_DN,
            {
                "objectClass": ["top", "organizationalUnit", "ENTStructure", "ENTEtablissement"],
                "ou": ["Collège des pannes"],
                "ENTStructureSIREN": ["19012345600031"],
                "ENTStructureUAI": [UAI],
                "ENTStructureNomCourant": ["Collège des pannes"],
                "ENTStructureJointure": ["AC-GRIS$9100"],
                "ENTEtablissementMinistereTutelle": ["MENJ"],
                "ENTEtablissementContrat": ["PU"],
            },
        )
    ]
    pop = Population(entries)
    for i in range(n):
        uid = f"P{i:07d}"
        login = f"eleve.panne{i}"
        dn = f"uid={uid},ou=people,{SUFFIX}"
        attrs: dict[str, list[str]] = {
            "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson"],
            "uid": [uid],
            "cn": [f"Panne {i}"],
            "sn": ["Panne" if i % 7 else "=Panne"],  # a formula now and then (neutralised in the file)
            "givenName": [f"Élève{i}"],
            "ENTPersonLogin": [login],
            "ENTPersonJointure": [f"ENT${i}"],
            "ENTPersonStructRattach": [STRUCT_DN],
        }
        roll = rng.random()
        if i % 37 == 0:
            kind = "staff"
            attrs["ENTPersonProfils"] = ["National_ENS"]
            attrs["userPassword"] = [ACTIVE_HASH]
        else:
            attrs["ENTPersonProfils"] = ["National_ELV"] if i % 3 else []
            if not attrs["ENTPersonProfils"]:
                del attrs["ENTPersonProfils"]  # "Autre"
            if roll < 0.1:
                kind = "activated"
                attrs["userPassword"] = [ACTIVE_HASH]
            else:
                kind = "credentials"
                if roll < 0.55:
                    attrs["userPassword"] = [OLD_TEMPORARY]  # a temporary password never used
                    attrs["pwdReset"] = ["TRUE"]
                # else: never given credentials (no password at all)
        mail = "" if (kind == "credentials" and rng.random() < 0.1) else f"{login}@pannes.test"
        if mail:
            attrs["mail"] = [mail]
        entries.append((dn, attrs))
        pop.accounts.append(Account(dn, login, mail, kind))
    return pop


class FaultSlapd:
    """A private slapd with the population, restored to its first state before each trial."""

    def __init__(self, workdir: Path, pop: Population) -> None:
        self.slapd = Slapd(workdir / "slapd", SUFFIX)
        self.slapd.add_ldif(entries_to_ldif(pop.entries))
        self.start()
        self.slapd.stop()
        self.pristine = workdir / "pristine-db"
        shutil.copytree(self.slapd.workdir / "db", self.pristine)
        self.start()

    def start(self) -> None:
        """Start; on the same port when it is still free, else on another (the machine is shared)."""
        for _ in range(5):
            try:
                self.slapd.start(timeout=60)
                return
            except SlapdStartError:
                self.slapd.port = free_port()
        self.slapd.start(timeout=60)

    def restore(self) -> None:
        self.slapd.stop()
        db = self.slapd.workdir / "db"
        shutil.rmtree(db)
        shutil.copytree(self.pristine, db)
        self.start()

    def stop(self) -> None:
        self.slapd.stop()


def write_config(path: Path, slapd: Slapd, smtp: Any, state_dir: Path, *, processes: int = 2) -> Path:
    secret = state_dir / "ldap.secret"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(slapd.service_password, encoding="utf-8")
    secret.chmod(0o600)
    text = f"""
[ent]
portal = "Portail GRIS"
portal_url = "https://ent.test"
uai = ["{UAI}"]

[ldap]
urls = ["{slapd.url}"]
bind_dn = "{slapd.service_dn}"
bind_password_file = "{secret}"
base_dn = "{SUFFIX}"
people_dn = "ou=people,{SUFFIX}"
groups_dn = "ou=groups,{SUFFIX}"
structures_dn = "ou=structures,{SUFFIX}"

[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "starttls"
ca_file = "{smtp.ca_pem_path}"
sender = "ENT <ne-pas-repondre@ent.test>"
timeout = 30.0

[diffusion]
retry_delay_seconds = 0.05
ldap_processes = {processes}

[state]
url = "sqlite:///{state_dir / "state.db"}"
files_dir = "{state_dir / "identifiants"}"
"""
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# What happened
# ---------------------------------------------------------------------------------------------


def password_in(body: str) -> str | None:
    for line in body.splitlines():
        if "Mot de passe provisoire :" in line:
            return line.split(":", 1)[1].strip()
    return None


def mails_by_recipient(messages: Iterable[Any]) -> dict[str, list[str | None]]:
    """Recipient -> the password of every message it received (None: an information mail)."""
    out: dict[str, list[str | None]] = {}
    for m in messages:
        msg = message_from_bytes(m.content, policy=policy.default)
        body = msg.get_content()
        for rcpt in m.rcpt_tos:
            out.setdefault(rcpt.lower(), []).append(password_in(body))
    return out


def file_rows(files_dir: Path) -> tuple[list[str], dict[str, list[str]]]:
    """The identifier files' names, and login -> passwords of every row (all files)."""
    names = sorted(p.name for p in files_dir.glob("*.csv"))
    rows: dict[str, list[str]] = {}
    for name in names:
        raw = (files_dir / name).read_bytes()
        assert raw.startswith(BOM.encode("utf-8")), name
        assert raw.endswith(b"\r\n"), f"{name}: a half-written last row was left"
        lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
        assert tuple(lines[0]) == COLUMNS
        for r in lines[1:]:
            rows.setdefault(r[5], []).append(r[6])
    return names, rows


def state_of(state_dir: Path) -> tuple[list[tuple[int, str, str]], dict[str, int]]:
    """``[(run id, kind, status)]`` and the files index (name -> rows)."""
    db = sqlite3.connect(state_dir / "state.db")
    try:
        runs = [(int(r[0]), r[1], r[2]) for r in db.execute("select id, kind, status from enttui_runs order by id")]
        index = {r[0]: int(r[1]) for r in db.execute("select name, rows from enttui_files")}
    finally:
        db.close()
    return runs, index


@dataclass
class Outcome:
    result: dict[str, Any]
    messages: list[Any]
    state_dir: Path


def check_outcome(slapd: Slapd, pop: Population, out: Outcome, *, regeneration: bool) -> None:
    """Everything DOMAIN.md promises once a run is finished (see the module docstring)."""
    result = out.result
    files_dir = out.state_dir / "identifiants"
    mails = mails_by_recipient(out.messages)
    names, rows = file_rows(files_dir)
    targeted = pop.targeted
    delivered: dict[str, str] = {}
    for a in targeted:
        got_mail = list(mails.get(a.mail.lower(), [])) if a.mail else []
        got_rows = rows.get(a.login, [])
        if regeneration or not a.mail:
            assert not got_mail, f"{a.login}: a mail and a row"
            assert len(got_rows) == 1, f"{a.login}: {len(got_rows)} row(s) in the file"
            delivered[a.dn] = got_rows[0]
        else:
            assert not got_rows, f"{a.login}: mailed and in the file"
            assert got_mail, f"{a.login}: no mail"
            assert len(set(got_mail)) == 1, f"{a.login}: two different passwords were mailed"
            assert got_mail[0] is not None
            delivered[a.dn] = got_mail[0]
    # Nobody outside the targets got a password; staff got information only.
    targeted_mails = {a.mail.lower() for a in targeted if a.mail}
    for rcpt, pws in mails.items():
        if rcpt not in targeted_mails:
            assert all(pw is None for pw in pws), f"{rcpt}: a password to an account not targeted"
    if not regeneration:
        for a in pop.staff:
            assert mails.get(a.mail.lower()), f"{a.login}: no information mail"
    twice = sum(1 for rcpt, pws in mails.items() if len(pws) > 1)
    assert twice <= result.get("resent", 0), f"{twice} recipients got two mails, {result.get('resent')} counted"
    # Every delivered password opens its account, and must be changed (pwdReset).
    server = ldap3.Server(slapd.url, get_info=ldap3.NONE)
    conn = ldap3.Connection(server)
    conn.open()
    try:
        dead = [dn for dn, pw in delivered.items() if not conn.rebind(user=dn, password=pw)]
    finally:
        conn.unbind()
    assert not dead, f"{len(dead)} delivered password(s) do not open their account: {dead[:3]}"
    admin = ldap3.Connection(server, slapd.admin_dn, slapd.admin_password, auto_bind=True)
    try:
        admin.search(f"ou=people,{SUFFIX}", "(objectClass=ENTPerson)", attributes=["pwdReset"])
        reset = {e.entry_dn.lower() for e in admin.entries if str(e.pwdReset.value).upper() == "TRUE"}
        admin.search(f"ou=people,{SUFFIX}", "(userPassword=*)", attributes=["uid"])
        with_password = {e.entry_dn.lower() for e in admin.entries}
    finally:
        admin.unbind()
    assert all(a.dn.lower() in reset for a in targeted), "a delivered password is not marked temporary"
    for a in pop.accounts:
        if a.kind != "credentials":
            assert a.dn.lower() not in reset and a.dn.lower() in with_password, f"{a.login} was changed"
    # The counts are those of what happened.
    n_file = len(targeted) if regeneration else sum(1 for a in targeted if not a.mail)
    assert result["status"] == "réussi", result
    assert result["changed"] == len(targeted) == result["in_file"] + result.get("mailed", 0), result
    assert result["in_file"] == n_file, result
    if not regeneration:
        assert result["mailed"] == len(targeted) - n_file, result
        assert result["information"] == len(pop.staff), result
    assert result["pending"] == 0 and result["errors"] == 0, result
    runs, index = state_of(out.state_dir)
    assert len(names) == (1 if n_file else 0), names
    if names:
        assert index[names[0]] == n_file == sum(len(v) for v in rows.values()), (index, n_file)
        assert result["file"] == names[0]
    assert all(status != "en cours" for _id, _kind, status in runs), runs
    assert runs[-1][2] == "réussi", runs
    # The run's secret is gone with its last account; only the lock file stays.
    assert sorted(p.name for p in (files_dir / ".runs").iterdir()) == ["jobs.lock"]


def last_json(stdout: bytes) -> dict[str, Any]:
    return json.loads(stdout.decode())
