"""Quitting while a job writes (ctrl+q, the palette's "Quitter"): ask first, then stop the job at
its next batch boundary (it is recorded "interrompu", resumable where it can be) and quit.

A screen that runs such a job implements :class:`JobHolder`: ``running_job()`` names the job
(``None`` when idle) and ``stop_job()`` asks it to stop and returns once it has.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from textual.screen import Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from enttui.domain.french import nbsp
from enttui.ui.widgets.modals import ConfirmModal

if TYPE_CHECKING:
    from textual.app import App


@runtime_checkable
class JobHolder(Protocol):
    def running_job(self) -> str | None: ...

    async def stop_job(self) -> None: ...


def job_holders(app: App) -> list[JobHolder]:
    """The screens (open or kept between visits) whose job is running."""
    screens: list[Screen] = list(app.screen_stack)
    for name in list(app._installed_screens):
        if app.is_screen_installed(name):
            installed = app._installed_screens[name]
            if isinstance(installed, Screen) and installed not in screens:
                screens.append(installed)
    return [s for s in screens if isinstance(s, JobHolder) and s.running_job()]


async def wait_worker(worker: Worker | None) -> None:
    """Until ``worker`` has ended, whatever the way (its error went through the error route)."""
    if worker is None:
        return
    with contextlib.suppress(WorkerCancelled, WorkerFailed):
        await worker.wait()


async def request_quit(app: App) -> None:
    holders = job_holders(app)
    if not holders:
        app.exit()
        return
    if any(isinstance(s, ConfirmModal) and s.has_class("quit-confirm") for s in app.screen_stack):
        return
    names = ", ".join(label for h in holders if (label := h.running_job()))
    message = nbsp(
        f"En cours : {names}.\n\nQuitter l'arrête à la fin du lot en cours ; il est enregistré « interrompu » "
        "et se reprend là où il s'est arrêté quand c'est possible. Quitter quand même ?"
    )
    modal = ConfirmModal("Un traitement est en cours", message, yes_label="Arrêter et quitter (y)")
    modal.add_class("quit-confirm")

    async def stop_all_then_quit() -> None:
        app.notify("Arrêt du traitement à la fin du lot en cours…", markup=False)
        for holder in holders:
            await holder.stop_job()
        app.exit()

    def answered(yes: bool | None) -> None:
        if yes:
            app.run_worker(stop_all_then_quit(), group="app:quit", exit_on_error=False)

    app.push_screen(modal, answered)
