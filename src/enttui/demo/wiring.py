"""The demo wiring: the embedded demo world opened as :class:`~enttui.services.container.Services`.

The only place the product reaches into :mod:`enttui.demo`: an in-memory directory of the generated
school, a SQLite Moodle seeded from it, an outbox folder instead of SMTP, a SQLite state store, all
below ``root`` (``~/.local/state/enttui/demo`` by default).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from enttui.config import default_demo_root, demo_config
from enttui.services.container import Services, private_dir, utc_now


async def demo_services(root: Path | None = None, *, clock: Callable[[], datetime] = utc_now) -> Services:
    """The embedded demo world below ``root`` (a fresh Moodle each time; state and outbox kept)."""
    from enttui.demo.moodle_seed import seed_demo_moodle
    from enttui.demo.world import demo_entries
    from enttui.domain.people import Target, person_from_entry
    from enttui.services.directory import Directory
    from enttui.services.mailer import OutboxMailer
    from enttui.services.moodle import Moodle
    from enttui.services.state import StateStore

    root = private_dir(root or default_demo_root())
    config = demo_config(root)
    entries = await asyncio.to_thread(demo_entries, config.ldap.base_dn)
    directory = Directory.embedded(config.ldap, config.ent, entries)
    await directory.open()

    moodle_file = root / "moodle.db"
    await asyncio.to_thread(_remove_sqlite, moodle_file)
    moodle = Moodle(config.moodle)
    await moodle.open()
    await _maybe_await(moodle.create_schema())
    people = [
        person_from_entry(dn, attrs)
        for dn, attrs in entries
        if any(c.lower() == "entperson" for c in attrs.get("objectClass", []))
    ]
    people = [p for p in people if p.target in (Target.ELEVE, Target.ENSEIGNANT)]
    await _maybe_await(seed_demo_moodle(moodle, people))

    state = StateStore(config.state, clock=clock, trace_max_lines=config.sync.trace_max_lines)
    await state.open()
    private_dir(Path(config.state.files_dir))
    mailer = OutboxMailer(config.smtp.outbox_dir)
    await mailer.open()
    return Services(config=config, directory=directory, state=state, moodle=moodle, mailer=mailer, clock=clock)


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _maybe_await(value: object) -> object:
    if asyncio.iscoroutine(value):
        return await value
    return value
