"""Diffusion des identifiants ENT aux utilisateurs (the form of the seed, then the run)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, ProgressBar, Static, TextArea
from textual.worker import Worker

from enttui.domain.french import plural
from enttui.domain.mail import SUBJECT_MAX, validate_subject
from enttui.domain.people import Target
from enttui.domain.runs import RunStatus
from enttui.errors import EnttuiError, ValidationError, describe
from enttui.jobs import diffusion
from enttui.jobs.events import Event, Phase, Progress, Trace
from enttui.jobs.journal import resent_text
from enttui.ui.quitting import wait_worker
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.fields import Case, clear_field_errors, field_error, show_field_errors
from enttui.ui.widgets.modals import ConfirmModal
from enttui.ui.widgets.prose import Prose

INTRO = (
    "Cet écran permet d'envoyer un message électronique aux utilisateurs de l'ENT, sur leur adresse "
    "de messagerie électronique définie dans le profil."
)
NOTE = (
    "Seuls les identifiants et mots de passe pour les comptes « Élèves », « Parents » et « Autres » sont "
    "générés dans l'ENT. Les utilisateurs « Enseignant » et « Non enseignants » sont des profils "
    "professionnels, leurs codes académiques sont diffusés par le Rectorat : ils reçoivent un message "
    "d'information, sans mot de passe."
)
MESSAGE_HELP = (
    "Vous pouvez personnaliser le message envoyé en modifiant l'objet ou en complétant le message dans "
    "la zone de texte libre."
)
NB = (
    "NB : un fichier des identifiants non envoyés est généré par l'action « Diffuser les identifiants ». "
    "Il se trouve dans Annuaire > Administration > Fichiers des identifiants."
)


class DiffusionScreen(PageScreen):
    PAGE_KEY = "diffusion"
    HELP = (
        "Cochez les cibles, vérifiez l'objet (75 caractères au plus), complétez éventuellement le message, "
        "puis F5 « Diffuser les identifiants ». Une confirmation donne les nombres par cible avant tout "
        "changement.\n"
        "Élèves, Parents et Autres non encore activés reçoivent un nouveau mot de passe provisoire (à changer "
        "à la première connexion) ; les comptes sans adresse vont dans le fichier des identifiants non envoyés. "
        "Enseignants et Non enseignants reçoivent un message d'information, sans changement de mot de passe.\n"
        "Une diffusion interrompue se reprend avec F6 : personne ne reçoit un second mot de passe (un message "
        "en cours d'envoi lors de l'arrêt peut être reçu deux fois, avec le même mot de passe, et il est compté).\n"
        "En ligne de commande : enttui diffuse --targets eleve,parent,autre [--yes]."
    )
    BINDINGS = [
        Binding("f5", "diffuse", "Diffuser les identifiants", id="diffusion.run", tooltip="Vérifier puis diffuser"),
        Binding("f6", "resume", "Reprendre", id="diffusion.resume", tooltip="Reprendre la diffusion interrompue"),
        Binding("f7", "open_file", "Voir le fichier", id="diffusion.file", tooltip="Ouvrir le fichier des non-envoyés"),
        Binding("f4", "show_form", "Formulaire", id="diffusion.form", tooltip="Revenir au formulaire"),
    ]

    def __init__(self) -> None:
        super().__init__(name="diffusion")
        self._resumable: int | None = None
        self._file_name = ""
        self._busy = False
        self._worker: Worker | None = None

    # -- layout ------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        subject = self.ent_app.services.config.subject()
        with VerticalScroll(id="diffusion-form"):
            yield Static(Text(""), id="resume-banner", classes="banner")
            yield Static(Text("Diffusion des identifiants ENT aux utilisateurs", style="bold"), classes="heading")
            yield Prose(INTRO, classes="intro")
            yield Prose(NOTE, classes="muted note")
            yield Label(Text("Cible *", style="bold"), classes="field-label")
            with Vertical(id="targets"):
                for target in Target:
                    yield Case(target.label, id=f"cible-{target.value}")
            yield field_error("targets")
            yield Case("Inclure les comptes déjà activés", id="include-activated")
            yield Label(Text("Message", style="bold"), classes="field-label")
            yield Prose(MESSAGE_HELP, classes="muted")
            yield Label(Text("Objet *", style="bold"), classes="field-label")
            yield Input(value=subject, max_length=SUBJECT_MAX, id="objet")
            yield field_error("objet")
            yield Label(Text(self._counter_text(subject)), id="objet-count", classes="muted")
            yield Label(Text("Texte libre ajouté au message"), classes="field-label")
            yield TextArea(id="texte-libre", soft_wrap=True, show_line_numbers=False)
            yield Static(Text("* champs obligatoires"), classes="muted")
            yield Static(Text(""), id="form-error", classes="error")
            yield Prose(NB, classes="muted note")
        with Horizontal(id="diffusion-buttons", classes="form-buttons"):
            yield Button("Diffuser les identifiants (F5)", id="diffuser", variant="primary", compact=True)
        with Vertical(id="diffusion-run", classes="hidden"):
            yield Static(Text(""), id="run-phase")
            yield ProgressBar(id="run-progress", show_eta=False)
            yield Static(Text(""), id="run-summary")

    def on_mount(self) -> None:
        self.query_one("#cible-eleve", Case).focus()
        self._check_resumable()

    @staticmethod
    def _counter_text(value: str) -> str:
        return f"{len(value)}/{SUBJECT_MAX} — {SUBJECT_MAX} caractères maximum"

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "objet":
            self.query_one("#objet-count", Label).update(Text(self._counter_text(event.value)))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "diffuser":
            event.stop()
            self.action_diffuse()

    # -- form --------------------------------------------------------------------------------
    def _targets(self) -> list[Target]:
        return [t for t in Target if self.query_one(f"#cible-{t.value}", Case).value]

    def _field_errors(self) -> dict[str, str]:
        """Every error of the form at once (the rules of the job and of the mail)."""
        errors: dict[str, str] = {}
        if not self._targets():
            errors["targets"] = "Cochez au moins une cible."
        try:
            validate_subject(self.query_one("#objet", Input).value)
        except ValidationError as exc:
            errors["objet"] = exc.message
        return errors

    def _request(self) -> diffusion.DiffusionRequest:
        return diffusion.validate_request(
            self._targets(),
            self.query_one("#objet", Input).value,
            self.query_one("#texte-libre", TextArea).text,
            include_activated=self.query_one("#include-activated", Case).value,
        )

    def _show_error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(Text(message, style="bold red"))

    def action_diffuse(self) -> None:
        if self._busy:
            self.notify("Une diffusion est déjà en cours.", severity="warning", markup=False)
            return
        errors = self._field_errors()
        if errors:
            show_field_errors(self, errors, ["targets", "objet"])
            if "targets" in errors:
                self.query_one("#cible-eleve", Case).focus()
            return
        clear_field_errors(self)
        try:
            request = self._request()
        except ValidationError as exc:
            self._show_error(exc.message)
            self.ent_app.report_error(exc)
            return
        self._show_error("")
        self._worker = self._diffuse(request)

    def action_resume(self) -> None:
        if self._busy:
            return
        if self._resumable is None:
            self.notify("Aucune diffusion interrompue à reprendre.", markup=False)
            return
        self._worker = self._resume(self._resumable)

    def action_open_file(self) -> None:
        if not self._file_name:
            self.notify("Pas de fichier des identifiants pour cette diffusion.", markup=False)
            return
        name = self._file_name
        self.ent_app.go("fichiers")
        screen = self.app.get_screen("fichiers")
        focus = getattr(screen, "focus_file", None)
        if focus is not None:
            focus(name)

    # -- workers -----------------------------------------------------------------------------
    @work(exclusive=True, group="diffusion:resumable", exit_on_error=False)
    async def _check_resumable(self) -> None:
        run = await diffusion.resumable_diffusion(self.ent_app.services)
        banner = self.query_one("#resume-banner", Static)
        self._resumable = run.id if run else None
        if run is None:
            banner.update(Text(""))
            banner.display = False
            return
        when = run.started_at.astimezone().strftime("%d/%m/%Y à %H:%M")
        banner.update(Text(f"La diffusion n° {run.id} du {when} a été interrompue : F6 pour la reprendre."))
        banner.display = True

    @work(exclusive=True, group="diffusion:run", exit_on_error=False)
    async def _diffuse(self, request: diffusion.DiffusionRequest) -> None:
        services = self.ent_app.services
        self._begin("Lecture de l'annuaire…")
        try:
            plan = await diffusion.plan_diffusion(services, request)
            self._end_prepare()
            if not await self.app.push_screen_wait(
                ConfirmModal("Diffuser les identifiants ?", plan.confirmation_text(), yes_label="Diffuser (y)")
            ):
                self.notify("Diffusion annulée : rien n'a été fait.", markup=False)
                return
            if request.include_activated and not await self.app.push_screen_wait(
                ConfirmModal(
                    "Comptes déjà activés",
                    "Les comptes DÉJÀ ACTIVÉS vont recevoir un nouveau mot de passe : leurs utilisateurs "
                    "ne pourront plus se connecter avec l'ancien. Confirmer ?",
                )
            ):
                self.notify("Diffusion annulée : rien n'a été fait.", markup=False)
                return
            # The run view appears with the first progress (the run is recorded): a refusal before
            # (the lock, the relay's check) is said on the form, where nothing has changed.
            result = await diffusion.run_diffusion(services, request, self._on_event, plan=plan)
            self._show_result(result)
        finally:
            self._busy = False
            self._end_prepare()

    @work(exclusive=True, group="diffusion:run", exit_on_error=False)
    async def _resume(self, run_id: int) -> None:
        self._busy = True
        try:
            if not await self.app.push_screen_wait(
                ConfirmModal(
                    "Reprendre la diffusion ?",
                    f"La diffusion n° {run_id} sera terminée : les personnes déjà servies ne recevront rien ; "
                    "celles dont le mot de passe a été changé sans message le reçoivent (le même mot de passe).",
                    yes_label="Reprendre (y)",
                )
            ):
                return
            result = await diffusion.resume_diffusion(self.ent_app.services, run_id, self._on_event)
            self._show_result(result)
        finally:
            self._busy = False

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        """The run view says why a run stopped (it would otherwise stay on its progress bar); the
        error itself takes the app's route (a modal for a mass operation that stopped)."""
        shown = not self.query_one("#diffusion-run").has_class("hidden")
        if isinstance(error, ValidationError) or not shown:
            self._show_error(describe(error))  # before the run was recorded: nothing changed
        if group == "diffusion:run" and not isinstance(error, ValidationError) and shown:
            text = Text()
            text.append("Diffusion interrompue : F6 pour la reprendre.\n", style="bold")
            text.append(describe(error) if isinstance(error, EnttuiError) else "erreur inattendue", style="red")
            text.append("\nF4 : revenir au formulaire\n", style="dim")
            self.query_one("#run-summary", Static).update(text)
            self.query_one("#run-phase", Static).update(Text("Bilan de la diffusion", style="bold"))
        if group == "diffusion:run":
            self._check_resumable()
            return not isinstance(error, ValidationError)
        return isinstance(error, EnttuiError) and bool(error.detail)

    # -- quitting while it runs (ui/quitting.py) --------------------------------------------
    def running_job(self) -> str | None:
        worker = self._worker
        return "la diffusion des identifiants" if self._busy and worker and not worker.is_finished else None

    async def stop_job(self) -> None:
        if self._worker is not None:
            self._worker.cancel()  # the job records the run "interrompu" (F6 resumes it)
        await wait_worker(self._worker)

    # -- run display -------------------------------------------------------------------------
    def _begin(self, text: str) -> None:
        self._busy = True
        self.query_one("#form-error", Static).update(Text(text, style="italic"))

    def _end_prepare(self) -> None:
        error = self.query_one("#form-error", Static)
        if str(error.content).endswith("…"):
            error.update(Text(""))

    def action_show_form(self) -> None:
        if self._busy:
            return
        self.query_one("#diffusion-run").add_class("hidden")
        self.query_one("#diffusion-form").remove_class("hidden")
        self.query_one("#diffusion-buttons").remove_class("hidden")
        self.query_one("#cible-eleve", Case).focus()

    def _show_run(self) -> None:
        self.query_one("#diffusion-form").add_class("hidden")
        self.query_one("#diffusion-buttons").add_class("hidden")
        self.query_one("#diffusion-run").remove_class("hidden")
        self.query_one("#run-summary", Static).update(Text(""))
        self.query_one("#run-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#run-progress", ProgressBar).focus()

    def _on_event(self, event: Event) -> None:
        running = not self.query_one("#diffusion-run").has_class("hidden")
        if isinstance(event, Phase):
            self.query_one("#run-phase", Static).update(Text(event.label, style="bold"))
            if not running:
                self.query_one("#form-error", Static).update(Text(event.label + "…", style="italic"))
        elif isinstance(event, Progress):
            if not running:
                phase = str(self.query_one("#run-phase", Static).content)
                self._show_run()
                self.query_one("#run-phase", Static).update(Text(phase, style="bold"))
            self.show_progress(event.done, event.total)
        elif isinstance(event, Trace) and event.level == "error":
            self.notify(event.text, severity="error", markup=False, timeout=6)

    def show_progress(self, done: int, total: int | None) -> None:
        self.query_one("#run-progress", ProgressBar).update(total=total or None, progress=done)

    def _show_result(self, result: diffusion.DiffusionResult) -> None:
        self._file_name = result.file_name
        text = Text()
        title = {
            RunStatus.SUCCESS: "Diffusion terminée.",
            RunStatus.WITH_ERRORS: f"Diffusion terminée avec {plural(result.errors, 'erreur')} : "
            "Rapports d'alimentation pour le détail.",
        }.get(result.status, "Diffusion interrompue : F6 pour la reprendre.")
        text.append(title + "\n", style="bold")
        text.append(f"Envoyés : {result.mailed}\n")
        text.append(f"Messages d'information : {result.information}\n")
        text.append(f"Dans le fichier : {result.in_file}\n")
        text.append(f"Erreurs : {result.errors}\n")
        text.append(
            f"Mots de passe changés : {result.changed} = {result.mailed} envoyés + {result.in_file} dans le fichier"
            + (f" + {result.pending} à reprendre" if result.pending else "")
            + "\n"
        )
        if result.resent:
            text.append(resent_text(result.resent) + "\n", style="yellow")
        if result.file_name:
            text.append(f"Fichier : {result.file_name} (F7 pour l'ouvrir)\n")
        text.append("F4 : revenir au formulaire\n", style="dim")
        if result.message:
            text.append(result.message + "\n", style="red")
        self.query_one("#run-summary", Static).update(text)
        self.query_one("#run-phase", Static).update(Text("Bilan de la diffusion", style="bold"))
        self._check_resumable()
        self.ent_app.note_change()
