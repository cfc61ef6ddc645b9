"""The directory (Annuaire): an async facade over ldap3, for real servers and the embedded one.

Real servers: an ldap3 ``ServerPool`` of every ``[ldap] urls`` (FIRST strategy, active, servers
that stop answering are set aside for a while) for failover; LDAPS or StartTLS with certificate
checks on. Each blocking ldap3 call runs in ``asyncio.to_thread``. ldap3 connections are not
shared between threads: a call borrows an idle connection (or opens one) for its whole duration
and gives it back; a paged search keeps its own connection from the first to the last page (the
paging cookie belongs to the connection). A call that loses its connection (server stopped)
reconnects through the pool (the next server answers) and is retried once.

Embedded (``mock://`` URL, or :meth:`Directory.embedded`): ldap3's in-memory MOCK_SYNC
directory, loaded with the schema captured from the test slapd (``enttui/demo/data``). One
connection, used under a lock. It has no password-modify operation and does not maintain
``createTimestamp``/``modifyTimestamp``: this facade sets them.

Every library error leaves this module as a :class:`~enttui.errors.DirectoryError` (French),
and a read that did not return every entry raises :class:`~enttui.errors.IncompleteReadError`.
The file is long because it is the one place where ldap3 is spoken.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import math
import re
import ssl
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import ldap3
from ldap3.core import exceptions as lx
from ldap3.utils.dn import safe_dn, to_dn

from enttui.config import EntConfig, LdapConfig
from enttui.domain import ldapfilter as lf
from enttui.domain.dn import InvalidDn, dn_key, dn_key_or_none
from enttui.domain.french import plural
from enttui.domain.health import SystemHealth
from enttui.domain.people import (
    GROUP_ATTRIBUTES,
    PERSON_ATTRIBUTES,
    STRUCTURE_ATTRIBUTES,
    Group,
    Person,
    ProfileCounts,
    Structure,
    format_ldap_time,
    group_from_entry,
    normalise_attrs,
    person_from_entry,
    resolve_target,
    structure_from_entry,
)
from enttui.domain.transport import CertificateProblem, certificate_problem, no_starttls
from enttui.errors import DirectoryError, EnttuiError, IncompleteReadError
from enttui.services.ldap_c_reader import CReader, c_reader_for
from enttui.services.ldap_results import ConnectionLost
from enttui.services.ldap_results import LdapFailed as _Failed
from enttui.services.ldap_results import PageError as _PageError

__all__ = ["PASSWORD_MODIFY_OID", "Directory", "Entry", "EntryLookup", "PeopleLookup"]

Entry = tuple[str, dict[str, list[str]]]
T = TypeVar("T")

PASSWORD_MODIFY_OID = "1.3.6.1.4.1.4203.1.11.1"
PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
HEALTH_NAME = "Annuaire (LDAP)"
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9-]*")  # an attribute type's name (in a dn_key: lower case)
DN_CHUNK = 200  # DNs per OR filter or per worker-thread hop when reading entries by DN
EXHAUST_SECONDS = 30  # a server that did not answer is skipped for this long
TLS_SKIP_SECONDS = 300  # a pool server that refused TLS is skipped for this long (while another answers)
MAX_IDLE = 4
_SCOPES = {"BASE": ldap3.BASE, "LEVEL": ldap3.LEVEL, "ONELEVEL": ldap3.LEVEL, "SUBTREE": ldap3.SUBTREE}
_LOST = (lx.LDAPCommunicationError, lx.LDAPResponseTimeoutError)
_PAGE_LOST = (*_LOST, ConnectionLost)  # a page of either reader lost its connection

# ldap3 waits this long between two rounds of its pool; one round is all we want.
ldap3.set_config_parameter("POOLING_LOOP_TIMEOUT", 0)


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


class _TlsRefused(Exception):
    """A server refused TLS (certificate, StartTLS): the pool may go on with the next one."""

    def __init__(self, url: str, problem: str, error: DirectoryError) -> None:
        super().__init__(problem)
        self.url = url
        self.problem = problem
        self.error = error


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


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


def _now() -> str:
    return format_ldap_time(datetime.now(UTC))


def _decode(raw: dict[str, Any]) -> dict[str, list[str]]:
    return normalise_attrs(raw)


def _data_file(name: str) -> str:
    return (importlib.resources.files("enttui.demo") / "data" / name).read_text(encoding="utf-8")


def _substring_safe_filter(filter_object: Any) -> str:
    """ldap3's ``filter_to_string`` with substring values escaped again (used by MOCK_SYNC only).

    ldap3 2.9.1's in-memory directory turns the request's filter back into text without
    re-escaping substring values, so ``(cn=*\\2a*)`` became ``(cn=***)`` (matches everything) and
    ``\\28``/``\\29`` broke the filter. With this, a typed ``*)(`` matches nothing instead of
    everything (the mock compares substrings against the escaped text; equality is exact).
    """
    from ldap3.operation.search import filter_to_string

    kind = filter_object.getName()
    if kind in ("and", "or"):
        return (
            "("
            + ("&" if kind == "and" else "|")
            + "".join(_substring_safe_filter(f) for f in filter_object[kind])
            + ")"
        )
    if kind == "notFilter":
        return "(!" + _substring_safe_filter(filter_object["notFilter"]["innerNotFilter"]) + ")"
    if kind != "substringFilter":
        return filter_to_string(filter_object)
    text = f"({filter_object['substringFilter']['type']}="
    initial = final = ""
    middles: list[str] = []
    for substring in filter_object["substringFilter"]["substrings"]:
        component = substring.getName()
        if substring[component] is None or not substring[component].hasValue():
            continue
        value = lf.escape(bytes(substring[component]).decode("utf-8", "replace"))
        if component == "initial":
            initial = value
        elif component == "any":
            middles.append(value)
        else:
            final = value
    return text + initial + "*" + "".join(m + "*" for m in middles) + final + ")"


def _fix_mock_filters() -> None:
    from ldap3.strategy import mockBase

    if getattr(mockBase, "_enttui_substring_fix", False):
        return
    original = mockBase.search_request_to_dict

    def search_request_to_dict(request: Any) -> dict[str, Any]:
        result = original(request)
        result["filter"] = _substring_safe_filter(request["filter"])
        return result

    mockBase.search_request_to_dict = search_request_to_dict
    mockBase._enttui_substring_fix = True


def _clean_url(url: str) -> str:
    url = re.sub(r"//[^/@]*@", "//", url.strip())  # never show user:password@
    return url.rstrip("/")


class Directory:
    """The Annuaire: people, groups, structures, passwords (see module docstring)."""

    def __init__(self, ldap: LdapConfig, ent: EntConfig) -> None:
        self._ldap = ldap
        self._ent = ent
        self._urls = [_clean_url(u) for u in ldap.urls]
        self.is_embedded = any(u.startswith("mock://") for u in self._urls)
        self._pool: ldap3.ServerPool | None = None
        self._mock_server: ldap3.Server | None = None
        self._mock_conn: ldap3.Connection | None = None
        self._mock_lock = threading.RLock()
        self._idle: list[ldap3.Connection] = []
        self._idle_lock = threading.Lock()
        self._connect_lock = threading.Lock()  # ldap3's pool state is not thread-safe
        self._closed = False
        self._tls_skipped: dict[str, tuple[float, str]] = {}  # url -> (since, French reason)
        self._root_dse: dict[str, list[str]] | None = None
        self._structures: list[Structure] | None = None
        self._perimeter: str | None = None
        # The paged reads on python-ldap ([ldap] reader), or None: ldap3 (always for the embedded one).
        self._fast: CReader | None = None if self.is_embedded else c_reader_for(ldap, self._urls)
        if self.is_embedded:
            self._init_embedded()

    # ------------------------------------------------------------------ construction

    @classmethod
    def embedded(
        cls, ldap: LdapConfig, ent: EntConfig, entries: Iterable[tuple[str, dict[str, list[str]]]] = ()
    ) -> Directory:
        """An in-memory directory with the project schema, loaded with ``entries`` (fast path)."""
        if not any(u.startswith("mock://") for u in ldap.urls):
            from dataclasses import replace

            ldap = replace(ldap, urls=["mock://embedded"])
        directory = cls(ldap, ent)
        directory.load_entries(entries)
        return directory

    def _init_embedded(self) -> None:
        from ldap3.protocol.rfc4512 import DsaInfo, SchemaInfo

        _fix_mock_filters()
        schema = SchemaInfo.from_json(_data_file("ldap_schema.json"))
        info = DsaInfo.from_json(_data_file("ldap_info.json"), schema)
        server = ldap3.Server.from_definition("enttui-embedded", info, schema)
        self._mock_server = server
        conn = ldap3.Connection(server, client_strategy=ldap3.MOCK_SYNC, raise_exceptions=False)
        conn.open()
        self._mock_conn = conn
        self._auto_containers: set[str] = set()
        for dn in self._containers():
            self._mock_add_entry(dn, self._container_attrs(dn), must=False)
            self._auto_containers.add(safe_dn(dn).lower())

    def _containers(self) -> list[str]:
        dns = [self._ldap.base_dn, self._ldap.people_dn, self._ldap.groups_dn, self._ldap.structures_dn]
        return [dn for dn in dict.fromkeys(dns) if dn]

    @staticmethod
    def _container_attrs(dn: str) -> dict[str, list[str]]:
        attr, _, value = to_dn(dn)[0].partition("=")
        attr = attr.strip().lower()
        if attr == "dc":
            return {"objectClass": ["dcObject", "organization"], "dc": [value], "o": [value]}
        if attr == "o":
            return {"objectClass": ["organization"], "o": [value]}
        return {"objectClass": ["organizationalUnit"], "ou": [value]}

    def load_entries(self, entries: Iterable[tuple[str, dict[str, list[str]]]]) -> int:
        """Embedded only: add entries straight into the in-memory directory; returns how many."""
        if not self.is_embedded:
            raise DirectoryError("Le chargement direct d'entrées n'est possible que dans l'annuaire intégré.")
        n = 0
        with self._mock_lock:
            for dn, attrs in entries:
                self._mock_add_entry(dn, attrs, must=True)
                n += 1
        self._invalidate()
        return n

    def _mock_add_entry(self, dn: str, attrs: dict[str, list[str]], *, must: bool) -> None:
        assert self._mock_conn is not None and self._mock_server is not None
        values: dict[str, Any] = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in attrs.items()}
        stamp = _now()
        values.setdefault("createTimestamp", [stamp])
        values.setdefault("modifyTimestamp", values["createTimestamp"])
        key = safe_dn(dn)
        if must and key.lower() in self._auto_containers:  # the caller brings its own container entry
            self._auto_containers.discard(key.lower())
            with self._mock_server.dit_lock:
                self._mock_conn.strategy.entries.pop(key, None)
        try:
            ok = self._mock_conn.strategy.add_entry(dn, values)
        except Exception as exc:  # noqa: BLE001 - ldap3 raises anything on an unknown attribute or bad value
            raise DirectoryError(f"Entrée refusée par l'annuaire intégré : {dn}", detail=str(exc)) from None
        if not ok:
            existing = self._mock_conn.strategy.entries.get(key)
            if existing is not None and not must:
                return
            if existing is not None:
                raise DirectoryError(f"Entrée en double dans l'annuaire intégré : {dn}")
            raise DirectoryError(
                f"Entrée refusée par l'annuaire intégré (classe inconnue ou attribut mono-valué répété) : {dn}"
            )

    # ------------------------------------------------------------------ endpoints and lifecycle

    @property
    def endpoint(self) -> str:
        return ", ".join(self._urls)

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
        if self.is_embedded:
            return
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
        if self.is_embedded:
            self._mock_lock.acquire()
            assert self._mock_conn is not None
            return self._mock_conn
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
        if self.is_embedded:
            self._mock_lock.release()
            return
        with self._idle_lock:
            if len(self._idle) < MAX_IDLE and not self._closed:
                self._idle.append(conn)
                return
        with contextlib.suppress(Exception):
            conn.unbind()

    def _discard(self, conn: ldap3.Connection) -> None:
        if self.is_embedded:
            self._mock_lock.release()
            return
        with contextlib.suppress(Exception):
            conn.unbind()

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

    def _read_root_dse(self, conn: ldap3.Connection) -> dict[str, list[str]]:
        if self.is_embedded:
            info = self._mock_server.info if self._mock_server else None
            raw = dict(info.raw) if info else {}
            raw["supportedExtension"] = []  # MOCK_SYNC implements no extended operation
            return _decode(raw)
        attrs = ["objectClass", "vendorName", "vendorVersion", "supportedExtension", "namingContexts"]
        if not conn.search("", "(objectClass=*)", ldap3.BASE, attributes=attrs):
            raise _Failed(conn.result)
        for item in conn.response or []:
            if item.get("type") == "searchResEntry":
                return _decode(item.get("raw_attributes") or {})
        return {}

    async def root_dse(self) -> dict[str, list[str]]:
        if self._root_dse is None:
            self._root_dse = await self._run(self._read_root_dse, "lecture du DSE racine")
        return self._root_dse

    async def health(self) -> SystemHealth:
        """Does the directory answer, how fast, which server and version; never raises."""
        start = time.perf_counter()
        used: list[str] = []

        def probe(conn: ldap3.Connection) -> dict[str, list[str]]:
            if self.is_embedded:
                self._search_once(conn, self._ldap.base_dn, lf.present("objectClass"), ["objectClass"], "BASE")
            used.append(_clean_url(conn.server.name) if not self.is_embedded else self.endpoint)
            return self._read_root_dse(conn)

        try:
            dse = await self._run(probe, "vérification de l'annuaire")
        except EnttuiError as exc:
            return SystemHealth(HEALTH_NAME, "directory", ok=False, endpoint=self.endpoint, message=exc.message)
        except Exception as exc:  # noqa: BLE001 - health never raises
            return SystemHealth(
                HEALTH_NAME, "directory", ok=False, endpoint=self.endpoint, message=f"Erreur inattendue : {exc}"
            )
        latency = (time.perf_counter() - start) * 1000
        self._root_dse = dse
        version = " ".join(v for v in (*dse.get("vendorName", []), *dse.get("vendorVersion", [])) if v)
        if not version and any(c.lower() == "openldaprootdse" for c in dse.get("objectClass", [])):
            version = "OpenLDAP"
        if self.is_embedded:
            version = "annuaire intégré (démo)"
        return SystemHealth(
            HEALTH_NAME,
            "directory",
            ok=True,
            latency_ms=latency,
            version=version,
            endpoint=used[0] if used else self.endpoint,
            message="",
            warnings=tuple(self.tls_warnings),
        )

    async def supports_password_exop(self) -> bool:
        if self.is_embedded:
            return False
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
    ) -> AsyncGenerator[list[Entry], None]:
        """Paged search (RFC 2696), one page per thread hop; never silently truncated.

        The pages come from ldap3 or, with ``[ldap] reader``, from python-ldap (:mod:`.ldap_c_reader`):
        same requests, same entries, and this same loop (failover, incomplete reads) for both.
        """
        size = page_size or self._ldap.page_size
        attrs = list(attributes) or [ldap3.NO_ATTRIBUTES]
        read = 0
        cookie: bytes | None = None
        fast = self._fast
        lease = fast.lease if fast is not None else self._lease
        page = fast.page if fast is not None else self._page_locked
        release = fast.release if fast is not None else self._release
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

        try:
            while True:
                try:
                    try:
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
                if entries:
                    yield entries
                if not cookie:
                    break
        finally:
            if in_flight:
                # Cancelled while a worker thread still uses the connection: never hand it to anyone
                # else (the thread finishes on its own; the connection is then dropped).
                conn = None
            if conn is not None:
                if cookie and self.is_embedded:
                    self._forget_mock_paging(conn, cookie)
                release(conn, broken=False)

    def _incomplete(self, read: int, reason: str) -> IncompleteReadError:
        return IncompleteReadError(
            f"Lecture de l'annuaire interrompue après {plural(read, 'entrée')} : {reason}. "
            "Le résultat est incomplet ; rien n'a été tronqué en silence.",
        )

    async def _lease(self, *, fresh: bool = False) -> ldap3.Connection:
        """A connection for a whole paged search (the embedded one is shared, under the lock per page)."""
        if self.is_embedded:
            assert self._mock_conn is not None
            return self._mock_conn
        conn = self._reuse(fresh=fresh)
        return conn if conn is not None else await asyncio.to_thread(self._connect)

    def _release(self, conn: ldap3.Connection, *, broken: bool) -> None:
        if self.is_embedded:
            return
        if broken:
            with contextlib.suppress(Exception):
                conn.unbind()
        else:
            self._checkin(conn)

    def _page_locked(self, conn: ldap3.Connection, *args: Any) -> tuple[list[Entry], bytes | None]:
        if self.is_embedded:
            with self._mock_lock:
                return self._page(conn, *args)
        return self._page(conn, *args)

    def _forget_mock_paging(self, conn: ldap3.Connection, cookie: bytes) -> None:
        with self._mock_lock:
            sets = getattr(conn.strategy, "_paged_sets", None)
            if sets:
                conn.strategy._paged_sets = [s for s in sets if getattr(s, "cookie", None) != cookie]

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

    # ------------------------------------------------------------------ the périmètre

    def _people_base(self) -> str:
        return self._ldap.people_dn or self._ldap.base_dn

    def _person(self, dn: str, attrs: dict[str, list[str]]) -> Person:
        return person_from_entry(
            dn,
            attrs,
            prefer=self._ent.profile_source,
            inactive_attribute=self._ldap.inactive_attribute,
            inactive_value=self._ldap.inactive_value,
        )

    def _invalidate(self) -> None:
        self._structures = None
        self._perimeter = None

    async def structures(self) -> list[Structure]:
        """The schools of the périmètre (``ENTStructureUAI`` in ``[ent] uai``)."""
        if self._structures is None:
            if not self._ent.uai:
                self._structures = []
            else:
                filt = lf.and_(lf.eq("objectClass", "ENTStructure"), lf.any_eq("ENTStructureUAI", self._ent.uai))
                base = self._ldap.structures_dn or self._ldap.base_dn
                entries = await self.search_all(base, filt, STRUCTURE_ATTRIBUTES)
                found = [structure_from_entry(dn, attrs) for dn, attrs in entries]
                self._structures = sorted(found, key=lambda s: (s.uai, s.dn))
        return list(self._structures)

    async def perimeter_filter(self) -> str:
        """People of the périmètre: attached to one of its schools (matches nothing without a school)."""
        if self._perimeter is None:
            schools = await self.structures()
            self._perimeter = lf.any_eq("ENTPersonStructRattach", [s.dn for s in schools])
        return self._perimeter

    async def iter_people(
        self, filt: str | None = None, attributes: Sequence[str] = PERSON_ATTRIBUTES
    ) -> AsyncIterator[list[Person]]:
        """People of the périmètre matching ``filt`` (built with enttui.domain.ldapfilter), page by page.

        ``attributes``: what to read (default: every person attribute, 25). A big read should ask for
        what its use needs only (the read time grows with the attributes); the fields of
        :class:`Person` whose attributes were not read are empty, and ``activated`` is True unless
        ``[ldap] inactive_attribute`` is among them.
        """
        full = lf.and_(lf.eq("objectClass", "ENTPerson"), await self.perimeter_filter(), filt)
        async for page in self.iter_pages(self._people_base(), full, attributes):
            yield [self._person(dn, attrs) for dn, attrs in page]

    async def person(self, dn: str) -> Person | None:
        def read(conn: ldap3.Connection) -> list[Entry]:
            try:
                return self._search_once(conn, dn, lf.eq("objectClass", "ENTPerson"), PERSON_ATTRIBUTES, "BASE")
            except _Failed as exc:
                if exc.code in (32, 34):  # noSuchObject, invalidDNSyntax
                    return []
                raise

        entries = await self._run(read, f"lecture de {dn}")
        return self._person(*entries[0]) if entries else None

    async def person_by_login(self, login: str) -> Person | None:
        """The person whose ``ENTPersonLogin`` is ``login`` (case-insensitive; first one if duplicated)."""
        filt = lf.and_(lf.eq("objectClass", "ENTPerson"), lf.eq("ENTPersonLogin", login.strip()))
        entries = await self.search_all(self._people_base(), filt, PERSON_ATTRIBUTES)
        entries.sort(key=lambda e: e[0].lower())
        return self._person(*entries[0]) if entries else None

    async def people_by_dns(self, dns: Sequence[str]) -> list[Person]:
        """The people at these DNs, in the given order; DNs that point nowhere or are not DNs are skipped."""
        found = await self.lookup_people(dns)
        out: list[Person] = []
        seen: set[str] = set()
        for dn in dns:
            key = dn_key_or_none(dn)
            if key is not None and key in found.people and key not in seen:
                seen.add(key)
                out.append(found.people[key])
        return out

    async def lookup_people(
        self, dns: Iterable[str], *, filt: str | None = None, attributes: Sequence[str] = PERSON_ATTRIBUTES
    ) -> PeopleLookup:
        """The people (``ENTPerson`` matching ``filt``) at these DNs, keyed by :func:`dn_key`.

        DNs right below the people branch are read with ``(|(uid=…)(uid=…))`` on their RDN
        attribute, 200 a search; any other DN is read on its own (a base search). A value that is not
        a DN (for this module or for the server) is reported in ``invalid`` and never stops the
        lookup of the others; a DN that points nowhere (or to an entry ``filt`` rejects) is absent.
        """
        result = PeopleLookup()
        wanted: dict[str, str] = {}
        for dn in dns:
            if not dn:
                continue
            try:
                wanted.setdefault(dn_key(dn), dn)
            except InvalidDn as exc:
                result.invalid.append((dn, exc.why))
        base_key = dn_key_or_none(self._people_base()) or ""
        by_attr: dict[str, list[str]] = {}
        others: list[str] = []
        for key, dn in wanted.items():
            rdn, _, parent = key.partition(",")
            attr = rdn.partition("=")[0]
            if (
                parent == base_key
                and _ATTRIBUTE.fullmatch(attr)
                and "+" not in rdn
                and "\\" not in dn
                and '"' not in dn
            ):
                by_attr.setdefault(attr, []).append(dn.split(",", 1)[0].split("=", 1)[1].strip())
            else:
                others.append(dn)
        person = lf.and_(lf.eq("objectClass", "ENTPerson"), filt)
        for attr, values in by_attr.items():
            for start in range(0, len(values), DN_CHUNK):
                chunk_filter = lf.and_(person, lf.any_eq(attr, values[start : start + DN_CHUNK]))
                async for page in self.iter_pages(self._people_base(), chunk_filter, attributes, scope="LEVEL"):
                    for dn, attrs in page:
                        found_key = dn_key_or_none(dn)
                        if found_key is not None and found_key in wanted:
                            result.people[found_key] = self._person(dn, attrs)
        if others:
            found = await self.entries_at(others, person, attributes)
            result.invalid.extend(found.invalid)
            for key, (dn, attrs) in found.entries.items():
                result.people[key] = self._person(dn, attrs)
        return result

    async def entries_at(self, dns: Sequence[str], filt: str, attributes: Sequence[str]) -> EntryLookup:
        """The entries at these DNs that match ``filt`` (base searches, 200 per worker-thread hop).

        Keyed by :func:`dn_key`; a DN that points nowhere or does not match is absent; a value that
        is not a DN (for :func:`dn_key`, ldap3 or the server) is reported in ``invalid`` and the
        others are still read.
        """
        result = EntryLookup()
        wanted: list[str] = []
        for dn in dict.fromkeys(dns):
            try:
                dn_key(dn)
            except InvalidDn as exc:
                result.invalid.append((dn, exc.why))
                continue
            wanted.append(dn)
        for start in range(0, len(wanted), DN_CHUNK):
            chunk = wanted[start : start + DN_CHUNK]

            def read(conn: ldap3.Connection, chunk: list[str] = chunk) -> tuple[list[Entry], list[tuple[str, str]]]:
                found: list[Entry] = []
                invalid: list[tuple[str, str]] = []
                for dn in chunk:
                    try:
                        found.extend(self._search_once(conn, dn, filt, attributes, "BASE"))
                    except _LOST:
                        raise
                    except _Failed as exc:
                        if exc.code == 34:  # invalidDNSyntax: the server does not take it as a DN
                            invalid.append((dn, "l'annuaire ne le reconnaît pas comme un DN"))
                        elif exc.code != 32:  # noSuchObject: points nowhere
                            raise
                    except lx.LDAPInvalidDnError as exc:  # ldap3 refuses it before sending
                        invalid.append((dn, f"refusé par ldap3 ({exc})"))
                return found, invalid

            entries, invalid = await self._run(read, "lecture d'entrées par DN")
            result.invalid.extend(invalid)
            for dn, attrs in entries:
                key = dn_key_or_none(dn)
                if key is not None:
                    result.entries[key] = (dn, attrs)
        return result

    async def count_by_target(self) -> ProfileCounts:
        counts = ProfileCounts()
        full = lf.and_(lf.eq("objectClass", "ENTPerson"), await self.perimeter_filter())
        async for page in self.iter_pages(self._people_base(), full, ["objectClass", "ENTPersonProfils"]):
            for _dn, attrs in page:
                a = {k.lower(): v for k, v in attrs.items()}
                counts.add(
                    resolve_target(a.get("entpersonprofils", []), a.get("objectclass", []), self._ent.profile_source)
                )
        return counts

    async def groups(self) -> list[Group]:
        """Classes and groups of the périmètre (cn ``<UAI>$<name>``), sorted by cn."""
        if not self._ent.uai:
            return []
        filt = lf.and_(
            lf.or_(lf.eq("objectClass", "ENTClasse"), lf.eq("objectClass", "ENTGroupe")),
            lf.or_(*(lf.startswith("cn", f"{uai}$") for uai in self._ent.uai)),
        )
        entries = await self.search_all(self._ldap.groups_dn or self._ldap.base_dn, filt, GROUP_ATTRIBUTES)
        return sorted((group_from_entry(dn, attrs) for dn, attrs in entries), key=lambda g: (g.cn.lower(), g.dn))

    # ------------------------------------------------------------------ writing

    def _check(self, conn: ldap3.Connection, ok: bool) -> None:
        if not ok or (conn.result or {}).get("result", 0) != 0:
            raise _Failed(conn.result or {})

    async def add(self, dn: str, attrs: dict[str, list[str]]) -> None:
        values = {k: list(v) for k, v in attrs.items() if v}
        if self.is_embedded:
            stamp = _now()
            values.setdefault("createTimestamp", [stamp])
            values.setdefault("modifyTimestamp", [stamp])

        def do(conn: ldap3.Connection) -> None:
            self._check(conn, conn.add(dn, attributes=values))
            if (
                self.is_embedded
                and self._search_once(conn, dn, lf.present("objectClass"), ["objectClass"], "BASE") == []
            ):
                raise DirectoryError(f"Entrée refusée par l'annuaire intégré : {dn}")

        await self._run(do, f"ajout de {dn}")
        self._invalidate()

    async def modify(self, dn: str, changes: dict[str, list[str] | None]) -> None:
        """Replace each attribute's values; ``None`` (or ``[]``) deletes the attribute."""
        ops: dict[str, list[tuple[str, list[str]]]] = {
            name: [(ldap3.MODIFY_REPLACE, list(values) if values else [])] for name, values in changes.items()
        }
        if self.is_embedded and not any(k.lower() == "modifytimestamp" for k in ops):
            ops["modifyTimestamp"] = [(ldap3.MODIFY_REPLACE, [_now()])]
        if not ops:
            return

        def do(conn: ldap3.Connection) -> None:
            self._check(conn, conn.modify(dn, ops))

        await self._run(do, f"modification de {dn}")
        self._invalidate()

    async def delete(self, dn: str) -> None:
        def do(conn: ldap3.Connection) -> None:
            self._check(conn, conn.delete(dn))

        await self._run(do, f"suppression de {dn}")
        self._invalidate()

    async def rename(self, dn: str, new_rdn: str) -> str:
        """Change the RDN (same parent); returns the new DN."""
        parent = ",".join(to_dn(dn)[1:])
        new_dn = f"{new_rdn},{parent}" if parent else new_rdn

        def do(conn: ldap3.Connection) -> None:
            self._check(conn, conn.modify_dn(dn, new_rdn, delete_old_dn=True))
            if self.is_embedded:
                self._check(conn, conn.modify(new_dn, {"modifyTimestamp": [(ldap3.MODIFY_REPLACE, [_now()])]}))

        await self._run(do, f"renommage de {dn}")
        self._invalidate()
        return new_dn

    def _change_password(self, conn: ldap3.Connection, dn: str, password: str, use_exop: bool) -> None:
        """One account: RFC 3062 exop then the "not activated" flag, or one replace of both."""
        flag_attr, flag_value = self._ldap.inactive_attribute, self._ldap.inactive_value
        if use_exop:
            conn.extend.standard.modify_password(dn, new_password=password)
            self._check(conn, (conn.result or {}).get("result") == 0)
            self._check(conn, conn.modify(dn, {flag_attr: [(ldap3.MODIFY_REPLACE, [flag_value])]}))
            return
        changes: dict[str, list[tuple[str, list[str]]]] = {
            "userPassword": [(ldap3.MODIFY_REPLACE, [password])],
            flag_attr: [(ldap3.MODIFY_REPLACE, [flag_value])],
        }
        if self.is_embedded:
            changes["modifyTimestamp"] = [(ldap3.MODIFY_REPLACE, [_now()])]
        self._check(conn, conn.modify(dn, changes))

    async def set_password(self, dn: str, password: str) -> None:
        """Set a generated password and mark it temporary (``pwdReset: TRUE``), then check the mark.

        RFC 3062 when the server advertises it (the server hashes), else a plain replace of
        ``userPassword``. The password never appears in an error.
        """
        use_exop = await self.supports_password_exop()
        flag_attr, flag_value = self._ldap.inactive_attribute, self._ldap.inactive_value

        def do(conn: ldap3.Connection) -> list[str]:
            self._change_password(conn, dn, password, use_exop)
            entries = self._search_once(conn, dn, lf.present("objectClass"), [flag_attr], "BASE")
            if not entries:
                return []
            attrs = {k.lower(): v for k, v in entries[0][1].items()}
            return attrs.get(flag_attr.lower(), [])

        try:
            flags = await asyncio.to_thread(self._call, do, "changement de mot de passe")
        except _Failed as exc:
            detail = str(exc).replace(password, "***") if password else str(exc)
            raise DirectoryError(f"Mot de passe non modifié pour {dn} : {exc.french()}.", detail=detail) from None
        except EnttuiError:
            raise
        except Exception as exc:  # noqa: BLE001 - the service boundary
            detail = f"{type(exc).__name__}: {exc}".replace(password, "***") if password else type(exc).__name__
            raise DirectoryError(f"Mot de passe non modifié pour {dn}.", detail=detail) from None
        if flag_value.upper() not in {v.upper() for v in flags}:
            raise DirectoryError(
                f"Le mot de passe de {dn} a été changé, mais l'annuaire ne l'a pas marqué comme provisoire "
                f"({flag_attr} ≠ {flag_value}) : le changement au premier login ne sera pas demandé."
            )

    async def set_passwords(self, items: Sequence[tuple[str, str]]) -> list[DirectoryError | None]:
        """:meth:`set_password` for a batch of ``(dn, password)``, on one connection in one thread hop.

        Each account gets the same operations as :meth:`set_password` (RFC 3062 then a modify of the
        flag, or one modify replacing ``userPassword`` and setting the flag); then ONE search
        (flag AND one of the batch's ``entryDN``, OpenLDAP) finds the flagged ones; an account that
        search did not return is read back alone (the flag is missing, or entryDN is not supported).
        Returns, in order, ``None`` (password set and flag checked) or the
        account's :class:`DirectoryError` (French, never the password). Raises ``DirectoryError`` only
        when the directory itself fails (connection lost twice): then nothing is known of the batch.
        """
        if not items:
            return []
        use_exop = await self.supports_password_exop()
        return await asyncio.to_thread(self.set_passwords_now, items, use_exop)

    def set_passwords_now(
        self, items: Sequence[tuple[str, str]], use_exop: bool, *, still_wanted: Callable[[], bool] | None = None
    ) -> list[DirectoryError | None]:
        """The blocking body of :meth:`set_passwords` (a worker thread or a child process calls it).

        ``still_wanted`` is asked before each account: when it answers False (the process that
        asked for the batch is gone), the batch stops with :class:`DirectoryError`.
        """
        if not items:
            return []
        flag_attr, flag_value = self._ldap.inactive_attribute, self._ldap.inactive_value
        flag_key, wanted = flag_attr.lower(), flag_value.upper()
        secrets = [pw for _dn, pw in items if pw]

        def scrub(text: str) -> str:
            for pw in secrets:
                text = text.replace(pw, "***")
            return text

        def flags_of(attrs: dict[str, list[str]]) -> set[str]:
            return {v.upper() for k, v_list in attrs.items() if k.lower() == flag_key for v in v_list}

        def do(conn: ldap3.Connection) -> list[DirectoryError | None]:
            out: list[DirectoryError | None] = []
            for dn, password in items:
                if still_wanted is not None and not still_wanted():
                    raise DirectoryError("Changement des mots de passe abandonné : le traitement s'est arrêté.")
                try:
                    self._change_password(conn, dn, password, use_exop)
                except _LOST:
                    raise
                except _Failed as exc:
                    out.append(
                        DirectoryError(f"Mot de passe non modifié pour {dn} : {exc.french()}.", detail=scrub(str(exc)))
                    )
                except Exception as exc:  # noqa: BLE001 - one account's failure (bad DN, ...)
                    out.append(
                        DirectoryError(
                            f"Mot de passe non modifié pour {dn}.", detail=scrub(f"{type(exc).__name__}: {exc}")
                        )
                    )
                else:
                    out.append(None)
            changed = [dn for (dn, _pw), err in zip(items, out, strict=True) if err is None]
            flagged: set[str] = set()
            if changed and not self.is_embedded:
                # The flagged ones among the batch, DNs only; any other is read alone below (that
                # also covers a server without entryDN, or one spelling a DN differently).
                filt = lf.and_(lf.eq(flag_attr, flag_value), lf.or_(*(lf.eq("entryDN", dn) for dn in changed)))
                with contextlib.suppress(_Failed):
                    for found_dn, _attrs in self._search_once(conn, self._ldap.base_dn or "", filt, [], "SUBTREE"):
                        flagged.add(_dn_key(found_dn))
            for i, ((dn, _pw), err) in enumerate(zip(items, out, strict=True)):
                if err is not None or _dn_key(dn) in flagged:
                    continue
                try:
                    entries = self._search_once(conn, dn, lf.present("objectClass"), [flag_attr], "BASE")
                except _Failed:
                    entries = []
                if not entries or wanted not in flags_of(entries[0][1]):
                    out[i] = DirectoryError(
                        f"Le mot de passe de {dn} a été changé, mais l'annuaire ne l'a pas marqué comme provisoire "
                        f"({flag_attr} ≠ {flag_value}) : le changement au premier login ne sera pas demandé."
                    )
            return out

        try:
            return self._call(do, "changement de mots de passe")
        except EnttuiError:
            raise
        except _Failed as exc:
            raise DirectoryError(f"Mots de passe non modifiés : {exc.french()}.", detail=scrub(str(exc))) from None
        except Exception as exc:  # noqa: BLE001 - the service boundary
            raise DirectoryError(
                "Mots de passe non modifiés : erreur de l'annuaire.", detail=scrub(f"{type(exc).__name__}: {exc}")
            ) from None

    async def mark_temporary(self, dn: str) -> None:
        """Set the "not activated" flag (``pwdReset: TRUE``) alone, then check it (DirectoryError).

        For an account that already holds the password a resumed run wanted to set again.
        """
        flag_attr, flag_value = self._ldap.inactive_attribute, self._ldap.inactive_value

        def do(conn: ldap3.Connection) -> list[str]:
            self._check(conn, conn.modify(dn, {flag_attr: [(ldap3.MODIFY_REPLACE, [flag_value])]}))
            entries = self._search_once(conn, dn, lf.present("objectClass"), [flag_attr], "BASE")
            attrs = {k.lower(): v for k, v in entries[0][1].items()} if entries else {}
            return attrs.get(flag_attr.lower(), [])

        try:
            flags = await asyncio.to_thread(self._call, do, "marquage du mot de passe provisoire")
        except _Failed as exc:
            raise DirectoryError(f"{dn} non marqué comme provisoire : {exc.french()}.", detail=str(exc)) from None
        if flag_value.upper() not in {v.upper() for v in flags}:
            raise DirectoryError(f"{dn} non marqué comme provisoire ({flag_attr} ≠ {flag_value}).")

    async def password_works(self, dn: str, password: str) -> bool:
        """Does ``password`` open ``dn`` (a simple bind on a connection of its own)?

        A resumed diffusion asks it only when the directory refused to set again the password the
        killed run had set (a ``pwdInHistory`` rule): then the account already holds it.
        """
        if self.is_embedded:
            return False  # MOCK_SYNC compares clear text case-insensitively: no answer to trust

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


def _dn_key(dn: str) -> str:
    """A DN compared as :func:`enttui.domain.dn.dn_key` does (an unparsable one as typed)."""
    key = dn_key_or_none(dn)
    return key if key is not None else dn
