"""Paged directory reads through python-ldap (libldap, in C): the fast reader of ``[ldap] reader``.

ldap3 decodes every BER element in Python: a paged read of 100,000 people with their 25 attributes
takes 20–29 s on two cores, where libldap takes about 3 s (``ldapsearch`` itself 1 s). This module
performs only the page requests of :meth:`Directory.iter_pages
<enttui.services.directory.Directory.iter_pages>` (so ``search_all``, ``iter_people``,
``count_by_target``…): the same paged searches (RFC 2696, same filter, attributes, page size and
scope) on its own connections, with the same result shape as the ldap3 path: attribute names as
the server spells them, values decoded from UTF-8 (undecodable bytes replaced), the server's DN
spelling. The loop around the pages (failover, incomplete reads, their French wording) stays in
``Directory``, shared by both readers; every write and every small read stays on ldap3.

Connections follow the ldap3 pool: the servers of ``[ldap] urls`` in order, a server that does not
answer set aside for ``EXHAUST_SECONDS``, one that refuses TLS for ``TLS_SKIP_SECONDS`` while another
answers (with a warning); LDAPS or StartTLS with a new TLS context per connection
(``OPT_X_TLS_NEWCTX``), the certificate checked against ``ca_file`` unless ``tls_verify = false``;
bound with the service account; ``connect_timeout`` for the connection, ``timeout`` for each page.
libldap (built with GnuTLS on Debian) says only "Can't contact LDAP server" when it refuses a
certificate: the real cause is then found by one TLS handshake of Python's ``ssl`` with the same
settings (:func:`tls_diagnosis`), and worded as the ldap3 path words it.

python-ldap is imported on the first connection, not before (it costs ~60 ms at start-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from enttui.config import PYTHON_LDAP_MISSING, LdapConfig, python_ldap_installed
from enttui.domain.transport import CertificateProblem, certificate_problem, no_starttls
from enttui.errors import ConfigError, DirectoryError, EnttuiError
from enttui.services.ldap_results import ConnectionLost, LdapFailed, PageError

__all__ = ["CReader", "c_reader_for", "tls_diagnosis"]

Entry = tuple[str, dict[str, list[str]]]

EXHAUST_SECONDS = 30  # a server that did not answer is skipped for this long (as the ldap3 pool)
TLS_SKIP_SECONDS = 300  # a server that refused TLS is skipped for this long, while another answers
MAX_IDLE = 4
_SCOPES = {"BASE": 0, "LEVEL": 1, "ONELEVEL": 1, "SUBTREE": 2}
_NO_STARTTLS_FIX = "TLSCertificateFile et TLSCertificateKeyFile de slapd"
_REFERRAL = "l'annuaire renvoie vers un autre serveur (référence non suivie)"


def c_reader_for(ldap: LdapConfig, urls: list[str]) -> CReader | None:
    """The python-ldap reader ``[ldap] reader`` asks for, or None for ldap3.

    ``"ldap3"``: None. ``"python-ldap"``: the reader, or :class:`ConfigError` when python-ldap is not
    installed. ``"auto"``: the reader when python-ldap is installed, else None (ldap3).
    """
    if ldap.reader not in ("python-ldap", "auto"):
        return None
    if python_ldap_installed():
        return CReader(ldap, urls)
    if ldap.reader == "auto":
        return None
    raise ConfigError("configuration", "[ldap] reader", PYTHON_LDAP_MISSING)


class _Down(Exception):
    """A server did not answer (connection refused, timeout): the next one is tried."""


class _TlsRefused(Exception):
    def __init__(self, url: str, problem: CertificateProblem, detail: str) -> None:
        super().__init__(problem.text())
        self.url = url
        self.problem = problem.text()
        self.error = DirectoryError(f"Connexion TLS à l'annuaire refusée : {problem.text()}.", detail=detail)


def _info(exc: BaseException) -> dict[str, Any]:
    """The dictionary python-ldap puts in its exceptions (result, desc, info, errno…)."""
    arg = exc.args[0] if exc.args else None
    return arg if isinstance(arg, dict) else {}


def _detail(exc: BaseException) -> str:
    info = _info(exc)
    text = "; ".join(str(info[k]) for k in ("desc", "info") if info.get(k)) or str(exc)
    return f"{type(exc).__name__}: {text}"


def _failed(exc: BaseException) -> LdapFailed:
    """A python-ldap result error as ldap3 reports it (its description names: ``sizeLimitExceeded``)."""
    from ldap3.core.results import RESULT_CODES

    info = _info(exc)
    code = info.get("result", getattr(exc, "errnum", -1))
    code = code if isinstance(code, int) else -1
    description = RESULT_CODES.get(code) or str(info.get("desc", ""))
    return LdapFailed({"result": code, "description": description, "message": str(info.get("info", ""))})


class CReader:
    """Paged reads on python-ldap connections (see module docstring); used by ``Directory`` only.

    ``lease``/``page``/``release`` have the shape of the ldap3 path's: a paged read leases one
    connection for all its pages (the paging cookie belongs to it) and gives it back, or drops it
    when it broke. ``page`` runs in a worker thread and raises :class:`ConnectionLost`,
    :class:`LdapFailed` or :class:`PageError`.
    """

    def __init__(self, ldap: LdapConfig, urls: list[str]) -> None:
        self._cfg = ldap
        self._urls = list(urls)
        self._endpoint = ", ".join(self._urls)
        self._mod: Any = None
        self._paged: Any = None
        self._idle: list[Any] = []
        self._idle_lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._down: dict[str, float] = {}  # url -> since when it did not answer
        self._tls_skipped: dict[str, tuple[float, str]] = {}  # url -> (since, French reason)
        self._closed = False

    @property
    def tls_warnings(self) -> list[str]:
        """French lines about servers set aside for a bad certificate (they are retried later)."""
        return [text for _since, text in list(self._tls_skipped.values())]

    # ------------------------------------------------------------------ connections

    def _library(self) -> Any:
        if self._mod is None:
            try:
                import ldap
                from ldap.controls import SimplePagedResultsControl
            except ImportError as exc:
                raise ConfigError("configuration", "[ldap] reader", PYTHON_LDAP_MISSING) from exc
            self._paged = SimplePagedResultsControl
            self._mod = ldap
        return self._mod

    async def lease(self, *, fresh: bool = False) -> Any:
        """A connection for a whole paged read: an idle one, or a new one (``fresh``: drop the idle)."""
        self._closed = False  # in use again after close() (as the ldap3 path after Directory.open())
        conn = self._reuse(fresh=fresh)
        return conn if conn is not None else await asyncio.to_thread(self._connect)

    def release(self, conn: Any, *, broken: bool) -> None:
        if not broken:
            with self._idle_lock:
                if len(self._idle) < MAX_IDLE and not self._closed:
                    self._idle.append(conn)
                    return
        with contextlib.suppress(Exception):
            conn.unbind_s()

    def _reuse(self, *, fresh: bool) -> Any:
        with self._idle_lock:
            if not fresh:
                return self._idle.pop() if self._idle else None
            idle, self._idle = self._idle, []
        for conn in idle:  # a connection was lost: the idle ones most likely point to the same dead server
            with contextlib.suppress(Exception):
                conn.unbind_s()
        return None

    async def close(self) -> None:
        self._closed = True
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(conn.unbind_s)

    def _connect(self) -> Any:
        """Open and bind a connection to the first server that answers (runs in a worker thread)."""
        self._library()
        with self._connect_lock:
            if not self._urls:
                raise DirectoryError("Aucun serveur d'annuaire configuré ([ldap] urls).")
            now = time.monotonic()
            for url, (since, _text) in list(self._tls_skipped.items()):
                if now - since > TLS_SKIP_SECONDS:
                    del self._tls_skipped[url]
            candidates = [u for u in self._urls if u not in self._tls_skipped] or list(self._urls)
            answering = [u for u in candidates if now - self._down.get(u, -EXHAUST_SECONDS) >= EXHAUST_SECONDS]
            detail = ""
            for url in answering or candidates:
                try:
                    conn = self._open(url)
                except _Down as exc:
                    self._down[url] = time.monotonic()
                    detail = str(exc)
                    continue
                except _TlsRefused as refused:
                    if not any(u != url and u not in self._tls_skipped for u in self._urls):
                        self._tls_skipped.clear()  # the next attempt tries every server again
                        raise refused.error from None
                    self._tls_skipped[url] = (time.monotonic(), f"serveur {url} ignoré : {refused.problem}")
                    continue
                self._down.pop(url, None)
                return conn
            raise DirectoryError(f"L'annuaire ne répond pas ({self._endpoint}).", detail=detail or None)

    def _open(self, url: str) -> Any:
        ldap = self._mod
        cfg = self._cfg
        conn = ldap.initialize(url)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, float(cfg.connect_timeout))
        # Without it, libldap waits for ever on the TLS handshake of an ldaps:// server that accepted the
        # connection and then says nothing (a hung server): asynchronous, the handshake honours the timeout.
        conn.set_option(ldap.OPT_CONNECT_ASYNC, ldap.OPT_ON)
        conn.set_option(ldap.OPT_TIMEOUT, float(max(cfg.timeout, 1.0)))
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND if cfg.tls_verify else ldap.OPT_X_TLS_NEVER)
        if cfg.ca_file:
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, cfg.ca_file)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: the options above go into this connection's context
        direct_tls = url.lower().startswith("ldaps://")
        starttls = cfg.starttls and not direct_tls
        step = "connect"
        try:
            if starttls:
                step = "starttls"
                conn.start_tls_s()
            step = "bind"
            if cfg.bind_dn:
                password = cfg.bind_password.reveal() if cfg.bind_password else ""
                conn.simple_bind_s(cfg.bind_dn, password)
            else:
                conn.simple_bind_s("", "")  # anonymous (ldap3 does not bind either); opens the connection
        except ldap.INVALID_CREDENTIALS:
            _quietly_close(conn)
            raise DirectoryError(
                f"Identifiants refusés par l'annuaire pour le compte {cfg.bind_dn} "
                "(vérifiez bind_dn et le mot de passe)."
            ) from None
        except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT) as exc:
            _quietly_close(conn)
            if direct_tls or starttls:
                problem = tls_diagnosis(
                    url,
                    starttls=starttls,
                    ca_file=cfg.ca_file,
                    verify=cfg.tls_verify,
                    timeout=max(cfg.connect_timeout, 1.0),
                )
                if problem is None and step == "starttls" and isinstance(exc, ldap.CONNECT_ERROR):
                    problem = certificate_problem(str(_info(exc).get("desc", exc)), host=url, ca_key="[ldap] ca_file")
                if problem is not None:
                    raise _TlsRefused(url, problem, _detail(exc)) from None
            raise _Down(_detail(exc)) from None
        except ldap.LDAPError as exc:
            _quietly_close(conn)
            if step == "starttls":  # the server answered the StartTLS request with an error
                raise _TlsRefused(url, no_starttls(url, server_side=_NO_STARTTLS_FIX), _detail(exc)) from None
            raise DirectoryError(
                f"Connexion à l'annuaire refusée pour {cfg.bind_dn}.", detail=str(_failed(exc))
            ) from None
        except EnttuiError:
            raise
        except Exception as exc:  # noqa: BLE001 - every connection failure becomes a DirectoryError
            _quietly_close(conn)
            raise DirectoryError(f"L'annuaire ne répond pas ({self._endpoint}).", detail=_detail(exc)) from None
        return conn

    # ------------------------------------------------------------------ one page

    def page(
        self,
        conn: Any,
        base: str,
        filt: str,
        scope: str,
        attributes: Sequence[str],
        size: int,
        cookie: bytes | None,
    ) -> tuple[list[Entry], bytes | None]:
        """One page of a paged search (runs in a worker thread); the next cookie, None after the last."""
        ldap = self._mod
        control = self._paged(True, size=size, cookie=cookie or b"")
        try:
            msgid = conn.search_ext(base, _SCOPES[scope.upper()], filt, list(attributes), serverctrls=[control])
            _kind, data, _msgid, controls = conn.result3(msgid, all=1, timeout=max(self._cfg.timeout, 1.0))
        except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT) as exc:
            raise ConnectionLost(_detail(exc)) from None
        except ldap.LDAPError as exc:
            raise _failed(exc) from None
        entries: list[Entry] = []
        append = entries.append
        for dn, attrs in data:
            if dn is None:  # a search continuation reference
                raise PageError(_REFERRAL)
            append(
                (dn, {name: [v.decode("utf-8", "replace") for v in values] for name, values in attrs.items() if values})
            )
        for ctrl in controls or ():
            if getattr(ctrl, "controlType", None) == self._paged.controlType:
                return entries, (ctrl.cookie or None)
        return entries, None


def _quietly_close(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.unbind_s()


# ---------------------------------------------------------------------- TLS diagnosis

# LDAPMessage { messageID 1, extendedReq [APPLICATION 23] { requestName [0] "1.3.6.1.4.1.1466.20037" } }
_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
_STARTTLS_NAME = b"\x80" + bytes([len(_STARTTLS_OID)]) + _STARTTLS_OID
_STARTTLS_BODY = b"\x02\x01\x01" + b"\x77" + bytes([len(_STARTTLS_NAME)]) + _STARTTLS_NAME
_STARTTLS_REQUEST = b"\x30" + bytes([len(_STARTTLS_BODY)]) + _STARTTLS_BODY


def _ber_element(data: bytes, at: int) -> tuple[int, int, int] | None:
    """(tag, start of content, end of content) of the BER element at ``at``, or None if incomplete."""
    if at + 2 > len(data):
        return None
    tag, first = data[at], data[at + 1]
    if first < 0x80:
        start, length = at + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or at + 2 + count > len(data):
            return None
        start, length = at + 2 + count, int.from_bytes(data[at + 2 : at + 2 + count], "big")
    return (tag, start, start + length) if start + length <= len(data) else None


def _starttls_result(sock: socket.socket) -> int | None:
    """The result code of the server's answer to the StartTLS request, or None if unreadable."""
    data = b""
    while True:
        message = _ber_element(data, 0)
        if message is not None:
            break
        chunk = sock.recv(4096)
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    _tag, start, end = message
    message_id = _ber_element(data, start)
    if message_id is None:
        return None
    response = _ber_element(data, message_id[2])
    if response is None or response[0] != 0x78:  # [APPLICATION 24] ExtendedResponse
        return None
    code = _ber_element(data, response[1])
    if code is None or code[0] != 0x0A or code[2] > end:
        return None
    return int.from_bytes(data[code[1] : code[2]], "big")


def tls_diagnosis(url: str, *, starttls: bool, ca_file: str, verify: bool, timeout: float) -> CertificateProblem | None:
    """Why ``url`` refuses TLS with these settings (certificate, no StartTLS), or None when the server
    does not answer at all or the handshake succeeds. One TCP connection, one handshake."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or (636 if parts.scheme.lower() == "ldaps" else 389)
    except ValueError:
        return None
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        return certificate_problem(str(exc), host=url, ca_key="[ldap] ca_file")
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    with sock:
        try:
            if starttls:
                sock.sendall(_STARTTLS_REQUEST)
                code = _starttls_result(sock)
                if code is None:
                    return None
                if code != 0:
                    return no_starttls(url, server_side=_NO_STARTTLS_FIX)
            with context.wrap_socket(sock, server_hostname=host):
                return None
        except ssl.SSLCertVerificationError as exc:
            text = f"certificate verify failed: {exc.verify_message or exc}"
            return certificate_problem(text, host=url, ca_key="[ldap] ca_file", verify_code=exc.verify_code)
        except ssl.SSLError as exc:
            return certificate_problem(str(exc), host=url, ca_key="[ldap] ca_file")
        except OSError:
            return None
