"""Moodle's database: MySQL/MariaDB (PyMySQL), PostgreSQL (psycopg 3) or SQLite (demo).

Everything here is async: SQLAlchemy Core runs in ``asyncio.to_thread``. Every database error that
leaves this module is a :class:`~enttui.errors.MoodleError` with a French message; the password is
injected into the URL object only, and never appears in an endpoint, a message or a repr.

Typical use by a job::

    async with moodle.lock("sync"):
        mnet = await moodle.mnet_localhost_id()
        await moodle.run(lambda conn: conn.execute(insert(moodle.tables.user), rows))

Tables are never created on a real Moodle: :meth:`Moodle.create_schema` is for demo (SQLite) and
test databases only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, func, inspect, make_url, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from enttui.config import MoodleConfig
from enttui.domain.health import SystemHealth
from enttui.errors import EnttuiError, LockHeldError, MoodleError, redact, register_secret
from enttui.services.moodle_site import CONTEXT_SYSTEM, insert_base_rows
from enttui.services.moodle_tables import MoodleTables, moodle_tables

T = TypeVar("T")

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _dialect_of(backend: str) -> str:
    return "mysql" if backend in ("mysql", "mariadb") else backend


def _strip_password(raw: str) -> str:
    """``scheme://user:secret@host`` → ``scheme://user@host`` (for URLs that failed to parse)."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1@", raw)


