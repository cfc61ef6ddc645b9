"""A fresh Moodle 4.5 site's base rows (demo and test databases only), the context levels, and
the helpers that add a context and read an inserted row's id (used by the sync and the demo seed)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, CursorResult, select, update

from enttui.services.moodle_tables import MoodleTables

CONTEXT_SYSTEM = 10
CONTEXT_USER = 30
CONTEXT_COURSECAT = 40
CONTEXT_COURSE = 50

# Fixed time of the base rows written by create_schema (2026-01-01T00:00:00Z): deterministic demo.
BASE_TIME = 1767225600
RELEASE = "4.5+ (Build: 20241205)"
VERSION = "2024100700.09"

ROLES = ("manager", "coursecreator", "editingteacher", "teacher", "student", "guest", "user", "frontpage")
# role shortname -> context levels where it can be assigned (Moodle's defaults)
ROLE_CONTEXT_LEVELS = {
    "manager": (CONTEXT_SYSTEM, CONTEXT_COURSECAT, CONTEXT_COURSE),
    "coursecreator": (CONTEXT_SYSTEM, CONTEXT_COURSECAT),
    "editingteacher": (CONTEXT_COURSE, 70),
    "teacher": (CONTEXT_COURSE, 70),
    "student": (CONTEXT_COURSE, 70),
}
BASE_CONFIG = {
    "auth": "email",
    "enrol_plugins_enabled": "manual,guest,self,cohort",
    "mnet_localhost_id": "1",
    "siteguest": "1",
    "siteadmins": "2",
    "lang": "en",
    "release": RELEASE,
    "version": VERSION,
    "branch": "405",
    "guestroleid": "6",
    "notloggedinroleid": "6",
    "defaultuserroleid": "7",
    "creatornewroleid": "3",
}


def insert_base_rows(conn: Connection, t: MoodleTables) -> None:
    """The rows a fresh Moodle 4.5 site starts with (ids from the sequences, in Moodle's order)."""
    conn.execute(t.config.insert(), [{"name": k, "value": v} for k, v in BASE_CONFIG.items()])
    conn.execute(
        t.config_plugins.insert(),
        [
            {"plugin": "auth_manual", "name": "version", "value": "2024100700"},
            {"plugin": "enrol_cohort", "name": "roleid", "value": "5"},
            {"plugin": "enrol_cohort", "name": "unenrolaction", "value": "0"},
        ],
    )
    system_id = add_context(conn, t, CONTEXT_SYSTEM, 0, None)
    conn.execute(
        t.role.insert(),
        [
            {"name": "", "shortname": s, "description": "", "sortorder": i, "archetype": s}
            for i, s in enumerate(ROLES, 1)
        ],
    )
    role_ids = dict(conn.execute(select(t.role.c.shortname, t.role.c.id)).all())
    conn.execute(
        t.role_context_levels.insert(),
        [
            {"roleid": role_ids[role], "contextlevel": level}
            for role, levels in ROLE_CONTEXT_LEVELS.items()
            for level in levels
        ],
    )
    user_common = {
        "auth": "manual",
        "confirmed": 1,
        "mnethostid": 1,
        "lang": "en",
        "timecreated": 0,
        "timemodified": BASE_TIME,
    }
    conn.execute(
        t.user.insert(),
        [
            {
                **user_common,
                "username": "guest",
                "firstname": "Guest user",
                "lastname": " ",
                "email": "root@localhost",
                "description": "This user is a special user that allows read-only access to some courses.",
            },
            {
                **user_common,
                "username": "admin",
                "firstname": "Admin",
                "lastname": "User",
                "email": "admin@example.test",
                "description": None,
            },
        ],
    )
    site = inserted_id(
        conn.execute(
            t.course.insert().values(
                category=0,
                sortorder=0,
                fullname="Site Moodle",
                shortname="moodle",
                summary="",
                format="site",
                newsitems=3,
                timecreated=BASE_TIME,
                timemodified=BASE_TIME,
            )
        )
    )
    category = inserted_id(
        conn.execute(
            t.course_categories.insert().values(
                name="Category 1", descriptionformat=1, sortorder=10000, timemodified=BASE_TIME, depth=1, path=""
            )
        )
    )
    conn.execute(update(t.course_categories).where(t.course_categories.c.id == category).values(path=f"/{category}"))
    add_context(conn, t, CONTEXT_COURSE, site, system_id)
    add_context(conn, t, CONTEXT_COURSECAT, category, system_id)
    for username in ("guest", "admin"):
        uid = conn.execute(select(t.user.c.id).where(t.user.c.username == username)).scalar_one()
        add_context(conn, t, CONTEXT_USER, uid, system_id)


def add_context(conn: Connection, t: MoodleTables, level: int, instance: int, parent_id: int | None) -> int:
    """Insert a context row with Moodle's ``path``/``depth`` below ``parent_id``; returns its id."""
    ctx = t.context
    if parent_id is None:
        parent_path, parent_depth = "", 0
    else:
        parent_path, parent_depth = conn.execute(select(ctx.c.path, ctx.c.depth).where(ctx.c.id == parent_id)).one()
    new_id = inserted_id(
        conn.execute(ctx.insert().values(contextlevel=level, instanceid=instance, depth=parent_depth + 1))
    )
    conn.execute(update(ctx).where(ctx.c.id == new_id).values(path=f"{parent_path or ''}/{new_id}"))
    return new_id


def inserted_id(result: CursorResult[Any]) -> int:
    """The id of the row an INSERT of one row just wrote."""
    key = result.inserted_primary_key
    assert key is not None, "an INSERT of one row has a primary key"
    return int(key[0])
