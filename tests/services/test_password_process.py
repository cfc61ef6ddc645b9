"""Password changes in child processes (services/password_process.py), against the private slapd."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import ldap3
import pytest

from enttui.config import EntConfig
from enttui.errors import DirectoryError
from enttui.services.password_process import PasswordProcesses
from support.fixtures_ldap import LdapSandbox
from support.procs import alive, spawned_children
from support.slapd import free_port

ROOT = Path(__file__).resolve().parents[2]
ENT = EntConfig(uai=["0123456A"])


def account(base: str, uid: str) -> tuple[str, dict[str, list[str]]]:
    return f"uid={uid},ou=people,{base}", {
        "objectClass": ["ENTPerson"],
        "uid": [uid],
        "cn": [f"Personne {uid}"],
        "sn": [f"NOM{uid}"],
        "ENTPersonLogin": [f"login.{uid}"],
        "ENTPersonJointure": [f"AC-TEST${uid}"],
        "userPassword": ["Ancien-Mdp-000"],
    }


async def test_children_set_passwords_and_report_each_account(ldap_sandbox: LdapSandbox) -> None:
    base = ldap_sandbox.base_dn
    uids = [f"enfant{i}" for i in range(6)]
    ldap_sandbox.add([account(base, uid) for uid in uids])
    items = [(f"uid={uid},ou=people,{base}", f"Proc-{uid}-2026x") for uid in uids]
    missing = (f"uid=absent,ou=people,{base}", "Absent-Proc-9x")
    async with PasswordProcesses(ldap_sandbox.config(), ENT, processes=2, use_exop=True) as children:
        first = await children.set_passwords([*items[:3], missing])
        second = await children.set_passwords(items[3:])
        assert await children.set_passwords([]) == []
    assert first[:3] == [None, None, None] and second == [None] * 3
    err = first[3]
    assert isinstance(err, DirectoryError) and "absent" in err.message
    assert "Absent-Proc-9x" not in f"{err.message} {err.detail}"
    admin = ldap3.Connection(ldap_sandbox.slapd.url, ldap_sandbox.slapd.admin_dn, "secret", auto_bind=True)
    for dn, password in items:
        user = ldap3.Connection(ldap_sandbox.slapd.url, dn, password)
        assert user.bind(), dn
        user.unbind()
        admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["pwdReset"])
        assert admin.entries[0].pwdReset.value is True
    admin.unbind()


async def test_directory_down_is_a_french_error_for_the_batch(ldap_sandbox: LdapSandbox) -> None:
    cfg = ldap_sandbox.config(urls=[f"ldap://127.0.0.1:{free_port()}"], timeout=2.0)
    async with PasswordProcesses(cfg, ENT, processes=1, use_exop=True) as children:
        with pytest.raises(DirectoryError) as caught:
            await children.set_passwords([(f"uid=x,ou=people,{ldap_sandbox.base_dn}", "Jamais-Vu-123x")])
    assert "annuaire" in caught.value.message.lower()
    assert "Jamais-Vu-123x" not in f"{caught.value.message} {caught.value.detail}"


async def test_a_dead_child_stops_the_batches_with_a_french_error(ldap_sandbox: LdapSandbox) -> None:
    async with PasswordProcesses(ldap_sandbox.config(), ENT, processes=1, use_exop=True) as children:
        deadline = time.monotonic() + 120
        spawned: list[int] = []
        while not spawned and time.monotonic() < deadline:
            spawned = spawned_children(os.getpid())
            await asyncio.sleep(0.05)
        assert spawned, "no password process started within 120 s"
        for pid in spawned:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(DirectoryError) as caught:
            await children.set_passwords([(f"uid=x,ou=people,{ldap_sandbox.base_dn}", "Apres-Mort-123x")])
    assert "s'est arrêté" in caught.value.message


def test_children_of_a_killed_console_end_by_themselves(ldap_sandbox: LdapSandbox, tmp_path: Path) -> None:
    """kill -9 of the console: its children must not linger (nor change passwords behind a resume)."""
    cfg = ldap_sandbox.config()
    script = tmp_path / "console.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, sys
            sys.path[:0] = [{str(ROOT / "src")!r}, {str(ROOT / "tests")!r}]
            from enttui.config import EntConfig, LdapConfig, Secret
            from enttui.services.password_process import PasswordProcesses

            async def main():
                ldap = LdapConfig(urls=[{cfg.urls[0]!r}], bind_dn={cfg.bind_dn!r},
                                  bind_password=Secret({cfg.bind_password.reveal()!r}), base_dn={cfg.base_dn!r})
                async with PasswordProcesses(ldap, EntConfig(), processes=2, use_exop=True) as children:
                    await children.set_passwords([])
                    print("ready", flush=True)
                    await asyncio.sleep(120)

            if __name__ == "__main__":
                asyncio.run(main())
            """
        ),
        encoding="utf-8",
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 120
        kids: list[int] = []
        while len(kids) < 2 and time.monotonic() < deadline:
            kids = spawned_children(proc.pid)
            time.sleep(0.05)
        assert kids, "no password process started within 120 s"
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 120
        while any(alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(k) for k in kids), f"password processes {kids} outlived their killed parent by 120 s"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ent_config_and_secrets_pickle_for_the_children() -> None:
    import pickle

    from enttui.config import LdapConfig, Secret

    ldap = LdapConfig(urls=["ldap://x"], bind_password=Secret("Mot-De-Passe-Service"))
    back = pickle.loads(pickle.dumps((ldap, EntConfig(uai=["0123456A"]))))
    assert back[0].bind_password.reveal() == "Mot-De-Passe-Service" and back[1].uai == ["0123456A"]
    assert "Mot-De-Passe-Service" not in repr(back)
