"""A test-only hook that interrupts the process at a named point (inert unless its variable is set).

``ENTTUI_TEST_FAULT=<point>:<n>[:<signal>]`` makes the process send itself ``<signal>`` (``KILL``
by default, or ``INT`` as a Ctrl+C would) the ``n``-th time it reaches ``<point>``. The fault
tests use it to hit a window exactly instead of racing the process:

- ``password_set``: the directory confirmed a password, the journal does not say so yet;
- ``sent``: the relay answered 250, the journal does not say so yet;
- ``row_written``: a row is in the identifier file, the journal does not say so yet;
- ``closing``: every account's outcome is in the journal, the run is not closed yet;
- ``sync_batch``: a batch of the sync is committed to Moodle (``INT``: a Ctrl+C between batches).

Unset (production), :func:`fault_point` returns at once.
"""

from __future__ import annotations

import os
import signal

_FAULT = os.environ.get("ENTTUI_TEST_FAULT", "")
_SIGNALS = {"KILL": signal.SIGKILL, "INT": signal.SIGINT, "TERM": signal.SIGTERM}
_seen: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Signal this process at ``name`` when ``ENTTUI_TEST_FAULT`` asks for it (tests only)."""
    if not _FAULT:
        return
    point, _, rest = _FAULT.partition(":")
    if point != name:
        return
    nth, _, sig = rest.partition(":")
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] == max(1, int(nth or 1)):
        os.kill(os.getpid(), _SIGNALS.get(sig or "KILL", signal.SIGKILL))
