"""Diffusion des identifiants and Fichiers des identifiants, driven by keys only (demo world, outbox)."""

from __future__ import annotations

import stat
from pathlib import Path

from textual.widgets import DataTable, Input, Label

from enttui.ui.widgets.modals import ConfirmModal
from support.diffusion_world import interrupt_a_regeneration
from support.fixtures_ui import settle


async def until(pilot, predicate, timeout: float = 20.0) -> None:
    """Pause until ``predicate()`` (a worker waiting on a modal never completes: no settle())."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timeout"
        await pilot.pause(0.05)


async def modal(pilot) -> ConfirmModal:
    """The confirmation modal once composed (the screen is a ConfirmModal before its children exist)."""
    await until(
        pilot, lambda: isinstance(pilot.app.screen, ConfirmModal) and bool(pilot.app.screen.query("#dialog-message"))
    )
    return pilot.app.screen


def text_of(app, selector: str) -> str:
    widget = app.screen.query_one(selector)
    content = getattr(widget, "content", None)
    return str(content if content is not None else widget.render())


async def check_targets(pilot, *labels: str) -> None:
    """Tab through the five checkboxes (Élève has the focus) and tick the wanted ones with space."""
    order = ["eleve", "parent", "enseignant", "non-enseignant", "autre"]
    for i, key in enumerate(order):
        if key in labels:
            await pilot.press("space")
        if i < len(order) - 1:
            await pilot.press("tab")


async def test_no_target_and_long_subject_are_refused(demo_app, tmp_path):
    app = demo_app(start_page="diffusion")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        subject = app.screen.query_one("#objet", Input)
        subject.value = "x" * 76  # max_length stops typing, not a value set in code
        await pilot.press("f5")
        await settle(pilot)
        # Both errors at once, each under its field; the focus on the first (the targets).
        assert "au moins une cible" in text_of(app, "#err-targets")
        assert "75 caractères" in text_of(app, "#err-objet")
        assert app.focused is app.screen.query_one("#cible-eleve")
        await check_targets(pilot, "eleve")
        await pilot.pause()
        assert "76/75" in text_of(app, "#objet-count")
        await pilot.press("f5")
        await settle(pilot)
        assert "75 caractères" in text_of(app, "#err-objet")
        assert text_of(app, "#err-targets") == ""
        assert not isinstance(app.screen, ConfirmModal)
        outbox = Path(app.services.config.smtp.outbox_dir)
        assert not list(outbox.glob("*.eml"))  # noqa: ASYNC240


async def test_subject_counter_is_live(demo_app):
    app = demo_app(start_page="diffusion")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        subject = app.screen.query_one("#objet", Input)
        assert subject.value == "Portail GRIS - vos identifiants de connexion"
        assert text_of(app, "#objet-count").startswith("44/75")
        subject.focus()
        await pilot.press("end", "!")
        assert text_of(app, "#objet-count").startswith("45/75")


async def test_diffusion_then_files_page(demo_app, tmp_path):
    app = demo_app(start_page="diffusion")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await check_targets(pilot, "eleve", "parent", "autre")
        await pilot.press("f5")
        message = str((await modal(pilot)).query_one("#dialog-message").content)
        assert "Élève" in message and "sans adresse" in message
        await pilot.press("y")
        await settle(pilot)
        summary = text_of(app, "#run-summary")
        assert "Diffusion terminée" in summary
        screen = app.screen
        assert screen._file_name.startswith("Identifiants-non-envoyes-")
        outbox = Path(app.services.config.smtp.outbox_dir)
        mails = list(outbox.glob("*.eml"))  # noqa: ASYNC240
        runs = await app.services.state.list_runs(kind="diffusion")
        counts = runs[0].counts
        assert counts["changed"] == counts["mailed"] + counts["in_file"]
        assert len(mails) == counts["mailed"] > 0

        # F7: the file's entry in "Fichiers des identifiants".
        await pilot.press("f7")
        await settle(pilot)
        assert app.screen.PAGE_KEY == "fichiers"
        assert text_of(app, "#files-count") == "1 résultat"
        table = app.screen.query_one("#files", DataTable)
        assert table.has_focus and table.cursor_row == 0

        # Télécharger: a path with ../ is refused under the field (the modal stays), /etc/passwd
        # too, even after "y"; then a real copy (0600).
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query("#export-path")))
        field = app.screen.query_one("#export-path", Input)
        field.value = str(tmp_path / "x" / ".." / "copie.csv")
        await pilot.press("enter")
        await until(pilot, lambda: "« .. »" in text_of(app, "#err-export-path"))
        field.value = "/etc/passwd"
        await pilot.press("enter")
        await until(pilot, lambda: "dossier du système" in text_of(app, "#err-export-path"))
        await pilot.press("y")  # typed into the path: there is no question to say yes to
        assert not isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")
        await settle(pilot)
        assert not (tmp_path / "copie.csv").exists()
        assert not Path("/etc/passwd").read_text(encoding="utf-8").startswith("Nom;")  # noqa: ASYNC240
        await pilot.press("t")
        await until(pilot, lambda: bool(app.screen.query("#export-path")))
        app.screen.query_one("#export-path", Input).value = str(tmp_path / "copie.csv")
        await pilot.press("enter")
        await settle(pilot)
        copy = tmp_path / "copie.csv"
        assert copy.exists() and stat.S_IMODE(copy.stat().st_mode) == 0o600

        # Supprimer, after confirmation.
        await pilot.press("s")
        await modal(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert text_of(app, "#files-count") == "Aucun fichier."
        actions = [a.action for a in await app.services.state.list_audit()]
        assert {"fichier.generation", "fichier.export", "fichier.suppression"} <= set(actions)


async def test_regeneration_form(demo_app):
    app = demo_app(start_page="fichiers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        date = app.screen.query_one("#regen-date", Input)
        date.focus()
        await pilot.press("t", "s")  # typed into the date, not "Télécharger"/"Supprimer"
        assert date.value == "ts" and not app.screen.query("#export-path")
        date.value = ""
        await pilot.press(*"31/02/2026")
        await pilot.press("f5")
        await settle(pilot)
        assert "n'existe pas" in text_of(app, "#err-regen-date")
        assert app.focused is date
        date.value = ""
        await pilot.press("f5")
        message = str((await modal(pilot)).query_one("#dialog-message").content)
        assert "mots de passe vont être remplacés" in message
        await pilot.press("y")
        await settle(pilot)
        assert "régénérés dans Identifiants-regeneres-" in text_of(app, "#regen-error")
        assert text_of(app, "#files-count") == "1 résultat"
        assert isinstance(app.screen.query_one("#files-count"), Label)


async def test_a_diffusion_that_fails_says_so_in_the_run_view_and_a_modal(demo_app, monkeypatch):
    """An unexpected failure after the confirmation (here: the password processes cannot start)
    must not leave the progress bar on screen as if the diffusion were still running."""
    from enttui.jobs import diffusion
    from enttui.ui.widgets.modals import ErrorModal

    async def cannot_start(self, works):
        raise OSError("bad value(s) in fds_to_keep")

    monkeypatch.setattr(diffusion._Diffusion, "_password_setter", cannot_start)
    app = demo_app(start_page="diffusion")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await check_targets(pilot, "eleve")
        await pilot.press("f5")
        await modal(pilot)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ErrorModal) and app.screen.query("#dialog-detail"))
        assert "fds_to_keep" in str(app.screen.query_one("#dialog-detail").content)
        await pilot.press("escape")
        await settle(pilot)
        summary = text_of(app, "#run-summary")
        assert "Diffusion interrompue" in summary and "erreur inattendue" in summary
        assert "fds_to_keep" not in summary  # the technical detail is in the modal, labelled
        assert "interrompue" in text_of(app, "#resume-banner")
        runs = await app.services.state.list_runs(kind="diffusion")
        assert runs[0].status == "interrompu"


# -- an interrupted regeneration: shown, and resumed from the Fichiers screen --------------------


async def test_an_interrupted_regeneration_is_shown_and_resumed_with_f7(demo_app):
    from enttui.jobs import idfiles, regeneration

    app = demo_app(start_page="fichiers")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        services = app.services
        plan = await regeneration.plan_regeneration(services, regeneration.RegenerationRequest(()))
        run_id = await interrupt_a_regeneration(services)
        await pilot.press("f6")
        await settle(pilot)
        assert f"La régénération n° {run_id}" in text_of(app, "#regen-banner")
        assert "interrompue après 50 lignes : F7" in text_of(app, "#regen-banner")
        assert app.screen.query_one("#regen-banner").display
        (entry,) = await idfiles.list_files(services)
        assert entry.rows == 50 and entry.status == "interrompu"
        row = app.screen.query_one("#files", DataTable).get_row_at(0)
        assert str(row[3]) == "50" and str(row[4]) == "interrompu : F7"
        await pilot.press("f7")
        message = str((await modal(pilot)).query_one("#dialog-message").content)
        assert f"n° {run_id}" in message and "même fichier" in message
        await pilot.press("y")
        await until(pilot, lambda: "régénéré" in text_of(app, "#regen-error"))
        await settle(pilot)
        assert not app.screen.query_one("#regen-banner").display
        (entry,) = await idfiles.list_files(services)
        assert entry.rows == len(plan.people) and entry.status == "réussi"
        rows = (Path(services.config.state.files_dir) / entry.name).read_bytes().count(b"\r\n") - 1
        assert rows == len(plan.people)  # one row per account, none twice
        runs = await services.state.list_runs(kind="regeneration")
        assert [r.status for r in runs] == ["réussi", "interrompu"]
        await pilot.press("f7")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmModal)  # nothing left to resume


async def test_a_run_whose_process_is_gone_shows_as_interrompu(demo_app):
    """A diffusion recorded "en cours" while nobody holds the jobs lock is dead, whatever its process."""
    from enttui.ui.screens.alimentation import AlimentationScreen

    app = demo_app(start_page="alimentation")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        run_id = await app.services.state.start_run("diffusion", {"targets": ["eleve"]})
        assert (await app.services.state.get_run(run_id)).status == "en cours"
        assert isinstance(app.screen, AlimentationScreen)
        await pilot.press("r")
        await settle(pilot)
        table = app.screen.query_one("#runs", DataTable)
        cells = " ".join(str(c) for c in table.get_row_at(0))
        assert "interrompu" in cells and "en cours" not in cells
        assert (await app.services.state.get_run(run_id)).status == "interrompu"
