"""The detail of one person (pushed over a list): identity, relations, state, Moodle account.

Every value comes from the directory or Moodle and is shown as plain text (``Text``), never as
markup. Digits 1–9 open a parent or a child; escape goes back to where the person was opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from enttui.services.annuaire import Annuaire, PersonDetails
from enttui.ui.screens.base import DetailScreen

MAX_RELATIVES = 9


def format_moment(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%d/%m/%Y à %H:%M")


def format_unix(seconds: int | None) -> str:
    if not seconds:
        return "jamais"
    return format_moment(datetime.fromtimestamp(int(seconds), UTC))


def _join(values: Iterable[str]) -> str:
    return ", ".join(v for v in values if v) or "—"


def render_details(details: PersonDetails) -> Text:
    """The whole detail as one plain Text (tests and snapshots read it)."""
    p = details.person
    out = Text()

    def section(title: str) -> None:
        if out:
            out.append("\n")
        out.append(title + "\n", style="bold")

    def line(label: str, value: str, style: str = "") -> None:
        out.append(f"  {label:<17}: ", style="dim")
        out.append(value or "—", style=style)
        out.append("\n")

    section("Identité")
    line("Nom", p.sn)
    line("Prénom", p.given_name)
    if p.display_name:
        line("Nom affiché", p.display_name)
    line("Identifiant", p.login)
    line("Profil", f"{p.target.label} ({_join(p.profils)})" if p.profils else p.target.label)
    if p.birth_date:
        line("Naissance", p.birth_date)
    line("Jointure", _join(p.jointures))
    section("Établissement")
    line("Structure", _join(details.structures))
    if p.classes:
        line("Classes" if len(p.classes) > 1 else "Classe", _join(p.classes))
    if p.groups:
        line("Groupes" if len(p.groups) > 1 else "Groupe", _join(p.groups))
    if p.teacher_classes:
        line("Enseigne en", _join(p.teacher_classes))
    if p.teacher_groups:
        line("Groupes enseignés", _join(p.teacher_groups))
    if p.service:
        line("Service", p.service)
    for fonction in p.fonctions:
        parts = fonction.split("$")
        line("Fonction", " — ".join(x for x in parts[2:3] + parts[4:5] if x) or fonction)
    section("Compte")
    line("E-mail", p.mail or "aucune adresse")
    line(
        "État",
        f"{p.state_label} ({p.password_state})",
        "green" if p.activated else "yellow",
    )
    line("Créé le", format_moment(p.created))
    line("Modifié le", format_moment(p.modified))
    relatives = details.relatives
    if relatives or details.missing:
        section("Parents et enfants (touches 1 à 9)")
        for n, (label, r) in enumerate(relatives[:MAX_RELATIVES], start=1):
            extra = f" — {_join(r.classes)}" if r.classes else ""
            out.append(f"  [{n}] ", style="bold")
            out.append(f"{label} : {r.full_name} ({r.login}){extra}\n")
        for dn in details.missing:
            out.append(f"  lien vers une entrée absente : {dn}\n", style="red")
    section("Moodle")
    m = details.moodle
    if m is None:
        line("Compte", details.moodle_status)
    else:
        line("Utilisateur", str(m.get("username", "")))
        line("Authentification", str(m.get("auth", "")))
        suspended = "oui" if m.get("suspended") else "non"
        line("Suspendu", suspended + (" (supprimé)" if m.get("deleted") else ""))
        line("Dernier accès", format_unix(m.get("lastaccess")))
        line("Cohortes", _join(m.get("cohorts") or []))
    section("Annuaire")
    line("DN", p.dn)
    return out


class PersonScreen(DetailScreen):
    """The detail of a person, pushed by :meth:`EntApp.open_person` (its breadcrumb continues the
    screen it was opened from: "Annuaire > Groupes > 3A > Louise Joly")."""

    HELP = (
        "La fiche d'une personne de l'annuaire : identité, établissement, classes, parents et enfants, "
        "état du compte (activé quand il a un mot de passe et que pwdReset n'est plus posé), dates, et le "
        "compte Moodle associé.\n"
        "1 à 9 ouvre le parent ou l'enfant numéroté ; g liste les membres de sa classe ; échap revient à "
        "l'écran d'où la fiche a été ouverte, recherche et curseur gardés."
    )
    BINDINGS = [
        Binding(
            "1",
            "relative(1)",
            "Parent/enfant",
            id="person.relative",
            tooltip="Ouvrir le parent ou l'enfant n°1 à 9",
            key_display="1-9",
        ),
        *(Binding(str(n), f"relative({n})", show=False) for n in range(2, MAX_RELATIVES + 1)),
        Binding("g", "class_members", "Sa classe", id="person.class", tooltip="Les membres de sa classe"),
        Binding("r", "reload", "Actualiser", id="person.reload", tooltip="Relire la fiche dans l'annuaire"),
    ]

    def __init__(self, dn: str, trail: tuple[str, ...] = ("Annuaire", "Utilisateurs")) -> None:
        super().__init__(trail, classes="person-screen")
        self.dn = dn
        self.details: PersonDetails | None = None

    def crumb(self) -> str:
        return self.details.person.full_name if self.details else "Fiche"

    def compose_body(self) -> ComposeResult:
        yield Label(Text("Fiche de la personne"), id="person-title", classes="page-title")
        with VerticalScroll(id="person-scroll"):
            yield Static(Text("Lecture de l'annuaire…"), id="person-body")

    def on_mount(self) -> None:
        self.query_one("#person-scroll").focus()
        self._load()

    def refresh_data(self) -> None:
        self._load()

    @work(exclusive=True, group="person:load", exit_on_error=False)
    async def _load(self) -> None:
        annuaire = Annuaire.from_services(self.ent_app.services)
        details = await annuaire.person_details(self.dn)
        body = self.query_one("#person-body", Static)
        if details is None:
            body.update(Text(f"Cette personne n'existe plus dans l'annuaire :\n{self.dn}"))
            return
        self.details = details
        self.query_one("#person-title", Label).update(
            Text(f"{details.person.full_name} — {details.person.target.label}")
        )
        self.update_trail()
        body.update(render_details(details))

    def worker_failed(self, group: str, error: BaseException) -> bool | None:
        if group == "person:load":
            self.query_one("#person-body", Static).update(Text("Fiche illisible (voir le message) : r pour réessayer."))
        return None

    def action_reload(self) -> None:
        self._load()

    def action_relative(self, n: int) -> None:
        if self.details is None:
            return
        relatives = self.details.relatives
        if not 1 <= n <= min(len(relatives), MAX_RELATIVES):
            self.notify(f"Pas de parent ou d'enfant n°{n}.", timeout=2, markup=False)
            return
        self.ent_app.open_person(relatives[n - 1][1].dn)

    def action_class_members(self) -> None:
        if self.details is None:
            return
        p = self.details.person
        names = list(p.classes) or list(p.teacher_classes)
        if not names:
            self.notify("Cette personne n'est dans aucune classe.", timeout=3, markup=False)
            return
        self._open_class(names[0])

    @work(exclusive=True, group="person:class", exit_on_error=False)
    async def _open_class(self, name: str) -> None:
        from enttui.ui.screens.groupes import GroupMembersScreen

        groups = await Annuaire.from_services(self.ent_app.services).group_list()
        found = [g for g in groups if g.kind == "classe" and g.name == name]
        if not found:
            self.notify(f"La classe {name} n'a pas d'entrée dans l'annuaire.", severity="warning", markup=False)
            return
        self.app.push_screen(GroupMembersScreen(found[0], self.trail()))
