"""The console's cost of a long trace: the lines of a region's first sync arriving on the sync screen.

A headless Textual app at 80×24 shows a :class:`~enttui.ui.widgets.trace.TracePane` on a buffer
bounded like the sync screen's (2,000 lines); ``--lines`` creation lines arrive in bursts of
``--burst`` (a batch of the sync: its lines come after its commit, then the job awaits the next),
with an error first. Prints the console's CPU and wall time for them, per 100,000 lines, against
the floor measured in the same run: the same lines appended to the bounded buffer with nobody
watching. Checks that the first error is still in the buffer at the end.

    .venv/bin/python bench/trace.py [--lines 100000] [--burst 2000]

Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from textual.app import App, ComposeResult

from enttui.ui.screens.moodle_sync import TRACE_MAX_LINES
from enttui.ui.widgets.trace import TraceBuffer, TraceEntry, TracePane


def entry(i: int) -> TraceEntry:
    return TraceEntry("12:00:00", "change", "Comptes utilisateur", f"création de eleve.{i} (Nom{i} Prénom{i})")


FIRST_ERROR = TraceEntry("12:00:00", "error", "Comptes utilisateur", "identifiant « x » en double : entrée ignorée")


class TraceApp(App[None]):
    def __init__(self, buffer: TraceBuffer) -> None:
        super().__init__()
        self.buffer = buffer

    def compose(self) -> ComposeResult:
        yield TracePane(self.buffer, title="Trace de la synchronisation")


async def shown(lines: int, burst: int) -> tuple[float, float, bool]:
    buffer = TraceBuffer(max_lines=TRACE_MAX_LINES)
    app = TraceApp(buffer)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        c0, t0 = time.process_time(), time.perf_counter()
        buffer.append(FIRST_ERROR)
        for i in range(lines):
            buffer.append(entry(i))
            if i % burst == burst - 1:
                await asyncio.sleep(0)  # the job awaits its next commit
        await pilot.pause()  # everything drawn
        return time.process_time() - c0, time.perf_counter() - t0, FIRST_ERROR in buffer.entries


def floor(lines: int) -> float:
    buffer = TraceBuffer(max_lines=TRACE_MAX_LINES)
    c0 = time.process_time()
    buffer.append(FIRST_ERROR)
    for i in range(lines):
        buffer.append(entry(i))
    return time.process_time() - c0


def main(lines: int, burst: int) -> None:
    base = floor(lines)
    cpu, wall, kept = asyncio.run(shown(lines, burst))
    per = 100_000 / lines
    print(f"{lines} lignes par rafales de {burst}, tampon de {TRACE_MAX_LINES} lignes")
    print(f"Console (TracePane à 80×24) : CPU {cpu:.2f} s, {wall:.2f} s ; {cpu * per:.2f} s de CPU pour 100 000 lignes")
    print(f"Plancher (le tampon seul)   : CPU {base:.2f} s ; ratio {cpu / max(base, 1e-9):.1f}×")
    print(f"Première erreur encore dans le tampon : {'oui' if kept else 'NON'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--burst", type=int, default=2000)
    args = parser.parse_args()
    main(args.lines, args.burst)
