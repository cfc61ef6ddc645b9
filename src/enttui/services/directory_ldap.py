"""The real directory: an ldap3 pool of the ``[ldap] urls`` servers (the public class is ``Directory``).

An ldap3 ``ServerPool`` of every ``[ldap] urls`` (FIRST strategy, active, servers that stop
answering are set aside for a while) for failover; LDAPS or StartTLS with certificate checks on.
Each blocking ldap3 call runs in ``asyncio.to_thread``. ldap3 connections are not shared between
threads: a call borrows an idle connection (or opens one) for its whole duration and gives it
back; a paged search keeps its own connection from the first to the last page (the paging cookie
belongs to the connection). A call that loses its connection (server stopped) reconnects through
the pool (the next server answers) and is retried once. With ``[ldap] reader``, the paged reads
go through python-ldap (:mod:`.ldap_c_reader`); every write and every small read stays on ldap3.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import threading
import time

import ldap3
from ldap3.core import exceptions as lx

from enttui.config import EntConfig, LdapConfig
from enttui.domain.transport import CertificateProblem, certificate_problem, no_starttls
from enttui.errors import DirectoryError, EnttuiError
from enttui.services.directory import Directory
from enttui.services.directory_core import Lease, PageFn, Release, _clean_url, _decode, _detail
from enttui.services.ldap_c_reader import CReader, c_reader_for
from enttui.services.ldap_results import LdapFailed as _Failed

EXHAUST_SECONDS = 30  # a server that did not answer is skipped for this long
TLS_SKIP_SECONDS = 300  # a pool server that refused TLS is skipped for this long (while another answers)
MAX_IDLE = 4

# ldap3 waits this long between two rounds of its pool; one round is all we want.
ldap3.set_config_parameter("POOLING_LOOP_TIMEOUT", 0)


class _TlsRefused(Exception):
    """A server refused TLS (certificate, StartTLS): the pool may go on with the next one."""

    def __init__(self, url: str, problem: str, error: DirectoryError) -> None:
        super().__init__(problem)
        self.url = url
        self.problem = problem
        self.error = error


def _tls_problem(exc: BaseException, url: str) -> CertificateProblem | None:
    """The real cause of a TLS failure (expired, wrong host, unknown authority, no StartTLS), else None."""
    text = str(exc)
    if isinstance(exc, lx.LDAPStartTLSError) and "startTLS failed" in text:
        return no_starttls(url, server_side="TLSCertificateFile et TLSCertificateKeyFile de slapd")
    lowered = text.lower()
    if isinstance(exc, (ssl.SSLError, lx.LDAPCertificateError, lx.LDAPStartTLSError)) or any(
        w in lowered for w in ("certificate", "ssl", "tls")
    ):
        return certificate_problem(text, host=url, ca_key="[ldap] ca_file")
    return None


class LdapDirectory(Directory):
    """The Annuaire on real LDAP servers (see module docstring)."""

    def __init__(self, ldap: LdapConfig, ent: EntConfig) -> None:
        super().__init__(ldap, ent)
        self._pool: ldap3.ServerPool | None = None
        self._idle: list[ldap3.Connection] = []
        self._idle_lock = threading.Lock()
        self._connect_lock = threading.Lock()  # ldap3's pool state is not thread-safe
        self._tls_skipped: dict[str, tuple[float, str]] = {}  # url -> (since, French reason)
        # The paged reads on python-ldap ([ldap] reader), or None: ldap3.
        self._fast: CReader | None = c_reader_for(ldap, self._urls)

    # ------------------------------------------------------------------ the pool

    def _build_pool(self) -> ldap3.ServerPool:
        verify = ssl.CERT_REQUIRED if self._ldap.tls_verify else ssl.CERT_NONE
        tls = ldap3.Tls(validate=verify, ca_certs_file=self._ldap.ca_file or None)
        servers = []
        for url in [u for u in self._urls if u not in self._tls_skipped] or self._urls:
            servers.append(
                ldap3.Server(
                    url,
                    use_ssl=url.lower().startswith("ldaps://"),
                    tls=tls,
                    get_info=ldap3.NONE,
                    connect_timeout=self._ldap.connect_timeout,
                )
            )
        return ldap3.ServerPool(servers, ldap3.FIRST, active=1, exhaust=EXHAUST_SECONDS)

    def _connect(self) -> ldap3.Connection:
        """Open and bind a new connection (runs in a worker thread)."""
        with self._connect_lock:
            if not self._urls:
                raise DirectoryError("Aucun serveur d'annuaire configuré ([ldap] urls).")
            while True:
                if self._pool is None or self._tls_skip_expired():
                    self._pool = self._build_pool()
                try:
                    return self._connect_locked()
                except _TlsRefused as refused:
                    self._pool = None
                    if not self._skip_tls(refused):
                        raise refused.error from None

    def _tls_skip_expired(self) -> bool:
        now = time.monotonic()
        expired = [u for u, (since, _) in self._tls_skipped.items() if now - since > TLS_SKIP_SECONDS]
        for url in expired:
            del self._tls_skipped[url]
        return bool(expired)

    def _skip_tls(self, refused: _TlsRefused) -> bool:
        """A pool server refused TLS: set it aside for the next one, with a warning; False if none is left."""
        if not any(u != refused.url and u not in self._tls_skipped for u in self._urls):
            self._tls_skipped.clear()  # the next attempt tries every server again
            return False
        self._tls_skipped[refused.url] = (time.monotonic(), f"serveur {refused.url} ignoré : {refused.problem}")
        return True

    @property
    def tls_warnings(self) -> list[str]:
        """French lines about pool servers set aside for a bad certificate (they are retried later)."""
        lines = [text for _since, text in self._tls_skipped.values()]
        if self._fast is not None:
            lines += [text for text in self._fast.tls_warnings if text not in lines]
        return lines

    @property
    def reader(self) -> str:
        """Who performs the paged reads: ``"python-ldap"`` or ``"ldap3"`` (see ``[ldap] reader``)."""
        return "python-ldap" if self._fast is not None else "ldap3"

    def _connect_locked(self) -> ldap3.Connection:
        assert self._pool is not None
        password = self._ldap.bind_password.reveal() if self._ldap.bind_password else None
        conn = ldap3.Connection(
            self._pool,
            user=self._ldap.bind_dn or None,
            password=password if self._ldap.bind_dn else None,
            client_strategy=ldap3.SYNC,
            raise_exceptions=False,
            auto_referrals=False,
            receive_timeout=max(1, math.ceil(self._ldap.timeout)),  # ldap3 packs it as an integer
            return_empty_attributes=False,
        )
        try:
            conn.open()
            if self._ldap.starttls and not conn.server.ssl and not conn.start_tls():
                raise lx.LDAPStartTLSError(f"startTLS failed - {conn.result}")
            if self._ldap.bind_dn and not conn.bind():
                result = conn.result or {}
                with contextlib.suppress(Exception):
                    conn.unbind()
                if result.get("result") == 49:
                    raise DirectoryError(
                        f"Identifiants refusés par l'annuaire pour le compte {self._ldap.bind_dn} "
                        "(vérifiez bind_dn et le mot de passe)."
                    )
                raise DirectoryError(
                    f"Connexion à l'annuaire refusée pour {self._ldap.bind_dn}.", detail=str(_Failed(result))
                )
        except EnttuiError:
            raise
        except Exception as exc:  # noqa: BLE001 - every connection failure becomes a DirectoryError
            with contextlib.suppress(Exception):
                conn.unbind()
            url = _clean_url(str(getattr(conn.server, "name", "") or self.endpoint))
            problem = _tls_problem(exc, url)
            if problem is not None:
                error = DirectoryError(f"Connexion TLS à l'annuaire refusée : {problem.text()}.", detail=_detail(exc))
                raise _TlsRefused(url, problem.text(), error) from None
            raise DirectoryError(f"L'annuaire ne répond pas ({self.endpoint}).", detail=_detail(exc)) from None
        return conn

    async def open(self) -> None:
        """Connect and bind now (errors in French); later calls reconnect by themselves."""
        self._closed = False
        conn = await asyncio.to_thread(self._connect)
        self._checkin(conn)
        if self._fast is not None:  # the reader's own connection: its TLS and bind errors show now
            self._fast.release(await self._fast.lease(), broken=False)

    async def close(self) -> None:
        self._closed = True
        if self._fast is not None:
            await self._fast.close()
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(conn.unbind)

    # ------------------------------------------------------------------ connection borrowing

    def _checkout(self, *, fresh: bool = False) -> ldap3.Connection:
        conn = self._reuse(fresh=fresh)
        return conn if conn is not None else self._connect()

    def _reuse(self, *, fresh: bool) -> ldap3.Connection | None:
        """An idle connection, or None; ``fresh`` drops the idle ones (a connection was just lost)."""
        if fresh:
            self._drain_idle()
            return None
        with self._idle_lock:
            return self._idle.pop() if self._idle else None

    def _drain_idle(self) -> None:
        """A connection was lost: the idle ones most likely point to the same dead server."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.unbind()

    def _checkin(self, conn: ldap3.Connection) -> None:
        with self._idle_lock:
            if len(self._idle) < MAX_IDLE and not self._closed:
                self._idle.append(conn)
                return
        with contextlib.suppress(Exception):
            conn.unbind()

    def _discard(self, conn: ldap3.Connection) -> None:
        with contextlib.suppress(Exception):
            conn.unbind()

    def _pager(self) -> tuple[Lease, PageFn, Release]:
        fast = self._fast
        if fast is not None:
            return fast.lease, fast.page, fast.release
        return self._lease, self._page, self._release

    async def _lease(self, *, fresh: bool = False) -> ldap3.Connection:
        """A connection for a whole paged search."""
        conn = self._reuse(fresh=fresh)
        return conn if conn is not None else await asyncio.to_thread(self._connect)

    def _release(self, conn: ldap3.Connection, *, broken: bool) -> None:
        if broken:
            with contextlib.suppress(Exception):
                conn.unbind()
        else:
            self._checkin(conn)

    # ------------------------------------------------------------------ health, root DSE, binds

    def _read_root_dse(self, conn: ldap3.Connection) -> dict[str, list[str]]:
        attrs = ["objectClass", "vendorName", "vendorVersion", "supportedExtension", "namingContexts"]
        if not conn.search("", "(objectClass=*)", ldap3.BASE, attributes=attrs):
            raise _Failed(conn.result)
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                return _decode(item.get("raw_attributes") or {})
        return {}

    def _probe(self, conn: ldap3.Connection) -> tuple[str, dict[str, list[str]]]:
        return _clean_url(conn.server.name), self._read_root_dse(conn)

    async def password_works(self, dn: str, password: str) -> bool:
        """Does ``password`` open ``dn`` (a simple bind on a connection of its own)?

        A resumed diffusion asks it only when the directory refused to set again the password the
        killed run had set (a ``pwdInHistory`` rule): then the account already holds it.
        """

        def bind() -> bool:
            with self._connect_lock:
                if self._pool is None:
                    self._pool = self._build_pool()
                pool = self._pool
            conn = ldap3.Connection(
                pool,
                user=dn,
                password=password,
                client_strategy=ldap3.SYNC,
                raise_exceptions=False,
                receive_timeout=max(1, math.ceil(self._ldap.timeout)),
            )
            try:
                conn.open()
                if self._ldap.starttls and not conn.server.ssl and not conn.start_tls():
                    return False
                return bool(conn.bind())
            except Exception:  # noqa: BLE001 - no answer is "no"
                return False
            finally:
                with contextlib.suppress(Exception):
                    conn.unbind()

        return await asyncio.to_thread(bind)
