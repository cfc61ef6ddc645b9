"""Foundation benchmark: demo start-up, LDIF generation, and the directory layer's paged read of N
people (their 25 attributes) by each reader, against the floor, on the same private slapd:

- ``ldapsearch`` (OpenLDAP's C client, ``-E pr=500/noprompt``): the floor;
- ``Directory.iter_pages`` with ``[ldap] reader = "python-ldap"`` (libldap, the extra enttui[fast]);
- ``Directory.iter_pages`` with the default ldap3 reader;
- raw ldap3 (its own paged loop, no decoding): what the ldap3 path cannot beat.

    .venv/bin/python bench/foundation.py [--people 100000] [--schools 5] [--page-size 500]

Prints figures and ratios to the floor measured in the same run; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from enttui.config import EntConfig  # noqa: E402
from enttui.demo.ldif import write_ldif  # noqa: E402
from enttui.demo.world import big_spec, containers, generate  # noqa: E402
from enttui.domain.attributes import PERSON_ATTRIBUTES  # noqa: E402
from enttui.services.directory import Directory  # noqa: E402
from support.slapd import Slapd  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def demo_start(root: Path) -> float:
    from enttui.demo.wiring import demo_services
    from enttui.jobs.status import collect_status

    start = time.perf_counter()
    services = await demo_services(root)
    await collect_status(services)
    elapsed = time.perf_counter() - start
    await services.close()
    return elapsed


def raw_ldap3_read(url: str, bind_dn: str, password: str, base: str, page_size: int) -> tuple[int, float]:
    import ldap3

    start = time.perf_counter()
    conn = ldap3.Connection(ldap3.Server(url), bind_dn, password, auto_bind=True)
    count = 0
    cookie = None
    while True:
        conn.search(
            base,
            "(objectClass=ENTPerson)",
            attributes=list(PERSON_ATTRIBUTES),
            paged_size=page_size,
            paged_cookie=cookie,
        )
        count += len(conn.response)
        cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
        if not cookie:
            break
    conn.unbind()
    return count, time.perf_counter() - start


async def directory_read(slapd: Slapd, base: str, page_size: int, reader: str) -> tuple[int, float]:
    cfg = slapd.ldap_config(admin=True, page_size=page_size, reader=reader)
    directory = Directory(cfg, EntConfig(uai=["0123456A"]))
    await directory.open()
    start = time.perf_counter()
    count = 0
    async for page in directory.iter_pages(base, "(objectClass=ENTPerson)", PERSON_ATTRIBUTES):
        count += len(page)
    elapsed = time.perf_counter() - start
    await directory.close()
    return count, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--schools", type=int, default=5)
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="enttui-bench-") as tmp:
        work = Path(tmp)
        elapsed = asyncio.run(demo_start(work / "demo"))
        print(f"demo world start-up + first status      {elapsed * 1000:8.0f} ms")

        spec = big_spec(args.people, args.schools, base_dn="dc=ent,dc=test")
        ldif = work / "people.ldif"
        start = time.perf_counter()
        with ldif.open("w", encoding="utf-8") as out:
            present = {f"ou={o},dc=ent,dc=test" for o in ("people", "groups", "structures")}
            extra = [c for c in containers("dc=ent,dc=test") if c[0] not in present]
            entries = write_ldif(itertools.chain(extra, generate(spec)), out)
        gen = time.perf_counter() - start
        print(f"generate + write LDIF ({entries} entries)  {gen:8.2f} s")

        slapd = Slapd(work / "slapd", suffix="dc=ent,dc=test")
        start = time.perf_counter()
        slapd.add_ldif(ldif)
        slapd.start()
        print(f"slapadd + start slapd                    {time.perf_counter() - start:8.2f} s")
        try:
            base = slapd.people_dn
            people, attrs = "(objectClass=ENTPerson)", list(PERSON_ATTRIBUTES)
            slapd.ldapsearch_read(base, people, attrs, page_size=args.page_size)  # warm the server's caches
            n_floor, t_floor = slapd.ldapsearch_read(base, people, attrs, page_size=args.page_size)
            n_fast, t_fast = asyncio.run(directory_read(slapd, base, args.page_size, "python-ldap"))
            n_dir, t_dir = asyncio.run(directory_read(slapd, base, args.page_size, "ldap3"))
            n_raw, t_raw = raw_ldap3_read(slapd.url, slapd.admin_dn, slapd.admin_password, base, args.page_size)
            print(f"paged read of {n_floor} people, {len(attrs)} attributes, pages of {args.page_size}:")
            for label, n, t in (
                ("ldapsearch (the floor)", n_floor, t_floor),
                ("Directory, python-ldap reader", n_fast, t_fast),
                ("Directory, ldap3 reader", n_dir, t_dir),
                ("raw ldap3 paged search", n_raw, t_raw),
            ):
                print(f"  {label:<30} {t:8.2f} s  ({n / t:9,.0f} entries/s)  {t / t_floor:6.2f}x the floor")
            print(f"  python-ldap reader vs ldap3 reader   {t_dir / t_fast:6.2f}x faster")
            assert n_floor == n_fast == n_dir == n_raw, "a reader lost or duplicated entries"
        finally:
            slapd.stop()
    print(f"peak memory (RSS)                        {rss_mb():8.0f} MB")


if __name__ == "__main__":
    main()
