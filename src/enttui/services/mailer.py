"""Sending mail: an SMTP relay (aiosmtplib) or, in the demo, an outbox folder of ``.eml`` files.

Errors come in three kinds, so that a mailing job knows what to do next:

- :class:`MailRefused`: the server refused this message for good (5xx); mark the recipient failed
  and go on with the next one;
- :class:`MailTemporary`: the server said "later" (4xx); retry this recipient later;
- :class:`MailError` (the base): the relay itself does not work (down, certificate refused,
  authentication refused, sender refused); stop the mailing.

Every message a person reads is French; passwords are scrubbed by :func:`enttui.errors.redact`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import quopri
import re
import socket
import ssl
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import TypeVar

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPConnectTimeoutError,
    SMTPException,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from enttui.config import SmtpConfig
from enttui.domain.health import SystemHealth
from enttui.domain.transport import certificate_problem
from enttui.errors import MailError

__all__ = [
    "MailError",
    "MailRefused",
    "MailTemporary",
    "Mailer",
    "OutboxMailer",
    "SmtpMailer",
    "make_mailer",
]

HEALTH_NAME = "SMTP"
HEALTH_KEY = "smtp"

_E = TypeVar("_E", bound=BaseException)


class MailRefused(MailError):
    """The server refused this message for good (5xx), usually for one recipient."""

    default_title = "Message refusé par le serveur SMTP"

    def __init__(self, reason: str, *, code: int | None = None, recipient: str = "", server_text: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = self.message  # redacted French text, server answer included
        self.recipient = recipient
        self.server_text = server_text


class MailTemporary(MailError):
    """The server asked to try again later (4xx)."""

    default_title = "Refus temporaire du serveur SMTP"

    def __init__(self, reason: str, *, code: int | None = None, recipient: str = "", server_text: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = self.message
        self.recipient = recipient
        self.server_text = server_text


class Mailer(ABC):
    """What the jobs use to send mail."""

    endpoint: str = ""

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def send(self, message: RawMessage) -> None:
        """Send one message; raises :class:`MailRefused`, :class:`MailTemporary` or :class:`MailError`."""

    @abstractmethod
    async def health(self) -> SystemHealth:
        """Does the relay answer (never raises)."""


# --------------------------------------------------------------------------------------------
# Message building
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message rendered once to its wire bytes (RFC 5322, CRLF), with its envelope.

    A diffusion sends thousands of messages: rendering them directly costs a fraction of building
    and flattening an :class:`EmailMessage`, and the relay receives exactly the same thing.
    """

    sender: str  # envelope sender (address only)
    recipient: str  # envelope recipient (address only)
    data: bytes


def _header(name: str, value: str, to: str) -> str:
    if "\r" in value or "\n" in value:
        raise MailRefused(f"Message impossible à construire pour « {to} » : saut de ligne dans {name}", recipient=to)
    return value if value.isascii() else Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


@functools.lru_cache(maxsize=32)
def _sender_parts(sender: str, message_id_domain: str | None) -> tuple[str, str, str]:
    """``From`` header value, envelope address and Message-ID domain of a sender (the same for every
    message of a run: computed once). Raises :class:`MailRefused` as :func:`render_message` would."""
    from_name, from_addr = parseaddr(sender)
    if not from_addr:
        raise ValueError("no sender address")
    domain = message_id_domain or from_addr.rpartition("@")[2] or "enttui.invalid"
    return (
        formataddr((from_name, from_addr), charset="utf-8"),
        from_addr,
        re.sub(r"[^A-Za-z0-9.-]", "", domain) or "enttui.invalid",
    )


@functools.lru_cache(maxsize=32)
def _subject_header(subject: str) -> str:
    return _header("Subject", subject, "")


