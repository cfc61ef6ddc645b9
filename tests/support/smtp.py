"""A private SMTP server (aiosmtpd) for tests and benchmarks; no pytest needed at import.

    with SmtpTestServer(tls="starttls") as server:      # trustme CA, cert for localhost/127.0.0.1
        cfg = server.smtp_config()                      # an SmtpConfig pointing at it
        ...
        server.messages                                 # what it received

Options: ``tls`` = "starttls" (STARTTLS offered and required before MAIL), "implicit" (TLS from
the first byte), "none"; ``auth=True`` requires AUTH with :data:`TEST_LOGIN` / :data:`TEST_PASSWORD`.
Scripted failures: :meth:`refuse` (a recipient gets ``550``), :meth:`fail_first` (``421``/``451``
for the first N attempts of a recipient, then accepted), :meth:`drop_after` (every connection is
closed by the server after N accepted messages).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from enttui.config import Secret, SmtpConfig

# aiosmtpd 1.4 sets the deprecated attribute itself after every successful AUTH.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
# The plain and implicit-TLS test servers require AUTH without STARTTLS, on purpose.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
# Client-side refusals (a test's untrusted certificate) are logged by aiosmtpd as errors: keep them
# out of a benchmark's terminal; pytest still captures them through the root logger.
logging.getLogger("mail.log").addHandler(logging.NullHandler())

TEST_LOGIN = "enttui-test"
TEST_PASSWORD = "Mot-de-passe-SMTP-7f3a!"


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    peer: tuple[str, int]
    tls: bool
    login: str | None
    connection: int  # connection number (1, 2, ...) on this server


@dataclass
class _Script:
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    fail_first: dict[str, list[Any]] = field(default_factory=dict)  # addr -> [remaining, code, text]
    drop_after: int | None = None
    drop_silently: bool = False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Handler:
    def __init__(self, server: SmtpTestServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: SMTP, session: Any, envelope: Any, address: str, rcpt_options: list) -> str:
        harness = self.server
        with harness._lock:
            key = address.lower()
            if key in harness._script.refused:
                code, text = harness._script.refused[key]
                return f"{code} {text}"
            pending = harness._script.fail_first.get(key)
            if pending and pending[0] > 0:
                pending[0] -= 1
                return f"{pending[1]} {pending[2]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        harness = self.server
        conn_no = getattr(server, "_enttui_conn_no", 0)
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        msg = ReceivedMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            content=bytes(envelope.original_content or envelope.content or b""),
            peer=tuple(session.peer) if session.peer else ("", 0),
            tls=server.transport is not None and server.transport.get_extra_info("sslcontext") is not None,
            login=login,
            connection=conn_no,
        )
        with harness._lock:
            harness._messages.append(msg)
            server._enttui_sent = getattr(server, "_enttui_sent", 0) + 1
            drop = harness._script.drop_after is not None and server._enttui_sent >= harness._script.drop_after
            silently = harness._script.drop_silently
        if drop and not silently:
            server._enttui_drop = True  # closed by _RecordingSMTP.smtp_DATA once the 250 is written
        return "250 Message accepted for delivery"


class _RecordingSMTP(SMTP):
    harness: SmtpTestServer

    def connection_made(self, transport: Any) -> None:
        # Called again on the same object after STARTTLS: count the TCP connection once.
        if getattr(self, "_enttui_conn_no", 0):
            super().connection_made(transport)
            return
        with self.harness._lock:
            self.harness._connections += 1
            self._enttui_conn_no = self.harness._connections
        super().connection_made(transport)

    async def smtp_MAIL(self, arg: str | None) -> None:
        harness = self.harness
        with harness._lock:
            limit = harness._script.drop_after if harness._script.drop_silently else None
        if limit is not None and getattr(self, "_enttui_sent", 0) >= limit and self.transport is not None:
            # A relay that timed the connection out: the client learns it only now, without an answer.
            self.transport.abort()
            return
        await super().smtp_MAIL(arg)

    async def smtp_DATA(self, arg: str) -> None:
        await super().smtp_DATA(arg)
        if getattr(self, "_enttui_drop", False) and self.transport is not None:
            # The message was accepted and its 250 flushed: now drop the connection.
            self.transport.close()


class _Controller(Controller):
    def __init__(self, harness: SmtpTestServer, **kwargs: Any) -> None:
        self.harness = harness
        super().__init__(_Handler(harness), **kwargs)

    def factory(self) -> SMTP:
        smtp = _RecordingSMTP(self.handler, **self.SMTP_kwargs)
        smtp.harness = self.harness
        return smtp


class SmtpTestServer:
    """One aiosmtpd server on 127.0.0.1:<free port>, in its own thread."""

    def __init__(
        self,
        *,
        tls: str = "starttls",
        auth: bool = False,
        ca: trustme.CA | None = None,
        workdir: str | Path | None = None,
        cert: trustme.LeafCert | None = None,
    ) -> None:
        if tls not in ("starttls", "implicit", "none"):
            raise ValueError(f"tls must be starttls, implicit or none, not {tls!r}")
        self.tls = tls
        self.auth = auth
        self.host = "127.0.0.1"
        self.port = 0
        self.ca: trustme.CA | None = None
        self.ca_pem_path: Path | None = None
        self._ca = ca
        self._cert = cert  # a certificate of the test's own (expired, another host name); else one for localhost
        self._workdir = Path(workdir) if workdir else None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._connections = 0
        self._script = _Script()
        self._controller: _Controller | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> SmtpTestServer:
        if self._workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="enttui-smtp-")
            self._workdir = Path(self._tmp.name)
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "server_hostname": "localhost",
            "ident": "ESMTP enttui-test-smtpd",
            "data_size_limit": 10 * 1024 * 1024,
        }
        server_ctx: ssl.SSLContext | None = None
        if self.tls != "none":
            self.ca = self._ca or trustme.CA()
            cert = self._cert or self.ca.issue_cert("localhost", "127.0.0.1")
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(server_ctx)
            self.ca_pem_path = self._workdir / "smtp-test-ca.pem"
            self.ca.cert_pem.write_to_path(str(self.ca_pem_path))
        if self.tls == "starttls":
            kwargs["tls_context"] = server_ctx
            kwargs["require_starttls"] = True
        elif self.tls == "implicit":
            kwargs["ssl_context"] = server_ctx
        if self.auth:
            kwargs["authenticator"] = _authenticate
            kwargs["auth_required"] = True
            # aiosmtpd only counts STARTTLS as TLS: under implicit TLS it would hide AUTH.
            kwargs["auth_require_tls"] = self.tls == "starttls"
        last: Exception | None = None
        for _ in range(5):
            self.port = free_port(self.host)
            controller = _Controller(self, port=self.port, **kwargs)
            try:
                controller.start()
            except Exception as exc:  # noqa: BLE001 - port taken since free_port(): try another
                last = exc
                with contextlib.suppress(Exception):
                    controller.stop(no_assert=True)
                continue
            self._controller = controller
            with self._lock:
                self._connections = 0  # the controller's readiness probe is not a client
            return self
        raise RuntimeError(f"aiosmtpd could not start: {last}")

    def stop(self) -> None:
        if self._controller is not None:
            with contextlib.suppress(Exception):
                self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._workdir = None

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what was received ------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def connections(self) -> int:
        """Client connections accepted since start (or the last :meth:`reset`)."""
        with self._lock:
            return self._connections

    def reset(self) -> None:
        """Forget messages, connections and scripted failures."""
        with self._lock:
            self._messages.clear()
            self._connections = 0
            self._script = _Script()

    # -- scripted failures ------------------------------------------------------------------

    def refuse(self, recipient: str, code: int = 550, text: str = "5.1.1 Destinataire inconnu") -> None:
        with self._lock:
            self._script.refused[recipient.lower()] = (code, text)

    def fail_first(
        self, recipient: str, attempts: int, code: int = 451, text: str = "4.3.0 Réessayez plus tard"
    ) -> None:
        with self._lock:
            self._script.fail_first[recipient.lower()] = [attempts, code, text]

    def drop_after(self, messages: int | None, *, silently: bool = False) -> None:
        """Drop every connection after ``messages`` accepted messages.

        By default the server closes right after the last ``250``; with ``silently=True`` it keeps
        the socket until the client's next ``MAIL`` and then drops it without an answer (the
        client thinks the connection is alive: it must reconnect and resend).
        """
        with self._lock:
            self._script.drop_after = messages
            self._script.drop_silently = silently

    # -- client side ------------------------------------------------------------------------

    def smtp_config(self, **overrides: Any) -> SmtpConfig:
        """An :class:`SmtpConfig` pointing at this server (with its CA, and the login if AUTH)."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": {"starttls": "starttls", "implicit": "tls", "none": "none"}[self.tls],
            "sender": "ENT <ne-pas-repondre@ent.example.fr>",
            "ca_file": str(self.ca_pem_path) if self.ca_pem_path else "",
            "timeout": 5.0,
        }
        if self.auth:
            values["username"] = TEST_LOGIN
            values["password"] = Secret(TEST_PASSWORD)
        values.update(overrides)
        return SmtpConfig(**values)


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    if isinstance(auth_data, LoginPassword):
        ok = auth_data.login == TEST_LOGIN.encode() and auth_data.password == TEST_PASSWORD.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return AuthResult(success=False, handled=False)
