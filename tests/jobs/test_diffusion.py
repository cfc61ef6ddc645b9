"""Diffusion and regeneration against a real slapd (ppolicy) and aiosmtpd with STARTTLS."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import ldap3
import pytest

from enttui.config import Config
from enttui.demo.world import DEMO_PASSWORD_HASH
from enttui.domain.attributes import PLAN_PERSON_ATTRIBUTES
from enttui.domain.idfiles import parse_search_date
from enttui.domain.people import Target
from enttui.errors import MailError, ValidationError
from enttui.jobs import credentials, diffusion, journal, regeneration
from enttui.jobs.events import CollectingSink
from enttui.jobs.idfiles import list_files
from enttui.services.container import Services
from enttui.services.mailer import SmtpMailer
from enttui.services.state import INTERRUPTED, RunRecord, StateStore
from support.diffusion_world import (
    EVIL,
    UAI,
    World,
    close,
    mails_by_login,
    mails_by_recipient,
    password_in,
    read_file,
    write_config,
)
from support.person_reads import record_person_reads


@pytest.fixture
async def world(ldap_sandbox: Any, smtp_server: Any, tmp_path: Path, state_store: StateStore) -> AsyncIterator[World]:
    yield World(ldap_sandbox, smtp_server, tmp_path, state_store)


async def test_validation_refuses_bad_forms() -> None:
    with pytest.raises(ValidationError, match="au moins une cible"):
        diffusion.validate_request([], "Objet")
    with pytest.raises(ValidationError, match="75"):
        diffusion.validate_request([Target.ELEVE], "x" * 76)
    with pytest.raises(ValidationError, match="obligatoire"):
        diffusion.validate_request([Target.ELEVE], "   ")
    with pytest.raises(ValidationError, match="une seule ligne"):
        diffusion.validate_request([Target.ELEVE], "Objet\nBcc: x@y")
    req = diffusion.validate_request(["autre", "eleve"], "x" * 75)
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
    request = diffusion.validate_request(
        list(Target), "Portail GRIS - vos identifiants de connexion", "Bonne rentrée !"
    )
    plan = await diffusion.plan_diffusion(services, request)
    creds = [p for p in world.people if p.target.gets_ent_credentials and not p.activated]
    assert plan.changes == len(creds)
    assert "Élève" in plan.confirmation_text()
    sink = CollectingSink()
    result = await diffusion.run_diffusion(services, request, sink, plan=plan)
    await close(services)

    # The count invariant.
    assert result.changed == len(creds)
    assert result.changed == result.mailed + result.in_file
    assert result.pending == 0
    no_mail = [p for p in creds if not p.mail]
    assert result.in_file == len(no_mail) + 1
    mails = mails_by_recipient(world.smtp)
    # Nobody twice (two parents may share a family address: one message each); the 421 recipient got
    # one mail after a retry.
    assert all(len(v) == 1 for v in mails_by_login(world.smtp).values())
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
    assert sorted(os.listdir(folder)) == [".runs", result.file_name]  # one file, created once
    # The run's secret is gone once no account is left to handle; the lock file stays (empty).
    runs = folder / ".runs"
    assert stat.S_IMODE(runs.stat().st_mode) == 0o700
    assert os.listdir(runs) == ["jobs.lock"] and (runs / "jobs.lock").read_bytes() == b""
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
    entries = await world.state.journal_get(result.run_id)
    text = repr(entries) + repr(await world.state.list_runs()) + repr(await world.state.trace(result.run_id))
    assert pw not in text and by_login[q.login]["Mot de passe provisoire"] not in text
    audit = await world.state.list_audit()
    assert any(a.action == "fichier.generation" and a.target == result.file_name for a in audit)


async def test_default_run_skips_activated_and_staff_targets(world: World) -> None:
    services = await world.services()
    request = diffusion.validate_request([Target.ENSEIGNANT], "Information")
    result = await diffusion.run_diffusion(services, request)
    await close(services)
    assert result.changed == 0 and result.in_file == 0 and not result.file_name
    assert result.information == len(world.by_target(Target.ENSEIGNANT, mail=True))


async def test_lost_connection_reconnects(world: World) -> None:
    services = await world.services()
    world.smtp.drop_after(3)
    request = diffusion.validate_request([Target.ELEVE], "Objet")
    result = await diffusion.run_diffusion(services, request)
    await close(services)
    mails = mails_by_login(world.smtp)
    assert result.mailed == len(world.by_target(Target.ELEVE, activated=False, mail=True)) == len(mails)
    assert world.smtp.connections > 1


async def test_regeneration_with_and_without_date(world: World) -> None:
    services = await world.services()
    creds = [p for p in world.people if p.target.gets_ent_credentials and not p.activated]
    plan = await regeneration.plan_regeneration(services, regeneration.RegenerationRequest((UAI,)))
    assert len(plan.people) == len(creds)
    result = await regeneration.run_regeneration(services, plan.request, plan=plan)
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
    plan2 = await regeneration.plan_regeneration(services, regeneration.RegenerationRequest((UAI,), since=today))
    assert len(plan2.people) == len(creds)
    plan3 = await regeneration.plan_regeneration(services, regeneration.RegenerationRequest((UAI,), since=tomorrow))
    assert plan3.people == []
    with pytest.raises(ValidationError, match="hors du périmètre"):
        await regeneration.plan_regeneration(services, regeneration.RegenerationRequest(("9999999Z",)))
    await close(services)


async def test_a_relay_down_at_the_start_changes_nothing(world: World) -> None:
    """Pre-flight: the relay is asked first; down, the diffusion stops before any password change."""
    services = await world.services()
    request = diffusion.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
    plan = await diffusion.plan_diffusion(services, request)
    down = replace(world.config.smtp, port=1)
    services.mailer = SmtpMailer(down)
    services.config = replace(world.config, smtp=down)
    with pytest.raises(MailError, match="Rien n'a été modifié"):
        await diffusion.run_diffusion(services, request, plan=plan)
    await close(services)
    assert await world.state.list_runs(kind="diffusion") == []  # no run left "en cours"
    for p in plan.credential_people[:5]:
        before = next(a for dn, a in world.entries if dn == p.dn)
        after = world.read(p.dn, ["pwdReset", "userPassword"])
        assert ("userPassword" in after) == ("userPassword" in before) and after.get("pwdReset") == before.get(
            "pwdReset"
        )


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
        first = mails_by_login(smtp)
        assert 0 < len(first) < len(with_mail)
        assert hold not in mails_by_recipient(smtp)

        # Warnings on: the password processes and multiprocessing's tracker must leave stderr clean.
        resumed = subprocess.run([*cmd[:5], "diffuse", "--resume", "--yes", "--json"], capture_output=True)
        assert resumed.returncode == 0, resumed.stderr.decode()
        ours = ("enttui[diffuse] phase : ", "enttui[diffuse] fin : ")
        noise = [
            line
            for line in resumed.stderr.decode().splitlines()
            if not line.startswith(ours) and "peut-être reçu" not in line
        ]
        assert noise == []  # only the phases and the final line (and the count of messages sent again)
        result = json.loads(resumed.stdout)
        mails = mails_by_recipient(smtp)
        logins = mails_by_login(smtp)

    # Everyone with an address got a mail; a second one only for a message whose fate the killed
    # process could not know (it was "sending"): counted, and with the same password.
    twice = {k: v for k, v in logins.items() if len(v) > 1}
    assert len(twice) <= result["resent"], twice.keys()
    assert result["resent"] >= 1  # the held message was "sending" when the process stopped
    for v in twice.values():
        assert len({password_in(m.get_content()) for m in v}) == 1
    assert set(logins) == {p.login for p in with_mail}
    assert result["changed"] == result["mailed"] + result["in_file"] == len(creds)
    assert result["mailed"] == len(with_mail)
    # The last mailed password is the one in the directory (a password set before the kill was replaced).
    p = next(p for p in with_mail if p.mail.lower() == hold)
    conn = ldap3.Connection(
        ldap3.Server(ldap_sandbox.slapd.url), user=p.dn, password=password_in(mails[hold][0].get_content())
    )
    assert conn.bind()
    conn.unbind()


async def test_journal_commits_in_order_and_counts(state_store: StateStore) -> None:
    """Records commit in the order they were made (a later status wins); the counts come from the journal."""
    run_id = await state_store.start_run("diffusion", {})
    await state_store.journal_set(run_id, [(f"uid=u{i}", journal.PLANNED, journal.CREDENTIALS) for i in range(5)])
    services = Services(config=Config(), directory=None, state=state_store)  # type: ignore[arg-type]
    recorder = journal.Journal(services, run_id, group=2)
    recorder.note((f"uid=u{i}", journal.PASSWORD_SET, "") for i in range(4))
    await recorder.record(("uid=u0", journal.SENDING, journal.CREDENTIALS))
    await recorder.record(("uid=u0", journal.MAILED, ""), ("uid=u1", journal.IN_FILE, "sans adresse"))
    await recorder.record(("uid=u3", journal.SENDING, journal.CREDENTIALS), ("uid=u4", journal.ERROR, "refusé"))
    await recorder.close()
    got = {k: st for k, (st, _d) in (await state_store.journal_get(run_id)).items()}
    assert got == {
        "uid=u0": journal.MAILED,
        "uid=u1": journal.IN_FILE,
        "uid=u2": journal.PASSWORD_SET,
        "uid=u3": journal.SENDING,
        "uid=u4": journal.ERROR,
    }
    result = diffusion.result_from_journal(run_id, await state_store.journal_get(run_id), INTERRUPTED, "")
    assert (result.changed, result.mailed, result.in_file, result.pending) == (4, 1, 1, 2) and result.invariant_ok


async def test_account_gone_after_the_plan_is_an_error_the_others_are_mailed(world: World) -> None:
    services = await world.services()
    request = diffusion.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
    plan = await diffusion.plan_diffusion(services, request)
    gone = next(p for p in plan.credential_people if p.mail)
    slapd = world.sandbox.slapd
    admin = ldap3.Connection(ldap3.Server(slapd.url), user=slapd.admin_dn, password=slapd.admin_password)
    assert admin.bind() and admin.delete(gone.dn)
    admin.unbind()
    result = await diffusion.run_diffusion(services, request, plan=plan)
    await close(services)
    assert result.errors == 1 and result.status == "avec erreurs"
    assert result.changed == result.mailed + result.in_file == plan.changes - 1
    assert gone.mail.lower() not in mails_by_recipient(world.smtp)
    entries = await world.state.journal_get(result.run_id)
    assert entries[gone.dn][0] == journal.ERROR
    assert not any(st in (journal.PLANNED, journal.PASSWORD_SET) for st, _d in entries.values())


# ---------------------------------------------------------------------------------------------
# Pre-flight, the lock, accounts without password, a regeneration stopped and resumed
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("relay", ["untrusted-certificate", "no-starttls"])
async def test_a_relay_that_fails_its_check_changes_nothing(
    world: World, relay: str, smtp_plain: Any, tmp_path: Path
) -> None:
    """An untrusted (expired, unknown) certificate or no STARTTLS: refused before any password change."""
    import trustme

    from support.smtp import SmtpTestServer

    services = await world.services()
    request = diffusion.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
    if relay == "no-starttls":
        cfg = replace(world.config.smtp, port=smtp_plain.port)
        other = None
    else:
        (tmp_path / "other").mkdir()
        other = SmtpTestServer(ca=trustme.CA(), tls="starttls", workdir=tmp_path / "other").start()
        cfg = replace(world.config.smtp, port=other.port)  # our CA file does not know its certificate
    services.mailer = SmtpMailer(cfg)
    services.config = replace(world.config, smtp=cfg)
    try:
        with pytest.raises(MailError) as info:
            await diffusion.run_diffusion(services, request)
    finally:
        await close(services)
        if other is not None:
            other.stop()
    text = info.value.message
    assert "Rien n'a été modifié" in text
    assert ("Certificat TLS" in text) if relay == "untrusted-certificate" else ("STARTTLS" in text)
    assert await world.state.list_runs(kind="diffusion") == []
    for p in world.people[:10]:
        before = next(a for dn, a in world.entries if dn == p.dn)
        assert world.read(p.dn, ["pwdReset"]).get("pwdReset") == before.get("pwdReset")


async def test_a_second_job_is_refused_while_the_lock_is_held(world: World) -> None:
    from enttui.errors import LockHeldError
    from enttui.jobs import local_accounts
    from enttui.jobs.locking import take_lock

    services = await world.services()
    lock = await take_lock(services, "regeneration")
    try:
        lock.set_run(99)
        request = diffusion.validate_request([Target.ELEVE], "Objet")
        with pytest.raises(LockHeldError) as info:
            await diffusion.run_diffusion(services, request)
        assert "Une régénération des identifiants est déjà en cours (traitement n° 99" in info.value.message
        assert f"processus {os.getpid()}" in info.value.message and info.value.exit_code == 3
        with pytest.raises(LockHeldError):
            await regeneration.run_regeneration(services, regeneration.RegenerationRequest(()))
        with pytest.raises(LockHeldError):
            await local_accounts.delete_local_account(services, world.people[0].dn)
    finally:
        lock.release()
        await close(services)
    assert await world.state.list_runs() == []  # refused before anything was recorded


async def test_accounts_without_password_are_the_first_diffusions_population(world: World) -> None:
    """DOMAIN.md: no userPassword = never given credentials = not activated: they get a password."""
    services = await world.services()
    bare = [p for p in world.people if p.target.gets_ent_credentials and not p.has_password]
    assert bare and all(not p.activated for p in bare)
    request = diffusion.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
    plan = await diffusion.plan_diffusion(services, request)
    assert {p.dn for p in bare} <= {p.dn for p in plan.credential_people}
    assert sum(c.no_password for c in plan.counts.values()) == len(bare)
    assert "sans mot de passe (jamais reçu d'identifiants)" in plan.confirmation_text()
    regen = await regeneration.plan_regeneration(services, regeneration.RegenerationRequest(()))
    assert {p.dn for p in bare} <= {p.dn for p in regen.people} and regen.no_password == len(bare)
    result = await diffusion.run_diffusion(services, request, plan=plan)
    await close(services)
    assert result.status == "réussi" and result.changed == plan.changes
    mails = mails_by_recipient(world.smtp)
    p = next(p for p in bare if p.mail)
    conn = world.bind(p.dn, password_in(mails[p.mail.lower()][0].get_content()))
    assert conn.bind()
    conn.unbind()
    assert world.read(p.dn, ["pwdReset"])["pwdReset"] == ["TRUE"]


async def regeneration_cancelled_at(
    services: Services, stop: Callable[[int, int], bool]
) -> tuple[regeneration.RegenerationPlan, RunRecord]:
    """A regeneration of the school cancelled at the first progress where ``stop(done, total)``;
    its run, recorded "interrompu" and offered for resume."""
    from enttui.jobs.events import Event, Progress

    plan = await regeneration.plan_regeneration(services, regeneration.RegenerationRequest((UAI,)))
    task: asyncio.Task[Any] | None = None

    def sink(event: Event) -> None:
        if isinstance(event, Progress) and stop(event.done, len(plan.people)) and task is not None:
            task.cancel()

    task = asyncio.ensure_future(regeneration.run_regeneration(services, plan.request, sink, plan=plan))
    with pytest.raises(asyncio.CancelledError):
        await task
    run = await regeneration.resumable_regeneration(services)
    assert run is not None and run.status == INTERRUPTED
    return plan, run


async def test_a_regeneration_cancelled_in_the_middle_is_resumed_in_the_same_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled after its first rows (the console quit, Ctrl+C): "interrompu", then resumed; one
    row per account in one file, every password in the file opens its account."""
    from enttui.jobs import credentials

    monkeypatch.setattr(credentials, "LDAP_BATCH", 5)  # a small school: several batches

    services = await world.services()
    plan, run = await regeneration_cancelled_at(services, lambda done, _total: done > 0)
    (entry,) = await list_files(services)
    assert entry.status == "interrompu" and 0 < entry.rows < len(plan.people)
    result = await regeneration.resume_regeneration(services, run.id)
    await close(services)
    assert result.status == "réussi" and result.in_file == result.changed == len(plan.people)
    rows = read_file(Path(world.config.state.files_dir) / result.file_name)
    assert sorted(r["Identifiant"] for r in rows) == sorted(p.login for p in plan.people)
    for p in plan.people[:: max(1, len(plan.people) // 8)]:
        pw = next(r["Mot de passe provisoire"] for r in rows if r["Identifiant"] == p.login)
        conn = world.bind(p.dn, pw)
        assert conn.bind(), p.login
        conn.unbind()
    assert await regeneration.resumable_regeneration(services) is None
    with pytest.raises(ValidationError, match="déjà été reprise par le traitement"):
        await regeneration.resume_regeneration(services, run.id)  # its journal went on in the resume


async def test_a_run_stopped_after_its_last_account_is_closed_by_its_resume_never_run_again(
    world: World,
) -> None:
    """Cancelled once every account is handled, before the run is closed: "interrompu" with nothing
    left. It is still offered for resume (a fresh run would give each account a second password);
    the resume changes no password and closes it "réussi" with the killed run's counts."""
    services = await world.services()
    plan, run = await regeneration_cancelled_at(services, lambda done, total: done == total)
    total = len(plan.people)
    counts = journal.count_journal(await services.state.journal_get(run.id))
    assert counts.remaining == 0 and counts.in_file == total
    (entry,) = await list_files(services)
    before = read_file(Path(world.config.state.files_dir) / entry.name)
    result = await regeneration.resume_regeneration(services, run.id)
    assert await regeneration.resumable_regeneration(services) is None
    await close(services)
    assert result.status == "réussi" and result.in_file == total and result.file_name == entry.name
    assert read_file(Path(world.config.state.files_dir) / entry.name) == before  # not one row more
    for p in plan.people[:: max(1, total // 8)]:
        pw = next(r["Mot de passe provisoire"] for r in before if r["Identifiant"] == p.login)
        conn = world.bind(p.dn, pw)
        assert conn.bind(), p.login  # the password of the file is still the account's
        conn.unbind()


async def test_a_diffusion_stopped_while_closing_is_closed_by_its_resume_with_the_relay_down(world: World) -> None:
    """Cancelled once every account is handled: the resume sends nothing, so it needs no relay (down
    here) to close the run "réussi" with the counts of what was mailed."""
    from enttui.jobs.events import Event, Progress

    services = await world.services()
    request = diffusion.validate_request([Target.ELEVE, Target.PARENT, Target.AUTRE], "Objet")
    plan = await diffusion.plan_diffusion(services, request)
    total = len(plan.credential_people) + len(plan.info_people)
    task: asyncio.Task[Any] | None = None

    def sink(event: Event) -> None:
        if isinstance(event, Progress) and event.done == total and task is not None:
            task.cancel()

    task = asyncio.ensure_future(diffusion.run_diffusion(services, request, sink, plan=plan))
    with pytest.raises(asyncio.CancelledError):
        await task
    run = await diffusion.resumable_diffusion(services)
    assert run is not None and run.status == INTERRUPTED
    assert journal.count_journal(await services.state.journal_get(run.id)).remaining == 0
    sent = len(world.smtp.messages)
    down = replace(world.config.smtp, port=1)
    services.mailer = SmtpMailer(down)
    services.config = replace(world.config, smtp=down)
    result = await diffusion.resume_diffusion(services, run.id)
    assert await diffusion.resumable_diffusion(services) is None
    await close(services)
    assert result.status == "réussi" and result.changed == len(plan.credential_people)
    assert result.mailed + result.in_file == len(plan.credential_people)
    assert len(world.smtp.messages) == sent  # not one message more


async def test_a_resume_under_a_password_history_rule(
    slapd_factory: Any, tmp_path: Path, state_store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pwdInHistory refuses setting the same password again. A planned account whose password the
    killed run had set (cut before its pwdReset: it looks activated) gets that very password, marked
    temporary; one its owner activated is left alone."""
    from enttui.config import DiffusionConfig, EntConfig, StateConfig
    from enttui.demo.world import SchoolSpec, WorldSpec, generate
    from enttui.domain.passwords import derive_password
    from enttui.jobs import credentials
    from enttui.jobs.events import Event, Progress
    from enttui.services.directory import Directory
    from support.slapd import entries_to_ldif

    spec = WorldSpec(
        base_dn="dc=ent,dc=test",
        schools=(SchoolSpec(UAI, "Collège Test", students=14, teachers=2, staff=1, others=3, classes_per_level=1),),
        role_groups=False,
    )
    server = slapd_factory(ldif=entries_to_ldif(generate(spec)))
    admin = ldap3.Connection(
        ldap3.Server(server.url, get_info=ldap3.NONE), server.admin_dn, server.admin_password, auto_bind=True
    )
    files = tmp_path / "identifiants"
    config = Config(
        ent=EntConfig(uai=[UAI]),
        ldap=server.ldap_config(),
        diffusion=DiffusionConfig(ldap_processes=0),
        state=StateConfig(url=state_store.config.url, files_dir=str(files)),
    )
    directory = Directory(config.ldap, config.ent)
    await directory.open()
    services = Services(config=config, directory=directory, state=state_store)
    monkeypatch.setattr(credentials, "LDAP_BATCH", 5)
    plan = await regeneration.plan_regeneration(services, regeneration.RegenerationRequest(()))
    task: asyncio.Task[Any] | None = None

    def sink(event: Event) -> None:
        if isinstance(event, Progress) and event.done > 0 and task is not None:
            task.cancel()

    task = asyncio.ensure_future(regeneration.run_regeneration(services, plan.request, sink, plan=plan))
    with pytest.raises(asyncio.CancelledError):
        await task
    run = await regeneration.resumable_regeneration(services)
    assert run is not None
    planned = [dn for dn, (st, _d) in (await state_store.journal_get(run.id)).items() if st == journal.PLANNED]
    ours, owners = planned[0], planned[1]
    secret = (files / ".runs" / f"{run.id}.secret").read_bytes()
    password = derive_password(secret, credentials.dn_key(ours), config.diffusion.password_length)
    policy = "cn=default,ou=policies,dc=ent,dc=test"
    assert admin.modify(policy, {"pwdInHistory": [(ldap3.MODIFY_REPLACE, ["3"])]}), admin.result
    for dn, value in ((ours, password), (owners, "Choisi-Par-Lui-7")):
        assert admin.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [value])]}), admin.result
        assert admin.modify(dn, {"pwdReset": [(ldap3.MODIFY_REPLACE, [])]}), admin.result  # looks activated
    result = await regeneration.resume_regeneration(services, run.id)
    await directory.close()
    assert result.status == "réussi" and result.skipped == 1
    rows = read_file(files / result.file_name)
    by_login = {r["Identifiant"]: r["Mot de passe provisoire"] for r in rows}
    login_of = {p.dn: p.login for p in plan.people}
    assert len(rows) == len(by_login) == len(plan.people) - 1 and login_of[owners] not in by_login
    assert by_login[login_of[ours]] == password  # the same password, not a second one
    user = ldap3.Connection(ldap3.Server(server.url, get_info=ldap3.NONE), ours, password)
    assert user.bind()
    user.unbind()
    admin.search(ours, "(objectClass=*)", ldap3.BASE, attributes=["pwdReset"])
    assert str(admin.entries[0].pwdReset.value).upper() == "TRUE"  # must be changed at first login
    entries = await state_store.journal_get(result.run_id)
    assert entries[owners] == (journal.SKIPPED, "déjà activé à la reprise")
    admin.unbind()


async def test_the_plans_read_only_their_person_attributes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The diffusion and regeneration plans ask for PLAN_PERSON_ATTRIBUTES and the inactive attribute,
    and these are enough: who, the counts, the messages' values, the file's rows and what a resume
    looks at are those of a read of every person attribute."""
    services = await world.services()
    request = diffusion.validate_request(list(Target), "Objet")
    today = parse_search_date(datetime.now().strftime("%d/%m/%Y"))
    moment = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    async def plans(widen: bool) -> tuple[Any, ...]:
        monkeypatch.undo()
        asked = record_person_reads(services.directory, monkeypatch, widen=widen)
        plan = await diffusion.plan_diffusion(services, request)
        regen = await regeneration.plan_regeneration(services, regeneration.RegenerationRequest((UAI,), since=today))
        again = await regeneration.plan_regeneration(
            services, regeneration.RegenerationRequest((), include_activated=True)
        )
        ctx = credentials.RunContext(uai_of=plan.uai_of, children=plan.children)
        run = SimpleNamespace(cfg=services.config, ctx=ctx, s=SimpleNamespace(clock=lambda: moment))
        people = [*plan.credential_people, *plan.info_people, *again.people]
        seen = {
            p.dn: (
                diffusion._Diffusion._values(run, p, "pw"),  # type: ignore[arg-type]
                credentials.CredentialRun.row(run, p, "pw", "motif"),  # type: ignore[arg-type]
                p.activated,
                p.has_password,
            )
            for p in people
        }
        shape = (
            plan.counts,
            [p.dn for p in plan.credential_people],
            [p.dn for p in plan.info_people],
            plan.children,
            [p.dn for p in regen.people],
            regen.counts,
            regen.no_password,
            [p.dn for p in again.people],
        )
        return asked, shape, seen

    asked, narrow, narrow_seen = await plans(widen=False)
    assert asked and all(a == (*PLAN_PERSON_ATTRIBUTES, "pwdReset") for a in asked), asked
    widened_asked, wide, wide_seen = await plans(widen=True)
    monkeypatch.undo()
    await close(services)
    assert len(widened_asked) == len(asked)
    assert narrow == wide
    assert narrow[1] and narrow[2] and narrow[3] and narrow[4] and narrow[6]  # every path was exercised
    assert narrow_seen == wide_seen
    assert any(values["enfants"] for values, *_ in narrow_seen.values())
    assert any(row.uai == UAI and row.detail for _v, row, *_ in narrow_seen.values())
