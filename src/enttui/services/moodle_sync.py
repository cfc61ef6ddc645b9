"""Every SQL statement of the Moodle sync and of the coherence checks' Moodle side.

:class:`MoodleSyncStore` wraps a :class:`~enttui.services.moodle.Moodle` (engine, transactions,
lock) with typed methods: reads in bulk (a few set-based SELECTs, ``IN`` lists of at most
:data:`IN_CHUNK`), writes as one transaction per call (one batch of the job). Rows are written as
Moodle's own code writes them:

- a new user gets its user context (``user_create_user()`` → ``context_user::instance()``):
  contextlevel 30, instanceid = user id, path ``<system path>/<context id>``, depth 2;
- a user whose role assignments change is marked dirty in the same transaction
  (``mark_user_dirty()``: ``cache_flags`` row ``accesslib/dirtyusers``, name = user id, value 1,
  expiry = now + ``sessiontimeout``), so a logged-in user sees the change without logging out.

Nothing here decides anything: the plans come from :mod:`enttui.domain.sync`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, String, Table, and_, bindparam, cast, delete, func, insert, literal, select, update

from enttui.domain import coherence_checks as coh
from enttui.domain.role_plan import Assignment
from enttui.domain.sync import CONTEXT_LEVELS, USER_FIELDS, CohortChange, DesiredUser, MoodleCohort, MoodleUser
from enttui.domain.sync import UserUpdate as PlannedUpdate
from enttui.services.moodle import Moodle
from enttui.services.moodle_site import CONTEXT_USER

IN_CHUNK = 900
DIRTY_USERS = "accesslib/dirtyusers"
DEFAULT_SESSION_TIMEOUT = 8 * 60 * 60  # Moodle's default $CFG->sessiontimeout


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


WHOLE_USERS_READ_ABOVE = 5000  # values to look up above which the site's size is asked first (see users())


def insert_many(conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``INSERT INTO table (columns) VALUES (...)`` for many rows, handed to the driver's
    ``executemany`` as tuples (SQLAlchemy's per-row parameter processing costs as much as the
    insert itself at 100,000 rows). Only the columns given are written: every other column takes
    its server default, exactly the values Moodle's installer declares (``moodle_tables``)."""
    if not rows:
        return
    prep = conn.dialect.identifier_preparer
    names = ", ".join(prep.quote(c) for c in columns)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    if conn.dialect.paramstyle not in ("qmark", "format", "pyformat"):  # pragma: no cover - no such driver here
        conn.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    # identifiers quoted by the dialect, every value bound
    sql = f"INSERT INTO {prep.format_table(table)} ({names}) VALUES ({', '.join([mark] * len(columns))})"  # noqa: S608
    conn.exec_driver_sql(sql, list(rows))


def not_null_defaults(table: Table) -> dict[str, object]:
    """Every NOT NULL column (but id) with the value of its server default (0 or '')."""
    out: dict[str, object] = {}
    for col in table.columns:
        if col.name == "id" or col.nullable:
            continue
        default = col.server_default
        raw = getattr(getattr(default, "arg", None), "text", getattr(default, "arg", None))
        try:
            python_type = col.type.python_type
        except NotImplementedError:  # pragma: no cover
            python_type = str
        if python_type is int:
            out[col.name] = int(str(raw).strip("'")) if raw not in (None, "") else 0
        else:
            out[col.name] = str(raw) if raw is not None else ""
    return out


# The columns a new user row sets (the others take their server default, see insert_many).
USER_INSERT_COLUMNS: tuple[str, ...] = (
    "auth",
    "confirmed",
    "mnethostid",
    "password",
    "lang",
    "timecreated",
    "timemodified",
    *USER_FIELDS,
)
USER_USERNAME = USER_INSERT_COLUMNS.index("username")
MEMBER_COLUMNS = ("cohortid", "userid", "timeadded")


