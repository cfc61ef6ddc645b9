"""Typed settings from a TOML file.

Where the file is found: ``--config``, else ``$ENTTUI_CONFIG``, else
``$XDG_CONFIG_HOME/enttui/config.toml``, else ``/etc/enttui/config.toml``.

Every problem (syntax error, unknown key, wrong type, missing required key, unreadable or
world-readable secret file) raises :class:`~enttui.errors.ConfigError` naming the file and the key.
Secrets may come from ``<name>_file`` (a file, not readable by others), from an environment
variable, or from the file itself; they are wrapped in :class:`Secret`, whose ``repr`` never shows
the value.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enttui.errors import ConfigError, register_secret

TARGET_CODES = ("eleve", "parent", "enseignant", "non-enseignant", "autre")


class Secret:
    """A secret string: ``str()``/``repr()`` never show it; ``.reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class EntConfig:
    portal: str = "Portail ENT"
    portal_url: str = "https://ent.example.fr"
    uai: list[str] = field(default_factory=list)
    # Which source decides a person's profile: "profils" (ENTPersonProfils, then object classes)
    # or "classes" (object classes, then ENTPersonProfils).
    profile_source: str = "profils"
    # Jointure prefix of accounts the school manages itself (Référentiel local).
    local_source: str = "ENT"


@dataclass(frozen=True)
class LdapConfig:
    urls: list[str] = field(default_factory=list)
    bind_dn: str = ""
    bind_password: Secret | None = None
    starttls: bool = False
    ca_file: str = ""
    tls_verify: bool = True
    base_dn: str = ""
    people_dn: str = ""
    groups_dn: str = ""
    structures_dn: str = ""
    page_size: int = 500
    connect_timeout: float = 5.0
    timeout: float = 30.0
    # Who performs the paged reads: "ldap3" (pure Python, always there), "python-ldap" (libldap in C,
    # the extra enttui[fast]; several times faster on big reads), "auto" (python-ldap when installed).
    reader: str = "ldap3"
    # On directories without ppolicy: the attribute and value that mark an account not yet activated.
    inactive_attribute: str = "pwdReset"
    inactive_value: str = "TRUE"


@dataclass(frozen=True)
class MoodleConfig:
    url: str = ""
    password: Secret | None = None
    prefix: str = "mdl_"
    connect_timeout: float = 5.0


@dataclass(frozen=True)
class SyncConfig:
    auth: str = "cas"
    cohort_prefix: str = "2026"
    component: str = "local_ent_installer"
    removal: str = "suspend"
    max_removal_share: float = 0.10
    profiles: list[str] = field(default_factory=lambda: list(TARGET_CODES))
    watermark_margin_minutes: int = 5
    batch_size: int = 500
    trace_max_lines: int = 20000
    user_filter: str = ""
    group_filter: str = ""
    role_base: str = ""
    role_filter: str = "(objectClass=groupOfNames)"
    role_attribute: str = "cn"
    role_regex: str = "^([^:]+):"
    role_mapping: list[str] = field(default_factory=list)
    role_level_attribute: str = "cn"
    role_level_regex: str = "^[^:]+:([^:]+):"
    role_level_mapping: list[str] = field(default_factory=list)
    role_key_attribute: str = "cn"
    role_key_regex: str = "^[^:]+:[^:]+:(.*)$"
    fonction_roles: list[str] = field(default_factory=list)
    # How a login Moodle refuses (accents, spaces, apostrophes) becomes a username: "transliterate"
    # (Zoé.Müller → zoe.muller, see enttui.domain.usernames) or "refuse" (an error line).
    usernames: str = "transliterate"


@dataclass(frozen=True)
class SmtpConfig:
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: Secret | None = None
    sender: str = "ENT <ne-pas-repondre@ent.example.fr>"
    ca_file: str = ""
    tls_verify: bool = True
    timeout: float = 30.0
    # When set (and host is empty), mail is written as .eml files into this folder instead.
    outbox_dir: str = ""


@dataclass(frozen=True)
class DiffusionConfig:
    subject: str = ""
    template_credentials_file: str = ""
    template_parent_file: str = ""
    template_information_file: str = ""
    password_length: int = 12
    max_retries: int = 3
    retry_delay_seconds: float = 2.0
    ldap_workers: int = 4
    smtp_senders: int = 4
    smtp_connections: int = 3
    ldap_processes: int = 2


