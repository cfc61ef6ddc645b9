"""TLS told plainly in every run: a sync, a diffusion and a regeneration write a warning line in their
trace (shown live and kept with the run) when credentials would travel in clear or checks are off;
the status report (and so the Accueil) shows the same lines on the system concerned."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from enttui.demo.wiring import demo_services
from enttui.domain.people import Target
from enttui.domain.sync import SyncOptions
from enttui.jobs import diffusion, regeneration
from enttui.jobs.events import CollectingSink
from enttui.jobs.status import collect_status
from enttui.jobs.sync import run_sync

CLEAR = 'SMTP : security = "none" vers smtp.example.fr : les identifiants envoyés circulent en clair'


async def _services(tmp_path):
    services = await demo_services(tmp_path / "demo")
    cfg = services.config
    # The outbox still receives the mail; the settings say a remote relay without encryption.
    services.config = replace(cfg, smtp=replace(cfg.smtp, host="smtp.example.fr", security="none"))
    return services


async def test_runs_and_status_warn_when_credentials_travel_in_clear(tmp_path) -> None:
    services = await _services(tmp_path)
    try:
        sink = CollectingSink()
        sync = await run_sync(services, SyncOptions(simulate=True), sink)
        assert any(t.text.startswith(CLEAR) for t in sink.traces("warning"))
        stored = await services.state.trace(sync.run_id)
        assert any(t.level == "warning" and t.text.startswith(CLEAR) for t in stored)

        sink = CollectingSink()
        request = diffusion.validate_request([Target.AUTRE], "Objet")
        result = await diffusion.run_diffusion(services, request, sink)
        assert any(t.text.startswith(CLEAR) for t in sink.traces("warning"))
        assert any(t.text.startswith(CLEAR) for t in await services.state.trace(result.run_id))

        sink = CollectingSink()
        nobody = regeneration.RegenerationRequest((), datetime.now(UTC) + timedelta(days=1))  # the warning comes first
        regen = await regeneration.run_regeneration(services, nobody, sink)
        assert any(t.text.startswith(CLEAR) for t in sink.traces("warning"))
        assert any(t.text.startswith(CLEAR) for t in await services.state.trace(regen.run_id))

        report = await collect_status(services)
        smtp = next(s for s in report.systems if s.key == "smtp")
        assert any(w.startswith('security = "none" vers smtp.example.fr') for w in smtp.warnings)
        others = [w for s in report.systems if s.key != "smtp" for w in s.warnings]
        assert not any("TLS" in w or "clair" in w for w in others)
    finally:
        await services.close()


async def test_secure_demo_settings_warn_about_nothing(tmp_path) -> None:
    services = await demo_services(tmp_path / "demo")
    try:
        sink = CollectingSink()
        await run_sync(services, SyncOptions(simulate=True), sink)
        assert not any("clair" in t.text or "tls_verify" in t.text for t in sink.traces("warning"))
    finally:
        await services.close()
