"""Benchmark of the Moodle sync: full first run, no-change run, 1 % changed, against the floor.

Generates N people (default 100,000, several schools, classes as groups, role groups) with
``scripts/gen_ldif.py`` in a child process (so that the peak memory printed is the sync's), loads
them into a private slapd (offline ``slapadd``) and an empty Moodle schema on a private MariaDB
(InnoDB buffer pool sized like a server that holds the site: ``--buffer-pool``), then reports:

- a full first sync (users, cohorts, roles), with the CPU time it cost this process, slapd and
  MariaDB: their sum over the machine's cores is what no schedule of the same work can beat;
- a second run with no change (normal run: watermarks);
- a run after changing 1 % of the people;
- the floor, measured in the same process: a paged read of the same entries with the same
  attributes (the sync's list, ``SYNC_PERSON_ATTRIBUTES``) by the sync's own reader (the garbage
  collector paused, as the sync reads), and by ldap3,
  + an ``executemany`` insert of the same user rows (same columns, same driver path) into a fresh
  table;
- beside it, the read floor of the machine: ``ldapsearch`` (C) reading the same people with the
  same attributes, and that floor + the same insert.

``--reader`` picks the directory reader the sync uses (``[ldap] reader``: ldap3, python-ldap, auto).
``--cpu-trace`` prints, each second of the full run, the cores each process used and the phases:
where the run waits on one process while the others idle.

Targets (issue "Regional scale"): full run of 100,000 people ≤ 12 s on 2 cores, peak memory
≤ 400 MB; no-change ≤ 5 % and 1 % changed ≤ 10 % of a full run. At 1,000,000 people: full ≤ 3 min,
no-change ≤ 10 s, peak ≤ 2 GB.
Usage: ``.venv/bin/python bench/sync.py [--people 100000] [--schools 5] [--reader python-ldap] [--workdir DIR]``
(``--workdir``: the generated directory is kept there and reused by the next run with the same folder;
the 1 % run changes ``sn`` of 1 % of the people in it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

import ldap3  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402

from enttui.config import Config, EntConfig, StateConfig, SyncConfig  # noqa: E402
from enttui.demo.ldif import write_ldif  # noqa: E402
from enttui.demo.world import big_spec, containers  # noqa: E402
from enttui.domain import ldapfilter as lf  # noqa: E402
from enttui.domain.attributes import SYNC_PERSON_ATTRIBUTES  # noqa: E402
from enttui.domain.sync import SyncOptions, desired_user  # noqa: E402
from enttui.jobs.collector import collector_paused  # noqa: E402
from enttui.jobs.events import Event, Phase  # noqa: E402
from enttui.jobs.sync import run_sync  # noqa: E402
from enttui.services.container import Services, utc_now  # noqa: E402
from enttui.services.directory import Directory  # noqa: E402
from enttui.services.moodle import Moodle  # noqa: E402
from enttui.services.moodle_sync import USER_INSERT_COLUMNS, SiteFacts, insert_many, user_insert_row  # noqa: E402
from enttui.services.moodle_tables import moodle_tables  # noqa: E402
from enttui.services.state import StateStore  # noqa: E402
from support.fixtures_db import moodle_config_for  # noqa: E402
from support.fixtures_ldap import ldap_config  # noqa: E402
from support.mariadb import MariaDBServer  # noqa: E402
from support.procs import cpu_seconds  # noqa: E402
from support.slapd import Slapd  # noqa: E402

BASE = "dc=ent,dc=test"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_snapshot(servers: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of this process ("enttui") and of each server."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"enttui": usage.ru_utime + usage.ru_stime} | {name: cpu_seconds(pid) for name, pid in servers.items()}


class CpuTrace:
    """``--cpu-trace``: every second, the CPU each process took (in cores), and the sync's phases."""

    def __init__(self, servers: dict[str, int]) -> None:
        self.servers = servers
        self.t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        before, t_before = cpu_snapshot(self.servers), time.perf_counter()
        while not self._stop.wait(1.0):
            now, t_now = cpu_snapshot(self.servers), time.perf_counter()
            share = ", ".join(f"{k} {(now[k] - before[k]) / (t_now - t_before):.2f}" for k in now)
            print(f"    {t_now - self.t0:6.1f} s  cœurs : {share}", flush=True)
            before, t_before = now, t_now

    def sink(self, event: Event) -> None:
        if isinstance(event, Phase):
            print(f"  {time.perf_counter() - self.t0:6.1f} s  phase : {event.label}", flush=True)

    def __enter__(self) -> CpuTrace:
        self.t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def buffer_pool_for(people: int) -> str:
    """A buffer pool that holds the Moodle tables the sync writes (~10 kB a person, 256M–4G)."""
    return f"{min(4096, max(256, people // 100))}M"