def user_insert_row(d: DesiredUser, *, auth: str, facts: SiteFacts, now: int) -> tuple[object, ...]:
    """The values of :data:`USER_INSERT_COLUMNS` for a new user (as ``user_create_user()`` would:
    confirmed, local host, the site's language, "not cached" password for an external auth)."""
    return (auth, 1, facts.mnet, "not cached", facts.lang, now, now, *d.values())


@dataclass(frozen=True)
class SiteFacts:
    """What a run needs to know of the Moodle site, read once at its start."""

    mnet: int  # config.mnet_localhost_id: mnethostid of local users
    system_context: int
    system_path: str  # path of the system context ("/1")
    lang: str  # config.lang: the language of new users
    auth_enabled: tuple[str, ...]  # config.auth: the auth plugins users can log in with
    extended_usernames: bool  # $CFG->extendedusernamechars
    session_timeout: int  # config.sessiontimeout (seconds)


class MoodleSyncStore:
    """The sync's reads and writes on one Moodle database (see the module docstring)."""

    def __init__(self, moodle: Moodle) -> None:
        self.moodle = moodle
        self.t = moodle.tables

    # -- the site ------------------------------------------------------------------------------
    async def ping(self) -> None:
        """Does the database answer (and hold Moodle's config table)? MoodleError in French if not."""
        cfg = self.t.config
        if not self.moodle.is_open:
            await self.moodle.open()
        await self.moodle.read(lambda conn: conn.execute(select(cfg.c.id).limit(1)).all())

    async def site_facts(self) -> SiteFacts:
        mnet = await self.moodle.mnet_localhost_id()
        system = await self.moodle.system_context_id()
        cfg, ctx = self.t.config, self.t.context
        names = ("lang", "auth", "extendedusernamechars", "sessiontimeout")

        def work(conn: Connection) -> tuple[dict[str, str], str]:
            values = dict(conn.execute(select(cfg.c.name, cfg.c.value).where(cfg.c.name.in_(names))).all())
            path = conn.execute(select(ctx.c.path).where(ctx.c.id == system)).scalar()
            return values, path or f"/{system}"

        values, path = await self.moodle.read(work)
        timeout = str(values.get("sessiontimeout") or "").strip()
        return SiteFacts(
            mnet=mnet,
            system_context=system,
            system_path=path,
            lang=values.get("lang") or "en",
            auth_enabled=tuple(a.strip() for a in (values.get("auth") or "").split(",") if a.strip()),
            extended_usernames=str(values.get("extendedusernamechars") or "").strip() not in ("", "0"),
            session_timeout=int(timeout) if timeout.isdigit() and int(timeout) > 0 else DEFAULT_SESSION_TIMEOUT,
        )

    # -- users ---------------------------------------------------------------------------------
    def _user_rows(self, conn: Connection, mnet: int, usernames: set[str] | None, idnumbers: set[str]) -> list[Any]:
        u = self.t.user
        cols = (u.c.id, u.c.username, u.c.idnumber, u.c.auth, u.c.firstname, u.c.lastname, u.c.email)
        base = select(*cols, u.c.suspended, u.c.deleted).where(u.c.mnethostid == mnet)
        rows: dict[int, Any] = {}
        if usernames is not None and len(usernames) + len(idnumbers) > WHOLE_USERS_READ_ABOVE:
            site = conn.execute(select(func.count()).select_from(u).where(u.c.mnethostid == mnet)).scalar_one()
            if site <= len(usernames) + len(idnumbers):
                usernames = None  # fewer users on the site than values to look up: one read of them all
        if usernames is None:
            for r in conn.execute(base):
                rows[r.id] = r
            return list(rows.values())
        for chunk in chunks(sorted(usernames)):
            for r in conn.execute(base.where(u.c.username.in_(chunk))):
                rows[r.id] = r
        for chunk in chunks(sorted(idnumbers - {""})):
            for r in conn.execute(base.where(u.c.idnumber.in_(chunk), u.c.deleted == 0)):
                rows[r.id] = r
        return list(rows.values())

    async def users(self, mnet: int, usernames: set[str] | None, idnumbers: set[str]) -> list[MoodleUser]:
        """Users (any auth) holding one of these usernames, or one of these idnumbers (not deleted);
        every user of the site when ``usernames`` is None, or when the site holds fewer users than
        there are values to look up (a region's first run: a million lookups by value against a
        site of a few thousand users). The callers match in Python: more users never change a match."""
        rows = await self.moodle.read(lambda c: self._user_rows(c, mnet, usernames, idnumbers))
        return [
            MoodleUser(
                int(r.id),
                r.username,
                r.idnumber or "",
                r.auth,
                r.firstname or "",
                r.lastname or "",
                r.email or "",
                bool(r.suspended),
                bool(r.deleted),
            )
            for r in rows
        ]

    async def usernames_of(self, ids: Iterable[int]) -> dict[int, str]:
        u = self.t.user
        wanted = sorted(set(ids))

        def work(conn: Connection) -> dict[int, str]:
            out: dict[int, str] = {}
            for chunk in chunks(wanted):
                out.update((int(i), n) for i, n in conn.execute(select(u.c.id, u.c.username).where(u.c.id.in_(chunk))))
            return out

        return await self.moodle.read(work) if wanted else {}

    async def insert_users(
        self, users: Sequence[DesiredUser], *, auth: str, facts: SiteFacts, now: int
    ) -> dict[str, int]:
        """Create users (with their user context) in one transaction; returns username → id of the
        rows this call created (a username taken meanwhile is left alone)."""
        u = self.t.user
        rows = [user_insert_row(d, auth=auth, facts=facts, now=now) for d in users]

        def work(conn: Connection) -> dict[str, int]:
            names = [d.username for d in users]
            taken: set[str] = set()
            for chunk in chunks(names):
                q = select(u.c.username).where(u.c.mnethostid == facts.mnet, u.c.username.in_(chunk))
                taken.update(conn.execute(q).scalars())
            fresh = [r for r in rows if r[USER_USERNAME] not in taken]
            if not fresh:
                return {}
            insert_many(conn, u, USER_INSERT_COLUMNS, fresh)
            created: dict[str, int] = {}
            for chunk in chunks([r[USER_USERNAME] for r in fresh]):
                q = select(u.c.username, u.c.id).where(u.c.mnethostid == facts.mnet, u.c.username.in_(chunk))
                created.update((n, int(i)) for n, i in conn.execute(q))
            self._add_user_contexts(conn, sorted(created.values()), facts)
            return created

        return await self.moodle.run(work, deadlock_retries=2)  # batches run side by side (sync_users)

    def _add_user_contexts(self, conn: Connection, ids: Sequence[int], facts: SiteFacts) -> None:
        """``context_user::instance()`` for these users: insert, then path = parent path + "/" + id."""
        if not ids:
            return
        ctx = self.t.context
        depth = facts.system_path.count("/") + 1
        # path NULL and locked 0 are the columns' defaults; path is set just below
        insert_many(conn, ctx, ("contextlevel", "instanceid", "depth"), [(CONTEXT_USER, i, depth) for i in ids])
        for chunk in chunks(list(ids)):
            conn.execute(
                update(ctx)
                .where(ctx.c.contextlevel == CONTEXT_USER, ctx.c.instanceid.in_(chunk), ctx.c.path.is_(None))
                .values(path=literal(f"{facts.system_path}/", String) + cast(ctx.c.id, String))
            )

    async def users_without_context(self, mnet: int, auth: str) -> list[int]:
        """Users of ``auth`` (not deleted) that have no user context (made by an older tool)."""
        u, ctx = self.t.user, self.t.context
        q = (
            select(u.c.id)
            .outerjoin(ctx, and_(ctx.c.contextlevel == CONTEXT_USER, ctx.c.instanceid == u.c.id))
            .where(u.c.mnethostid == mnet, u.c.auth == auth, u.c.deleted == 0, ctx.c.id.is_(None))
            .order_by(u.c.id)
        )
        return await self.moodle.read(lambda c: [int(i) for i in c.execute(q).scalars()])

    async def add_user_contexts(self, ids: Sequence[int], facts: SiteFacts) -> None:
        await self.moodle.run(lambda conn: self._add_user_contexts(conn, ids, facts))

    async def update_users(self, batch: Sequence[PlannedUpdate], now: int) -> None:
        """Write only the changed fields, one executemany per set of changed columns."""
        u = self.t.user
        groups: dict[tuple[str, ...], list[PlannedUpdate]] = defaultdict(list)
        for upd in batch:
            groups[tuple(sorted(upd.changes))].append(upd)

        def work(conn: Connection) -> None:
            for keys, ups in groups.items():
                values: dict[str, Any] = {k: bindparam(f"v_{k}") for k in keys}
                values["timemodified"] = bindparam("v_now")
                stmt = update(u).where(u.c.id == bindparam("v_id")).values(values)
                params = [{"v_id": x.id, "v_now": now, **{f"v_{k}": x.changes[k] for k in keys}} for x in ups]
                conn.execute(stmt, params)

        await self.moodle.run(work)

    async def suspend_users(self, ids: Sequence[int], auth: str, now: int) -> None:
        u = self.t.user
        stmt = update(u).where(u.c.id.in_(list(ids)), u.c.auth == auth).values(suspended=1, timemodified=now)
        await self.moodle.run(lambda conn: conn.execute(stmt))

    # -- cohorts -------------------------------------------------------------------------------
    async def cohorts(self) -> list[MoodleCohort]:
        co = self.t.cohort
        q = select(co.c.id, co.c.name, co.c.idnumber, co.c.component, co.c.visible, co.c.contextid)
        rows = await self.moodle.read(lambda conn: conn.execute(q).all())
        return [
            MoodleCohort(int(r.id), r.name, r.idnumber or "", r.component or "", bool(r.visible), int(r.contextid))
            for r in rows
        ]

    async def cohort_members(self, cohort_ids: Iterable[int]) -> dict[int, set[int]]:
        cm = self.t.cohort_members
        wanted = sorted(set(cohort_ids))

        def work(conn: Connection) -> dict[int, set[int]]:
            out: dict[int, set[int]] = defaultdict(set)
            for chunk in chunks(wanted):
                for r in conn.execute(select(cm.c.cohortid, cm.c.userid).where(cm.c.cohortid.in_(chunk))):
                    out[int(r.cohortid)].add(int(r.userid))
            return out

        return await self.moodle.read(work)

    async def create_cohorts(self, batch: Sequence[CohortChange], *, context: int, now: int) -> int:
        """Create the cohorts (an idnumber already there is reused) and add their members; returns how
        many cohort rows this call created."""
        co, cm = self.t.cohort, self.t.cohort_members
        template = not_null_defaults(co)

        def work(conn: Connection) -> int:
            idns = [ch.idnumber for ch in batch]
            taken = set(conn.execute(select(co.c.idnumber).where(co.c.idnumber.in_(idns))).scalars())
            rows = [
                {
                    **template,
                    "contextid": context,
                    "name": ch.name,
                    "idnumber": ch.idnumber,
                    "description": "",
                    "descriptionformat": 1,
                    "visible": 1,
                    "component": ch.component,
                    "timecreated": now,
                    "timemodified": now,
                }
                for ch in batch
                if ch.idnumber not in taken
            ]
            if rows:
                conn.execute(insert(co), rows)
            ids = dict(conn.execute(select(co.c.idnumber, co.c.id).where(co.c.idnumber.in_(idns))).all())
            existing: set[tuple[int, int]] = set()
            for chunk in chunks(list(ids.values())):
                q = select(cm.c.cohortid, cm.c.userid).where(cm.c.cohortid.in_(chunk))
                existing |= {(int(c), int(u)) for c, u in conn.execute(q)}
            adds = [
                (ids[ch.idnumber], uid, now)
                for ch in batch
                for uid in sorted(ch.add)
                if (ids[ch.idnumber], uid) not in existing
            ]
            insert_many(conn, cm, MEMBER_COLUMNS, adds)
            return len(rows)

        return await self.moodle.run(work)

    async def change_cohorts(self, batch: Sequence[CohortChange], now: int) -> None:
        """Set changed columns, add and remove members, of existing cohorts."""
        co, cm = self.t.cohort, self.t.cohort_members

        def work(conn: Connection) -> None:
            for x in batch:
                if x.values:
                    conn.execute(update(co).where(co.c.id == x.cohort_id).values(**x.values, timemodified=now))
            adds = [(x.cohort_id, u, now) for x in batch for u in sorted(x.add)]
            insert_many(conn, cm, MEMBER_COLUMNS, adds)
            removes = [{"c": x.cohort_id, "u": u} for x in batch for u in sorted(x.remove)]
            if removes:
                stmt = delete(cm).where(and_(cm.c.cohortid == bindparam("c"), cm.c.userid == bindparam("u")))
                conn.execute(stmt, removes)

        await self.moodle.run(work)

    async def vanish_cohort(self, cohort_id: int, now: int) -> None:
        """Empty and hide a cohort whose group disappeared (never delete the row)."""
        co, cm = self.t.cohort, self.t.cohort_members

        def work(conn: Connection) -> None:
            conn.execute(delete(cm).where(cm.c.cohortid == cohort_id))
            conn.execute(update(co).where(co.c.id == cohort_id).values(visible=0, timemodified=now))

        await self.moodle.run(work)

    # -- role assignments ----------------------------------------------------------------------
    async def role_ids(self) -> dict[str, int]:
        r = self.t.role
        rows = await self.moodle.read(lambda conn: conn.execute(select(r.c.id, r.c.shortname)).all())
        return {name: int(i) for i, name in rows}

    async def contexts_by_idnumber(
        self, category_keys: Iterable[str], course_keys: Iterable[str]
    ) -> dict[tuple[str, str], int]:
        """(level, idnumber) → context id of the course categories and courses with these idnumbers."""
        t = self.t
        wanted = (
            ("coursecat", t.course_categories, sorted(set(category_keys))),
            ("course", t.course, sorted(set(course_keys))),
        )

        def work(conn: Connection) -> dict[tuple[str, str], int]:
            out: dict[tuple[str, str], int] = {}
            for level, table, keys in wanted:
                for chunk in chunks(keys):
                    q = select(table.c.id, table.c.idnumber).where(table.c.idnumber.in_(chunk))
                    inst = {int(r.id): r.idnumber for r in conn.execute(q)}
                    if not inst:
                        continue
                    q = select(t.context.c.id, t.context.c.instanceid).where(
                        t.context.c.contextlevel == CONTEXT_LEVELS[level], t.context.c.instanceid.in_(list(inst))
                    )
                    for r in conn.execute(q):
                        out[(level, inst[int(r.instanceid)])] = int(r.id)
            return out

        return await self.moodle.read(work)

    async def role_assignments(
        self, contexts: Iterable[int], *, owned_component: str | None = None
    ) -> list[tuple[int, Assignment, str]]:
        """(id, (roleid, contextid, userid), component) of the assignments in these contexts, and of
        every assignment of ``owned_component`` when it is given."""
        ra = self.t.role_assignments
        wanted = sorted(set(contexts))

        def work(conn: Connection) -> list[tuple[int, Assignment, str]]:
            rows: dict[int, Any] = {}
            q = select(ra.c.id, ra.c.roleid, ra.c.contextid, ra.c.userid, ra.c.component)
            for chunk in chunks(wanted):
                for r in conn.execute(q.where(ra.c.contextid.in_(chunk))):
                    rows[int(r.id)] = r
            if owned_component is not None:
                for r in conn.execute(q.where(ra.c.component == owned_component)):
                    rows[int(r.id)] = r
            return [
                (int(r.id), (int(r.roleid), int(r.contextid), int(r.userid)), r.component or "") for r in rows.values()
            ]

        return await self.moodle.read(work)

    async def add_role_assignments(
        self, keys: Sequence[Assignment], *, component: str, facts: SiteFacts, now: int
    ) -> None:
        """Assign, and mark the users dirty, in one transaction."""
        ra = self.t.role_assignments
        columns = ("roleid", "contextid", "userid", "timemodified", "modifierid", "component", "itemid", "sortorder")
        rows = [(r, cx, u, now, 0, component, 0, 0) for r, cx, u in keys]

        def work(conn: Connection) -> None:
            insert_many(conn, ra, columns, rows)
            self._mark_dirty(conn, {u for _r, _c, u in keys}, facts, now)

        await self.moodle.run(work)

    async def remove_role_assignments(
        self, items: Sequence[tuple[int, Assignment]], *, component: str, facts: SiteFacts, now: int
    ) -> None:
        """Unassign (only rows of ``component``), and mark the users dirty, in one transaction."""
        ra = self.t.role_assignments
        ids = [i for i, _k in items]

        def work(conn: Connection) -> None:
            conn.execute(delete(ra).where(ra.c.id.in_(ids), ra.c.component == component))
            self._mark_dirty(conn, {k[2] for _i, k in items}, facts, now)

        await self.moodle.run(work)

    def _mark_dirty(self, conn: Connection, user_ids: set[int], facts: SiteFacts, now: int) -> None:
        """``mark_user_dirty()`` for each user: ``set_cache_flag('accesslib/dirtyusers', id, 1, expiry)``."""
        if not user_ids:
            return
        cf = self.t.cache_flags
        expiry = now + facts.session_timeout
        names = sorted(str(u) for u in user_ids)
        existing: set[str] = set()
        for chunk in chunks(names):
            q = select(cf.c.name).where(cf.c.flagtype == DIRTY_USERS, cf.c.name.in_(chunk))
            existing.update(conn.execute(q).scalars())
        if existing:
            stmt = (
                update(cf)
                .where(cf.c.flagtype == DIRTY_USERS, cf.c.name == bindparam("n"))
                .values(value="1", expiry=expiry, timemodified=now)
            )
            conn.execute(stmt, [{"n": n} for n in sorted(existing)])
        fresh = [n for n in names if n not in existing]
        insert_many(
            conn,
            cf,
            ("flagtype", "name", "value", "expiry", "timemodified"),
            [(DIRTY_USERS, n, "1", expiry, now) for n in fresh],
        )

    # -- the coherence checks ------------------------------------------------------------------
    async def coherence_users(self, auth: str) -> tuple[list[coh.MoodleAccount], list[str]]:
        """Users of ``auth`` (not deleted), and every username not deleted (the coherence checks)."""
        u = self.t.user

        def work(conn: Connection) -> tuple[list[coh.MoodleAccount], list[str]]:
            q = select(u.c.id, u.c.username, u.c.firstname, u.c.lastname, u.c.auth, u.c.suspended).where(
                (u.c.auth == auth) & (u.c.deleted == 0)
            )
            users = [
                coh.MoodleAccount(
                    id=int(r.id),
                    username=r.username,
                    firstname=r.firstname or "",
                    lastname=r.lastname or "",
                    auth=r.auth,
                    suspended=bool(r.suspended),
                )
                for r in conn.execute(q)
            ]
            names = [r.username for r in conn.execute(select(u.c.username).where(u.c.deleted == 0))]
            return users, names

        return await self.moodle.read(work)


__all__ = [
    "IN_CHUNK",
    "USER_INSERT_COLUMNS",
    "MoodleSyncStore",
    "SiteFacts",
    "chunks",
    "insert_many",
    "not_null_defaults",
    "user_insert_row",
]
