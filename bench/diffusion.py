"""Benchmark: end-to-end diffusion of 10,000 not-yet-activated accounts vs. the SMTP floor.

A private slapd (ppolicy) is loaded offline with N accounts (``pwdReset: TRUE``, each with an
address); an aiosmtpd sink with STARTTLS runs in its own process. The floor is the time aiosmtplib
needs to send N prebuilt messages to the same server over one connection; the diffusion reads the
directory, sets N passwords (RFC 3062 + pwdReset) and sends N mails. Target: diffusion ≤ 1.5 × floor.

    .venv/bin/python bench/diffusion.py [--accounts 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), to see which one bounds the run."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class CpuMeter:
    """CPU seconds of this process (and its ended children), slapd and the SMTP server, between enter and exit."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self._t0 = time.process_time()
        self._c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._p0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {"client": time.process_time() - self._t0}
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the password processes (ended by now)
        children = c1.ru_utime + c1.ru_stime - self._c0.ru_utime - self._c0.ru_stime
        if children >= 0.05:
            self.used["password processes"] = children
        self.used |= {name: cpu_seconds(pid) - self._p0[name] for name, pid in self.pids.items()}

    def text(self) -> str:
        return ", ".join(f"{name} {sec:.1f} s" for name, sec in self.used.items())


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

SUFFIX = "dc=ent,dc=test"
UAI = "0123456A"
STRUCT_DN = f"ENTStructureSIREN=19012345600031,ou=structures,{SUFFIX}"

SMTP_SERVER = """
import json, sys, time, logging
sys.path.insert(0, sys.argv[1])
logging.disable(logging.CRITICAL)
from support.smtp import SmtpTestServer
server = SmtpTestServer(tls="starttls", workdir=sys.argv[2]).start()
print(json.dumps({"port": server.port, "ca": str(server.ca_pem_path)}), flush=True)
sys.stdin.read()
server.stop()
"""


def entries(n: int) -> list[tuple[str, dict[str, list[str]]]]:
    out: list[tuple[str, dict[str, list[str]]]] = [
        (
            STRUCT_DN,
            {
                "objectClass": ["top", "organizationalUnit", "ENTStructure", "ENTEtablissement"],
                "ou": ["Collège Bench"],
                "ENTStructureSIREN": ["19012345600031"],
                "ENTStructureUAI": [UAI],
                "ENTStructureNomCourant": ["Collège Bench"],
                "ENTStructureJointure": ["AC-GRIS$9100"],
                "ENTEtablissementMinistereTutelle": ["MENJ"],
                "ENTEtablissementContrat": ["PU"],
            },
        )
    ]
    for i in range(n):
        login = f"compte.bench{i}"
        out.append(
            (
                f"uid=B{i:08d},ou=people,{SUFFIX}",
                {
                    "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson"],
                    "uid": [f"B{i:08d}"],
                    "cn": [f"Bench {i}"],
                    "sn": ["Bench"],
                    "givenName": [f"Compte{i}"],
                    "ENTPersonLogin": [login],
                    "ENTPersonJointure": [f"ENT${i}"],
                    "ENTPersonStructRattach": [STRUCT_DN],
                    "mail": [f"{login}@bench.test"],
                    "pwdReset": ["TRUE"],
                },
            )
        )
    return out


async def floor(port: int, ca: str, n: int) -> float:
    import ssl

    import aiosmtplib

    from enttui.services.mailer import render_message

    msgs = [
        render_message("ENT <ne-pas-repondre@bench.test>", f"compte.bench{i}@bench.test", "Objet", "Corps\n" * 12)
        for i in range(n)
    ]
    smtp = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, start_tls=False, tls_context=ssl.create_default_context(cafile=ca)
    )
    await smtp.connect()
    await smtp.starttls()
    start = time.perf_counter()
    for m in msgs:
        await smtp.sendmail(m.sender, [m.recipient], m.data)
    elapsed = time.perf_counter() - start
    await smtp.quit()
    return elapsed