def render_message(
    sender: str,
    to: str,
    subject: str,
    body: str,
    *,
    message_id_domain: str | None = None,
    date: datetime | None = None,
) -> RawMessage:
    """A plain-text UTF-8 message (quoted-printable) with ``Date`` and ``Message-ID``, rendered to
    bytes. Line breaks in a header are refused (:class:`MailRefused`): no header injection through
    a name or an address read from the directory."""
    for name, value in (("From", sender), ("To", to)):
        _header(name, value, to)
    to_name, to_addr = parseaddr(to)
    try:
        from_header, from_addr, msgid_domain = _sender_parts(sender, message_id_domain)
    except ValueError:
        from_header = from_addr = msgid_domain = ""
    if not to_addr or "@" not in to_addr or not from_addr:
        raise MailRefused(f"Message impossible à construire pour « {to} » : adresse invalide", recipient=to)
    try:
        subject_header = _subject_header(subject)
    except MailRefused:
        _header("Subject", subject, to)  # the same refusal, naming the recipient
        raise
    head = (
        f"From: {from_header}\r\n"
        f"To: {formataddr((to_name, to_addr), charset='utf-8')}\r\n"
        f"Subject: {subject_header}\r\n"
        f"Date: {format_datetime(date or datetime.now().astimezone())}\r\n"
        f"Message-ID: {make_msgid(domain=msgid_domain)}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    payload = quopri.encodestring(text.encode("utf-8")).replace(b"\n", b"\r\n")
    return RawMessage(from_addr, to_addr, head.encode("ascii") + payload)


# --------------------------------------------------------------------------------------------
# SMTP relay
# --------------------------------------------------------------------------------------------


class SmtpMailer(Mailer):
    """An SMTP relay, one connection kept open across :meth:`send` calls."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.endpoint = f"{config.host}:{config.port}"
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()
        self._tls: ssl.SSLContext | None = None

    def __repr__(self) -> str:
        return f"SmtpMailer({self.endpoint!r}, security={self.config.security!r})"

    # -- connection ------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect now (otherwise the first :meth:`send` does)."""
        async with self._lock:
            await self._ensure_connected()

    async def close(self) -> None:
        async with self._lock:
            await self._disconnect(polite=True)

    async def _disconnect(self, *, polite: bool) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if polite and smtp.is_connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(smtp.quit(), timeout=min(self.config.timeout, 5.0))
        with contextlib.suppress(Exception):
            smtp.close()

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            cfg = self.config
            try:
                ctx = ssl.create_default_context(cafile=cfg.ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise MailError(
                    f"Fichier d'autorités de certification SMTP illisible : {cfg.ca_file}",
                    detail=f"{type(exc).__name__}: {exc}",
                ) from None
            if not cfg.tls_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._tls = ctx
        return self._tls

    async def _connect(self) -> tuple[aiosmtplib.SMTP, str]:
        """A new, ready connection (TLS and login done) and the server's banner."""
        cfg = self.config
        security = cfg.security
        if security not in ("starttls", "tls", "none"):
            raise MailError(f"Sécurité SMTP « {security} » inconnue (starttls, tls ou none)")
        tls = self._tls_context() if security in ("starttls", "tls") else None
        smtp = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            timeout=cfg.timeout,
            use_tls=security == "tls",
            start_tls=False,  # STARTTLS is done below, explicitly, so that it is required
            tls_context=tls,
            validate_certs=cfg.tls_verify,
            local_hostname=_local_hostname(),
        )
        try:
            response = await smtp.connect()
            banner = response.message
            if security == "starttls":
                await smtp.ehlo()
                if not smtp.supports_extension("starttls"):
                    raise MailError(
                        f"Le serveur SMTP {self.endpoint} ne propose pas STARTTLS : envoi refusé "
                        '(le chiffrement est exigé ; mettez security = "none" seulement pour un relais local)'
                    )
                await smtp.starttls()
            if cfg.username:
                password = cfg.password.reveal() if cfg.password is not None else ""
                await smtp.login(cfg.username, password)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                smtp.close()
            if isinstance(exc, Exception):
                raise self._connect_error(exc) from None
            raise
        return smtp, banner

    async def _ensure_connected(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        await self._disconnect(polite=False)
        self._smtp, _banner = await self._connect()
        return self._smtp

    def _connect_error(self, exc: Exception) -> MailError:
        if isinstance(exc, MailError):
            return exc
        where = f"Le serveur SMTP {self.endpoint}"
        detail = f"{type(exc).__name__}: {exc}"
        cert = _find_cause(exc, ssl.SSLCertVerificationError)
        if cert is not None:
            problem = certificate_problem(
                f"{getattr(cert, 'verify_message', '')} {cert}",
                host=self.endpoint,
                ca_key="[smtp] ca_file",
                verify_code=getattr(cert, "verify_code", None),
            )
            return MailError(f"Certificat TLS du serveur SMTP refusé : {problem.text()}", detail=detail)
        tls_err = _find_cause(exc, ssl.SSLError)
        if tls_err is not None:
            return MailError(f"Échec de la négociation TLS avec {self.endpoint} : {tls_err}", detail=detail)
        if isinstance(exc, SMTPAuthenticationError):
            return MailError(
                f"Authentification refusée par le serveur SMTP {self.endpoint} "
                f"(utilisateur « {self.config.username} ») : {exc.code} {exc.message}",
                detail=detail,
            )
        if isinstance(exc, SMTPConnectTimeoutError | SMTPTimeoutError | TimeoutError):
            return MailError(f"{where} ne répond pas (délai de {self.config.timeout:g} s dépassé)", detail=detail)
        if isinstance(exc, SMTPConnectError | SMTPServerDisconnected | OSError):
            return MailError(f"{where} ne répond pas ({_short(exc)})", detail=detail)
        if isinstance(exc, SMTPResponseException):
            return MailError(f"{where} refuse la connexion : {exc.code} {exc.message}", detail=detail)
        if isinstance(exc, SMTPException):
            return MailError(f"{where} : {exc.message}", detail=detail)
        return MailError(f"{where} : erreur inattendue ({type(exc).__name__})", detail=detail)

    # -- sending ---------------------------------------------------------------------------

    async def send(self, message: RawMessage) -> None:
        recipients = message.recipient
        async with self._lock:
            for attempt in (1, 2):
                smtp = await self._ensure_connected()
                try:
                    errors, _answer = await smtp.sendmail(message.sender, [message.recipient], message.data)
                except asyncio.CancelledError:
                    # Interrupted mid-exchange (Ctrl+C, a cancelled job): a reply may still be on its
                    # way, so the session is out of step. Drop it: a QUIT would wait for a relay that
                    # is still busy with our DATA (5 s at each close).
                    await self._disconnect(polite=False)
                    raise
                except SMTPServerDisconnected as exc:
                    # The relay closed an idle connection (or after N messages): reconnect once.
                    await self._disconnect(polite=False)
                    if attempt == 1:
                        continue
                    raise MailError(
                        f"Le serveur SMTP {self.endpoint} a coupé la connexion pendant l'envoi à {recipients}",
                        detail=f"{type(exc).__name__}: {exc}",
                    ) from None
                except Exception as exc:  # noqa: BLE001 - mapped to a MailError below
                    raise await self._send_error(exc, recipients) from None
                if errors:
                    addr, response = next(iter(errors.items()))
                    raise _refusal(response.code, response.message, addr)
                return

    async def _send_error(self, exc: Exception, recipients: str) -> MailError:
        detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, SMTPRecipientsRefused):
            first = exc.recipients[0]
            return _refusal(first.code, first.message, first.recipient)
        if isinstance(exc, SMTPSenderRefused):
            if 400 <= exc.code < 500:
                return MailTemporary(
                    f"Expéditeur {exc.sender} refusé temporairement par {self.endpoint} : {exc.code} {exc.message}",
                    code=exc.code,
                    recipient=recipients,
                    server_text=exc.message,
                )
            return MailError(
                f"Le serveur SMTP {self.endpoint} refuse l'envoi depuis {exc.sender} : {exc.code} {exc.message} "
                "(vérifiez [smtp] sender, security et username)",
                detail=detail,
            )
        if isinstance(exc, SMTPResponseException):
            return _refusal(exc.code, exc.message, recipients)
        if isinstance(exc, SMTPNotSupported):
            return MailRefused(
                f"Message pour {recipients} refusé : {exc.message}", recipient=recipients, server_text=exc.message
            )
        if isinstance(exc, ValueError):
            return MailRefused(f"Adresse invalide pour {recipients} : {exc}", recipient=recipients)
        if isinstance(exc, SMTPTimeoutError | TimeoutError):
            await self._disconnect(polite=False)
            return MailError(
                f"Le serveur SMTP {self.endpoint} ne répond pas (délai de {self.config.timeout:g} s dépassé "
                f"pendant l'envoi à {recipients})",
                detail=detail,
            )
        await self._disconnect(polite=False)
        return self._connect_error(exc)

    # -- health ----------------------------------------------------------------------------

    async def health(self) -> SystemHealth:
        start = time.perf_counter()
        smtp: aiosmtplib.SMTP | None = None
        try:
            smtp, banner = await self._connect()
            await smtp.noop()
            latency = (time.perf_counter() - start) * 1000.0
            version = banner.split(None, 1)[1] if " " in banner.strip() else banner.strip()
            remark = {"starttls": "STARTTLS", "tls": "TLS", "none": "sans chiffrement"}[self.config.security]
            if self.config.username:
                remark += f", authentifié (« {self.config.username} »)"
            return SystemHealth(
                name=HEALTH_NAME,
                key=HEALTH_KEY,
                ok=True,
                latency_ms=latency,
                version=version,
                endpoint=self.endpoint,
                message=remark,
            )
        except Exception as exc:  # noqa: BLE001 - health never raises
            err = exc if isinstance(exc, MailError) else self._connect_error(exc)
            return SystemHealth(name=HEALTH_NAME, key=HEALTH_KEY, ok=False, endpoint=self.endpoint, message=str(err))
        finally:
            if smtp is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(smtp.quit(), timeout=min(self.config.timeout, 5.0))
                with contextlib.suppress(Exception):
                    smtp.close()


def _refusal(code: int, text: str, recipient: str) -> MailError:
    text = (text or "").strip()
    if 400 <= code < 500:
        return MailTemporary(
            f"Refus temporaire pour {recipient} : {code} {text} (nouvel essai plus tard)",
            code=code,
            recipient=recipient,
            server_text=text,
        )
    return MailRefused(
        f"Message refusé pour {recipient} : {code} {text}", code=code, recipient=recipient, server_text=text
    )


def _find_cause(exc: BaseException, cls: type[_E]) -> _E | None:
    """The first exception of ``cls`` in the chain that is not aiosmtplib's own wrapper."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, cls) and not isinstance(cur, SMTPException):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def _short(exc: BaseException) -> str:
    cause = _find_cause(exc, OSError)
    code = None if cause is None else cause.errno
    if isinstance(cause, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return "connexion refusée"
    if isinstance(cause, socket.gaierror):
        return "nom d'hôte inconnu"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "hôte injoignable"
    if isinstance(cause, ConnectionResetError) or code == errno.ECONNRESET:
        return "connexion coupée par le serveur"
    if cause is not None and cause.strerror:
        return str(cause.strerror)
    return str(exc) or type(exc).__name__


_LOCAL_HOSTNAME: str | None = None


def _local_hostname() -> str:
    """EHLO name: the node name (``socket.getfqdn`` may wait on DNS)."""
    global _LOCAL_HOSTNAME
    if _LOCAL_HOSTNAME is None:
        name = os.uname().nodename or "localhost"
        _LOCAL_HOSTNAME = re.sub(r"[^A-Za-z0-9.-]", "-", name) or "localhost"
    return _LOCAL_HOSTNAME


# --------------------------------------------------------------------------------------------
# Outbox folder (demo)
# --------------------------------------------------------------------------------------------

_SEQ_RE = re.compile(r"^(\d{6,})-.*\.eml$")


def _slug(address: str) -> str:
    """A file-name-safe rendering of an address: never a path."""
    text = address.strip().lower().replace("@", "_at_")
    text = re.sub(r"[^a-z0-9._+-]+", "_", text)
    text = re.sub(r"\.{2,}", ".", text).strip("._-+")
    return text[:80] or "message"


class OutboxMailer(Mailer):
    """Writes each message as ``NNNNNN-<recipient>.eml`` in a private folder (0700, files 0600)."""

    def __init__(self, outbox_dir: str | Path) -> None:
        self.outbox_dir = Path(outbox_dir)
        self.endpoint = str(self.outbox_dir)
        self._seq: int | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"OutboxMailer({self.endpoint!r})"

    def _prepare(self) -> int:
        try:
            self.outbox_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.outbox_dir.chmod(0o700)
            highest = 0
            for entry in os.scandir(self.outbox_dir):
                match = _SEQ_RE.match(entry.name)
                if match:
                    highest = max(highest, int(match.group(1)))
        except OSError as exc:
            raise MailError(
                f"Dossier d'envoi {self.outbox_dir} inutilisable ({exc.strerror or exc})",
                detail=f"{type(exc).__name__}: {exc}",
            ) from None
        return highest

    async def open(self) -> None:
        async with self._lock:
            self._seq = await asyncio.to_thread(self._prepare)

    async def close(self) -> None:
        self._seq = None

    def _write(self, seq: int, slug: str, data: bytes) -> Path:
        path = self.outbox_dir / f"{seq:06d}-{slug}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb", closefd=False) as fh:
                fh.write(data)
        finally:
            os.close(fd)
        return path

    async def send(self, message: RawMessage) -> None:
        if not message.recipient:
            raise MailRefused("Message sans destinataire", recipient="")
        data = message.data.replace(b"\r\n", b"\n")
        async with self._lock:
            if self._seq is None:
                self._seq = await asyncio.to_thread(self._prepare)
            for _ in range(1000):
                self._seq += 1
                try:
                    await asyncio.to_thread(self._write, self._seq, _slug(message.recipient), data)
                    return
                except FileExistsError:
                    continue  # another process wrote this number: take the next one
                except OSError as exc:
                    raise MailError(
                        f"Écriture impossible dans le dossier d'envoi {self.outbox_dir} ({exc.strerror or exc})",
                        detail=f"{type(exc).__name__}: {exc}",
                    ) from None
            raise MailError(f"Dossier d'envoi {self.outbox_dir} : aucun nom de fichier libre")

    async def health(self) -> SystemHealth:
        start = time.perf_counter()
        try:
            await asyncio.to_thread(self._prepare)
            writable = os.access(self.outbox_dir, os.W_OK | os.X_OK)
            count = sum(1 for p in self.outbox_dir.iterdir() if p.suffix == ".eml")
        except Exception as exc:  # noqa: BLE001 - health never raises
            return SystemHealth(name=HEALTH_NAME, key=HEALTH_KEY, ok=False, endpoint=self.endpoint, message=str(exc))
        return SystemHealth(
            name=HEALTH_NAME,
            key=HEALTH_KEY,
            ok=writable,
            latency_ms=(time.perf_counter() - start) * 1000.0,
            version="dossier d'envoi (.eml)",
            endpoint=self.endpoint,
            message="messages écrits dans un dossier (démo)" if writable else "dossier non accessible en écriture",
            counts={"messages": count},
        )


def make_mailer(config: SmtpConfig) -> Mailer:
    """The relay of ``config``: SMTP when ``host`` is set, else the outbox folder."""
    if config.host:
        return SmtpMailer(config)
    if config.outbox_dir:
        return OutboxMailer(config.outbox_dir)
    raise MailError("Aucun serveur SMTP configuré (indiquez [smtp] host, ou outbox_dir pour écrire dans un dossier)")
