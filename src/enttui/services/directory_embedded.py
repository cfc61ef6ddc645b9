"""The embedded directory of the demo: ldap3's in-memory MOCK_SYNC (the public class is ``Directory``).

Used for a ``mock://`` URL or :meth:`Directory.embedded <enttui.services.directory.Directory.embedded>`:
loaded with the schema captured from the test slapd (``enttui/demo/data``). One connection, used
under a lock. It has no password-modify operation, no ``entryDN`` and does not maintain
``createTimestamp``/``modifyTimestamp``: this class sets them.
"""

from __future__ import annotations

import importlib.resources
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import ldap3
import ldap3.core.exceptions
from ldap3.protocol.rfc4512 import DsaInfo, SchemaInfo
from ldap3.utils.dn import safe_dn, to_dn

from enttui.config import EntConfig, LdapConfig
from enttui.domain import ldapfilter as lf
from enttui.errors import DirectoryError
from enttui.services.directory import Directory
from enttui.services.directory_core import Entry, Lease, PageFn, Release, _decode, _now
from enttui.services.ldap_match import FilterSyntaxError, compile_filter
from enttui.services.ldap_results import LdapFailed

_MAX_OPEN_PAGINGS = 64  # paged reads left open (never abandoned) beyond this are forgotten, oldest first


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


