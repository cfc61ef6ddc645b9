"""TLS told plainly: which settings warn (checks off, credentials in clear) and the certificate causes."""

from __future__ import annotations

import pytest

from enttui.domain.transport import (
    certificate_problem,
    database_warnings,
    is_local_host,
    ldap_warnings,
    smtp_warnings,
)


@pytest.mark.parametrize(
    ("host", "local"),
    [("localhost", True), ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True), ("", True)],
)
def test_loopback_hosts_are_local(host, local) -> None:
    assert is_local_host(host) is local


@pytest.mark.parametrize("host", ["ldap.example.fr", "10.0.0.5", "192.168.1.2", "2001:db8::1"])
def test_other_hosts_are_not_local(host) -> None:
    assert not is_local_host(host)


def test_ldap_in_clear_to_a_remote_host_warns() -> None:
    (warning,) = ldap_warnings(["ldap://ldap1.example.fr", "ldaps://ldap2.example.fr"], starttls=False, tls_verify=True)
    assert warning.startswith("ldap://ldap1.example.fr sans StartTLS : ")
    assert "en clair" in warning and "ldaps://" in warning and "starttls = true" in warning
    assert "ldap2" not in warning


def test_ldap_secure_settings_do_not_warn() -> None:
    assert ldap_warnings(["ldaps://ldap.example.fr"], starttls=False, tls_verify=True) == []
    assert ldap_warnings(["ldap://ldap.example.fr"], starttls=True, tls_verify=True) == []
    assert ldap_warnings(["ldap://127.0.0.1:3890"], starttls=False, tls_verify=True) == []  # loopback
    assert ldap_warnings(["mock://demo"], starttls=False, tls_verify=False) == []


def test_ldap_tls_verify_off_always_warns() -> None:
    (warning,) = ldap_warnings(["ldaps://127.0.0.1"], starttls=False, tls_verify=False)
    assert warning.startswith("tls_verify = false : le certificat de l'annuaire n'est pas vérifié")
    assert "[ldap] ca_file" in warning


def test_smtp_warnings() -> None:
    (clear,) = smtp_warnings("smtp.example.fr", security="none", tls_verify=True, authenticated=True)
    assert clear.startswith('security = "none" vers smtp.example.fr : le mot de passe SMTP')
    assert smtp_warnings("127.0.0.1", security="none", tls_verify=True, authenticated=False) == []
    (verify,) = smtp_warnings("smtp.example.fr", security="starttls", tls_verify=False, authenticated=False)
    assert verify.startswith("tls_verify = false : le certificat du serveur SMTP smtp.example.fr")
    assert smtp_warnings("", security="none", tls_verify=False, authenticated=False) == []  # outbox folder
    assert smtp_warnings("smtp.example.fr", security="tls", tls_verify=True, authenticated=True) == []


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/enttui/moodle.db",
        "mysql+pymysql://moodle@127.0.0.1:3306/moodle",
        "mysql+pymysql://moodle@localhost/moodle?unix_socket=/run/mysqld/mysqld.sock",
        "mysql+pymysql://moodle@db.example.fr/moodle?ssl_ca=/etc/ssl/certs/ca.pem",
        "postgresql+psycopg://moodle@db.example.fr/moodle?sslmode=verify-full",
        "postgresql+psycopg://moodle@/moodle?host=/run/postgresql",
    ],
)
def test_database_urls_that_do_not_warn(url) -> None:
    assert database_warnings(url) == []


def test_database_urls_that_warn() -> None:
    (mysql,) = database_warnings("mysql+pymysql://moodle:pw-in-url@db.example.fr:3306/moodle")
    assert mysql.startswith("la base Moodle db.example.fr est jointe sans TLS") and "?ssl_ca=" in mysql
    assert "pw-in-url" not in mysql
    (pg,) = database_warnings("postgresql+psycopg://moodle@db.example.fr/moodle?sslmode=prefer")
    assert "sslmode=prefer" in pg and "sslmode=verify-full" in pg
    (default,) = database_warnings("postgresql+psycopg://moodle@db.example.fr/moodle")
    assert "sslmode=prefer" in default


@pytest.mark.parametrize(
    ("text", "code", "cause"),
    [
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired (_ssl.c:1006)",
            None,
            "expired",
        ),
        ("", 10, "expired"),
        ("certificate verify failed: certificate is not yet valid", None, "not_yet_valid"),
        ("Hostname mismatch, certificate is not valid for 'x'.", None, "wrong_host"),
        ("IP address mismatch, certificate is not valid for '10.0.0.1'.", 64, "wrong_host"),
        ("certificate {...} doesn't match any name in ['127.0.0.1'] ", None, "wrong_host"),
        ("certificate verify failed: unable to get local issuer certificate", 20, "unknown_authority"),
        ("certificate verify failed: self-signed certificate", 18, "unknown_authority"),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", None, "tls"),
    ],
)
def test_certificate_causes(text, code, cause) -> None:
    problem = certificate_problem(text, host="ldaps://ldap.example.fr", ca_key="[ldap] ca_file", verify_code=code)
    assert problem.cause == cause
    assert "ldaps://ldap.example.fr" in problem.text()
    assert "_ssl.c" not in problem.text()
