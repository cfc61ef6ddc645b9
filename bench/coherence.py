"""Benchmark: the full coherence report on a generated directory with deliberately injected defects.

    .venv/bin/python bench/coherence.py [--people 100000] [--schools 5] [--per-check 20]
                                        [--reader ldap3|python-ldap|auto] [--workdir DIR] [--profile FILE]

Generates the directory (in a child process, so that its memory does not count), injects
``--per-check`` defects of each kind, bulk-loads it into a private slapd, then measures in the same
run: one paged read of the same entries and attributes (the floor), and the coherence report (``--repeat
N``: both N times in turn, the median round shown). Prints the times and the process's CPU times,
their ratio (target: report ≤ 1.3× the read), the memory the report took, and found / injected per
check (every injected defect must be found).

``--reader`` picks the directory reader (``[ldap] reader``) of both the floor and the report, so
that the ratio compares like with like. ``--workdir DIR`` keeps the generated directory in DIR and
reuses it on the next run (same ``--people``/``--schools``/``--per-check``); ``--profile FILE``
writes a cProfile of the report (not of the floor) to FILE.

``inject_defects`` is also used by the tests (tests/jobs/test_coherence.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GHOST_STRUCT = "ENTStructureSIREN=99999999999999,ou=structures,{base}"
GHOST_PERSON = "uid=X0999{n:04d},ou=people,{base}"

Entry = tuple[str, dict[str, list[str]]]
DEFECT_KINDS = (
    "duplicate_login",
    "duplicate_jointure",
    "same_name_birthdate",
    "dangling_struct",
    "dangling_parent",
    "dangling_child",
    "dangling_member",
    "student_without_parent",
    "parent_without_child",
    "class_not_in_school",
    "empty_class",
    "profile_contradiction",
)


def _classes(attrs: dict[str, list[str]]) -> set[str]:
    return {c.lower() for c in attrs.get("objectClass", [])}


def inject_defects(entries: list[Entry], base_dn: str, per_check: int = 2) -> dict[str, list[str]]:
    """Edit ``entries`` in place (and append empty classes): ``per_check`` defects of each kind.

    Victims never overlap, so each defect shows in its own check only. Returns check id → DNs.
    """
    by_dn = {dn.lower(): attrs for dn, attrs in entries}
    students = [(dn, a) for dn, a in entries if "enteleve" in _classes(a)]
    parents = [(dn, a) for dn, a in entries if "entauxpersreleleve" in _classes(a)]
    teachers = [(dn, a) for dn, a in entries if "entauxenseignant" in _classes(a)]
    staff = [(dn, a) for dn, a in entries if "entauxnonensetab" in _classes(a) or "entauxpersext" in _classes(a)]
    classes = [(dn, a) for dn, a in entries if "entclasse" in _classes(a)]
    structures = [(dn, a) for dn, a in entries if "entstructure" in _classes(a)]
    used: set[str] = set()
    injected: dict[str, list[str]] = {k: [] for k in DEFECT_KINDS}
    ghosts = iter(range(10_000))

    def ghost() -> str:
        return GHOST_PERSON.format(n=next(ghosts), base=base_dn)

    def spread(pool: list[Entry]) -> Iterator[Entry]:
        """Victims spread over the whole pool (several schools), never used twice."""
        if not pool:
            return
        step = max(1, len(pool) // (per_check * 4 + 1))
        for start in range(step):
            for i in range(start, len(pool), step):
                dn, a = pool[i]
                if dn.lower() not in used:
                    yield dn, a

    def take(pool: list[Entry], n: int = 1, when=lambda dn, a: True) -> list[Entry]:
        out = []
        for dn, a in spread(pool):
            if when(dn, a):
                out.append((dn, a))
                used.add(dn.lower())
                if len(out) == n:
                    break
        return out

    def children_of(a: dict[str, list[str]]) -> list[dict[str, list[str]]]:
        return [by_dn[c.lower()] for c in a.get("ENTAuxPersRelEleveEleve", []) if c.lower() in by_dn]

    def parents_of(a: dict[str, list[str]]) -> list[tuple[str, dict[str, list[str]]]]:
        return [(p, by_dn[p.lower()]) for p in a.get("ENTEleveParents", []) if p.lower() in by_dn]

    for _ in range(per_check):
        # duplicate login (another case) and duplicate jointure: pairs of adults
        a, b = take(parents, 2)
        b[1]["ENTPersonLogin"] = [a[1]["ENTPersonLogin"][0].upper()]
        injected["duplicate_login"] += [a[0], b[0]]
        a, b = take(parents, 2)
        b[1]["ENTPersonJointure"] = list(a[1]["ENTPersonJointure"])
        injected["duplicate_jointure"] += [a[0], b[0]]
        # the same person twice: a staff/other account copying a teacher's name and birth date
        (a,) = take(teachers)
        (b,) = take(staff)
        for key in ("sn", "givenName", "ENTPersonDateNaissance", "cn", "displayName"):
            b[1][key] = list(a[1][key])
        injected["same_name_birthdate"] += [a[0], b[0]]
        (a,) = take(staff)
        a[1]["ENTPersonStructRattach"] = [GHOST_STRUCT.format(base=base_dn)]
        injected["dangling_struct"].append(a[0])
        (a,) = take(students, when=lambda dn, x: bool(x.get("ENTEleveParents")))
        a[1]["ENTEleveParents"] = [*a[1]["ENTEleveParents"], ghost()]
        injected["dangling_parent"].append(a[0])
        (a,) = take(parents)
        a[1]["ENTAuxPersRelEleveEleve"] = [*a[1]["ENTAuxPersRelEleveEleve"], ghost()]
        injected["dangling_child"].append(a[0])
        (a,) = take(classes)
        a[1]["member"] = [*a[1]["member"], ghost()]
        injected["dangling_member"].append(a[0])

        # a student with no parent link (their parents keep another child)
        def keeps_child(dn: str, x: dict[str, list[str]]) -> bool:
            ps = parents_of(x)
            return bool(ps) and all(
                p.lower() not in used and len(pa.get("ENTAuxPersRelEleveEleve", [])) >= 2 for p, pa in ps
            )

        (a,) = take(students, when=keeps_child)
        for p, pa in parents_of(a[1]):
            used.add(p.lower())
            pa["ENTAuxPersRelEleveEleve"] = [c for c in pa["ENTAuxPersRelEleveEleve"] if c.lower() != a[0].lower()]
        a[1].pop("ENTEleveParents", None)
        a[1].pop("ENTElevePersRelEleve", None)
        injected["student_without_parent"].append(a[0])

        # a parent linked to no student (their children keep the other parent)
        def others_keep_parent(dn: str, x: dict[str, list[str]]) -> bool:
            kids = children_of(x)
            return bool(kids) and all(len(k.get("ENTEleveParents", [])) >= 2 for k in kids)

        (a,) = take(parents, when=others_keep_parent)
        for kid in children_of(a[1]):
            kid["ENTEleveParents"] = [p for p in kid["ENTEleveParents"] if p.lower() != a[0].lower()]
            rel = [r for r in kid.get("ENTElevePersRelEleve", []) if r.split("$", 1)[0].lower() != a[0].lower()]
            kid["ENTElevePersRelEleve"] = rel
        (t,) = take(teachers)  # the link must stay (MUST attribute): it now points at a teacher
        a[1]["ENTAuxPersRelEleveEleve"] = [t[0]]
        injected["parent_without_child"].append(a[0])
        (a,) = take(students)
        school = a[1]["ENTPersonStructRattach"][0]
        a[1]["ENTEleveClasses"] = [f"{school}$2NDE{len(injected['class_not_in_school']) + 1}"]
        injected["class_not_in_school"].append(a[0])
        (a,) = take(teachers)
        a[1]["ENTPersonProfils"] = ["National_ELV"]
        injected["profile_contradiction"].append(a[0])

    # empty classes (the group itself as placeholder member), spread over the schools
    for i in range(per_check):
        _sdn, sattrs = structures[i % len(structures)]
        uai = sattrs["ENTStructureUAI"][0]
        cn = f"{uai}$VIDE{i + 1}"
        dn = f"cn={cn},ou=groups,{base_dn}"
        entries.append((dn, {"objectClass": ["top", "groupOfNames", "ENTClasse"], "cn": [cn], "member": [dn]}))
        injected["empty_class"].append(dn)
    return injected


def prepare(workdir: Path, people: int, schools: int, per_check: int, base_dn: str) -> None:
    """Child process: generate, inject, write ``world.ldif`` and ``injected.json``."""
    import dataclasses

    from enttui.demo.ldif import write_ldif
    from enttui.demo.world import big_spec, generate

    spec = dataclasses.replace(big_spec(people, schools, base_dn), role_groups=False)
    entries = [(dn, {k: list(v) for k, v in a.items()}) for dn, a in generate(spec)]
    injected = inject_defects(entries, base_dn, per_check)
    with (workdir / "world.ldif").open("w", encoding="utf-8") as out:
        write_ldif(entries, out)
    uais = [s.uai for s in spec.schools]
    count = len(entries)
    del entries
    (workdir / "injected.json").write_text(json.dumps({"injected": injected, "uais": uais, "count": count}))
    # Load it offline here too (slapadd), so that the measuring process never holds the LDIF.
    sys.path.insert(0, str(ROOT / "tests"))
    from support.slapd import Slapd

    t0 = time.perf_counter()
    server = Slapd(workdir / "slapd", base_dn, str(workdir / "world.ldif"), maxsize=map_size(count))
    server.start(timeout=3600)
    server.stop()
    print(f"slapadd : {count} entrées chargées en {time.perf_counter() - t0:.1f} s")


def map_size(entries: int) -> int:
    """slapd's mdb map for this many entries with their indexes (a million people need ~4 GB)."""
    return max(1 << 30, entries * 12 * 1024)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


