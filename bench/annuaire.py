"""Benchmark of the Annuaire screens' data path on a big generated directory.

Loads a generated directory (default 100,000 people, 5 schools) into a private slapd (offline
``slapadd``), then, through the same code the screens use (``enttui.services.annuaire``):

- time to the first page of a search (target ≤ 200 ms), for several queries;
- time to the next page (prefetched, and without prefetch);
- time to the count ("N résultats", capped);
- time to open a person with their relations (a parent of three, a student);
- time to the group list: first pass (the groups and their total, one search) and the counts by
  profile (the students and the other members read; the screen shows the first pass meanwhile);
- the console's memory after browsing: the real console (EntApp, headless) on that directory,
  searching and paging through 20 pages and opening people (target ≤ 250 MB RSS).

Usage: ``.venv/bin/python bench/annuaire.py [--people 100000] [--schools 5] [--reuse DIR/slapd]``
(``--reuse``: the directory loaded by ``bench/sync.py --workdir DIR`` with the same people and schools) (slapd with the
indexes of the test server: ``eq,sub`` on cn, sn, givenName, displayName, ENTPersonLogin,
ENTEleveClasses, ENTAuxEnsClasses, ``pres`` on mail, ``index_substr_any_len 3``; see
``tests/support/slapd.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from enttui.config import Config, EntConfig, StateConfig  # noqa: E402
from enttui.demo.ldif import write_ldif  # noqa: E402
from enttui.demo.world import big_spec, generate  # noqa: E402
from enttui.domain.annuaire import PeopleQuery  # noqa: E402
from enttui.domain.people import Target  # noqa: E402
from enttui.services.annuaire import Annuaire  # noqa: E402
from enttui.services.directory import Directory  # noqa: E402
from support.fixtures_ldap import ldap_config  # noqa: E402
from support.slapd import Slapd  # noqa: E402

BASE = "dc=ent,dc=test"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def timed(coro_factory, runs: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = await coro_factory()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


async def first_page(annuaire: Annuaire, query: PeopleQuery) -> tuple[float, float, int, str]:
    """(first page, count, rows, count label); a fresh search each time."""
    search = annuaire.search(query, prefetch=False)
    try:
        start = time.perf_counter()
        page = await search.first_page()
        t_page = time.perf_counter() - start
        count = await search.count()
        t_count = time.perf_counter() - start
    finally:
        await search.close()
    return t_page, t_count, len(page.people), count.label


async def bench_service(config: Config, people: int) -> dict[str, str]:
    directory = Directory(config.ldap, config.ent)
    await directory.open()
    annuaire = Annuaire(directory, config)
    figures: dict[str, str] = {}
    try:
        await directory.perimeter_filter()
        queries = {
            "tout le périmètre": PeopleQuery(),
            "nom fréquent « martin »": PeopleQuery(text="martin"),
            "nom + prénom « léa martin »": PeopleQuery(text="léa martin"),
            "accents « eloise »": PeopleQuery(text="eloise"),
            "préfixe d'identifiant « jean-bap »": PeopleQuery(text="jean-bap"),
            "rare « zyx » (aucun résultat)": PeopleQuery(text="zyx"),
            "injection « *)(objectClass=* »": PeopleQuery(text="*)(objectClass=*"),
            "Parents sans e-mail": PeopleQuery(target=Target.PARENT, has_mail=False),
            "Élèves de 4B non activés": PeopleQuery(target=Target.ELEVE, classe="4B", activated=False),
            "Autres (ni profil ni classe connus)": PeopleQuery(target=Target.AUTRE),
        }
        print(f"\nPremière page (50 lignes) et comptage, médiane de 3 — {people} personnes")
        for label, query in queries.items():
            runs = [await first_page(annuaire, query) for _ in range(3)]
            t_page = statistics.median(r[0] for r in runs)
            t_count = statistics.median(r[1] for r in runs)
            rows, count = runs[-1][2], runs[-1][3]
            flag = "OK " if t_page <= 0.2 else "LENT"
            print(f"  {flag} {label:40s} page {ms(t_page)}  comptage {ms(t_count)}  {rows:3d} lignes, {count}")
            figures[f"first:{label}"] = ms(t_page)

        for prefetch in (False, True):
            search = annuaire.search(PeopleQuery(), prefetch=prefetch)
            await search.first_page()
            times = []
            for _ in range(20):
                await asyncio.sleep(0.05 if prefetch else 0)  # a person reads the page before turning it
                start = time.perf_counter()
                page = await search.next_page()
                times.append(time.perf_counter() - start)
                assert page is not None
            start = time.perf_counter()
            back = await search.previous_page()
            t_back = time.perf_counter() - start
            await search.close()
            name = "avec préchargement" if prefetch else "sans préchargement"
            print(
                f"\nPage suivante ({name}) : médiane {ms(statistics.median(times))}, "
                f"max {ms(max(times))} ; page précédente (cache) {ms(t_back)} [{back.index if back else '-'}]"
            )
            figures[f"next:{name}"] = ms(statistics.median(times))

        parent = student = None
        async for page in directory.iter_people(
            "(&(ENTPersonProfils=National_TUT)(ENTAuxPersRelEleveEleve=*))", ["ENTAuxPersRelEleveEleve", "objectClass"]
        ):
            parent = next((p for p in page if len(p.child_dns) == 3), None)
            if parent:
                break
        async for page in directory.iter_people("(ENTEleveGroupes=*)", ["objectClass"]):
            student = page[0]
            break
        print()
        for label, who in (("parent de 3 enfants", parent), ("élève dans des groupes", student)):
            if who is None:
                continue
            t, details = await timed(lambda who=who: annuaire.person_details(who.dn))
            assert details is not None
            n = len(details.relatives)
            print(f"Fiche d'un {label} avec ses relations : {ms(t)} ({n} relation{'s' if n > 1 else ''})")
            figures[f"person:{label}"] = ms(t)
        start = time.perf_counter()
        listed = await annuaire.group_list()
        t_list = time.perf_counter() - start
        print(f"Liste des groupes affichée (1re passe, totaux) : {ms(t_list)} ({len(listed)} groupes)")
        figures["groups:list"] = ms(t_list)
        start = time.perf_counter()
        groups = await annuaire.groups()
        t_groups = time.perf_counter() - start
        print(f"Liste des groupes avec comptes par profil : {ms(t_groups)} ({len(groups)} groupes)")
        figures["groups:counts"] = ms(t_groups)
    finally:
        await directory.close()
    return figures


async def bench_console(config: Config, workdir: Path) -> float:
    """The real console (headless) browsing the big directory; returns its RSS in MB."""
    from enttui.services.container import Services
    from enttui.services.state import StateStore
    from enttui.ui.app import EntApp
    from enttui.ui.screens.person import PersonScreen
    from enttui.ui.screens.utilisateurs import UtilisateursScreen

    cfg = replace(config, state=StateConfig(url=f"sqlite:///{workdir / 'state.db'}", files_dir=str(workdir / "id")))

    async def opener() -> Services:
        directory = Directory(cfg.ldap, cfg.ent)
        await directory.open()
        state = StateStore(cfg.state)
        await state.open()
        return Services(config=cfg, directory=directory, state=state)

    async def settle(pilot) -> None:
        for _ in range(3):
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()

    app = EntApp(opener=opener, start_page="utilisateurs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, UtilisateursScreen)
        for _ in range(20):
            await pilot.press("pagedown")
            await settle(pilot)
        for _ in range(3):
            await pilot.press("pageup")
            await settle(pilot)
        start = time.perf_counter()
        await pilot.press("slash", *"martin")
        await pilot.pause(0.3)
        await settle(pilot)
        typed = time.perf_counter() - start
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PersonScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f4", "f4", "f7", "f7")  # profile and e-mail filters
        await settle(pilot)
        gc.collect()
        rss = rss_mb()
        rows = screen.panel.table.row_count
        print(f"\nConsole (EntApp headless) : 20 pages suivantes, 3 précédentes, une recherche tapée ({ms(typed)}")
        print(
            f"  dont ~60 ms par touche Pilot et 250 ms d'attente), une fiche ouverte, 4 filtres ; "
            f"{rows} lignes au tableau"
        )
    return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--schools", type=int, default=5)
    parser.add_argument(
        "--reuse", default="", help="slapd folder of an earlier run (e.g. DIR/slapd of bench/sync.py --workdir DIR)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="enttui-bench-annuaire-") as tmp:
        work = Path(tmp)
        spec = big_spec(args.people, args.schools, BASE)
        maxsize = max(1 << 30, args.people * 12 * 1024)
        n, t_gen = 0, 0.0
        if args.reuse:  # the folder of a directory loaded by an earlier benchmark (bench/sync.py --workdir)
            server = Slapd(Path(args.reuse), BASE, maxsize=maxsize).reuse()
        else:
            start = time.perf_counter()
            ldif = work / "world.ldif"
            with ldif.open("w", encoding="utf-8") as out:
                out.write(
                    f"dn: ou=roles,ou=groups,{BASE}\nobjectClass: top\nobjectClass: organizationalUnit\nou: roles\n\n"
                )
                n = write_ldif(generate(spec), out)
            t_gen = time.perf_counter() - start
            server = Slapd(work / "slapd", BASE, str(ldif), maxsize=maxsize)
        start = time.perf_counter()
        server.start(timeout=600)
        t_load = time.perf_counter() - start
        try:
            print(f"Annuaire généré : {n} entrées ({args.people} personnes visées, {args.schools} établissements)")
            print(f"  génération LDIF {t_gen:.1f} s, chargement slapadd + démarrage {t_load:.1f} s")
            config = Config(
                ent=EntConfig(uai=[s.uai for s in spec.schools]),
                ldap=ldap_config(server, base_dn=BASE),
            )
            del spec
            gc.collect()
            asyncio.run(bench_service(config, args.people))
            rss = asyncio.run(bench_console(config, work))
            flag = "OK" if rss <= 250 else "TROP"
            print(f"Mémoire de la console après navigation : {rss:.0f} Mo RSS [{flag}, cible ≤ 250 Mo]")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
