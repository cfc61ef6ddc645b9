"""Rapports d'alimentation and Rapports de cohérence, driven by keys only, on the demo world."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import DataTable, Input

from enttui.services.state import INTERRUPTED, SIMULATED, SUCCESS, WITH_ERRORS
from enttui.ui.screens.alimentation import AlimentationScreen, RunDetailScreen
from enttui.ui.screens.coherence import CoherenceScreen, FindingsScreen
from enttui.ui.screens.trace import TraceScreen
from enttui.ui.widgets.export import ExportModal
from enttui.ui.widgets.modals import ConfirmModal
from enttui.ui.widgets.trace import TracePane
from support.fixtures_ui import FROZEN_NOW, settle, wait_for

RUN_PLAN = [
    ("sync", SUCCESS, {"users": True, "cohorts": True}, {"users": {"created": 12, "updated": 3}}, 95),
    ("diffusion", WITH_ERRORS, {"targets": ["eleve", "parent"]}, {"sent": 40, "not_sent": 2, "errors": 1}, 40),
    ("regeneration", SUCCESS, {"uai": "0123456A"}, {"accounts": 25, "files": 1}, 12),
    ("import", INTERRUPTED, {"file": "comptes.csv"}, {"rows": 10}, 3),
    ("sync", SIMULATED, {"simulate": True, "users": True}, {"users": {"created": 5}}, 30),
]


class StepClock:
    """A clock the seeding moves by hand (fixed timestamps: deterministic snapshots)."""

    def __init__(self) -> None:
        self.now = FROZEN_NOW - timedelta(days=2)

    def __call__(self):
        return self.now


async def seed_runs(app) -> list[int]:
    """One recorded run of each kind and status, with a trace (two error lines in the diffusion)."""
    store = app.services.state
    clock = StepClock()
    saved = store._clock if hasattr(store, "_clock") else None
    store._clock = clock
    ids = []
    try:
        for i, (kind, status, options, counts, seconds) in enumerate(RUN_PLAN):
            clock.now = FROZEN_NOW - timedelta(days=2) + timedelta(hours=3 * i)
            run_id = await store.start_run(kind, options, user="admin")
            lines = [("info", "users", "Lecture de l'annuaire"), ("change", "users", "Création de [b]jean.dupont[/b]")]
            if status == WITH_ERRORS:
                lines += [
                    ("error", "mails", "Refusé : marie.curie (adresse invalide)"),
                    ("info", "mails", "Envoi de 40 messages"),
                    ("error", "mails", "Refusé : paul.martin (boîte pleine)"),
                ]
            lines.append(("info", "", "Fin du traitement"))
            await store.add_trace(run_id, lines)
            clock.now += timedelta(seconds=seconds)
            await store.finish_run(run_id, status, counts, summary=f"Traitement {i + 1}")
            ids.append(run_id)
    finally:
        if saved is not None:
            store._clock = saved
    return ids


async def open_page(pilot, key: str) -> None:
    await settle(pilot)
    pilot.app.go(key)
    await settle(pilot)


async def test_alimentation_list_filters_and_detail(demo_app):
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        ids = await seed_runs(app)
        await open_page(pilot, "alimentation")
        screen = app.screen
        assert isinstance(screen, AlimentationScreen)
        assert [r.id for r in screen.runs] == list(reversed(ids))
        await pilot.press("k")  # sync only
        await settle(pilot)
        assert {r.kind for r in screen.runs} == {"sync"} and len(screen.runs) == 2
        await pilot.press("t")  # sync + réussi
        await settle(pilot)
        assert [(r.kind, r.status) for r in screen.runs] == [("sync", SUCCESS)]
        for _ in range(6):  # back to every kind
            await pilot.press("k")
        await settle(pilot)
        assert screen.kind is None
        await pilot.press("t")  # avec erreurs
        await settle(pilot)
        assert [r.kind for r in screen.runs] == ["diffusion"]
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, RunDetailScreen)
        trace = detail.query_one("#trace", TracePane).view
        assert len(trace.buffer.entries) == 6
        await pilot.press("e")
        assert trace.cursor == 2
        await pilot.press("e")
        assert trace.cursor == 4
        await pilot.press("e")  # wraps around
        assert trace.cursor == 2
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"envoi", "enter")
        assert trace.cursor == 3
        await pilot.press("n")  # the only line with "envoi": stays
        assert trace.cursor == 3
        await pilot.press("t")  # full screen, on the same line
        await wait_for(pilot, lambda: isinstance(app.screen, TraceScreen), "the full-screen trace")
        full = app.screen.query_one(TracePane).view
        await wait_for(pilot, lambda: full.cursor == 3, "the full trace on the line of the report")
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AlimentationScreen)


async def test_alimentation_export_refuses_dotdot_and_asks_before_overwriting(demo_app, tmp_path):
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await seed_runs(app)
        await open_page(pilot, "alimentation")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen)
        target = tmp_path / "rapport.txt"

        async def export_to(text: str) -> None:
            # never settle() while the export worker waits for a modal: it would wait forever
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ExportModal) and app.screen.query(Input), "the modal")
            app.screen.query_one(Input).value = text
            await pilot.press("enter")

        def refused() -> str:
            return str(app.screen.query_one("#err-export-path").content) if isinstance(app.screen, ExportModal) else ""

        await export_to(f"{tmp_path}/../rapport.txt")
        await wait_for(pilot, lambda: "contient « .. »" in refused(), "the refusal under the field")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen)
        assert not (tmp_path.parent / "rapport.txt").exists()
        theirs = tmp_path / "theirs.txt"
        theirs.write_text("pas à enttui", encoding="utf-8")
        await export_to(str(theirs))
        await wait_for(pilot, lambda: "n'a pas été écrit par enttui" in refused(), "the refusal of a foreign file")
        await pilot.press("escape")
        await settle(pilot)
        assert theirs.read_text(encoding="utf-8") == "pas à enttui"
        await export_to(str(target))
        await settle(pilot)
        assert target.stat().st_mode & 0o777 == 0o600
        assert "Rapport d'alimentation n°" in target.read_text(encoding="utf-8")
        target.write_text("ancien", encoding="utf-8")
        await export_to(str(target))  # enttui wrote it: it may be replaced, after a question
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        await pilot.press("n")
        await settle(pilot)
        assert target.read_text(encoding="utf-8") == "ancien"
        await export_to(str(target))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        await pilot.press("y")
        await settle(pilot)
        assert target.read_text(encoding="utf-8").startswith("Rapport d'alimentation")


async def test_alimentation_prunes_old_runs(demo_app):
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        store = app.services.state
        store._clock = lambda: FROZEN_NOW - timedelta(days=400)
        old = await store.start_run("sync", {}, user="admin")
        await store.finish_run(old, SUCCESS, {})
        store._clock = lambda: FROZEN_NOW
        await open_page(pilot, "alimentation")
        assert old not in [r.id for r in app.screen.runs]


async def test_coherence_report_findings_and_export(demo_app, tmp_path):
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await open_page(pilot, "coherence")
        screen = app.screen
        assert isinstance(screen, CoherenceScreen)
        report = screen.report
        assert report is not None and report.blocking_failed
        counts = {c.id: c.count for c in report.checks}
        assert counts["duplicate_login"] == 2 and counts["empty_class"] == 1
        table = screen.query_one("#checks", DataTable)
        assert table.row_count == len(report.checks)
        await pilot.press("enter")  # first check: duplicate logins
        await settle(pilot)
        findings = app.screen
        assert isinstance(findings, FindingsScreen)
        assert findings.query_one("#findings", DataTable).row_count == 2
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("down", "down", "down")  # dangling_struct: nothing to list
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportModal) and app.screen.query(Input), "the modal")
        out = tmp_path / "coherence.csv"
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await settle(pilot)
        data = out.read_bytes()
        assert data.startswith("\ufeff".encode()) and out.stat().st_mode & 0o777 == 0o600
        assert data.decode("utf-8-sig").count("\r\n") == report.total_findings + 1
        await pilot.press("r")  # run again
        await settle(pilot)
        assert screen.report is not report


async def test_coherence_person_opens_in_the_directory_view(demo_app):
    app = demo_app()
    opened: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await open_page(pilot, "coherence")
        if hasattr(app, "open_person"):
            app.open_person = opened.append  # type: ignore[method-assign]
        await pilot.press("enter", "enter")
        await settle(pilot)
        if opened:
            assert opened[0] == app.screen.check.findings[0].dn
        else:  # fallback: the entry's attributes in a plain-text modal
            assert "ENTPersonLogin" in str(app.screen.query_one("#dialog-message").content)


async def test_coherence_per_school_summary_and_filter_by_keys(demo_app):
    """e: the per-school summary; enter on a school: the report shows only its findings; u: the next
    school, then every school again; the keys are palette commands too."""
    from enttui.ui.commands import ScreenActionCommands
    from enttui.ui.screens.coherence_schools import SchoolsScreen

    app = demo_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_page(pilot, "coherence")
        screen = app.screen
        assert isinstance(screen, CoherenceScreen)
        # one person attached to a school that does not exist: "sans établissement"
        base = app.services.config.ldap.base_dn
        app.services.directory.load_entries(
            [
                (
                    f"uid=perdu,ou=people,{base}",
                    {
                        "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson", "ENTPerson"],
                        "uid": ["perdu"],
                        "cn": ["Perdu Paul"],
                        "sn": ["Perdu"],
                        "givenName": ["Paul"],
                        "ENTPersonLogin": ["paul.perdu"],
                        "ENTPersonJointure": ["ENT$perdu"],
                        "ENTPersonStructRattach": [f"ENTStructureSIREN=99999999999999,ou=structures,{base}"],
                        "mail": ["paul.perdu@example.org"],
                    },
                )
            ]
        )
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: screen.report is not None and screen.report.check("dangling_struct").count == 1,
            "the report with the person of no school",
        )
        full = screen.report
        assert full is not None
        summary = full.by_school()
        assert [s.uai for s in summary] == ["0123456A", ""]  # the blocked school first
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, SchoolsScreen) and app.screen.query("#schools"), "summary")
        schools = app.screen
        table = schools.query_one("#schools", DataTable)
        assert table.row_count == 3  # Tous, 0123456A, sans établissement
        assert "Collège Jean Moulin" in str(table.get_row_at(1)[4])
        await pilot.press("down", "down")
        detail = str(schools.query_one("#school-detail").render())
        assert "sans établissement" in detail and "Établissement de rattachement introuvable 1" in detail
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, "back on the report")
        assert screen.school == ""
        counts = {c.id: c.count for c in screen.report.checks}
        # its school unknown, and no Moodle account either
        assert counts["dangling_struct"] == counts["directory_not_in_moodle"] == 1 and sum(counts.values()) == 2
        status = str(screen.query_one("#coherence-status").render())
        assert "Entrées sans établissement : 2 constats" in status
        await pilot.press("down", "down", "down", "enter")  # dangling_struct: its one entry, with its school
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen), "the findings")
        assert app.screen.query_one("#findings", DataTable).row_count == 1
        assert "1 entrée · gravité : à corriger · sans établissement" in str(
            app.screen.query_one("#findings-count").render()
        )
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, "back on the report")
        await pilot.press("u")  # after the last school: every school again
        assert screen.school is None and screen.report is full
        await pilot.press("u")
        assert screen.school == "0123456A"
        assert screen.report.total_findings == summary[0].total
        assert "Établissement 0123456A (Collège Jean Moulin) :" in str(screen.query_one("#coherence-status").render())
        titles = [title for title, *_ in ScreenActionCommands(screen)._commands()]
        assert "Établissements (e)" in titles and "Étab. suivant (u)" in titles