async def measure(workdir: Path, base_dn: str, reader: str = "ldap3", profile: str = "", repeat: int = 1) -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    from enttui.config import Config, EntConfig, StateConfig
    from enttui.domain import ldapfilter as lf
    from enttui.domain.attributes import COHERENCE_PERSON_ATTRIBUTES, GROUP_ATTRIBUTES, STRUCTURE_ATTRIBUTES
    from enttui.jobs.coherence import run_coherence
    from enttui.jobs.collector import collector_paused
    from enttui.services.container import Services
    from enttui.services.directory import Directory
    from enttui.services.state import StateStore
    from support.slapd import Slapd

    meta = json.loads((workdir / "injected.json").read_text())
    # loaded offline by the child process (same folder, same configuration)
    server = Slapd(workdir / "slapd", base_dn, maxsize=map_size(meta["count"])).reuse()
    server.start(timeout=600)
    try:
        ldap = server.ldap_config(admin=True, base_dn=base_dn, timeout=120.0, reader=reader)
        cfg = Config(
            ent=EntConfig(uai=meta["uais"]),
            ldap=ldap,
            state=StateConfig(url=f"sqlite:///{workdir / 'state.db'}", files_dir=str(workdir / "ids")),
        )
        directory = Directory(ldap, cfg.ent)
        await directory.open()
        state = StateStore(cfg.state)
        await state.open()
        services = Services(config=cfg, directory=directory, state=state)
        print(f"Lecteur de l'annuaire : {directory.reader} (lecture seule et rapport)")

        async def floor() -> tuple[int, float, float]:
            """One paged read of the same entries and attributes, nothing kept, the collector paused as
            the report pauses it (jobs/collector.py; else the floor pays collections the report does
            not): (entries, s, CPU s)."""
            t0, c0 = time.perf_counter(), time.process_time()
            n = 0
            with collector_paused():
                for base, filt, attrs in (
                    (ldap.structures_dn, lf.eq("objectClass", "ENTStructure"), STRUCTURE_ATTRIBUTES),
                    (ldap.groups_dn, lf.eq("objectClass", "groupOfNames"), GROUP_ATTRIBUTES),
                    (ldap.people_dn, lf.eq("objectClass", "ENTPerson"), (*COHERENCE_PERSON_ATTRIBUTES, "pwdReset")),
                ):
                    async for page in directory.iter_pages(base, filt, attrs):
                        n += len(page)
            return n, time.perf_counter() - t0, time.process_time() - c0

        rss_before = _current_rss_mib()
        rounds: list[tuple[float, float, float, float]] = []  # floor s, report s, floor CPU, report CPU
        for round_no in range(repeat):
            n, read_s, read_cpu = await floor()
            t0, c0 = time.perf_counter(), time.process_time()
            if profile and round_no == 0:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            report = await run_coherence(services)
            report_s, report_cpu = time.perf_counter() - t0, time.process_time() - c0
            if profile and round_no == 0:
                profiler.disable()
                profiler.dump_stats(profile)
            rounds.append((read_s, report_s, read_cpu, report_cpu))
            if repeat > 1:
                print(
                    f"  tour {round_no + 1} : lecture {read_s:.2f} s (CPU {read_cpu:.2f} s), rapport {report_s:.2f} s "
                    f"(CPU {report_cpu:.2f} s) : {report_s / read_s:.2f}×"
                )
        read_s, report_s, read_cpu, report_cpu = sorted(rounds, key=lambda r: r[1] / r[0])[len(rounds) // 2]
        peak = _rss_mib()
        await directory.close()
        await state.close()
    finally:
        server.stop()

    people = report.read.get("people", 0)
    median = " (tour médian)" if repeat > 1 else ""
    print(f"Lecture paginée seule{median} : {n} entrées en {read_s:.2f} s (CPU du processus {read_cpu:.2f} s)")
    print(
        f"Rapport de cohérence : {people} personnes, {report.read.get('groups', 0)} groupes en {report_s:.2f} s "
        f"(CPU du processus {report_cpu:.2f} s)"
    )
    ratio = report_s / read_s if read_s else float("inf")
    print(
        f"Rapport / lecture : {ratio:.2f}× (cible ≤ 1,3×) ; CPU rapport / lecture : {report_cpu / read_cpu:.2f}× ; "
        f"temps cible ≤ 30 s : {'OK' if report_s <= 30 else 'DÉPASSÉ'}"
    )
    print(f"Mémoire : pic du processus {peak:.0f} Mio, soit +{max(0.0, peak - rss_before):.0f} Mio pour le rapport")
    print(f"{'contrôle':<24} {'trouvés':>8} {'injectés':>9} {'injectés trouvés':>17}")
    ok = True
    for c in report.checks:
        expected = {d.lower() for d in meta["injected"].get(c.id, [])}
        found = {f.dn.lower() for f in c.findings}
        hit = len(expected & found)
        if hit < len(expected):
            ok = False
        mark = "" if c.id not in meta["injected"] else f"{hit:>8}/{len(expected)}"
        print(f"{c.id:<24} {c.count:>8} {len(expected) if c.id in meta['injected'] else '—':>9} {mark:>17}")
    print("Tous les défauts injectés sont trouvés." if ok else "DES DÉFAUTS INJECTÉS N'ONT PAS ÉTÉ TROUVÉS.")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--schools", type=int, default=5)
    parser.add_argument("--per-check", type=int, default=20)
    parser.add_argument("--base-dn", default="dc=ent,dc=test")
    parser.add_argument("--reader", choices=["ldap3", "python-ldap", "auto"], default="ldap3")
    parser.add_argument("--workdir", metavar="DIR", help="keep (and reuse) the generated directory in DIR")
    parser.add_argument("--profile", metavar="FILE", default="", help="cProfile of the report to FILE")
    parser.add_argument("--repeat", type=int, default=1, help="floor and report N times in turn; the median round")
    parser.add_argument("--prepare", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(Path(args.prepare), args.people, args.schools, args.per_check, args.base_dn)
        return 0
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = Path(args.workdir).resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="enttui-bench-")))
        key = f"{args.people}/{args.schools}/{args.per_check}/{args.base_dn}"
        stamp = workdir / "world.key"
        if stamp.exists() and stamp.read_text() == key and (workdir / "injected.json").exists():
            print(f"Annuaire réutilisé ({workdir})")
        else:
            shutil.rmtree(workdir / "slapd", ignore_errors=True)
            t0 = time.perf_counter()
            cmd = [sys.executable, __file__, "--prepare", str(workdir), "--people", str(args.people)]
            cmd += ["--schools", str(args.schools), "--per-check", str(args.per_check), "--base-dn", args.base_dn]
            subprocess.run(cmd, check=True)
            stamp.write_text(key)
            print(
                f"Annuaire généré ({args.people} personnes visées, {args.per_check} défauts par contrôle) "
                f"en {time.perf_counter() - t0:.1f} s"
            )
        return asyncio.run(measure(workdir, args.base_dn, args.reader, args.profile, max(1, args.repeat)))


if __name__ == "__main__":
    sys.exit(main())
