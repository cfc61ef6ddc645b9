"""Référentiel local: the accounts the school manages itself (list, create, edit, disable, delete)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from enttui.domain.french import plural
from enttui.domain.local_account_rows import LOCAL_PROFILES, AccountFields, format_date, validate_fields
from enttui.jobs import local_accounts
from enttui.ui.screens.base import PageScreen
from enttui.ui.widgets.fields import field_error, show_field_errors
from enttui.ui.widgets.footer import KeyFooter
from enttui.ui.widgets.modals import ConfirmModal
from enttui.ui.widgets.prose import Prose
from enttui.ui.widgets.tables import Col, EntTable

FORM_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("sn", "Nom *", "Dupont"),
    ("given_name", "Prénom *", "Éloïse"),
    ("mail", "E-mail", "prenom.nom@exemple.fr"),
    ("end_date", "Date de fin", "jj/mm/aaaa (facultative)"),
    ("birth_date", "Naissance", "jj/mm/aaaa (facultative)"),
    ("description", "Fonction", "Intervenant théâtre…"),
)
# A value that passes every rule: each field is checked alone against these (see field_errors).
NEUTRAL = {"sn": "Dupont", "given_name": "Marie", "mail": "", "end_date": "", "birth_date": "", "description": ""}
COLUMNS = (
    Col("Identifiant", 12),
    Col("Nom", 12),
    Col("Profil", 8, max=16),
    Col("État", 10),
    Col("Fin", 10, extra=True),
    Col("Source", 6, extra=True),
)


def _validate(values: dict[str, str], common: dict[str, Any]) -> tuple[AccountFields | None, list[str]]:
    return validate_fields(
        sn=values["sn"],
        given_name=values["given_name"],
        mail=values["mail"],
        end_date=values["end_date"],
        birth_date=values["birth_date"],
        description=values["description"],
        profile=common["profile"],
        local_source=common["local_source"],
        perimeter=common["perimeter"],
        today=common["today"],
    )


def field_errors(values: dict[str, str], **common: Any) -> dict[str, str]:
    """Every error of the form, under its field: the rules of :func:`validate_fields`, applied to
    each field alone (others neutral) to know whose error it is; what only the whole form shows
    (a login that cannot be derived from the names) goes under the name."""
    _fields, errors = _validate(values, common)
    if not errors:
        return {}
    out: dict[str, str] = {}
    placed: set[str] = set()
    for key, _label, _placeholder in FORM_FIELDS:
        _f, alone = _validate({**NEUTRAL, key: values[key]}, common)
        if alone:
            out[f"f-{key}"] = "; ".join(_sentence(e) for e in alone)
            placed.update(alone)
    rest = [e for e in errors if e not in placed]
    if rest:
        extra = "; ".join(_sentence(e) for e in rest)
        out["f-sn"] = f"{out['f-sn']} ; {extra}" if "f-sn" in out else extra
    return out


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class AccountForm(ModalScreen[AccountFields | None]):
    """Create or edit a local account. F10 saves, escape cancels; reasons shown in French."""

    BINDINGS = [
        Binding("f10", "save", "Enregistrer", id="account.save", tooltip="Valider et enregistrer le compte"),
        Binding("escape", "cancel", "Annuler", id="account.cancel", tooltip="Fermer sans rien enregistrer"),
    ]

    def __init__(self, title: str, account: local_accounts.LocalAccount | None = None) -> None:
        super().__init__(classes="confirm-modal account-form")
        self._title = title
        self._account = account

    def compose(self) -> ComposeResult:
        a = self._account
        values = {
            "sn": a.person.sn if a else "",
            "given_name": a.person.given_name if a else "",
            "mail": a.person.mail if a else "",
            "end_date": format_date(a.end_date) if a else "",
            "birth_date": a.person.birth_date if a else "",
            "description": a.description if a else "",
        }
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(self._title), id="dialog-title", classes="dialog-title")
            with VerticalScroll(id="form-body"):
                for key, label, placeholder in FORM_FIELDS:
                    with Horizontal(classes="form-row"):
                        yield Label(Text(label), classes="form-label")
                        yield Input(value=values[key], placeholder=placeholder, id=f"f-{key}", classes="form-input")
                    yield field_error(f"f-{key}")
                with Horizontal(classes="form-row"):
                    yield Label(Text("Profil"), classes="form-label")
                    yield Select(
                        [(p.label, p.key) for p in LOCAL_PROFILES],
                        value=a.profile if a else "autre",
                        allow_blank=False,
                        id="f-profile",
                    )
                if a is None:
                    yield Prose(
                        "L'identifiant (prenom.nom) est dérivé du nom ; le compte est créé non activé : "
                        "ses identifiants partent avec « Diffusion des identifiants ».",
                        classes="muted",
                    )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Annuler (échap)", id="no", variant="primary")
                yield Button("Enregistrer (F10)", id="yes", variant="success")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#f-sn", Input).focus()

    def _value(self, key: str) -> str:
        return self.query_one(f"#f-{key}", Input).value

    def action_save(self) -> None:
        services = self.app.services  # type: ignore[attr-defined]
        cfg = services.config
        profile = self.query_one("#f-profile", Select).value
        values = {key: self._value(key) for key, _label, _placeholder in FORM_FIELDS}
        common: dict[str, Any] = {
            "profile": str(profile) if profile not in (Select.NULL, None) else "autre",
            "local_source": cfg.ent.local_source,
            "perimeter": cfg.ent.uai,
            "today": services.clock().date(),
        }
        errors = field_errors(values, **common)
        if errors:
            show_field_errors(self, errors, [f"f-{key}" for key, _l, _p in FORM_FIELDS])
            return
        fields, _errors = _validate(values, common)
        if fields is not None:
            self.dismiss(fields)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "yes":
            self.action_save()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReferentielScreen(PageScreen):
    PAGE_KEY = "referentiel"
    HELP = (
        "Les comptes que l'établissement gère lui-même (jointure locale « ENT$… ») et les autres comptes "
        "du profil Autre du périmètre. Les comptes alimentés par l'académie sont en lecture seule : la "
        "raison s'affiche sous la liste.\n"
        "n : créer un compte (identifiant prenom.nom dérivé, suffixe numérique si déjà pris ; créé non "
        "activé, ses identifiants partent avec « Diffusion des identifiants »). m : modifier. "
        "d : désactiver ou réactiver (verrou ppolicy pwdAccountLockedTime). s : supprimer (confirmation).\n"
        "La date de fin est enregistrée dans pwdEndTime : l'annuaire refuse le mot de passe après ce jour."
    )
    BINDINGS = [
        Binding("n", "create", "Créer", id="referentiel.create", tooltip="Créer un compte local"),
        Binding("m", "edit", "Modifier", id="referentiel.edit", tooltip="Modifier le compte sélectionné"),
        Binding(
            "d", "toggle_lock", "Désactiver/Réactiver", id="referentiel.toggle", tooltip="Verrouiller ou déverrouiller"
        ),
        Binding("s,delete", "delete", "Supprimer", id="referentiel.delete", tooltip="Supprimer le compte"),
        Binding("f6", "refresh", "Actualiser", id="referentiel.refresh", tooltip="Relire les comptes"),
    ]

    def __init__(self) -> None:
        super().__init__(name="referentiel")
        self._accounts: list[local_accounts.LocalAccount] = []
        self._want: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Label(Text("Lecture de l'annuaire…"), id="ref-count")
        yield EntTable(COLUMNS, id="ref-table")
        yield Static(Text(""), id="ref-detail")

    def on_mount(self) -> None:
        self.query_one("#ref-table", DataTable).focus()
        self.action_refresh()

    def action_refresh(self) -> None:
        self._load()

    def refresh_data(self) -> None:
        self._load()

    @work(exclusive=True, group="referentiel:load", exit_on_error=False)
    async def _load(self) -> None:
        services = self.ent_app.services
        accounts, capped = await local_accounts.list_local_accounts(services)
        today = services.clock().date()
        table = self.query_one("#ref-table", EntTable)
        current = self._selected_dn()
        table.clear()
        self._accounts = accounts
        for a in accounts:
            p = a.person
            table.add_row(
                Text(p.login),
                Text(p.full_name),
                Text(a.profile_label if a.editable else p.target.label),
                Text(a.status_label(today), style="red" if a.disabled else ""),
                Text(format_date(a.end_date)),
                Text("local" if a.editable else "académie (lecture seule)", style="" if a.editable else "dim"),
                key=a.dn,
            )
        table.refit_later()
        local = sum(1 for a in accounts if a.editable)
        text = f"{plural(local, 'compte local')}, {len(accounts) - local} en lecture seule"
        if capped:
            text += f" — {len(accounts)} affichés sur ≥{len(accounts) + 1}"
        self.query_one("#ref-count", Label).update(Text(text))
        want = self._want or current
        self._want = None
        dns = [a.dn for a in accounts]
        if want in dns:
            table.move_cursor(row=dns.index(want))
        self._show_detail()

    def _selected(self) -> local_accounts.LocalAccount | None:
        table = self.query_one("#ref-table", DataTable)
        if not self._accounts or not 0 <= table.cursor_row < len(self._accounts):
            return None
        return self._accounts[table.cursor_row]

    def _selected_dn(self) -> str | None:
        a = self._selected()
        return a.dn if a else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        a = self._selected()
        detail = self.query_one("#ref-detail", Static)
        if a is None:
            detail.update(Text(""))
        elif not a.editable:
            detail.update(Text(a.reason, style="yellow"))
        else:
            parts = [a.person.jointure, a.person.mail or "pas d'e-mail", a.description]
            detail.update(Text(" · ".join(p for p in parts if p)))

    def _editable(self) -> local_accounts.LocalAccount | None:
        a = self._selected()
        if a is None:
            self.notify("Aucun compte sélectionné.", markup=False)
            return None
        if not a.editable:
            self.notify(a.reason, title="Compte en lecture seule", severity="warning", markup=False)
            return None
        return a

    def action_create(self) -> None:
        self._create()

    def action_edit(self) -> None:
        a = self._editable()
        if a:
            self._edit(a)

    def action_toggle_lock(self) -> None:
        a = self._editable()
        if a:
            self._toggle(a)

    def action_delete(self) -> None:
        a = self._editable()
        if a:
            self._delete(a)

    @work(exclusive=True, group="referentiel:create", exit_on_error=False)
    async def _create(self) -> None:
        fields = await self.app.push_screen_wait(AccountForm("Créer un compte local"))
        if fields is None:
            return
        dn, login = await local_accounts.create_local_account(self.ent_app.services, fields)
        self.ent_app.note_change()
        self.notify(f"Compte {login} créé (non activé).", markup=False)
        self._want = dn
        self.action_refresh()

    @work(exclusive=True, group="referentiel:edit", exit_on_error=False)
    async def _edit(self, account: local_accounts.LocalAccount) -> None:
        fields = await self.app.push_screen_wait(AccountForm(f"Modifier {account.person.login}", account))
        if fields is None:
            return
        notes = await local_accounts.update_local_account(self.ent_app.services, account.dn, fields)
        self.ent_app.note_change()
        self.notify(f"{account.person.login} : " + ("; ".join(notes) if notes else "aucun changement."), markup=False)
        self._want = account.dn
        self.action_refresh()

    @work(exclusive=True, group="referentiel:toggle", exit_on_error=False)
    async def _toggle(self, account: local_accounts.LocalAccount) -> None:
        verb = "Réactiver" if account.disabled else "Désactiver"
        if not await self.app.push_screen_wait(
            ConfirmModal(f"{verb} le compte ?", f"{account.person.login} ({account.person.full_name})")
        ):
            return
        await local_accounts.set_disabled(self.ent_app.services, account.dn, not account.disabled)
        self.ent_app.note_change()
        self.notify(f"{account.person.login} {'réactivé' if account.disabled else 'désactivé'}.", markup=False)
        self._want = account.dn
        self.action_refresh()

    @work(exclusive=True, group="referentiel:delete", exit_on_error=False)
    async def _delete(self, account: local_accounts.LocalAccount) -> None:
        if not await self.app.push_screen_wait(
            ConfirmModal(
                "Supprimer le compte ?",
                f"{account.person.login} ({account.person.full_name})\n{account.dn}\n\n"
                "L'entrée est supprimée de l'annuaire.",
            )
        ):
            return
        await local_accounts.delete_local_account(self.ent_app.services, account.dn)
        self.ent_app.note_change()
        self.notify(f"{account.person.login} supprimé.", markup=False)
        self.action_refresh()
