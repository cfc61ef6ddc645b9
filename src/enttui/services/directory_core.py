"""What both directories share: entry types, the ldap3 calls on one connection, the paged-read loop.

:class:`DirectoryCore` runs a blocking ldap3 call in a worker thread on a borrowed connection
(``_call``/``_run``: a lost connection is reconnected and the call retried once), reads pages
(``iter_pages``: never silently truncated) and probes the health. How a connection is borrowed
and given back is the backend's: the real pool (:mod:`.directory_ldap`) or the one in-memory
connection under a lock (:mod:`.directory_embedded`). The public class is
:class:`enttui.services.directory.Directory`.

Every library error leaves as a :class:`~enttui.errors.DirectoryError` (French), and a read that
did not return every entry raises :class:`~enttui.errors.IncompleteReadError`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import ldap3
from ldap3.core import exceptions as lx

from enttui.config import EntConfig, LdapConfig
from enttui.domain.dn import dn_key_or_none
from enttui.domain.french import plural
from enttui.domain.health import SystemHealth
from enttui.domain.people import Person, Structure, format_ldap_time, normalise_attrs
from enttui.errors import DirectoryError, EnttuiError, IncompleteReadError
from enttui.services.ldap_results import ConnectionLost
from enttui.services.ldap_results import LdapFailed as _Failed
from enttui.services.ldap_results import PageError as _PageError

Entry = tuple[str, dict[str, list[str]]]
T = TypeVar("T")
# A paged search's three steps: lease a connection, read one page, give the connection back.
Lease = Callable[..., Awaitable[Any]]
PageFn = Callable[..., tuple[list[Entry], bytes | None]]
Release = Callable[..., None]

PASSWORD_MODIFY_OID = "1.3.6.1.4.1.4203.1.11.1"
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
HEALTH_NAME = "Annuaire (LDAP)"
DN_CHUNK = 200  # DNs per OR filter or per worker-thread hop when reading entries by DN
_SCOPES = {"BASE": ldap3.BASE, "LEVEL": ldap3.LEVEL, "ONELEVEL": ldap3.LEVEL, "SUBTREE": ldap3.SUBTREE}
_LOST = (lx.LDAPCommunicationError, lx.LDAPResponseTimeoutError)
_PAGE_LOST = (*_LOST, ConnectionLost)  # a page of either reader lost its connection


@dataclass
class EntryLookup:
    """Entries read by DN: ``entries`` keyed by dn_key; ``invalid``: (value, French reason) of non-DNs."""

    entries: dict[str, Entry] = field(default_factory=dict)
    invalid: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PeopleLookup:
    """People read by DN: ``people`` keyed by dn_key; ``invalid``: (value, French reason) of non-DNs."""

    people: dict[str, Person] = field(default_factory=dict)
    invalid: list[tuple[str, str]] = field(default_factory=list)


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _now() -> str:
    return format_ldap_time(datetime.now(UTC))


def _decode(raw: dict[str, Any]) -> dict[str, list[str]]:
    return normalise_attrs(raw)


def _clean_url(url: str) -> str:
    url = re.sub(r"//[^/@]*@", "//", url.strip())  # never show user:password@
    return url.rstrip("/")


def _dn_key(dn: str) -> str:
    """A DN compared as :func:`enttui.domain.dn.dn_key` does (an unparsable one as typed)."""
    key = dn_key_or_none(dn)
    return key if key is not None else dn


class DirectoryCore:
    """Connections, searches and health common to both directories (see module docstring)."""

    #: The in-memory demo directory (ldap3's MOCK_SYNC), not a server.
    is_embedded = False
    #: Another process can open the same directory from the settings (the password child processes).
    supports_processes = True
    #: A search returns the entries in a repeatable order (the embedded one does not).
    stable_order = True

    def __init__(self, ldap: LdapConfig, ent: EntConfig) -> None:
        self._ldap = ldap
        self._ent = ent
        self._urls = [_clean_url(u) for u in ldap.urls]
        self._closed = False
        self._root_dse: dict[str, list[str]] | None = None
        self._structures: list[Structure] | None = None
        self._perimeter: str | None = None

    # ------------------------------------------------------------------ what a backend provides

    async def open(self) -> None:
        """Connect and bind now (errors in French); later calls reconnect by themselves."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def _checkout(self, *, fresh: bool = False) -> ldap3.Connection:
        """A connection for one call (``fresh``: the previous one was lost)."""
        raise NotImplementedError

    def _checkin(self, conn: ldap3.Connection) -> None:
        raise NotImplementedError

    def _discard(self, conn: ldap3.Connection) -> None:
        """The connection was lost during a call."""
        raise NotImplementedError

    def _pager(self) -> tuple[Lease, PageFn, Release]:
        """The lease, page and release steps of a paged search (see :meth:`iter_pages`)."""
        raise NotImplementedError

    def _read_root_dse(self, conn: ldap3.Connection) -> dict[str, list[str]]:
        raise NotImplementedError

    def _probe(self, conn: ldap3.Connection) -> tuple[str, dict[str, list[str]]]:
        """For :meth:`health`: (the server that answered, its root DSE)."""
        raise NotImplementedError

    def _abandon_paging(self, conn: Any, cookie: bytes) -> None:
        """A paged search stopped before its last page (nothing to do for a server)."""
        return None

    # ------------------------------------------------------------------ endpoints

    @property
    def endpoint(self) -> str:
        return ", ".join(self._urls)

    @property
    def tls_warnings(self) -> list[str]:
        """French lines about pool servers set aside for a bad certificate (they are retried later)."""
        return []

    @property
    def reader(self) -> str:
        """Who performs the paged reads: ``"python-ldap"`` or ``"ldap3"`` (see ``[ldap] reader``)."""
        return "ldap3"

    def _invalidate(self) -> None:
        self._structures = None
        self._perimeter = None

    # ------------------------------------------------------------------ one call on a borrowed connection

    def _call(self, fn: Callable[[ldap3.Connection], T], what: str) -> T:
        """Run ``fn(conn)`` on a borrowed connection; reconnect (failover) and retry once if it was lost."""
        for attempt in (1, 2):
            conn = self._checkout(fresh=attempt == 2)
            try:
                result = fn(conn)
            except _LOST as exc:
                self._discard(conn)
                if attempt == 2:
                    raise DirectoryError(
                        f"Connexion à l'annuaire perdue pendant : {what} ({self.endpoint}).",
                        detail=f"{type(exc).__name__}: {exc}",
                    ) from None
                continue
            except BaseException:
                self._checkin(conn)
                raise
            self._checkin(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run(self, fn: Callable[[ldap3.Connection], T], what: str) -> T:
        try:
            return await asyncio.to_thread(self._call, fn, what)
        except EnttuiError:
            raise
        except _Failed as exc:
            raise DirectoryError(f"{what} : {exc.french()}.", detail=str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the service boundary
            raise DirectoryError(
                f"Erreur de l'annuaire pendant : {what}.", detail=f"{type(exc).__name__}: {exc}"
            ) from None

    # ------------------------------------------------------------------ health, root DSE

    async def root_dse(self) -> dict[str, list[str]]:
        if self._root_dse is None:
            self._root_dse = await self._run(self._read_root_dse, "lecture du DSE racine")
        return self._root_dse

    def _version(self, dse: dict[str, list[str]]) -> str:
        version = " ".join(v for v in (*dse.get("vendorName", []), *dse.get("vendorVersion", [])) if v)
        if not version and any(c.lower() == "openldaprootdse" for c in dse.get("objectClass", [])):
            version = "OpenLDAP"
        return version

    async def health(self) -> SystemHealth:
        """Does the directory answer, how fast, which server and version; never raises."""
        start = time.perf_counter()
        try:
            used, dse = await self._run(self._probe, "vérification de l'annuaire")
        except EnttuiError as exc:
            return SystemHealth(HEALTH_NAME, "directory", ok=False, endpoint=self.endpoint, message=exc.message)
        except Exception as exc:  # noqa: BLE001 - health never raises
            return SystemHealth(
                HEALTH_NAME, "directory", ok=False, endpoint=self.endpoint, message=f"Erreur inattendue : {exc}"
            )
        latency = (time.perf_counter() - start) * 1000
        self._root_dse = dse
        return SystemHealth(
            HEALTH_NAME,
            "directory",
            ok=True,
            latency_ms=latency,
            version=self._version(dse),
            endpoint=used,
            message="",
            warnings=tuple(self.tls_warnings),
        )

    async def supports_password_exop(self) -> bool:
        dse = await self.root_dse()
        return PASSWORD_MODIFY_OID in dse.get("supportedExtension", [])

    # ------------------------------------------------------------------ searching

    def _search_once(
        self, conn: ldap3.Connection, base: str, filt: str, attributes: Sequence[str], scope: str
    ) -> list[Entry]:
        """One unpaged search (small results: a base read, a few DNs); raises _Failed on error."""
        ok = conn.search(base, filt, _SCOPES[scope.upper()], attributes=list(attributes) or [ldap3.NO_ATTRIBUTES])
        if not ok and (conn.result or {}).get("result") not in (0, None):
            raise _Failed(conn.result)
        return [
            (item["dn"], _decode(item.get("raw_attributes") or {}))
            for item in conn.response or []
            if item.get("type") == "searchResEntry"
        ]

    def _page(
        self,
        conn: ldap3.Connection,
        base: str,
        filt: str,
        scope: str,
        attributes: list[str],
        size: int,
        cookie: bytes | None,
    ) -> tuple[list[Entry], bytes | None]:
        conn.search(base, filt, _SCOPES[scope.upper()], attributes=attributes, paged_size=size, paged_cookie=cookie)
        result = conn.result or {}
        code = result.get("result")
        entries = [
            (item["dn"], _decode(item.get("raw_attributes") or {}))
            for item in conn.response or []
            if item.get("type") == "searchResEntry"
        ]
        if code != 0:
            raise _Failed(result)
        if any(item.get("type") == "searchResRef" for item in conn.response or []):
            raise _PageError("l'annuaire renvoie vers un autre serveur (référence non suivie)")
        control = (result.get("controls") or {}).get(PAGED_RESULTS_OID) or {}
        next_cookie = (control.get("value") or {}).get("cookie") or None
        return entries, next_cookie

    async def iter_pages(
        self,
        base: str,
        filt: str,
        attributes: Sequence[str],
        *,
        page_size: int | None = None,
        scope: str = "SUBTREE",
        prefetch: bool = False,
    ) -> AsyncGenerator[list[Entry], None]:
        """Paged search (RFC 2696), one page per thread hop; never silently truncated.

        The pages come from ldap3 or, with ``[ldap] reader``, from python-ldap (:mod:`.ldap_c_reader`):
        same requests, same entries, and this same loop (failover, incomplete reads) for both.
        ``prefetch``: the next page is asked for (in its worker thread) before a page is handed out,
        so that the caller's work on a page overlaps the server's on the next (one more page in
        memory). For the big reads that go to the end (the sync, the plans, the reports, exports);
        not for a read stopped after its first pages (a page asked for would be wasted, and a read
        closed while a page is in flight drops its connection).
        """
        size = page_size or self._ldap.page_size
        attrs = list(attributes) or [ldap3.NO_ATTRIBUTES]
        read = 0
        cookie: bytes | None = None
        lease, page, release = self._pager()
        conn: Any = await lease()
        in_flight = False  # a page request is running in a worker thread (cancellation must not reuse conn)

        async def fetch(page_cookie: bytes | None) -> tuple[list[Entry], bytes | None]:
            nonlocal in_flight, conn
            assert conn is not None
            in_flight = True
            try:
                got = await asyncio.to_thread(page, conn, base, filt, scope, attrs, size, page_cookie)
            except asyncio.CancelledError:
                raise  # the thread still runs: in_flight stays set
            except _PAGE_LOST:
                in_flight = False
                release(conn, broken=True)
                conn = None
                raise
            except BaseException:
                in_flight = False
                raise
            in_flight = False
            return got

        ahead: asyncio.Task[tuple[list[Entry], bytes | None]] | None = None  # the next page, asked for
        try:
            while True:
                try:
                    try:
                        if ahead is not None:
                            entries, cookie = await ahead
                            ahead = None
                        else:
                            entries, cookie = await fetch(cookie)
                    except _PAGE_LOST as exc:
                        if read or cookie is not None:
                            raise self._incomplete(read, f"connexion perdue ({exc})") from None
                        conn = await lease(fresh=True)  # reconnect (failover) and start again, once
                        try:
                            entries, cookie = await fetch(None)
                        except _PAGE_LOST as exc2:
                            raise self._incomplete(read, f"connexion perdue ({exc2})") from None
                except _Failed as exc:
                    if exc.code == 32 and read == 0:
                        raise DirectoryError(
                            f"La branche « {base} » n'existe pas dans l'annuaire.", detail=str(exc)
                        ) from None
                    raise self._incomplete(read, exc.french()) from None
                except _PageError as exc:
                    raise self._incomplete(read, exc.reason) from None
                except EnttuiError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a failed page is an incomplete read
                    raise self._incomplete(read, f"{type(exc).__name__}: {exc}") from None
                read += len(entries)
                if prefetch and cookie:
                    ahead = asyncio.ensure_future(fetch(cookie))
                if entries:
                    yield entries
                if not cookie:
                    break
        finally:
            if ahead is not None:
                if not ahead.done():
                    ahead.cancel()  # its thread finishes on its own; in_flight stays set: conn is dropped
                elif ahead.cancelled() or ahead.exception() is not None:
                    if conn is not None:  # (a lost connection was already released as broken)
                        release(conn, broken=True)
                    in_flight, conn = False, None
                else:
                    cookie = ahead.result()[1]  # the server's paging moved on: abandon at its cookie
            if in_flight:
                # Cancelled while a worker thread still uses the connection: never hand it to anyone
                # else (the thread finishes on its own; the connection is then dropped).
                conn = None
            if conn is not None:
                if cookie:
                    self._abandon_paging(conn, cookie)
                release(conn, broken=False)

    def _incomplete(self, read: int, reason: str) -> IncompleteReadError:
        return IncompleteReadError(
            f"Lecture de l'annuaire interrompue après {plural(read, 'entrée')} : {reason}. "
            "Le résultat est incomplet ; rien n'a été tronqué en silence.",
        )

    async def search_all(
        self,
        base: str,
        filt: str,
        attributes: Sequence[str],
        *,
        page_size: int | None = None,
        scope: str = "SUBTREE",
    ) -> list[Entry]:
        out: list[Entry] = []
        async for page in self.iter_pages(base, filt, attributes, page_size=page_size, scope=scope):
            out.extend(page)
        return out
