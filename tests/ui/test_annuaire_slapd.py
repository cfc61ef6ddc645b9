"""The Utilisateurs screen on a real directory (the private slapd), driven by keys.

The demo's in-memory directory sorts its pages itself; a real server is read with the LDAP paged
results control, page by page as the admin turns them. This is the screen on that second branch.
"""

from __future__ import annotations

from typing import Any

from enttui.config import Config, EntConfig, StateConfig
from enttui.demo.world import SchoolSpec, WorldSpec, generate
from enttui.services.annuaire import PAGE_SIZE
from enttui.services.container import open_services
from enttui.ui.app import EntApp
from enttui.ui.navigation import PAGES
from enttui.ui.screens.utilisateurs import UtilisateursScreen
from support.fixtures_ui import FakeTimer, frozen_clock, settle, wait_for

UAI = "0123456A"
SIZE = (100, 30)


def _school(base_dn: str) -> list[tuple[str, dict[str, list[str]]]]:
    spec = WorldSpec(
        base_dn=base_dn,
        schools=(SchoolSpec(UAI, "Collège Réel", students=70, teachers=6, staff=4, others=3, classes_per_level=2),),
        role_groups=False,
    )
    # createTimestamp / modifyTimestamp are the server's own (ldapadd cannot set them).
    return [
        (dn, {k: list(v) for k, v in attrs.items() if k not in ("createTimestamp", "modifyTimestamp")})
        for dn, attrs in generate(spec)
    ]


async def test_utilisateurs_pages_through_a_real_directory(ldap_sandbox: Any, tmp_path: Any) -> None:
    entries = _school(ldap_sandbox.base_dn)
    ldap_sandbox.add(entries)
    people = {dn.lower() for dn, attrs in entries if "ENTPerson" in attrs["objectClass"]}
    assert len(people) > 2 * PAGE_SIZE  # three pages at least
    config = Config(
        ent=EntConfig(portal="Portail GRIS", portal_url="https://ent.test", uai=[UAI]),
        ldap=ldap_sandbox.config(),
        state=StateConfig(url=f"sqlite:///{tmp_path / 'state.db'}", files_dir=str(tmp_path / "identifiants")),
    )
    app = EntApp(opener=lambda: open_services(config, clock=frozen_clock), timer=FakeTimer())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.services.directory.is_embedded
        index = [p.key for p in PAGES].index("utilisateurs")
        await pilot.press("f2", "home", *(["down"] * index), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, UtilisateursScreen), "the Utilisateurs screen")
        screen = app.screen
        assert isinstance(screen, UtilisateursScreen)
        table = screen.panel.table
        await wait_for(pilot, lambda: table.page is not None and table.page.people, "the first page")
        await settle(pilot)

        def on_page(index: int) -> bool:
            return table.page is not None and table.page.index == index

        seen: list[str] = []
        for index in (0, 1, 2):
            if index:
                await pilot.press("pagedown")
                await wait_for(pilot, lambda index=index: on_page(index), f"page {index + 1}")
                await settle(pilot)
            page = table.page
            assert page is not None and page.index == index
            assert len(page.people) == PAGE_SIZE and table.row_count == PAGE_SIZE
            assert page.has_next
            seen += [p.dn.lower() for p in page.people]
        status = str(screen.panel.query_one(".people-status").render())
        assert "page 3" in status
        # Three different pages of the server's people, none read twice.
        assert len(set(seen)) == 3 * PAGE_SIZE and set(seen) <= people

        await pilot.press("pageup")
        await wait_for(pilot, lambda: on_page(1), "back to page 2")
        await settle(pilot)
        assert [p.dn.lower() for p in table.page.people] == seen[PAGE_SIZE : 2 * PAGE_SIZE]
