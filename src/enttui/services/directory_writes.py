"""Writes and password changes, the same ldap3 operations for both directories.

The embedded directory (:mod:`.directory_embedded`) overrides the few steps where ldap3's
MOCK_SYNC differs from a server (it keeps no timestamps, has no password-modify operation and no
``entryDN``). A password never appears in an error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import ldap3
from ldap3.utils.dn import to_dn

from enttui.domain import ldapfilter as lf
from enttui.errors import DirectoryError, EnttuiError
from enttui.services.directory_core import _LOST, DirectoryCore, _dn_key
from enttui.services.ldap_results import LdapFailed as _Failed


class DirectoryWrites(DirectoryCore):
    """Adds, modifies, deletes, renames; sets passwords and the "not activated" flag."""

    #: One search by ``entryDN`` (OpenLDAP) finds the flagged accounts of a password batch.
    _searches_entry_dn = True

    def _check(self, conn: ldap3.Connection, ok: bool) -> None:
        if not ok or (conn.result or {}).get("result", 0) != 0:
            raise _Failed(conn.result or {})

    async def add(self, dn: str, attrs: dict[str, list[str]]) -> None:
        values = {k: list(v) for k, v in attrs.items() if v}

        def do(conn: ldap3.Connection) -> None:
            self._check(conn, conn.add(dn, attributes=values))

        await self._run(do, f"ajout de {dn}")
        self._invalidate()

    async def modify(self, dn: str, changes: dict[str, list[str] | None]) -> None:
        """Replace each attribute's values; ``None`` (or ``[]``) deletes the attribute."""
        ops: dict[str, list[tuple[str, list[str]]]] = {
            name: [(ldap3.MODIFY_REPLACE, list(values) if values else [])] for name, values in changes.items()
        }
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
            self._renamed(conn, new_dn)

        await self._run(do, f"renommage de {dn}")
        self._invalidate()
        return new_dn

    def _renamed(self, conn: ldap3.Connection, new_dn: str) -> None:
        """After a rename, on the same connection (the embedded directory stamps the entry)."""

    # ------------------------------------------------------------------ passwords

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
        self._check(conn, conn.modify(dn, self._password_changes(changes)))

    def _password_changes(
        self, changes: dict[str, list[tuple[str, list[str]]]]
    ) -> dict[str, list[tuple[str, list[str]]]]:
        """The modify of a password change without the exop (the embedded directory adds its stamp)."""
        return changes

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
            if changed and self._searches_entry_dn:
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
        raise NotImplementedError
