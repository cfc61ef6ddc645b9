"""Benchmark: CSV import of local accounts and CSV export of people, on a private slapd.

    .venv/bin/python bench/csv.py [--people 100000] [--rows 20000]

Generates a directory of about ``--people`` people (5 collèges), bulk-loads it offline into a
private slapd, then measures: the export of every person of the périmètre ("personnes" format),
the preview of a ``--rows``-row import file (Windows-1252, ``;``), its apply (creations over LDAP),
and the preview of the same file again (everything unchanged: the re-run is a no-op).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file is named csv.py: run as a script, its folder must not shadow the standard csv module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def make_csv(path: Path, rows: int, uai: str) -> None:
    from enttui.demo import names

    lines = ["jointure;nom;prénom;e-mail;profil;date de fin;uai"]
    for i in range(rows):
        sn = names.LAST_NAMES[i % len(names.LAST_NAMES)]
        given = names.FEMALE_ADULT[(i // 7) % len(names.FEMALE_ADULT)]
        lines.append(f"B{i:06d};{sn};{given};b{i}@asso.example;autre;31/08/2027;{uai}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace"))


async def measure(workdir: Path, people: int, rows: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from enttui.config import Config, EntConfig, StateConfig
    from enttui.demo.ldif import write_ldif
    from enttui.demo.world import big_spec, generate
    from enttui.jobs import csv_export, csv_import
    from enttui.services.container import Services
    from enttui.services.directory import Directory
    from enttui.services.state import StateStore
    from support.slapd import Slapd

    base = "dc=ent,dc=test"
    spec = dataclasses.replace(big_spec(people, 5, base), role_groups=False)
    t0 = time.perf_counter()
    with (workdir / "world.ldif").open("w", encoding="utf-8") as out:
        count = write_ldif(generate(spec), out)
    server = Slapd(workdir / "slapd", base, str(workdir / "world.ldif"))
    server.start(timeout=600)
    print(f"annuaire : {count} entrées générées et chargées (slapadd) en {time.perf_counter() - t0:.1f} s")
    try:
        ldap = server.ldap_config(admin=True, base_dn=base, timeout=120.0)
        uais = [s.uai for s in spec.schools]
        cfg = Config(
            ent=EntConfig(uai=uais),
            ldap=ldap,
            state=StateConfig(url=f"sqlite:///{workdir / 'state.db'}", files_dir=str(workdir / "ids")),
        )
        directory = Directory(ldap, cfg.ent)
        await directory.open()
        state = StateStore(cfg.state)
        await state.open()
        services = Services(config=cfg, directory=directory, state=state)

        t = time.perf_counter()
        result = await csv_export.run_export(services, "personnes", str(workdir / "personnes.csv"))
        dt = time.perf_counter() - t
        size = (workdir / "personnes.csv").stat().st_size
        print(
            f"export personnes : {result.rows} lignes en {dt:.1f} s ({result.rows / dt:,.0f}/s, {size / 2**20:.1f} Mio)"
        )

        src = workdir / "import.csv"
        make_csv(src, rows, uais[0])
        t = time.perf_counter()
        preview = await csv_import.preview_import(services, str(src))
        print(f"aperçu import : {len(preview.rows)} lignes en {time.perf_counter() - t:.1f} s ({preview.summary()})")
        t = time.perf_counter()
        applied = await csv_import.apply_import(services, preview)
        dt = time.perf_counter() - t
        print(f"import appliqué : {applied.counts} en {dt:.1f} s ({applied.counts['created'] / dt:,.0f} créations/s)")
        t = time.perf_counter()
        again = await csv_import.preview_import(services, str(src))
        print(f"ré-aperçu : {again.summary()} en {time.perf_counter() - t:.1f} s")
        await state.close()
        await directory.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="enttui-bench-csv-") as tmp:
        asyncio.run(measure(Path(tmp), args.people, args.rows))


if __name__ == "__main__":
    main()