class Moodle:
    """One Moodle database (see the module docstring)."""

    dialect: str  # "mysql" (MySQL and MariaDB), "postgresql" or "sqlite"
    endpoint: str  # the URL without its password, for screens and messages

    def __init__(self, config: MoodleConfig) -> None:
        self.config = config
        self.prefix = config.prefix
        self.tables: MoodleTables = moodle_tables(config.prefix)
        self._engine: Engine | None = None
        self._url: URL | None = None
        self._mnet_id: int | None = None
        self._system_context: int | None = None
        try:
            url = make_url(config.url)
        except Exception:  # noqa: BLE001 - reported by open()
            self.dialect = config.url.split(":", 1)[0].split("+", 1)[0]
            self.endpoint = _strip_password(config.url)
            return
        if url.password:
            register_secret(str(url.password))
        if config.password is not None:
            url = url.set(password=config.password.reveal())
        self.dialect = _dialect_of(url.get_backend_name())
        if self.dialect == "mysql" and "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        self._url = url
        self.endpoint = url._replace(password=None).render_as_string(hide_password=False)

    def __repr__(self) -> str:
        return f"Moodle({self.endpoint!r}, prefix={self.prefix!r})"

    # -- connection ----------------------------------------------------------------------------
    @property
    def database(self) -> str:
        return (self._url.database or "") if self._url is not None else ""

    def _make_engine(self) -> Engine:
        if self._url is None:
            raise MoodleError(
                f"URL de la base Moodle invalide ({self.endpoint}) : une URL SQLAlchemy est attendue "
                "(mysql+pymysql://…, postgresql+psycopg://…, sqlite:///…)"
            )
        timeout = max(1, round(self.config.connect_timeout))
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.dialect == "mysql":
            kwargs.update(pool_recycle=3600, connect_args={"connect_timeout": timeout})
        elif self.dialect == "postgresql":
            kwargs.update(connect_args={"connect_timeout": max(2, timeout), "application_name": "enttui"})
        elif self.dialect == "sqlite":
            kwargs.update(connect_args={"timeout": 30, "check_same_thread": False})
            if self.database in ("", ":memory:"):
                kwargs["poolclass"] = StaticPool
        else:
            raise MoodleError(
                f"type de base non géré : « {self.dialect} » (MySQL/MariaDB, PostgreSQL ou SQLite attendus)"
            )
        try:
            return create_engine(self._url, **kwargs)
        except ModuleNotFoundError as exc:
            raise MoodleError(
                f"pilote Python manquant pour {self.endpoint} ({exc.name}) : utilisez mysql+pymysql:// "
                "ou postgresql+psycopg://"
            ) from None
        except Exception as exc:  # noqa: BLE001 - any configuration problem of the URL
            raise self._wrap(exc, "URL de la base Moodle refusée") from None

    async def open(self) -> None:
        """Create the engine and check that the database answers (MoodleError in French if not)."""
        if self._engine is None:
            self._engine = self._make_engine()

        def ping() -> None:
            assert self._engine is not None
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await asyncio.to_thread(ping)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a French MoodleError
            engine, self._engine = self._engine, None
            if engine is not None:
                engine.dispose()
            raise self._wrap(exc, "connexion à la base Moodle impossible") from None

    async def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            await asyncio.to_thread(engine.dispose)

    @property
    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise MoodleError("la base Moodle n'est pas ouverte")
        return self._engine

    def _wrap(self, exc: BaseException, action: str) -> EnttuiError:
        """A French MoodleError for a library error, without any secret."""
        if isinstance(exc, EnttuiError):
            return exc
        reason = self._reason(exc)
        detail = redact(f"{type(exc).__name__}: {exc}")
        if self._url is not None and self._url.password:
            detail = detail.replace(str(self._url.password), "***")
        return MoodleError(f"{action} ({self.endpoint}) : {reason}", detail=detail)

    def _reason(self, exc: BaseException) -> str:
        orig = getattr(exc, "orig", None) or exc
        message = str(orig).lower()
        code = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
        sqlstate = getattr(orig, "sqlstate", None)
        db = self.database
        if code == 1045 or sqlstate in ("28P01", "28000") or "password authentication failed" in message:
            user = self._url.username if self._url is not None else ""
            return f"identifiant ou mot de passe refusé pour l'utilisateur « {user} »"
        if code == 1049 or sqlstate == "3D000" or ("database" in message and "does not exist" in message):
            return f"base de données « {db} » inconnue"
        if code in (1044, 1142) or sqlstate == "42501":
            return "droits insuffisants pour cet utilisateur"
        if code == 1146 or sqlstate == "42P01" or "no such table" in message:
            return f"table Moodle introuvable (préfixe « {self.prefix} ») : est-ce bien la base de Moodle ?"
        if "timed out" in message or "timeout" in message:
            return f"le serveur ne répond pas (délai de {self.config.connect_timeout:g} s dépassé)"
        if code in (2003, 2005, 2006, 2013) or "connection refused" in message or "connect" in message:
            return "serveur injoignable (arrêté, mauvais hôte ou mauvais port ?)"
        if "unable to open database file" in message:
            return f"fichier SQLite inaccessible : {db}"
        if isinstance(exc, SQLAlchemyError):
            return "erreur de la base de données (détail dans le journal)"
        return f"erreur inattendue ({type(exc).__name__})"

    # -- transactions --------------------------------------------------------------------------
    @property
    def concurrent_writes(self) -> bool:
        """Can two write transactions run side by side (one connection each)? Not on SQLite."""
        return self.dialect in ("mysql", "postgresql")

    async def run(self, fn: Callable[[Connection], T], *, deadlock_retries: int = 0) -> T:
        """Run ``fn(conn)`` in a worker thread inside one transaction (commit at the end).

        The transaction is READ COMMITTED on MySQL/MariaDB and PostgreSQL, as Moodle's own are: two
        of them inserting side by side do not lock each other's gaps. ``deadlock_retries``: a
        transaction the server chose as a deadlock's victim (rolled back whole) is run again, that
        many times at most; only for an ``fn`` that does nothing but its statements.
        """
        engine = self.engine
        isolate = self.dialect in ("mysql", "postgresql")

        def work() -> T:
            for attempt in range(deadlock_retries + 1):
                try:
                    with engine.begin() as conn:
                        if isolate:
                            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        return fn(conn)
                except DBAPIError as exc:
                    if attempt == deadlock_retries or not _is_deadlock(exc):
                        raise
            raise AssertionError("unreachable")

        try:
            return await asyncio.to_thread(work)
        except SQLAlchemyError as exc:
            raise self._wrap(exc, "écriture dans la base Moodle impossible") from None

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in a worker thread in a read-only transaction (one consistent snapshot)."""
        engine = self.engine
        dialect = self.dialect

        def work() -> T:
            with engine.connect() as conn:
                if dialect in ("mysql", "postgresql"):
                    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    try:
                        return fn(conn)
                    finally:
                        conn.rollback()
                conn.exec_driver_sql("PRAGMA query_only = ON")
                try:
                    return fn(conn)
                finally:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA query_only = OFF")
                    conn.commit()

        try:
            return await asyncio.to_thread(work)
        except SQLAlchemyError as exc:
            raise self._wrap(exc, "lecture de la base Moodle impossible") from None

    # -- facts of the site ---------------------------------------------------------------------
    async def mnet_localhost_id(self) -> int:
        """``config.mnet_localhost_id``: the ``mnethostid`` of local users (cached)."""
        if self._mnet_id is None:
            cfg = self.tables.config
            value = await self.read(
                lambda c: c.execute(select(cfg.c.value).where(cfg.c.name == "mnet_localhost_id")).scalar()
            )
            if value is None or not str(value).strip().isdigit():
                raise MoodleError("réglage mnet_localhost_id absent de la table config : base Moodle incomplète ?")
            self._mnet_id = int(str(value).strip())
        return self._mnet_id

    async def system_context_id(self) -> int:
        """Id of the system context (``context`` row of contextlevel 10), cached."""
        if self._system_context is None:
            ctx = self.tables.context
            value = await self.read(
                lambda c: c.execute(
                    select(ctx.c.id).where(ctx.c.contextlevel == CONTEXT_SYSTEM).order_by(ctx.c.id).limit(1)
                ).scalar()
            )
            if value is None:
                raise MoodleError("contexte système (contextlevel 10) absent de la table context")
            self._system_context = int(value)
        return self._system_context

    async def config_value(self, name: str) -> str | None:
        """One row of Moodle's ``config`` table (None when absent)."""
        cfg = self.tables.config
        return await self.read(lambda c: c.execute(select(cfg.c.value).where(cfg.c.name == name)).scalar())

    async def user_summary(self, username: str, auth: str | None = None) -> dict[str, Any] | None:
        """The Moodle side of a directory account, for the Annuaire detail (None when absent).

        Keys: id, username, auth, firstname, lastname, email, idnumber, suspended, deleted (bools),
        lastaccess, timecreated, timemodified (Unix seconds, 0 = never), cohorts (sorted names).
        """
        mnet = await self.mnet_localhost_id()
        u, cm, co = self.tables.user, self.tables.cohort_members, self.tables.cohort

        def work(conn: Connection) -> dict[str, Any] | None:
            query = select(u).where(u.c.mnethostid == mnet, u.c.username == username.strip().lower())
            if auth is not None:
                query = query.where(u.c.auth == auth)
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            cohorts = conn.execute(
                select(co.c.name).join(cm, cm.c.cohortid == co.c.id).where(cm.c.userid == row["id"]).order_by(co.c.name)
            ).scalars()
            return {
                "id": int(row["id"]),
                "username": row["username"],
                "auth": row["auth"],
                "firstname": row["firstname"],
                "lastname": row["lastname"],
                "email": row["email"],
                "idnumber": row["idnumber"],
                "suspended": bool(row["suspended"]),
                "deleted": bool(row["deleted"]),
                "lastaccess": int(row["lastaccess"]),
                "timecreated": int(row["timecreated"]),
                "timemodified": int(row["timemodified"]),
                "cohorts": list(cohorts),
            }

        return await self.read(work)

    # -- health --------------------------------------------------------------------------------
    async def health(self, auth: str) -> SystemHealth:
        """Does Moodle's database answer, which release, how many users of ``auth``. Never raises."""
        base: dict[str, Any] = {"name": "Moodle", "key": "moodle", "endpoint": self.endpoint}
        try:
            if self._engine is None:
                await self.open()
            engine = self.engine
        except EnttuiError as exc:
            return SystemHealth(ok=False, message=exc.message, **base)
        prefix = self.prefix
        u, cfg = self.tables.user, self.tables.config

        def work() -> dict[str, Any]:
            out: dict[str, Any] = {}
            with engine.connect() as conn:
                start = time.perf_counter()
                conn.execute(text("SELECT 1"))
                out["latency"] = (time.perf_counter() - start) * 1000
                names = set(inspect(conn).get_table_names())
                missing = [t.name for t in (cfg, u, self.tables.cohort) if t.name not in names]
                if missing:
                    out["missing"] = missing
                    return out
                values = dict(
                    conn.execute(select(cfg.c.name, cfg.c.value).where(cfg.c.name.in_(("release", "auth")))).all()
                )
                out["release"] = values.get("release") or ""
                out["auth"] = values.get("auth")
                mnet = conn.execute(select(cfg.c.value).where(cfg.c.name == "mnet_localhost_id")).scalar()
                query = select(func.count(), func.coalesce(func.sum(u.c.suspended), 0)).where(
                    u.c.auth == auth, u.c.deleted == 0
                )
                if mnet is not None and str(mnet).strip().isdigit():
                    query = query.where(u.c.mnethostid == int(str(mnet).strip()))
                total, suspended = conn.execute(query).one()
                out["users"], out["suspended"] = int(total), int(suspended or 0)
                conn.rollback()
            return out

        try:
            facts = await asyncio.to_thread(work)
        except Exception as exc:  # noqa: BLE001 - health never raises
            err = self._wrap(exc, "la base Moodle ne répond pas")
            return SystemHealth(ok=False, message=err.message, **base)
        warnings: list[str] = []
        if "missing" in facts:
            warnings.append(
                f"tables Moodle introuvables ({', '.join(facts['missing'])}) : vérifiez la base et le préfixe "
                f"« {prefix} » ([moodle] prefix)"
            )
            return SystemHealth(
                ok=True, latency_ms=facts["latency"], message=warnings[0], warnings=tuple(warnings), **base
            )
        enabled = [a.strip() for a in (facts["auth"] or "").split(",") if a.strip()]
        if auth not in enabled:
            warnings.append(
                f"l'authentification {auth} n'est pas activée dans Moodle (config.auth = « {','.join(enabled)} ») : "
                f"les comptes synchronisés ne pourront pas se connecter"
            )
        return SystemHealth(
            ok=True,
            latency_ms=facts["latency"],
            version=facts["release"],
            counts={"users": facts["users"], "suspended": facts["suspended"]},
            warnings=tuple(warnings),
            **base,
        )

    # -- one run at a time ---------------------------------------------------------------------
    def lock(self, name: str) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the named lock of this Moodle database for the block; LockHeldError when taken.

        MySQL/MariaDB: ``GET_LOCK`` on a dedicated connection; PostgreSQL: a session advisory lock
        on a dedicated connection; SQLite: an ``flock`` on a file next to the database.
        """
        return self._lock(name)

    @contextlib.asynccontextmanager
    async def _lock(self, name: str) -> AsyncIterator[None]:
        if self.dialect == "sqlite":
            release = await asyncio.to_thread(self._file_lock, name)
        else:
            release = await self._db_lock(name)
        try:
            yield
        finally:
            await asyncio.to_thread(release)

    def _held(self, name: str, holder: str) -> LockHeldError:
        who = f" ({holder})" if holder else ""
        return LockHeldError(
            f"un autre traitement tient déjà le verrou « {name} » de la base Moodle{who} : "
            "attendez qu'il se termine, puis relancez"
        )

    async def _db_lock(self, name: str) -> Callable[[], None]:
        engine = self.engine
        dialect = self.dialect
        if dialect == "mysql":
            key = f"enttui:{self.database}:{self.prefix}{name}"
            if len(key) > 64:
                key = "enttui:" + hashlib.sha256(key.encode()).hexdigest()[:56]
        else:
            digest = hashlib.sha256(f"enttui:{self.prefix}{name}".encode()).digest()
            key_int = int.from_bytes(digest[:8], "big", signed=True)

        def acquire() -> Callable[[], None]:
            conn = engine.connect()
            try:
                if dialect == "mysql":
                    got = conn.execute(text("SELECT GET_LOCK(:k, 0)"), {"k": key}).scalar()
                else:
                    got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key_int}).scalar()
                if not got:
                    holder = self._holder(conn, key if dialect == "mysql" else key_int)
                    conn.rollback()
                    conn.close()
                    raise self._held(name, holder)
                conn.commit()  # session locks survive the commit; no transaction stays open
            except LockHeldError:
                raise
            except BaseException:
                conn.invalidate()
                conn.close()
                raise

            def release() -> None:
                try:
                    if dialect == "mysql":
                        conn.execute(text("SELECT RELEASE_LOCK(:k)"), {"k": key})
                    else:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key_int})
                    conn.commit()
                    conn.close()
                except SQLAlchemyError:
                    # The server ends a lost session's locks itself; never reuse that connection.
                    with contextlib.suppress(SQLAlchemyError):
                        conn.invalidate()
                        conn.close()

            return release

        try:
            return await asyncio.to_thread(acquire)
        except SQLAlchemyError as exc:
            raise self._wrap(exc, "prise du verrou de la base Moodle impossible") from None

    def _holder(self, conn: Connection, key: str | int) -> str:
        """Who holds the lock and since when, as far as the server tells (best effort)."""
        try:
            if self.dialect == "mysql":
                cid = conn.execute(text("SELECT IS_USED_LOCK(:k)"), {"k": key}).scalar()
                if cid is None:
                    return ""
                row = conn.execute(
                    text("SELECT host, time FROM information_schema.processlist WHERE id = :i"), {"i": cid}
                ).first()
                if row is None:
                    return f"connexion n° {cid}"
                return f"connexion n° {cid} depuis {row[0]}, inactive depuis {int(row[1])} s"
            unsigned = key if isinstance(key, int) and key >= 0 else int(key) + (1 << 64)
            row = conn.execute(
                text(
                    "SELECT a.pid, a.client_addr, a.application_name, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid = :c AND l.objid = :o AND l.objsubid = 1 AND l.database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"c": unsigned >> 32, "o": unsigned & 0xFFFFFFFF},
            ).first()
            if row is None:
                return ""
            since = row[3].astimezone().strftime("%d/%m/%Y %H:%M:%S") if row[3] else "?"
            return f"processus {row[0]} ({row[2] or 'client'} {row[1] or 'local'}) depuis le {since}"
        except SQLAlchemyError:
            return ""

    def _file_lock(self, name: str) -> Callable[[], None]:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.prefix}{name}")
        if self.database in ("", ":memory:"):
            key = f"{id(self)}:{safe}"
            with _process_locks_guard:
                lock = _process_locks.setdefault(key, threading.Lock())
            if not lock.acquire(blocking=False):
                raise self._held(name, "")
            return lock.release
        path = Path(f"{self.database}.{safe}.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise MoodleError(f"création du fichier de verrou {path} impossible ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.read(fd, 200).decode(errors="replace").strip()
            finally:
                os.close(fd)
            raise self._held(name, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"processus {os.getpid()} depuis le {datetime.now().strftime('%d/%m/%Y %H:%M:%S')}".encode())

        def release() -> None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

        return release

    # -- demo and test databases ---------------------------------------------------------------
    async def create_schema(self, *, allow: bool = False) -> None:
        """Create our tables and the base rows of a fresh Moodle site.

        Only for demo and test databases: refused unless the database is SQLite or ``allow=True``,
        and refused when any of the tables already exists (never on a real Moodle).
        """
        if self.dialect != "sqlite" and not allow:
            raise MoodleError(
                "création des tables refusée : elle n'est permise que sur une base de démonstration (SQLite) "
                "ou de test ; une vraie base Moodle est créée par l'installateur de Moodle"
            )
        engine = self.engine
        tables = self.tables

        def work() -> None:
            with engine.begin() as conn:
                if self.dialect == "sqlite":
                    # pysqlite runs DDL outside any transaction, one commit (one fsync) per statement:
                    # in one transaction the ~90 statements of the schema cost one (1 s → 0.1 s).
                    conn.exec_driver_sql("BEGIN")
                existing = set(inspect(conn).get_table_names()) & {t.name for t in tables.all()}
                if existing:
                    raise MoodleError(
                        f"création des tables refusée : la base contient déjà des tables Moodle "
                        f"({', '.join(sorted(existing))})"
                    )
                tables.metadata.create_all(conn)
                insert_base_rows(conn, tables)

        try:
            await asyncio.to_thread(work)
        except SQLAlchemyError as exc:
            raise self._wrap(exc, "création des tables Moodle impossible") from None
        self._mnet_id = None
        self._system_context = None


def _is_deadlock(exc: DBAPIError) -> bool:
    """The server rolled the transaction back as a deadlock's victim (MySQL 1213, PostgreSQL 40P01)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "40P01":
        return True
    args: tuple[object, ...] = tuple(getattr(orig, "args", ()))
    return bool(args) and args[0] == 1213
