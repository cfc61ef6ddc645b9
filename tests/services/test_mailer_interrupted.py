"""A send interrupted mid-exchange (Ctrl+C, a cancelled diffusion) drops its SMTP session.

The relay may still be busy with the DATA it received: a polite QUIT on that session would wait
for an answer that comes after the DATA's, up to the QUIT timeout, at every close (that made
``enttui diffuse`` slow to stop on Ctrl+C). The next send opens a new session.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import aiosmtplib
import pytest

from enttui.services.mailer import SmtpMailer, render_message

SENDER = "ENT <ne-pas-repondre@ent.example.fr>"


async def test_a_send_cancelled_during_data_drops_the_session(smtp_server: Any, monkeypatch: Any) -> None:
    quits: list[int] = []
    real_quit = aiosmtplib.SMTP.quit

    async def counting_quit(self: aiosmtplib.SMTP, *args: Any, **kwargs: Any) -> Any:
        quits.append(id(self))
        return await real_quit(self, *args, **kwargs)

    monkeypatch.setattr(aiosmtplib.SMTP, "quit", counting_quit)
    held, release = threading.Event(), threading.Event()
    handler = smtp_server._controller.handler
    original = handler.handle_DATA

    async def holding_data(server: Any, session: Any, envelope: Any) -> str:
        held.set()
        while not release.is_set():  # noqa: ASYNC110 - a threading.Event, set from the test
            await asyncio.sleep(0.01)
        return "451 4.3.0 interrompu"

    handler.handle_DATA = holding_data
    mailer = SmtpMailer(smtp_server.smtp_config())
    try:
        sending = asyncio.ensure_future(mailer.send(render_message(SENDER, "held@example.fr", "Objet", "Texte")))
        assert await asyncio.to_thread(held.wait, 60), "the relay never received the DATA"
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        await mailer.close()
        assert quits == []  # the interrupted session was dropped, not QUIT
    finally:
        release.set()
        handler.handle_DATA = original

    before = smtp_server.connections
    await mailer.send(render_message(SENDER, "next@example.fr", "Objet", "Texte"))
    assert smtp_server.connections == before + 1
    assert [m.rcpt_tos for m in smtp_server.messages] == [("next@example.fr",)]
    await mailer.close()
    assert len(quits) == 1  # the healthy session says goodbye