class EmbeddedDirectory(Directory):
    """The Annuaire in memory, for the demo and the tests (see module docstring)."""

    is_embedded = True
    supports_processes = False  # another process would see another (empty) directory
    stable_order = False  # MOCK_SYNC returns the entries in no stable order
    _searches_entry_dn = False

    def __init__(self, ldap: LdapConfig, ent: EntConfig) -> None:
        super().__init__(ldap, ent)
        self._mock_lock = threading.RLock()
        _fix_mock_filters()
        schema = SchemaInfo.from_json(_data_file("ldap_schema.json"))
        info = DsaInfo.from_json(_data_file("ldap_info.json"), schema)
        server = ldap3.Server.from_definition("enttui-embedded", info, schema)
        self._mock_server = server
        conn = ldap3.Connection(server, client_strategy=ldap3.MOCK_SYNC, raise_exceptions=False)
        conn.open()
        self._mock_conn = conn
        self._auto_containers: set[str] = set()
        self._pagings: dict[bytes, list[Entry]] = {}  # cookie -> the entries a paged read has left
        self._paging_seq = 0
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

    def load_entries(self, entries: Iterable[tuple[str, dict[str, list[str]]]], *, trusted: bool = False) -> int:
        """Add entries straight into the in-memory directory; returns how many. ``trusted``
        skips ldap3's check of each value's syntax (40 % of the demo world's load), which
        leaves the same entries for values already in LDAP syntax."""
        n = 0
        with self._mock_lock:
            for dn, attrs in entries:
                self._mock_add_entry(dn, attrs, must=True, validate=not trusted)
                n += 1
        self._invalidate()
        return n

    def _mock_add_entry(self, dn: str, attrs: dict[str, list[str]], *, must: bool, validate: bool = True) -> None:
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
            ok = self._mock_conn.strategy.add_entry(dn, values, validate=validate)
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

    # ------------------------------------------------------------------ the one connection

    async def open(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True

    def _checkout(self, *, fresh: bool = False) -> ldap3.Connection:
        self._mock_lock.acquire()
        return self._mock_conn

    def _checkin(self, conn: ldap3.Connection) -> None:
        self._mock_lock.release()

    def _discard(self, conn: ldap3.Connection) -> None:
        self._mock_lock.release()

    def _pager(self) -> tuple[Lease, PageFn, Release]:
        return self._lease, self._page_locked, self._release

    async def _lease(self, *, fresh: bool = False) -> ldap3.Connection:
        """The shared connection (under the lock per page)."""
        return self._mock_conn

    def _release(self, conn: ldap3.Connection, *, broken: bool) -> None:
        pass

    def _page_locked(
        self,
        conn: ldap3.Connection,
        base: str,
        filt: str,
        scope: str,
        attributes: list[str],
        size: int,
        cookie: bytes | None,
    ) -> tuple[list[Entry], bytes | None]:
        with self._mock_lock:
            if cookie is None:
                found = self._memory_search(base, filt, attributes, scope)
                if found is None:
                    return self._page(conn, base, filt, scope, attributes, size, cookie)
            elif cookie in self._pagings:
                found = self._pagings.pop(cookie)
            else:  # a cookie of MOCK_SYNC's own paging (a filter this module left to it)
                return self._page(conn, base, filt, scope, attributes, size, cookie)
            if size <= 0 or len(found) <= size:
                return found, None
            self._paging_seq += 1
            key = f"enttui-{self._paging_seq}".encode()
            self._pagings[key] = found[size:]
            while len(self._pagings) > _MAX_OPEN_PAGINGS:
                self._pagings.pop(next(iter(self._pagings)))
            return found[:size], key

    def _abandon_paging(self, conn: ldap3.Connection, cookie: bytes) -> None:
        with self._mock_lock:
            if self._pagings.pop(cookie, None) is not None:
                return
            sets = getattr(conn.strategy, "_paged_sets", None)
            if sets:
                conn.strategy._paged_sets = [s for s in sets if getattr(s, "cookie", None) != cookie]

    # ------------------------------------------------------------------ searching in memory

    def _search_once(
        self, conn: ldap3.Connection, base: str, filt: str, attributes: Sequence[str], scope: str
    ) -> list[Entry]:
        with self._mock_lock:
            found = self._memory_search(base, filt, attributes, scope)
        return found if found is not None else super()._search_once(conn, base, filt, attributes, scope)

    def _memory_search(self, base: str, filt: str, attributes: Sequence[str], scope: str) -> list[Entry] | None:
        """The search MOCK_SYNC would answer, evaluated on its entries (:mod:`.ldap_match`).

        None when this module does not take the request (a filter it does not parse, an attribute
        the schema does not know, a base that is not a DN): MOCK_SYNC then answers, errors included.
        """
        wanted = {a.lower() for a in attributes} if attributes else {"1.1"}
        if "+" in wanted:
            return None
        if base.strip().lower() == "cn=schema":
            return None
        try:
            predicate, names = compile_filter(filt)
            base = safe_dn(base)
        except (FilterSyntaxError, ldap3.core.exceptions.LDAPException):
            return None
        schema = self._mock_server.schema
        if schema is not None and any(name not in schema.attribute_types for name in names):
            return None
        dit = self._mock_conn.strategy.entries
        low = base.lower()
        kind = scope.upper()
        if kind == "BASE":
            candidates = [base] if base in dit else []
        elif kind in ("LEVEL", "ONELEVEL"):
            candidates = [dn for dn in dit if dn.lower().endswith(low) and "," not in dn[: -len(base) - 1]]
        else:
            candidates = [dn for dn in dit if dn.lower().endswith(low)]
        if not candidates:
            raise LdapFailed({"result": 32, "description": "noSuchObject", "message": "incorrect base object"})
        every = "*" in wanted
        out: list[Entry] = []
        current: list[Any] = [{}, {}]  # the entry under test: its name → key map, its values

        def get(name: str) -> Any:
            key = current[0].get(name)
            return None if key is None else current[1][key]

        for dn in candidates:
            entry = dit[dn]
            current[0], current[1] = entry._case_insensitive_keymap, entry._store
            store = current[1]
            if predicate(get):
                raw = {
                    name: values
                    for name, values in store.items()
                    if (every and name.lower() != "entrydn") or name.lower() in wanted
                }
                out.append((dn, _decode(raw)))
        return out

    # ------------------------------------------------------------------ health, root DSE

    def _read_root_dse(self, conn: ldap3.Connection) -> dict[str, list[str]]:
        info = self._mock_server.info
        raw = dict(info.raw) if info else {}
        raw["supportedExtension"] = []  # MOCK_SYNC implements no extended operation
        return _decode(raw)

    def _probe(self, conn: ldap3.Connection) -> tuple[str, dict[str, list[str]]]:
        self._search_once(conn, self._ldap.base_dn, lf.present("objectClass"), ["objectClass"], "BASE")
        return self.endpoint, self._read_root_dse(conn)

    def _version(self, dse: dict[str, list[str]]) -> str:
        return "annuaire intégré (démo)"

    async def supports_password_exop(self) -> bool:
        return False

    # ------------------------------------------------------------------ writes: the timestamps

    async def add(self, dn: str, attrs: dict[str, list[str]]) -> None:
        values = {k: list(v) for k, v in attrs.items() if v}
        stamp = _now()
        values.setdefault("createTimestamp", [stamp])
        values.setdefault("modifyTimestamp", [stamp])

        def do(conn: ldap3.Connection) -> None:
            self._check(conn, conn.add(dn, attributes=values))
            if self._search_once(conn, dn, lf.present("objectClass"), ["objectClass"], "BASE") == []:
                raise DirectoryError(f"Entrée refusée par l'annuaire intégré : {dn}")

        await self._run(do, f"ajout de {dn}")
        self._invalidate()

    async def modify(self, dn: str, changes: dict[str, list[str] | None]) -> None:
        """Replace each attribute's values; ``None`` (or ``[]``) deletes the attribute."""
        if not any(k.lower() == "modifytimestamp" for k in changes):
            changes = {**changes, "modifyTimestamp": [_now()]}
        await super().modify(dn, changes)

    def _renamed(self, conn: ldap3.Connection, new_dn: str) -> None:
        self._check(conn, conn.modify(new_dn, {"modifyTimestamp": [(ldap3.MODIFY_REPLACE, [_now()])]}))

    def _password_changes(
        self, changes: dict[str, list[tuple[str, list[str]]]]
    ) -> dict[str, list[tuple[str, list[str]]]]:
        return {**changes, "modifyTimestamp": [(ldap3.MODIFY_REPLACE, [_now()])]}

    async def password_works(self, dn: str, password: str) -> bool:
        return False  # MOCK_SYNC compares clear text case-insensitively: no answer to trust
