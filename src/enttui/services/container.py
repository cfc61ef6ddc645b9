"""The services a console or a command-line run works with, opened from a configuration.

``open_services(config)`` talks to the real systems. The embedded demo world is opened by the demo
wiring (:func:`enttui.demo.wiring.demo_services`), which builds the same :class:`Services`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from enttui.config import Config

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from enttui.services.directory import Directory
    from enttui.services.mailer import Mailer
    from enttui.services.moodle import Moodle
    from enttui.services.state import StateStore


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """Everything a job needs; injected into the App and into every CLI command."""

    config: Config
    directory: Directory
    state: StateStore
    moodle: Moodle | None = None
    mailer: Mailer | None = None
    clock: Callable[[], datetime] = utc_now
    errors: dict[str, str] = field(default_factory=dict)  # system key -> French reason it could not open

    async def close(self) -> None:
        for svc in (self.mailer, self.moodle, self.directory, self.state):
            if svc is None:
                continue
            with contextlib.suppress(Exception):  # closing must never hide the real outcome
                await svc.close()


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


async def open_services(config: Config, *, clock: Callable[[], datetime] = utc_now, strict: bool = False) -> Services:
    """Open every configured system.

    The state store must open (it is the console's own file). The directory, Moodle and SMTP may be
    down during an incident: the console still starts and the home screen says what is wrong. With
    ``strict=True`` (headless jobs that need everything), the first failure is raised.
    """
    from enttui.errors import EnttuiError

    await asyncio.to_thread(import_services)  # ldap3, SQLAlchemy, aiosmtplib: off the event loop
    from enttui.services.directory import Directory
    from enttui.services.mailer import make_mailer
    from enttui.services.moodle import Moodle
    from enttui.services.state import StateStore

    state = StateStore(config.state, clock=clock, trace_max_lines=config.sync.trace_max_lines)
    await state.open()
    directory = Directory(config.ldap, config.ent)
    moodle = Moodle(config.moodle) if config.moodle_enabled else None
    mailer = make_mailer(config.smtp) if config.smtp_enabled else None
    services = Services(config=config, directory=directory, state=state, moodle=moodle, mailer=mailer, clock=clock)

    async def _try(key: str, opener: Callable[[], Awaitable[object]]) -> None:
        try:
            await opener()
        except EnttuiError as exc:
            if strict:
                raise
            services.errors[key] = exc.message

    await asyncio.gather(
        _try("directory", directory.open),
        *([_try("moodle", moodle.open)] if moodle else []),
    )
    return services


def import_services() -> None:
    """Import the services' modules and their drivers (the console draws its screen meanwhile)."""
    import enttui.services.directory
    import enttui.services.mailer
    import enttui.services.moodle
    import enttui.services.state  # noqa: F401