async def main(
    people: int,
    schools: int,
    reader: str = "ldap3",
    buffer_pool: str = "",
    workdir: str = "",
    cpu_trace: bool = False,
) -> None:
    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="enttui-bench-sync-"))
    tmp.mkdir(parents=True, exist_ok=True)
    spec = big_spec(people, schools, BASE)
    head, ldif = tmp / "containers.ldif", tmp / "world.ldif"
    maxsize = max(1 << 30, people * 12 * 1024)
    if (tmp / "slapd" / "db" / "data.mdb").exists():  # --workdir of an earlier run: its directory as it is
        slapd = Slapd(tmp / "slapd", BASE, maxsize=maxsize).reuse().start(timeout=600)
        print(f"Annuaire repris de {tmp / 'slapd'} ({people} personnes, {schools} établissements)")
    else:
        t0 = time.perf_counter()
        with head.open("w", encoding="utf-8") as out:
            existing = {f"ou={ou},{BASE}" for ou in ("people", "groups", "structures")}
            write_ldif([c for c in containers(BASE) if c[0] not in existing], out)
        gen = [sys.executable, str(ROOT / "scripts" / "gen_ldif.py"), "--people", str(people)]
        gen += ["--schools", str(schools), "--base", BASE, "--no-containers", "-o", str(ldif)]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        done = subprocess.run(gen, env=env, capture_output=True, text=True, check=True)  # noqa: ASYNC221
        print(f"Monde généré en {time.perf_counter() - t0:.1f} s : {done.stderr.strip()}")
        t0 = time.perf_counter()
        slapd = Slapd(tmp / "slapd", BASE, [str(head), str(ldif)], maxsize=maxsize).start(timeout=600)
        print(f"Chargement slapadd + démarrage : {time.perf_counter() - t0:.1f} s")
    try:
        db = MariaDBServer(tmp, buffer_pool=buffer_pool or buffer_pool_for(people)).start()
        db_dir = db.dir
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=tmp))  # a fresh state store: every run is a first run
    except BaseException:
        slapd.stop()
        raise
    try:
        uais = [s.uai for s in spec.schools]
        cfg = Config(
            ent=EntConfig(uai=uais),
            ldap=ldap_config(slapd, reader=reader),
            moodle=moodle_config_for(db.create_database("bench")),
            sync=SyncConfig(watermark_margin_minutes=0, batch_size=2000, trace_max_lines=2000),
            state=StateConfig(url=f"sqlite:///{run_dir / 'state.db'}", files_dir=str(run_dir / "files")),
        )
        directory = Directory(cfg.ldap, cfg.ent)
        await directory.open()
        moodle = Moodle(cfg.moodle)
        await moodle.open()
        await moodle.create_schema(allow=True)
        state = StateStore(cfg.state)
        await state.open()
        services = Services(config=cfg, directory=directory, state=state, moodle=moodle, clock=utc_now)
        print(f"Lecteur de l'annuaire : {directory.reader} ; pool InnoDB {db.buffer_pool}")
        rss0 = peak_mb()
        await asyncio.sleep(1.1)

        pids = {"slapd": slapd.pid, "MariaDB": db.process.pid if db.process else None}
        servers = {name: pid for name, pid in pids.items() if pid}
        cpu0 = cpu_snapshot(servers)
        tracer = CpuTrace(servers) if cpu_trace else None
        t0 = time.perf_counter()
        if tracer is not None:
            with tracer:
                full = await run_sync(services, SyncOptions(), tracer.sink)
        else:
            full = await run_sync(services, SyncOptions())
        t_full = time.perf_counter() - t0
        cpu = {name: seconds - cpu0[name] for name, seconds in cpu_snapshot(servers).items()}
        peak = peak_mb()
        c = full.counts
        print(
            f"Synchronisation complète : {t_full:6.2f} s  ({c['users'].created} comptes, {c['cohorts'].created} "
            f"cohortes, {c['roles'].created} rôles ; statut {full.status})"
        )
        if full.errors and full.run_id is not None:  # said, never hidden behind a time
            errors = await state.trace(full.run_id, levels=["error"])
            print(f"  {full.errors} erreur(s), les premières :")
            for line in errors[:5]:
                print(f"    [{line.entity}] {line.text}")
        cores = len(os.sched_getaffinity(0))
        print(
            "  CPU de la complète     : "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu.items())
            + f" ; total {sum(cpu.values()):.1f} s / {cores} cœurs = {sum(cpu.values()) / cores:.1f} s au mieux"
        )
        await asyncio.sleep(1.1)
        t0 = time.perf_counter()
        again = await run_sync(services, SyncOptions())
        t_none = time.perf_counter() - t0
        writes = sum(v.created + v.updated + v.removed for v in again.counts.values())
        print(f"Sans changement         : {t_none:6.2f} s  ({writes} écriture{'s' if writes > 1 else ''})")

        # change 1 % of the people
        conn = ldap3.Connection(ldap3.Server(slapd.url), slapd.admin_dn, slapd.admin_password, auto_bind=True)
        conn.search(f"ou=people,{BASE}", "(objectClass=ENTPerson)", attributes=["sn"], paged_size=people)
        dns = [e.entry_dn for e in conn.entries][::100]
        for dn in dns:
            conn.modify(dn, {"sn": [(ldap3.MODIFY_REPLACE, [f"Changé {run_dir.name}"])]})  # new each run (--workdir)
        conn.unbind()
        await asyncio.sleep(1.1)
        t0 = time.perf_counter()
        one = await run_sync(services, SyncOptions())
        t_one = time.perf_counter() - t0
        print(f"1 % modifié             : {t_one:6.2f} s  ({one.counts['users'].updated} comptes mis à jour)")

        # the floor: same paged read, the sync's attributes (SYNC_PERSON_ATTRIBUTES); executemany insert
        filt = lf.and_(lf.eq("objectClass", "ENTPerson"), await directory.perimeter_filter())
        t0 = time.perf_counter()
        rows = []
        with collector_paused():  # as the sync reads (jobs/collector.py): else the floor pays collections it does not
            async for page in directory.iter_people(attributes=SYNC_PERSON_ATTRIBUTES, prefetch=True, by_school=True):
                rows.extend(page)
        t_read_svc = time.perf_counter() - t0
        conn = ldap3.Connection(ldap3.Server(slapd.url), slapd.admin_dn, slapd.admin_password, auto_bind=True)
        t0 = time.perf_counter()
        entries = conn.extend.standard.paged_search(
            f"ou=people,{BASE}", filt, attributes=list(SYNC_PERSON_ATTRIBUTES), paged_size=500, generator=True
        )
        count = sum(1 for _ in entries)
        t_read = time.perf_counter() - t0
        conn.unbind()
        floor_db = db.create_database("floor")
        engine = create_engine(floor_db)
        tables = moodle_tables("mdl_")
        tables.user.create(engine)
        facts = SiteFacts(1, 1, "/1", "fr", ("cas",), False, 28800)
        now = int(time.time())
        user_rows = [
            user_insert_row(d, auth="cas", facts=facts, now=now)
            for d in (desired_user(p) for p in rows)
            if d is not None
        ]
        seen: set[object] = set()
        name = USER_INSERT_COLUMNS.index("username")
        user_rows = [r for r in user_rows if not (r[name] in seen or seen.add(r[name]))]
        t0 = time.perf_counter()
        with engine.begin() as c2:
            insert_many(c2, tables.user, USER_INSERT_COLUMNS, user_rows)
        t_insert = time.perf_counter() - t0
        engine.dispose()
        floor = t_read + t_insert
        floor_svc = t_read_svc + t_insert
        n_search, t_search = slapd.ldapsearch_read(f"ou=people,{BASE}", filt, list(SYNC_PERSON_ATTRIBUTES))
        print(
            f"Plancher                : {floor:6.2f} s  (lecture ldap3 {t_read:.2f} s de {count} entrées, "
            f"insertion executemany {t_insert:.2f} s de {len(user_rows)} lignes ; lecture par le service {t_read_svc:.2f} s)"  # noqa: E501
        )
        print(
            f"Plancher ldapsearch     : {t_search + t_insert:6.2f} s  (lecture ldapsearch {t_search:.2f} s de "
            f"{n_search} entrées + la même insertion)"
        )
        print(
            f"Plancher du lecteur     : {floor_svc:6.2f} s  "
            f"(lecture {directory.reader} {t_read_svc:.2f} s + la même insertion)"
        )
        print(
            f"Complète, 100 000 pers. : {t_full * 100_000 / max(1, c['users'].created):6.2f} s "
            "ramenés à 100 000 comptes  (cible ≤ 12 s)"
        )
        print(f"Débit                   : {c['users'].created / t_full:6.0f} comptes/s  (cible ≥ 8 000)")
        print(f"Ratio complète / plancher du lecteur : {t_full / floor_svc:5.2f}")
        print(f"Ratio complète / plancher ldap3  : {t_full / floor:5.2f}")
        print(f"Ratio complète / plancher ldapsearch : {t_full / (t_search + t_insert):5.2f}")
        print(f"Ratio sans changement / complète : {t_none / t_full:6.1%}  (cible ≤ 5 %)")
        print(f"Ratio 1 % / complète             : {t_one / t_full:6.1%}  (cible ≤ 10 %)")
        print(
            f"Mémoire (pic RSS)                : {peak:.0f} Mo (avant la synchronisation {rss0:.0f} Mo ; "
            "cible ≤ 400 Mo à 100 000, ≤ 2 Go à 1 000 000)"
        )
        await directory.close()
        await moodle.close()
        await state.close()
    finally:
        db.stop()
        slapd.stop()
        if workdir:  # kept for the next run (its MariaDB and state store are made afresh each run)
            shutil.rmtree(db_dir, ignore_errors=True)
            shutil.rmtree(run_dir, ignore_errors=True)
        else:  # a million people: ~1 GB of LDIF, the slapd and MariaDB data
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--schools", type=int, default=5)
    parser.add_argument("--reader", choices=["ldap3", "python-ldap", "auto"], default="ldap3")
    parser.add_argument("--buffer-pool", default="", help="InnoDB buffer pool (default: ~10 kB a person, 256M–4G)")
    parser.add_argument(
        "--workdir", default="", help="folder kept between runs: its directory is generated once, then reused"
    )
    parser.add_argument(
        "--cpu-trace", action="store_true", help="each second of the full run: the cores each process used, the phases"
    )
    args = parser.parse_args()
    asyncio.run(main(args.people, args.schools, args.reader, args.buffer_pool, args.workdir, args.cpu_trace))
