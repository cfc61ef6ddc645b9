"""The cyclic garbage collector paused during the big jobs (see :func:`collector_paused`)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_pauses = 0  # nested or concurrent jobs: the collector comes back when the last one ends
_collector_was_enabled = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a big job reads and writes.

    A job that keeps a million people (the sync's people, the coherence report's columns) while
    every page brings thousands of short-lived objects would trigger full collections that walk
    the big containers again and again: for the coherence report it cost as much CPU as the checks
    themselves (+4.5 s of CPU on a 9 s read of 100,000 people), and the sync's full run grows
    faster than its size. Nothing these jobs allocate forms a cycle; whatever the rest of the
    process (the console) makes meanwhile is collected when the last pause ends.
    """
    global _pauses, _collector_was_enabled
    if _pauses == 0:
        _collector_was_enabled = gc.isenabled()
        gc.disable()
    _pauses += 1
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0 and _collector_was_enabled:
            gc.enable()


__all__ = ["collector_paused"]
