"""Diffusion and regeneration against a real slapd (ppolicy) and aiosmtpd with STARTTLS."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap3
import pytest

from enttui.config import Config
from enttui.demo.world import DEMO_PASSWORD_HASH
from enttui.domain.idfiles import parse_search_date
from enttui.domain.people import Target
from enttui.errors import ValidationError
from enttui.jobs import diffusion as D
from enttui.jobs.context import Services
from enttui.jobs.events import CollectingSink
from enttui.services.mailer import SmtpMailer
from enttui.services.state import INTERRUPTED, StateStore
from support.diffusion_world import (
    EVIL,
    UAI,
    World,
    close,
    mails_by_recipient,
    password_in,
    read_file,
    write_config,
)


@pytest.fixture
async def world(ldap_sandbox: Any, smtp_server: Any, tmp_path: Path, state_store: StateStore) -> AsyncIterator[World]:
    yield World(ldap_sandbox, smtp_server, tmp_path, state_store)


async def test_validation_refuses_bad_forms() -> None:
    with pytest.raises(ValidationError, match="au moins une cible"):
        D.validate_request([], "Objet")
    with pytest.raises(ValidationError, match="75"):
        D.validate_request([Target.ELEVE], "x" * 76)
    with pytest.raises(ValidationError, match="obligatoire"):
        D.validate_request([Target.ELEVE], "   ")
    with pytest.raises(ValidationError, match="une seule ligne"):
        D.validate_request([Target.ELEVE], "Objet\nBcc: x@y")
    req = D.validate_request(["autre", "eleve"], "x" * 75)
    assert req.targets == (Target.ELEVE, Target.AUTRE)


@pytest.mark.parametrize("processes", [2, 0], ids=["child-processes", "threads"])
async def test_full_diffusion(world: World, processes: int) -> None:
    world.config = replace(world.config, diffusion=replace(world.config.diffusion, ldap_processes=processes))
    services = await world.services()
    students = world.by_target(Target.ELEVE, activated=False, mail=True)
    refused = students[0].mail
    retried = students[1].mail
    world.smtp.refuse(refused)
    world.smtp.fail_first(retried, 1, code=421, text="4.7.0 Trop de connexions")
    request = D.validate_request(list(Target), "Portail GRIS - vos identifiants de connexion", "Bonne rentrée !")
    plan = await D.plan_diffusion(services, request)
    creds = [p for p in world.people if p.target.gets_ent_credentials and not p.activated]
    assert plan.changes == len(creds)
    assert "Élève" in plan.confirmation_text()
    sink = CollectingSink()
    result = await D.run_diffusion(services, request, sink, plan=plan)
    await close(services)

    # The count invariant.
    assert result.changed == len(creds)
    assert result.changed == result.mailed + result.in_file
    assert result.pending == 0
    no_mail = [p for p in creds if not p.mail]
    assert result.in_file == len(no_mail) + 1
    mails = mails_by_recipient(world.smtp)
    # Nobody twice; the 421 recipient got one mail after a retry.
    assert all(len(v) == 1 for v in mails.values())
    assert retried.lower() in mails
    assert refused.lower() not in mails

    # A mailed password binds and must be changed (pwdReset).
    p = next(p for p in creds if p.mail and p.mail.lower() not in (refused.lower(),) and p.target is Target.ELEVE)
    msg = mails[p.mail.lower()][0]
    body = msg.get_content()
    assert msg["Subject"] == "Portail GRIS - vos identifiants de connexion"
    assert p.login in body and "https://ent.test" in body and "Bonne rentrée !" in body
    pw = password_in(body)
    assert len(pw) >= 12
    conn = world.bind(p.dn, pw)
    assert conn.bind(), conn.result
    conn.unbind()
    assert world.read(p.dn, ["pwdReset"])["pwdReset"] == ["TRUE"]

    # Parents' mails name their children.
    parent = next(p for p in creds if p.target is Target.PARENT and p.mail)
    body = mails[parent.mail.lower()][0].get_content()
    child = next(c for c in world.people if c.dn in parent.child_dns)
    assert child.given_name in body

    # Activated accounts untouched; staff got information only, no password change.
    for q in world.by_target(Target.ELEVE, activated=True):
        after = world.read(q.dn, ["pwdReset", "userPassword"])
        assert "pwdReset" not in after and after["userPassword"] == [DEMO_PASSWORD_HASH]
        assert not q.mail or q.mail.lower() not in mails
    for q in world.by_target(Target.ENSEIGNANT, mail=True):
        body = mails[q.mail.lower()][0].get_content()
        assert "Mot de passe provisoire" not in body and q.login in body
        assert "pwdReset" not in world.read(q.dn, ["pwdReset"])
    assert result.information == len([p for p in world.people if not p.target.gets_ent_credentials and p.mail])

    # The file: BOM, columns, reasons, neutralised formula, 0600 in a 0700 folder.
    folder = Path(world.config.state.files_dir)
    path = folder / result.file_name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # noqa: ASYNC240
    assert sorted(os.listdir(folder)) == [result.file_name]  # one file, created once
    rows = read_file(path)
    assert len(rows) == result.in_file
    by_login = {r["Identifiant"]: r for r in rows}
    assert "refusée" in by_login[students[0].login]["Motif"] and "550" in by_login[students[0].login]["Motif"]
    assert all(by_login[p.login]["Motif"] == "pas d'adresse électronique" for p in no_mail)
    assert any(r["Nom"] == "'" + EVIL for r in rows)
    q = no_mail[0]
    conn = world.bind(q.dn, by_login[q.login]["Mot de passe provisoire"])
    assert conn.bind()
    conn.unbind()
    # No password in the state store's journal, runs, traces.
    journal = await world.state.journal_get(result.run_id)
    text = repr(journal) + repr(await world.state.list_runs()) + repr(await world.state.trace(result.run_id))
    assert pw not in text and by_login[q.login]["Mot de passe provisoire"] not in text
    audit = await world.state.list_audit()
    assert any(a.action == "fichier.generation" and a.target == result.file_name for a in audit)


async def test_default_run_skips_activated_and_staff_targets(world: World) -> None:
    services = await world.services()
    request = D.validate_request([Target.ENSEIGNANT], "Information")
    result = await D.run_diffusion(services, request)
    await close(services)
    assert result.changed == 0 and result.in_file == 0 and not result.file_name
    assert result.information == len(world.by_target(Target.ENSEIGNANT, mail=True))


async def test_lost_connection_reconnects(world: World) -> None:
    services = await world.services()
    world.smtp.drop_after(3)
    request = D.validate_request([Target.ELEVE], "Objet")
    result = await D.run_diffusion(services, request)
    await close(services)
    mails = mails_by_recipient(world.smtp)
    assert result.mailed == len(world.by_target(Target.ELEVE, activated=False, mail=True)) == len(mails)
    assert world.smtp.connections > 1


async def test_regeneration_with_and_without_date(world: World) -> None:
    services = await world.services()
    creds = [p for p in world.people if p.target.gets_ent_credentials and not p.activated]
    plan = await D.plan_regeneration(services, D.RegenerationRequest((UAI,)))
    assert len(plan.people) == len(creds)
    result = await D.run_regeneration(services, plan.request, plan=plan)
    assert result.changed == len(creds) and result.errors == 0
    rows = read_file(Path(world.config.state.files_dir) / result.file_name)
    assert {r["Identifiant"] for r in rows} == {p.login for p in creds}
    p = creds[0]
    pw = next(r["Mot de passe provisoire"] for r in rows if r["Identifiant"] == p.login)
    conn = world.bind(p.dn, pw)
    assert conn.bind()
    conn.unbind()

    # "Date de recherche": accounts created since that day (createTimestamp of the server).
    today = parse_search_date(datetime.now().strftime("%d/%m/%Y"))
    tomorrow = parse_search_date((datetime.now() + timedelta(days=1)).strftime("%d/%m/%Y"))
    plan2 = await D.plan_regeneration(services, D.RegenerationRequest((UAI,), since=today))
    assert len(plan2.people) == len(creds)
    plan3 = await D.plan_regeneration(services, D.RegenerationRequest((UAI,), since=tomorrow))
    assert plan3.people == []
    with pytest.raises(ValidationError, match="hors du périmètre"):
        await D.plan_regeneration(services, D.RegenerationRequest(("9999999Z",)))
    await close(services)


async def test_resume_after_mail_relay_failure(world: World) -> None:
    services = await world.services()
    request = D.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
    plan = await D.plan_diffusion(services, request)
    # The relay is "down" from the start: the run stops, resumable.
    down = replace(world.config.smtp, port=1)
    services.mailer = SmtpMailer(down)
    services.config = replace(world.config, smtp=down)
    first = await D.run_diffusion(services, request, plan=plan)
    assert first.status == INTERRUPTED and first.mailed == 0
    run = await D.resumable_diffusion(services)
    assert run is not None and run.id == first.run_id
    services.mailer = SmtpMailer(world.config.smtp)
    services.config = world.config
    second = await D.resume_diffusion(services, first.run_id)
    await close(services)
    assert second.status in ("réussi", "avec erreurs")
    assert second.changed == second.mailed + second.in_file == plan.changes
    mails = mails_by_recipient(world.smtp)
    assert all(len(v) == 1 for v in mails.values())
    assert len(mails) == second.mailed
    assert await D.resumable_diffusion(services) is None


def test_utc_dates_are_aware() -> None:
    assert datetime(2026, 1, 1, tzinfo=UTC).tzinfo is not None
    assert os.sep == "/"


# ---------------------------------------------------------------------------------------------
# kill -9 in the middle of a diffusion, then "enttui diffuse --resume"
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGINT"])
def test_kill_9_then_resume_mails_everyone_once(
    ldap_sandbox: Any, smtp_ca: Any, tmp_path: Path, state_store: StateStore, stop: str
) -> None:
    """kill -9 (nothing can run after it) or Ctrl+C (the console stops cleanly) in the middle.

    The test relay holds one message, then every later one, so the set of accepted messages stops
    growing; the stop is sent once the journal has recorded each of them (a mail accepted but not
    journalled is sent again on resume: that is what kill -9 costs, and not what is tested here).
    """
    import contextlib
    import json
    import signal
    import sqlite3
    import subprocess
    import sys
    import threading
    import time

    from support.smtp import SmtpTestServer

    world = World.on_sandbox(ldap_sandbox)
    creds = sorted(
        (p for p in world.people if p.target.gets_ent_credentials and not p.activated),
        key=lambda p: (p.sn.lower(), p.given_name.lower(), p.dn.lower()),
    )
    with_mail = [p for p in creds if p.mail]
    hold = with_mail[len(with_mail) // 2].mail.lower()
    held = threading.Event()
    release = threading.Event()

    def journalled_mails() -> int:
        db = tmp_path / "cli-state.db"
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
            (n,) = conn.execute(
                "SELECT count(*) FROM enttui_journal WHERE status IN ('mailed', 'info_mailed')"
            ).fetchone()
        return n

    (tmp_path / "smtp").mkdir()
    with SmtpTestServer(ca=smtp_ca, tls="starttls", workdir=tmp_path / "smtp") as smtp:
        handler = smtp._controller.handler
        original = handler.handle_DATA

        async def handle_data(server: Any, session: Any, envelope: Any) -> str:
            import asyncio

            if (held.is_set() or hold in [r.lower() for r in envelope.rcpt_tos]) and not release.is_set():
                held.set()
                while not release.is_set():  # noqa: ASYNC110 - a threading.Event, from the test thread
                    await asyncio.sleep(0.01)
                return "451 4.3.0 interrompu"
            return await original(server, session, envelope)

        handler.handle_DATA = handle_data
        cfg = write_config(world, smtp, tmp_path)
        cmd = [sys.executable, "-m", "enttui", "--config", str(cfg), "diffuse", "--targets", "eleve,parent,autre"]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        proc = subprocess.Popen([*cmd, "--yes", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            assert held.wait(120), proc.stderr.read().decode() if proc.poll() is not None else "no hold"
            deadline = time.monotonic() + 120
            # The relay now holds every new message: the accepted ones are a fixed set.
            while (journalled := journalled_mails()) < (accepted := len(smtp.messages)):
                assert time.monotonic() < deadline, f"the journal records {journalled} of {accepted} accepted mails"
                time.sleep(0.05)
            proc.send_signal(getattr(signal, stop))
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                pytest.fail(f"enttui diffuse still running 120 s after {stop}")
        finally:
            if proc.poll() is None:
                proc.kill()
            release.set()
        first = mails_by_recipient(smtp)
        assert 0 < len(first) < len(with_mail)
        assert hold not in first

        # Warnings on: the password processes and multiprocessing's tracker must leave stderr clean.
        resumed = subprocess.run([*cmd[:5], "diffuse", "--resume", "--yes", "--json"], capture_output=True)
        assert resumed.returncode == 0, resumed.stderr.decode()
        ours = ("enttui[diffuse] phase : ", "enttui[diffuse] fin : ")
        noise = [line for line in resumed.stderr.decode().splitlines() if not line.startswith(ours)]
        assert noise == []  # only the phases and the final line
        result = json.loads(resumed.stdout)
        mails = mails_by_recipient(smtp)

    # Each person mailed exactly once over the two processes; everyone with an address got a mail.
    assert all(len(v) == 1 for v in mails.values()), {k: len(v) for k, v in mails.items() if len(v) > 1}
    assert set(mails) == {p.mail.lower() for p in with_mail}
    assert result["changed"] == result["mailed"] + result["in_file"] == len(creds)
    assert result["mailed"] == len(with_mail)
    # The last mailed password is the one in the directory (a password set before the kill was replaced).
    p = next(p for p in with_mail if p.mail.lower() == hold)
    conn = ldap3.Connection(
        ldap3.Server(ldap_sandbox.slapd.url), user=p.dn, password=password_in(mails[hold][0].get_content())
    )
    assert conn.bind()
    conn.unbind()


async def test_journal_notes_never_overwrite_a_final_status(state_store: StateStore) -> None:
    """``password_set`` is noted lazily: a later final status wins; a note left alone is written at close."""
    run_id = await state_store.start_run("diffusion", {})
    await state_store.journal_set(run_id, [(f"uid=u{i}", D.PLANNED, D.CREDENTIALS) for i in range(4)])
    services = Services(config=Config(), directory=None, state=state_store)  # type: ignore[arg-type]
    journal = D._Journal(services, run_id, group=2)
    journal.note((f"uid=u{i}", D.PASSWORD_SET, "") for i in range(3))
    await journal.record(("uid=u0", D.MAILED, ""), ("uid=u1", D.IN_FILE, "sans adresse"))
    await journal.record(("uid=u3", D.ERROR, "refusé"))
    await asyncio.sleep(0.05)
    assert (await state_store.journal_get(run_id))["uid=u2"][0] == D.PLANNED  # not yet due
    await journal.close()
    got = {k: st for k, (st, _d) in (await state_store.journal_get(run_id)).items()}
    assert got == {"uid=u0": D.MAILED, "uid=u1": D.IN_FILE, "uid=u2": D.PASSWORD_SET, "uid=u3": D.ERROR}
    result = D._result_from_journal(run_id, await state_store.journal_get(run_id), INTERRUPTED, "")
    assert (result.changed, result.pending) == (3, 1) and result.invariant_ok


async def test_account_gone_after_the_plan_is_an_error_the_others_are_mailed(world: World) -> None:
    services = await world.services()
    request = D.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
    plan = await D.plan_diffusion(services, request)
    gone = next(p for p in plan.credential_people if p.mail)
    slapd = world.sandbox.slapd
    admin = ldap3.Connection(ldap3.Server(slapd.url), user=slapd.admin_dn, password=slapd.admin_password)
    assert admin.bind() and admin.delete(gone.dn)
    admin.unbind()
    result = await D.run_diffusion(services, request, plan=plan)
    await close(services)
    assert result.errors == 1 and result.status == "avec erreurs"
    assert result.changed == result.mailed + result.in_file == plan.changes - 1
    assert gone.mail.lower() not in mails_by_recipient(world.smtp)
    journal = await world.state.journal_get(result.run_id)
    assert journal[gone.dn][0] == D.ERROR
    assert not any(st in (D.PLANNED, D.PASSWORD_SET) for st, _d in journal.values())