@dataclass(frozen=True)
class StateConfig:
    url: str = "sqlite:////var/lib/enttui/state.db"
    files_dir: str = "/var/lib/enttui/identifiants"
    runs_retention_days: int = 365
    files_purge_days: int = 0


@dataclass(frozen=True)
class CoherenceConfig:
    # Accounts still not activated this many days after their creation are listed.
    never_activated_days: int = 30


@dataclass(frozen=True)
class MonitoringConfig:
    # Prometheus textfile-collector file every headless run rewrites when it ends ("" = none).
    metrics_file: str = ""


@dataclass(frozen=True)
class UiConfig:
    theme: str = "textual-dark"
    animations: bool = False
    # Binding id → keys ("utilisateurs.profil" = "f4,ctrl+f"): Textual's App.set_keymap.
    keymap: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    path: str = "<défaut>"
    ent: EntConfig = field(default_factory=EntConfig)
    ldap: LdapConfig = field(default_factory=LdapConfig)
    moodle: MoodleConfig = field(default_factory=MoodleConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    state: StateConfig = field(default_factory=StateConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    coherence: CoherenceConfig = field(default_factory=CoherenceConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    demo: bool = False

    @property
    def moodle_enabled(self) -> bool:
        return bool(self.moodle.url)

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp.host or self.smtp.outbox_dir)

    def subject(self) -> str:
        return self.diffusion.subject or f"{self.ent.portal} - vos identifiants de connexion"


SECTIONS: dict[str, type] = {
    "ent": EntConfig,
    "ldap": LdapConfig,
    "moodle": MoodleConfig,
    "sync": SyncConfig,
    "smtp": SmtpConfig,
    "diffusion": DiffusionConfig,
    "state": StateConfig,
    "ui": UiConfig,
    "coherence": CoherenceConfig,
    "monitoring": MonitoringConfig,
}

# secret field -> (environment variable, key of the file variant)
SECRETS: dict[tuple[str, str], tuple[str, str]] = {
    ("ldap", "bind_password"): ("ENTTUI_LDAP_PASSWORD", "bind_password_file"),
    ("moodle", "password"): ("ENTTUI_MOODLE_PASSWORD", "password_file"),
    ("smtp", "password"): ("ENTTUI_SMTP_PASSWORD", "password_file"),
}

REQUIRED: list[tuple[str, str]] = [("ent", "uai"), ("ldap", "urls"), ("ldap", "base_dn")]

CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("ent", "profile_source"): ("profils", "classes"),
    ("sync", "removal"): ("suspend", "keep"),
    ("sync", "usernames"): ("transliterate", "refuse"),
    ("smtp", "security"): ("starttls", "tls", "none"),
    ("ldap", "reader"): ("ldap3", "python-ldap", "auto"),
}

# [ldap] reader = "python-ldap" without the module: what to do (the directory service says it too).
PYTHON_LDAP_MISSING = (
    "« python-ldap » est demandé mais le module python-ldap n'est pas installé : installez l'extra "
    "enttui[fast] (apt-get install libldap-dev libsasl2-dev gcc python3-dev, puis "
    "pipx install --force 'enttui[fast]'), ou mettez reader = \"ldap3\""
)


def python_ldap_installed() -> bool:
    """Can python-ldap be imported (looked up, not imported: importing it costs ~60 ms)?"""
    import importlib.util

    try:
        return importlib.util.find_spec("ldap") is not None
    except (ImportError, ValueError):
        return False


_TYPE_NAMES = {str: "une chaîne", int: "un entier", float: "un nombre", bool: "un booléen (true/false)"}


def find_config_path(explicit: str | None = None, env: typing.Mapping[str, str] | None = None) -> Path:
    """The configuration file to read, as DESIGN.md says."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("ENTTUI_CONFIG"):
        return Path(env["ENTTUI_CONFIG"])
    xdg = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    candidate = Path(xdg) / "enttui" / "config.toml"
    if candidate.exists():
        return candidate
    return Path("/etc/enttui/config.toml")


def load_config(path: str | Path | None = None, env: typing.Mapping[str, str] | None = None) -> Config:
    """Read and validate the configuration file (see module doc)."""
    env = os.environ if env is None else env
    cfg_path = find_config_path(str(path) if path else None, env)
    name = str(cfg_path)
    try:
        raw_bytes = cfg_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(name, None, "fichier introuvable (indiquez-le avec --config ou $ENTTUI_CONFIG)") from None
    except OSError as exc:
        raise ConfigError(name, None, f"lecture impossible ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(name, None, "le fichier n'est pas en UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, None, f"erreur de syntaxe TOML ({exc})") from None
    return config_from_dict(data, name, env, base_dir=cfg_path.parent)


def config_from_dict(
    data: dict[str, Any],
    name: str = "<configuration>",
    env: typing.Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Validate a parsed TOML document into a :class:`Config`."""
    env = os.environ if env is None else env
    base_dir = base_dir or Path.cwd()
    sections: dict[str, Any] = {}
    for section in data:
        if section not in SECTIONS:
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ConfigError(name, f"[{section}]", f"section inconnue (sections possibles : {known})")
        if not isinstance(data[section], dict):
            raise ConfigError(name, f"[{section}]", "une section est attendue")
    for section, cls in SECTIONS.items():
        values = dict(data.get(section, {}))
        sections[section] = _build_section(name, section, cls, values, env, base_dir)
    for section, key in REQUIRED:
        if not getattr(sections[section], key):
            raise ConfigError(name, f"[{section}] {key}", "clé obligatoire manquante ou vide")
    cfg = Config(path=name, **sections)
    _check_semantics(cfg)
    return cfg


def _build_section(
    name: str, section: str, cls: type, values: dict[str, Any], env: typing.Mapping[str, str], base_dir: Path
) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    secret_keys = {fld: spec for (sec, fld), spec in SECRETS.items() if sec == section}
    file_keys = {spec[1]: fld for fld, spec in secret_keys.items()}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        full = f"[{section}] {key}"
        if key in file_keys:
            kwargs[file_keys[key]] = _read_secret_file(name, full, value, base_dir)
            continue
        if key not in fields:
            raise ConfigError(
                name, full, f"clé inconnue (clés possibles : {', '.join(sorted(fields | set(file_keys)))})"
            )
        if key in secret_keys:
            if key in kwargs:
                raise ConfigError(name, full, f"donnée deux fois (avec {secret_keys[key][1]})")
            if not isinstance(value, str):
                raise ConfigError(name, full, "une chaîne est attendue")
            kwargs[key] = Secret(value)
            continue
        kwargs[key] = _coerce(name, full, hints[key], value)
        choices = CHOICES.get((section, key))
        if choices and kwargs[key] not in choices:
            raise ConfigError(
                name, full, f"valeur « {kwargs[key]} » refusée (valeurs possibles : {', '.join(choices)})"
            )
    for fld, (env_name, _file_key) in secret_keys.items():
        if fld not in kwargs and env.get(env_name):
            kwargs[fld] = Secret(env[env_name])
    return cls(**kwargs)


def _coerce(name: str, key: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(name, key, args[0], value)
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(name, key, f"une liste est attendue (reçu {_show(value)})")
        return [_coerce(name, f"{key}[{i}]", item, v) for i, v in enumerate(value)]
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(name, key, f"une table est attendue (reçu {_show(value)})")
        return {
            _coerce(name, f"{key} (clé)", key_type, k): _coerce(name, f"{key}.{k}", value_type, v)
            for k, v in value.items()
        }
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in _TYPE_NAMES:
        if type(value) is not hint:
            raise ConfigError(name, key, f"{_TYPE_NAMES[hint]} est attendu (reçu {_show(value)})")
        return value
    raise ConfigError(name, key, "type non géré")  # pragma: no cover - programming error


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _read_secret_file(name: str, key: str, value: Any, base_dir: Path) -> Secret:
    if not isinstance(value, str) or not value:
        raise ConfigError(name, key, "un chemin de fichier est attendu")
    path = Path(value)
    if not path.is_absolute():
        path = base_dir / path
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(name, key, f"fichier secret introuvable : {path}") from None
    except OSError as exc:
        raise ConfigError(name, key, f"fichier secret illisible : {path} ({exc.strerror})") from None
    if st.st_mode & stat.S_IROTH:
        raise ConfigError(name, key, f"le fichier secret {path} est lisible par tous : faites « chmod 600 {path} »")
    try:
        secret = path.read_text(encoding="utf-8").strip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "pas en UTF-8"
        raise ConfigError(name, key, f"fichier secret illisible : {path} ({reason})") from None
    if not secret:
        raise ConfigError(name, key, f"le fichier secret {path} est vide")
    return Secret(secret)


def _check_semantics(cfg: Config) -> None:
    import re

    name = cfg.path
    for i, uai in enumerate(cfg.ent.uai):
        if not re.fullmatch(r"\d{7}[A-Z]", uai):
            raise ConfigError(
                name, f"[ent] uai[{i}]", f"« {uai} » n'est pas un UAI (7 chiffres et une lettre majuscule)"
            )
    for i, url in enumerate(cfg.ldap.urls):
        if not re.match(r"^ldaps?://", url):
            raise ConfigError(name, f"[ldap] urls[{i}]", f"« {url} » : une URL ldap:// ou ldaps:// est attendue")
    if not 1 <= cfg.ldap.page_size <= 10000:
        raise ConfigError(name, "[ldap] page_size", "un entier entre 1 et 10000 est attendu")
    if cfg.ldap.reader == "python-ldap" and not python_ldap_installed():
        raise ConfigError(name, "[ldap] reader", PYTHON_LDAP_MISSING)
    if not 0.0 <= cfg.sync.max_removal_share <= 1.0:
        raise ConfigError(name, "[sync] max_removal_share", "une part entre 0 et 1 est attendue (0.10 = 10 %)")
    for i, prof in enumerate(cfg.sync.profiles):
        if prof not in TARGET_CODES:
            raise ConfigError(
                name, f"[sync] profiles[{i}]", f"« {prof} » inconnu (valeurs : {', '.join(TARGET_CODES)})"
            )
    if cfg.ldap.ca_file and not Path(cfg.ldap.ca_file).is_file():
        raise ConfigError(name, "[ldap] ca_file", f"fichier introuvable : {cfg.ldap.ca_file}")
    if cfg.smtp.ca_file and not Path(cfg.smtp.ca_file).is_file():
        raise ConfigError(name, "[smtp] ca_file", f"fichier introuvable : {cfg.smtp.ca_file}")
    if cfg.moodle.url and "://" not in cfg.moodle.url:
        raise ConfigError(
            name, "[moodle] url", "une URL SQLAlchemy est attendue (mysql+pymysql://…, postgresql+psycopg://…)"
        )
    if cfg.diffusion.password_length < 12:
        raise ConfigError(name, "[diffusion] password_length", "12 caractères au minimum (CNIL)")
    for key in ("template_credentials_file", "template_parent_file", "template_information_file"):
        value = getattr(cfg.diffusion, key)
        if value and not Path(value).is_file():
            raise ConfigError(name, f"[diffusion] {key}", f"fichier introuvable : {value}")


def default_demo_root() -> Path:
    """Where the demo world keeps its files: ``$XDG_STATE_HOME/enttui/demo`` (``~/.local/state/…``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "enttui" / "demo"


def demo_config(root: Path) -> Config:
    """The configuration of ``enttui --demo``: everything embedded, everything below ``root``."""
    return Config(
        path="<démo>",
        ent=EntConfig(portal="Portail GRIS", portal_url="https://ent.demo.example", uai=["0123456A"]),
        ldap=LdapConfig(
            urls=["mock://demo"],
            base_dn="dc=ent,dc=demo",
            people_dn="ou=people,dc=ent,dc=demo",
            groups_dn="ou=groups,dc=ent,dc=demo",
            structures_dn="ou=structures,dc=ent,dc=demo",
        ),
        moodle=MoodleConfig(url=f"sqlite:///{root / 'moodle.db'}"),
        smtp=SmtpConfig(outbox_dir=str(root / "outbox")),
        state=StateConfig(url=f"sqlite:///{root / 'state.db'}", files_dir=str(root / "identifiants")),
        demo=True,
    )
