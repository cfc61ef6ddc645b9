"""The demo's Annuaire: a search and a page turn in the embedded directory, as a newcomer sees them.

For each query, the time to the first page and to the next one through the Annuaire service
(:class:`enttui.services.annuaire.PeopleSearch`, what the Utilisateurs screen calls), then the same
filter asked of ldap3's MOCK_SYNC directly (what the embedded directory used to run, and still
runs for writes). The floor is the bare in-memory scan of the same filter, no attribute decoded:
the ratio is the first page's time to it.

    .venv/bin/python bench/demo_search.py [--repeat 5]

Prints the best of ``--repeat`` runs per figure; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from enttui.demo.wiring import demo_services
from enttui.domain.annuaire import PeopleQuery
from enttui.domain.attributes import LIST_ATTRIBUTES
from enttui.services.annuaire import Annuaire
from enttui.services.directory_core import DirectoryCore

QUERIES = ["", "m", "martin", "é", "dup", "jean mar", "zz"]


async def main(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        services = await demo_services(Path(tmp))
        try:
            annuaire = Annuaire.from_services(services)
            directory: object = services.directory
            header = ("query", "first page", "next page", "rows", "floor", "ratio", "MOCK_SYNC")
            print("{:12} {:>11} {:>10} {:>5} {:>8} {:>6} {:>10}".format(*header))
            for text in QUERIES:
                first, turn, rows = [], [], 0
                for _ in range(repeat):
                    search = annuaire.search(PeopleQuery(text=text), prefetch=False)
                    start = time.perf_counter()
                    page = await search.first_page()
                    first.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    await search.next_page()
                    turn.append(time.perf_counter() - start)
                    rows = len(page.people)
                    await search.close()
                filt = await annuaire.people_search_filter(PeopleQuery(text=text))
                floor = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    directory._memory_search(annuaire.people_base, filt, ["1.1"], "SUBTREE")  # type: ignore[attr-defined]
                    floor.append(time.perf_counter() - start)
                conn = directory._checkout()  # type: ignore[attr-defined]
                try:
                    start = time.perf_counter()
                    DirectoryCore._search_once(directory, conn, annuaire.people_base, filt, LIST_ATTRIBUTES, "SUBTREE")  # type: ignore[arg-type]
                    mock = time.perf_counter() - start
                finally:
                    directory._checkin(conn)  # type: ignore[attr-defined]
                print(
                    f"{text or '(tous)':12} {min(first) * 1000:8.0f} ms {min(turn) * 1000:7.1f} ms {rows:5d}"
                    f" {min(floor) * 1000:5.0f} ms {min(first) / min(floor):5.1f}× {mock * 1000:7.0f} ms"
                )
        finally:
            await services.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main(parser.parse_args().repeat))
