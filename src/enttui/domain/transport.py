"""TLS told plainly: which settings let credentials travel in clear, and why a certificate is refused.

Pure functions (no I/O): the status report, the Accueil and every run show these French lines;
the directory and the mailer name a refused certificate's real cause and its fix with
:func:`certificate_problem`. A loopback host (``localhost``, ``127.0.0.0/8``, ``::1``) or a local
socket never carries anything off the machine: no warning for it in clear.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

# The certificate verification codes of OpenSSL that Python's ssl module reports (verify_code).
_EXPIRED = {10}
_NOT_YET_VALID = {9}
_UNKNOWN_AUTHORITY = {2, 18, 19, 20, 21}
_WRONG_HOST = {62, 64}


def is_local_host(host: str | None) -> bool:
    """A host whose traffic never leaves the machine (empty means the client's default socket)."""
    if not host:
        return True
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost") or name.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def ldap_warnings(urls: list[str], *, starttls: bool, tls_verify: bool) -> list[str]:
    """French warnings for the ``[ldap]`` settings (empty when everything is encrypted and checked)."""
    out: list[str] = []
    if any(u.startswith("mock://") for u in urls):
        return out
    if not tls_verify:
        out.append(
            "tls_verify = false : le certificat de l'annuaire n'est pas vérifié (un serveur usurpé recevrait "
            "le mot de passe du compte de service et les mots de passe diffusés) ; remettez tls_verify = true "
            "et indiquez l'autorité dans [ldap] ca_file"
        )
    if not starttls:
        clear = [u for u in urls if u.lower().startswith("ldap://") and not is_local_host(_host_of(u))]
        if clear:
            out.append(
                f"{', '.join(clear)} sans StartTLS : le mot de passe du compte de service et les mots de passe "
                "diffusés circulent en clair ; utilisez ldaps:// ou starttls = true"
            )
    return out


def smtp_warnings(host: str, *, security: str, tls_verify: bool, authenticated: bool) -> list[str]:
    """French warnings for the ``[smtp]`` settings (an outbox folder or no host: none)."""
    out: list[str] = []
    if not host:
        return out
    if security == "none" and not is_local_host(host):
        what = "le mot de passe SMTP et les identifiants envoyés" if authenticated else "les identifiants envoyés"
        out.append(
            f'security = "none" vers {host} : {what} circulent en clair ; mettez security = "starttls" (ou "tls")'
        )
    if not tls_verify and security != "none":
        out.append(
            f"tls_verify = false : le certificat du serveur SMTP {host} n'est pas vérifié ; remettez "
            "tls_verify = true et indiquez l'autorité dans [smtp] ca_file"
        )
    return out


_MYSQL_TLS_KEYS = {"ssl_ca", "ssl_cert", "ssl_key", "ssl_capath", "ssl_cipher"}
_PG_TLS_MODES = {"require", "verify-ca", "verify-full"}


def database_warnings(url: str) -> list[str]:
    """French warnings for ``[moodle] url``: a remote MySQL/MariaDB or PostgreSQL without TLS required."""
    if not url or url.startswith("sqlite"):
        return []
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return []
    query = parse_qs(parts.query)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if "unix_socket" in query or any(is_local_host(h) for h in query.get("host", [])) or is_local_host(host):
        return []
    if scheme in ("mysql", "mariadb"):
        if _MYSQL_TLS_KEYS & set(query):
            return []
        return [
            f"la base Moodle {host} est jointe sans TLS : le mot de passe et les données circulent en clair ; "
            "ajoutez ?ssl_ca=/chemin/autorite.pem à [moodle] url"
        ]
    if scheme == "postgresql":
        mode = (query.get("sslmode") or ["prefer"])[-1].lower()
        if mode in _PG_TLS_MODES:
            return []
        return [
            f"la base Moodle {host} n'exige pas TLS (sslmode={mode}) : le mot de passe peut circuler en clair ; "
            "ajoutez ?sslmode=verify-full à [moodle] url"
        ]
    return []


@dataclass(frozen=True, slots=True)
class CertificateProblem:
    """Why a TLS connection was refused, and what to do, in French."""

    cause: str  # "expired", "not_yet_valid", "wrong_host", "unknown_authority", "no_starttls", "tls"
    reason: str  # "le certificat du serveur a expiré"
    fix: str  # "faites renouveler le certificat du serveur"

    def text(self) -> str:
        return f"{self.reason} : {self.fix}"


_TEXT_CAUSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("expired", ("certificate has expired",)),
    ("not_yet_valid", ("certificate is not yet valid",)),
    ("wrong_host", ("hostname mismatch", "ip address mismatch", "doesn't match", "does not match")),
    (
        "unknown_authority",
        (
            "unable to get local issuer",
            "unable to get issuer",
            "self-signed certificate",
            "self signed certificate",
            "unable to verify the first certificate",
        ),
    ),
)


def _cause(text: str, verify_code: int | None) -> str:
    for codes, cause in (
        (_EXPIRED, "expired"),
        (_NOT_YET_VALID, "not_yet_valid"),
        (_WRONG_HOST, "wrong_host"),
        (_UNKNOWN_AUTHORITY, "unknown_authority"),
    ):
        if verify_code in codes:
            return cause
    lowered = text.lower()
    for cause, needles in _TEXT_CAUSES:
        if any(n in lowered for n in needles):
            return cause
    return "tls"


def certificate_problem(text: str, *, host: str, ca_key: str, verify_code: int | None = None) -> CertificateProblem:
    """The real cause of a refused TLS connection (from the library's text or OpenSSL's code) and its fix.

    ``ca_key`` is the setting that names the authority file (``[ldap] ca_file``).
    """
    cause = _cause(text, verify_code)
    if cause == "expired":
        return CertificateProblem(
            cause,
            f"le certificat de {host} a expiré",
            "faites renouveler le certificat du serveur (ou vérifiez l'horloge de cette machine)",
        )
    if cause == "not_yet_valid":
        return CertificateProblem(
            cause, f"le certificat de {host} n'est pas encore valide", "vérifiez l'horloge de cette machine"
        )
    if cause == "wrong_host":
        return CertificateProblem(
            cause,
            f"le certificat présenté n'est pas établi pour « {host} »",
            "utilisez dans l'URL le nom qui figure dans le certificat, ou faites émettre un certificat pour ce nom",
        )
    if cause == "unknown_authority":
        return CertificateProblem(
            cause,
            f"le certificat de {host} est signé par une autorité inconnue",
            f"indiquez le fichier de l'autorité de certification dans {ca_key}",
        )
    detail = re.sub(r"\s*\(_ssl\.c:\d+\)", "", text).strip()
    return CertificateProblem(
        cause, f"la négociation TLS avec {host} a échoué ({detail})", "vérifiez TLS sur le serveur"
    )


def no_starttls(host: str, *, server_side: str) -> CertificateProblem:
    """The server refused StartTLS (it has no certificate configured)."""
    return CertificateProblem(
        "no_starttls",
        f"{host} ne propose pas StartTLS",
        f"configurez TLS sur le serveur ({server_side}) ou utilisez une connexion TLS directe",
    )
