"""The demo Moodle: what a school's Moodle looks like before the console's first sync.

Written on the SQLite demo database right after :meth:`Moodle.create_schema`: some users already
there (synced by an older tool, one suspended by hand, one ``manual`` account whose username clashes
with a directory login), two cohorts of the sync with partly outdated members, one cohort of
another owner, a course category and a course for role assignments. Fully deterministic: people
are taken in login order and every timestamp is fixed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update

from enttui.domain.people import Person, Target
from enttui.services.moodle import Moodle
from enttui.services.moodle_site import CONTEXT_COURSE, CONTEXT_COURSECAT, add_context, inserted_id

SEED_TIME = 1769904000  # 2026-02-01T00:00:00Z
SYNCED_USERS = 40


async def seed_demo_moodle(
    moodle: Moodle,
    people: Sequence[Person],
    *,
    auth: str = "cas",
    cohort_prefix: str = "2026",
    component: str = "local_ent_installer",
    uai: str = "0123456A",
) -> None:
    """Fill the demo Moodle from the demo directory's ``people`` (students and teachers)."""
    system_ctx = await moodle.system_context_id()
    mnet = await moodle.mnet_localhost_id()
    t = moodle.tables
    eligible = sorted(
        (p for p in people if p.login and p.target in (Target.ELEVE, Target.ENSEIGNANT)),
        key=lambda p: p.login.lower(),
    )
    synced = eligible[:SYNCED_USERS]
    clash = eligible[SYNCED_USERS] if len(eligible) > SYNCED_USERS else None

    def user_row(p: Person, user_auth: str, index: int) -> dict[str, object]:
        return {
            "auth": user_auth,
            "confirmed": 1,
            "mnethostid": mnet,
            "username": p.login.lower(),
            "password": "not cached" if user_auth != "manual" else "",
            "idnumber": p.idnumber if user_auth != "manual" else "",
            "firstname": p.given_name,
            "lastname": p.sn,
            "email": p.mail,
            "lang": "fr",
            "suspended": 0,
            "timecreated": SEED_TIME + index * 60,
            "timemodified": SEED_TIME + index * 60,
        }

    def work(conn: Connection) -> None:
        cfg = t.config
        current = conn.execute(select(cfg.c.value).where(cfg.c.name == "auth")).scalar() or ""
        enabled = [a for a in current.split(",") if a]
        if auth not in enabled:
            conn.execute(update(cfg).where(cfg.c.name == "auth").values(value=",".join([*enabled, auth])))

        # executemany takes its columns from the first row: every row has the same keys.
        rows = [user_row(p, auth, i) for i, p in enumerate(synced)]
        if len(rows) > 2:
            rows[2]["suspended"] = 1  # suspended by hand by an administrator
        if clash is not None:
            rows.append(user_row(clash, "manual", len(rows)))
        if rows:
            conn.execute(insert(t.user), rows)
        ids = dict(conn.execute(select(t.user.c.username, t.user.c.id).where(t.user.c.mnethostid == mnet)).all())

        # The two largest classes of the synced students become cohorts of the sync, with one member
        # missing and one member too many, as after a class change.
        students = [p for p in synced if p.target == Target.ELEVE and p.classes]
        counts = Counter(p.classes[0] for p in students)
        classes = sorted(sorted(counts, key=lambda c: (-counts[c], c))[:2])
        for class_name in classes:
            cohort_id = _cohort(
                conn,
                moodle,
                system_ctx,
                name=f"{cohort_prefix} {class_name}",
                idnumber=f"{cohort_prefix}_{uai}${class_name}",
                component=component,
            )
            members = [ids[p.login.lower()] for p in students if p.classes[0] == class_name][1:]
            intruder = next((ids[p.login.lower()] for p in students if p.classes[0] != class_name), None)
            if intruder is not None:
                members.append(intruder)
            _members(conn, moodle, cohort_id, members)

        other = _cohort(conn, moodle, system_ctx, name="Club théâtre", idnumber="club-theatre", component="")
        _members(conn, moodle, other, [ids[p.login.lower()] for p in synced[:3]])

        category = inserted_id(
            conn.execute(
                insert(t.course_categories).values(
                    name="Collège",
                    idnumber="CAT-COLLEGE",
                    description="",
                    descriptionformat=1,
                    parent=0,
                    sortorder=20000,
                    coursecount=1,
                    timemodified=SEED_TIME,
                    depth=1,
                    path="",
                )
            )
        )
        conn.execute(
            update(t.course_categories).where(t.course_categories.c.id == category).values(path=f"/{category}")
        )
        category_ctx = add_context(conn, t, CONTEXT_COURSECAT, category, system_ctx)
        course = inserted_id(
            conn.execute(
                insert(t.course).values(
                    category=category,
                    sortorder=20001,
                    fullname="Mathématiques 3A",
                    shortname="MATH-3A",
                    idnumber="MATH-3A",
                    summary="",
                    summaryformat=1,
                    format="topics",
                    newsitems=5,
                    startdate=SEED_TIME,
                    timecreated=SEED_TIME,
                    timemodified=SEED_TIME,
                    cacherev=SEED_TIME,
                )
            )
        )
        add_context(conn, t, CONTEXT_COURSE, course, category_ctx)

    await moodle.run(work)


def _cohort(conn: Connection, moodle: Moodle, context: int, *, name: str, idnumber: str, component: str) -> int:
    return inserted_id(
        conn.execute(
            insert(moodle.tables.cohort).values(
                contextid=context,
                name=name,
                idnumber=idnumber,
                description="",
                descriptionformat=1,
                visible=1,
                component=component,
                timecreated=SEED_TIME,
                timemodified=SEED_TIME,
            )
        )
    )


def _members(conn: Connection, moodle: Moodle, cohort_id: int, user_ids: Sequence[int]) -> None:
    if user_ids:
        conn.execute(
            insert(moodle.tables.cohort_members),
            [{"cohortid": cohort_id, "userid": uid, "timeadded": SEED_TIME} for uid in sorted(set(user_ids))],
        )
