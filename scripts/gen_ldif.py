#!/usr/bin/env python3
"""Write a generated school directory (SDET schema) as LDIF.

    python scripts/gen_ldif.py --people 100000 --schools 5 --base dc=ent,dc=test -o /tmp/x.ldif
    python scripts/gen_ldif.py --people 1000000 --schools 300 -o /tmp/region.ldif
    python scripts/gen_ldif.py --demo -o /tmp/demo.ldif

The same arguments always give the same bytes. The entries are streamed to the file school by
school (only one school's people and the world's login counters are in memory): 200,000 people in
300 schools take ~29 MB of memory and ~7 s on one core, for a 193 MB file.

The file holds the ``ou=`` containers and every generated entry (``--with-base`` adds the ``dc=``
base entry first, ``--no-containers`` leaves the containers out). It suits ``slapadd``; for
``ldapadd`` pass ``--online``, which drops ``createTimestamp``/``modifyTimestamp`` (slapd refuses
them over LDAP).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from enttui.demo import world as demo_world
from enttui.demo.ldif import strip_operational, write_ldif


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Génère un annuaire d'établissements (schéma SDET) au format LDIF.")
    parser.add_argument("--demo", action="store_true", help="le monde de démonstration (un collège, avec défauts)")
    parser.add_argument("--people", type=int, default=100_000, help="nombre approximatif de personnes")
    parser.add_argument("--schools", type=int, default=5, help="nombre d'établissements")
    parser.add_argument("--base", default=None, help="DN de base (dc=ent,dc=test ; dc=ent,dc=demo avec --demo)")
    parser.add_argument("--seed", type=int, default=None, help="graine du générateur (2026 par défaut)")
    parser.add_argument("--defects", action="store_true", help="injecter les défauts de cohérence")
    parser.add_argument("--no-roles", action="store_true", help="sans les groupes de rôles Moodle")
    parser.add_argument("--with-base", action="store_true", help="écrire aussi l'entrée de base (dc=...)")
    parser.add_argument("--no-containers", action="store_true", help="sans les conteneurs ou=people, ou=groups...")
    parser.add_argument("--online", action="store_true", help="sans createTimestamp/modifyTimestamp (ldapadd)")
    parser.add_argument("-o", "--output", default="-", help="fichier de sortie (- : sortie standard)")
    args = parser.parse_args(argv)

    if args.demo:
        spec = demo_world.demo_spec(args.base or "dc=ent,dc=demo")
    else:
        if args.people < 1 or args.schools < 1:
            parser.error("--people et --schools doivent être positifs")
        spec = demo_world.big_spec(args.people, args.schools, args.base or "dc=ent,dc=test")
    changes: dict[str, object] = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.defects:
        changes["with_defects"] = True
    if args.no_roles:
        changes["role_groups"] = False
    if changes:
        spec = dataclasses.replace(spec, **changes)

    world = demo_world.World(spec)

    def entries() -> Iterator[demo_world.Entry]:
        if args.with_base:
            yield demo_world.base_entry(spec.base_dn)
        if not args.no_containers:
            yield from demo_world.containers(spec.base_dn)
        yield from world.entries()

    stream = strip_operational(entries()) if args.online else entries()
    start = time.perf_counter()
    if args.output == "-":
        try:
            count = write_ldif(stream, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # e.g. piped into head
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    else:
        with Path(args.output).open("w", encoding="utf-8", newline="\n") as out:
            count = write_ldif(stream, out)
    elapsed = time.perf_counter() - start
    people = ", ".join(f"{pop} {n}" for pop, n in sorted(world.counts.items()))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(
        f"{count} entrées écrites en {elapsed:.1f} s ({sum(world.counts.values())} personnes : {people} ; "
        f"{len(spec.schools)} établissement{'s' if len(spec.schools) > 1 else ''} ; pic mémoire {peak:.0f} Mo)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