async def diffusion(slapd, port: int, ca: str, tmp: Path, n: int, processes: int) -> tuple[float, dict]:
    from enttui.config import Config, DiffusionConfig, EntConfig, SmtpConfig, StateConfig
    from enttui.domain.people import Target
    from enttui.jobs import diffusion as diffusion_job
    from enttui.services.container import Services
    from enttui.services.directory import Directory
    from enttui.services.mailer import SmtpMailer
    from enttui.services.state import StateStore

    cfg = Config(
        ent=EntConfig(portal="Portail Bench", portal_url="https://ent.bench", uai=[UAI]),
        ldap=slapd.ldap_config(),
        smtp=SmtpConfig(host="127.0.0.1", port=port, security="starttls", ca_file=ca, sender="ENT <n@bench.test>"),
        state=StateConfig(url=f"sqlite:///{tmp / 'state.db'}", files_dir=str(tmp / "files")),
        diffusion=DiffusionConfig(ldap_processes=processes),
    )
    state = StateStore(cfg.state)
    await state.open()
    directory = Directory(cfg.ldap, cfg.ent)
    await directory.open()
    mailer = SmtpMailer(cfg.smtp)
    await mailer.open()
    services = Services(config=cfg, directory=directory, state=state, mailer=mailer)
    request = diffusion_job.validate_request([Target.AUTRE], "Portail Bench - vos identifiants de connexion")
    start = time.perf_counter()
    plan = await diffusion_job.plan_diffusion(services, request)  # what the confirmation shows (the UI's order)
    planned = time.perf_counter()
    result = await diffusion_job.run_diffusion(services, request, plan=plan)
    elapsed = time.perf_counter() - start
    await services.close()
    return elapsed, {**result.as_dict(), "plan_seconds": planned - start}


def main() -> None:
    from enttui.config import DiffusionConfig

    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument(
        "--ldap-processes",
        type=int,
        default=DiffusionConfig().ldap_processes,
        help="[diffusion] ldap_processes (0 = threads)",
    )
    args = parser.parse_args()
    n = args.accounts
    from support.slapd import Slapd, entries_to_ldif

    with tempfile.TemporaryDirectory(prefix="enttui-bench-") as d:
        tmp = Path(d)
        slapd = Slapd(tmp / "slapd", SUFFIX)
        slapd.add_ldif(entries_to_ldif(entries(n)))
        t0 = time.perf_counter()
        slapd.start(timeout=60)
        print(f"slapd loaded with {n} accounts in {time.perf_counter() - t0:.1f} s")
        (tmp / "smtp").mkdir()
        proc = subprocess.Popen(
            [sys.executable, "-c", SMTP_SERVER, str(ROOT / "tests"), str(tmp / "smtp")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            info = json.loads(proc.stdout.readline())
            port, ca = info["port"], info["ca"]
            assert slapd.pid is not None
            pids = {"slapd": slapd.pid, "smtp": proc.pid}
            with CpuMeter(pids) as cpu_floor:
                t_floor = asyncio.run(floor(port, ca, n))
            (tmp / "run").mkdir()
            with CpuMeter(pids) as cpu_diff:
                t_diff, counts = asyncio.run(diffusion(slapd, port, ca, tmp / "run", n, args.ldap_processes))
        finally:
            proc.stdin.close()
            proc.wait(30)
            slapd.stop()
    print(f"floor (aiosmtplib, {n} prebuilt messages, one connection): {t_floor:.2f} s, {n / t_floor:.0f} msg/s")
    print(f"  CPU during the floor: {cpu_floor.text()}")
    print(
        f"diffusion end-to-end ({n} accounts, ldap_processes = {args.ldap_processes}): "
        f"{t_diff:.2f} s, {n / t_diff:.0f} accounts/s"
    )
    t_plan = counts["plan_seconds"]
    print(
        f"  of which plan (directory read, before the confirmation): {t_plan:.2f} s; "
        f"after the confirmation: {t_diff - t_plan:.2f} s (ratio {(t_diff - t_plan) / t_floor:.2f})"
    )
    print(f"  CPU during the diffusion: {cpu_diff.text()} (2 cores: {2 * t_diff:.1f} s available)")
    print(
        f"counts: changed {counts['changed']}, mailed {counts['mailed']}, in file {counts['in_file']}, "
        f"errors {counts['errors']}"
    )
    ratio = t_diff / t_floor
    print(f"ratio diffusion / floor: {ratio:.2f} (target ≤ 1.50: {'OK' if ratio <= 1.5 else 'NOT MET'})")


if __name__ == "__main__":
    main()
