"""Configuration: every kind of broken file gives one French message naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from enttui.cli import main
from enttui.config import Secret, find_config_path, load_config
from enttui.errors import ConfigError, redact

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
[ent]
uai = ["0123456A"]
[ldap]
urls = ["ldap://127.0.0.1:3890"]
base_dn = "dc=ent,dc=test"
"""


def write(tmp_path: Path, text: str, name: str = "enttui.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return info.value


def test_minimal_file_gives_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), env={})
    assert cfg.ent.uai == ["0123456A"]
    assert cfg.ldap.page_size == 500
    assert cfg.ldap.tls_verify is True
    assert cfg.sync.auth == "cas"
    assert cfg.subject() == "Portail ENT - vos identifiants de connexion"
    assert not cfg.moodle_enabled


def test_example_file_is_valid_and_documents_every_key(tmp_path):
    text = (REPO / "examples" / "enttui.toml").read_text(encoding="utf-8")
    # The example points at secret files that do not exist here: give them.
    for name in ("ldap.secret", "moodle.secret", "smtp.secret"):
        secret = tmp_path / name
        secret.write_text("s3cret-" + name, encoding="utf-8")
        secret.chmod(0o600)
        text = text.replace(f"/etc/enttui/{name}", str(secret))
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.ldap.bind_password == Secret("s3cret-ldap.secret")
    import dataclasses

    from enttui.config import SECRETS, SECTIONS

    for section, cls in SECTIONS.items():
        for fld in dataclasses.fields(cls):
            key = SECRETS.get((section, fld.name), (None, fld.name))[1]
            assert f"\n{key} =" in text, f"[{section}] {key} is not documented in examples/enttui.toml"


def test_syntax_error_names_the_file(tmp_path):
    path = write(tmp_path, MINIMAL + "\n[ldap\n")
    err = error_of(path)
    assert str(path) in err.message
    assert "syntaxe TOML" in err.message
    assert err.exit_code == 2


def test_unknown_key_is_named(tmp_path):
    err = error_of(write(tmp_path, MINIMAL + "pagesize = 3\n"))
    assert "[ldap] pagesize" in err.message
    assert "clé inconnue" in err.message


def test_unknown_section_is_named(tmp_path):
    err = error_of(write(tmp_path, MINIMAL + "[smpt]\nhost = 'x'\n"))
    assert "[smpt]" in err.message


def test_wrong_type_is_named(tmp_path):
    err = error_of(write(tmp_path, MINIMAL + "page_size = 'cinq cents'\n"))
    assert "[ldap] page_size" in err.message
    assert "entier" in err.message


def test_ui_keymap(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + '[ui]\nkeymap = { "page.menu" = "f2,ctrl+o" }\n'), env={})
    assert cfg.ui.keymap == {"page.menu": "f2,ctrl+o"}
    assert load_config(write(tmp_path, MINIMAL), env={}).ui.keymap == {}
    err = error_of(write(tmp_path, MINIMAL + '[ui]\nkeymap = { "page.menu" = 2 }\n'))
    assert "[ui] keymap.page.menu" in err.message and "chaîne" in err.message
    err = error_of(write(tmp_path, MINIMAL + '[ui]\nkeymap = "f2"\n'))
    assert "[ui] keymap" in err.message and "table" in err.message


def test_wrong_choice_is_named(tmp_path):
    err = error_of(write(tmp_path, MINIMAL + "[smtp]\nsecurity = 'ssl'\n"))
    assert "[smtp] security" in err.message
    assert "starttls" in err.message


def test_missing_required_key_is_named(tmp_path):
    err = error_of(write(tmp_path, "[ldap]\nurls = ['ldap://x']\nbase_dn = 'dc=x'\n"))
    assert "[ent] uai" in err.message
    assert "obligatoire" in err.message


def test_bad_uai_is_named(tmp_path):
    err = error_of(write(tmp_path, MINIMAL.replace("0123456A", "123")))
    assert "[ent] uai[0]" in err.message


def test_unreadable_secret_file_is_named(tmp_path):
    err = error_of(write(tmp_path, MINIMAL + f"bind_password_file = '{tmp_path / 'absent'}'\n"))
    assert "[ldap] bind_password_file" in err.message
    assert "introuvable" in err.message


def test_secret_directory_is_unreadable(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir(mode=0o700)
    err = error_of(write(tmp_path, MINIMAL + f"bind_password_file = '{folder}'\n"))
    assert "[ldap] bind_password_file" in err.message
    assert "illisible" in err.message


def test_world_readable_secret_file_is_refused(tmp_path):
    secret = tmp_path / "ldap.secret"
    secret.write_text("TopSecret-42\n")
    secret.chmod(0o644)
    err = error_of(write(tmp_path, MINIMAL + f"bind_password_file = '{secret}'\n"))
    assert "[ldap] bind_password_file" in err.message
    assert "lisible par tous" in err.message
    assert "TopSecret-42" not in err.message


def test_secret_from_file_env_and_plain(tmp_path):
    secret = tmp_path / "ldap.secret"
    secret.write_text("FromFile-123\n")
    secret.chmod(0o600)
    cfg = load_config(write(tmp_path, MINIMAL + f"bind_password_file = '{secret}'\n"), env={})
    assert cfg.ldap.bind_password.reveal() == "FromFile-123"
    assert "FromFile-123" not in repr(cfg)
    cfg = load_config(write(tmp_path, MINIMAL), env={"ENTTUI_LDAP_PASSWORD": "FromEnv-456"})
    assert cfg.ldap.bind_password.reveal() == "FromEnv-456"
    assert "FromEnv-456" not in repr(cfg)
    # Every secret seen is scrubbed from any error text.
    assert redact("bind failed for FromEnv-456") == "bind failed for ***"


def test_relative_secret_file_is_next_to_the_config(tmp_path):
    (tmp_path / "smtp.secret").write_text("Relative-789")
    (tmp_path / "smtp.secret").chmod(0o600)
    cfg = load_config(write(tmp_path, MINIMAL + "[smtp]\nhost='h'\npassword_file='smtp.secret'\n"), env={})
    assert cfg.smtp.password.reveal() == "Relative-789"


def test_missing_file(tmp_path):
    err = error_of(tmp_path / "nope.toml")
    assert "nope.toml" in err.message
    assert "introuvable" in err.message


def test_config_search_order(tmp_path):
    xdg = tmp_path / "xdg"
    (xdg / "enttui").mkdir(parents=True)
    (xdg / "enttui" / "config.toml").write_text(MINIMAL)
    assert find_config_path("/x.toml", {}) == Path("/x.toml")
    assert find_config_path(None, {"ENTTUI_CONFIG": "/y.toml"}) == Path("/y.toml")
    assert find_config_path(None, {"XDG_CONFIG_HOME": str(xdg)}) == xdg / "enttui" / "config.toml"
    assert find_config_path(None, {"XDG_CONFIG_HOME": str(tmp_path / "empty")}) == Path("/etc/enttui/config.toml")


def test_cli_exit_2_one_line_no_traceback(tmp_path, capsys):
    path = write(tmp_path, MINIMAL + "page_size = true\n")
    code = main(["status", "--config", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert "[ldap] page_size" in captured.err
    assert str(path) in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_cli_usage_error_is_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["nosuchcommand"])
    assert info.value.code == 2
    assert "erreur" in capsys.readouterr().err
