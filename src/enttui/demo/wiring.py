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
from typing import TYPE_CHECKING

from enttui.config import default_demo_root, demo_config
from enttui.services.container import Services, import_services, private_dir, utc_now

if TYPE_CHECKING:
    from enttui.config import Config
    from enttui.domain.people import Person
    from enttui.services.directory import Directory


async def demo_services(root: Path | None = None, *, clock: Callable[[], datetime] = utc_now) -> Services:
    """The embedded demo world below ``root`` (a fresh Moodle each time; state and outbox kept).

    The slow parts (importing the drivers, generating the school, loading it into the in-memory
    directory) run in a thread, and the directory loads while Moodle's tables are created: the
    event loop stays free (the console draws its first screen meanwhile)."""
    root = private_dir(root or default_demo_root())
    config = demo_config(root)
    await asyncio.to_thread(_import_demo)

    from enttui.demo.moodle_seed import seed_demo_moodle
    from enttui.services.mailer import OutboxMailer
    from enttui.services.moodle import Moodle
    from enttui.services.state import StateStore

    async def fresh_moodle() -> Moodle:
        await asyncio.to_thread(_remove_sqlite, root / "moodle.db")
        moodle = Moodle(config.moodle)
        await moodle.open()
        await _maybe_await(moodle.create_schema())
        return moodle

    (directory, people), moodle = await asyncio.gather(asyncio.to_thread(_load_world, config), fresh_moodle())
    await directory.open()
    await _maybe_await(seed_demo_moodle(moodle, people))

    state = StateStore(config.state, clock=clock, trace_max_lines=config.sync.trace_max_lines)
    await state.open()
    private_dir(Path(config.state.files_dir))
    mailer = OutboxMailer(config.smtp.outbox_dir)
    await mailer.open()
    return Services(config=config, directory=directory, state=state, moodle=moodle, mailer=mailer, clock=clock)


def _import_demo() -> None:
    """Import what the demo world opens (ldap3, SQLAlchemy, aiosmtplib…) off the event loop: the
    services' modules as for a real site, and the demo's own."""
    import enttui.demo.moodle_seed
    import enttui.demo.world  # noqa: F401

    import_services()


def _load_world(config: Config) -> tuple[Directory, list[Person]]:
    """The generated school in the in-memory directory, and its students and teachers (for Moodle)."""
    from enttui.demo.world import demo_entries
    from enttui.domain.people import Target, person_from_entry
    from enttui.services.directory import Directory

    entries = demo_entries(config.ldap.base_dn)
    directory = Directory.embedded(config.ldap, config.ent, entries, trusted=True)
    people = [
        person_from_entry(dn, attrs)
        for dn, attrs in entries
        if any(c.lower() == "entperson" for c in attrs.get("objectClass", []))
    ]
    return directory, [p for p in people if p.target in (Target.ELEVE, Target.ENSEIGNANT)]


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _maybe_await(value: object) -> object:
    if asyncio.iscoroutine(value):
        return await value
    return value
