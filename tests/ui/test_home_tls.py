"""The Accueil tells TLS plainly: a setting that sends credentials in clear shows as a warning."""

from __future__ import annotations

from dataclasses import replace

from enttui.demo.wiring import demo_services
from enttui.ui.app import EntApp
from support.fixtures_ui import FakeTimer, frozen_clock, settle


async def test_accueil_warns_when_credentials_travel_in_clear(tmp_path):
    async def opener():
        services = await demo_services(tmp_path / "demo", clock=frozen_clock)
        cfg = services.config
        services.config = replace(cfg, smtp=replace(cfg.smtp, host="smtp.example.fr", security="none"))
        return services

    app = EntApp(opener=opener, timer=FakeTimer())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#health")
        states = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert states["SMTP"] == "OK ⚠" and states["Annuaire (LDAP)"] == "OK"
        figures = " ".join(str(app.screen.query_one("#key-figures").render()).replace("\xa0", " ").split())
        assert (
            '⚠ SMTP : security = "none" vers smtp.example.fr : les identifiants envoyés circulent en clair' in figures
        )
