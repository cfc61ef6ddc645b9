"""SQLAlchemy Core definitions of the Moodle tables the sync and the console touch.

Column names, types, NOT NULL, server defaults and index names are those of Moodle 4.5's
``lib/db/install.xml`` as its installer creates them on MariaDB and PostgreSQL (checked against
the dumps of a fresh site, see ``tests/data/moodle_columns.json``):

- ``int(10)`` → ``bigint(10)`` / ``bigint``; ``int(1..2)`` → ``tinyint(n)`` / ``smallint``;
  ``int(4)`` → ``smallint(4)`` / ``smallint``; ``int(5)`` → ``mediumint(5)`` / ``integer``;
- ``text`` → ``longtext`` / ``text``; ``char(n)`` → ``varchar(n)`` / ``character varying(n)``;
- ids: ``AUTO_INCREMENT`` on MySQL/MariaDB; on PostgreSQL ``bigserial``, i.e. a default
  ``nextval('<prefix><table>_id_seq')``, the very sequence Moodle's installer makes, so inserts
  without an id work the same on a table made by Moodle and on one made here.

Creating tables is only for demo and test databases (:meth:`enttui.services.moodle.Moodle.create_schema`);
on a real Moodle the tables already exist and only these definitions are used to read and write.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeEngine

MYSQL = ("mysql", "mariadb")

# Table names without prefix, in creation order.
TABLE_NAMES = (
    "config",
    "config_plugins",
    "user",
    "cohort",
    "cohort_members",
    "role",
    "context",
    "role_assignments",
    "role_context_levels",
    "course",
    "course_categories",
    "user_lastaccess",
    "cache_flags",
)


def _big() -> TypeEngine:
    """Moodle ``int(10)``."""
    return BigInteger().with_variant(mysql.BIGINT(10), *MYSQL)


def _tiny(width: int) -> TypeEngine:
    """Moodle ``int(1)``/``int(2)``: ``tinyint(n)`` on MySQL, ``smallint`` on PostgreSQL."""
    return SmallInteger().with_variant(mysql.TINYINT(width), *MYSQL)


def _small() -> TypeEngine:
    """Moodle ``int(4)``."""
    return SmallInteger().with_variant(mysql.SMALLINT(4), *MYSQL)


def _medium() -> TypeEngine:
    """Moodle ``int(5)``."""
    return Integer().with_variant(mysql.MEDIUMINT(5), *MYSQL)


def _text() -> TypeEngine:
    """Moodle ``text``: ``longtext`` on MySQL, ``text`` elsewhere."""
    return Text().with_variant(mysql.LONGTEXT(), *MYSQL)


def _id() -> Column:
    """The ``id`` primary key: AUTO_INCREMENT / bigserial (``<table>_id_seq``) / SQLite rowid."""
    return Column(
        "id",
        BigInteger().with_variant(mysql.BIGINT(10), *MYSQL).with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
        nullable=False,
    )


def _int(name: str, kind: str = "big", *, default: int | None = 0, nullable: bool = False) -> Column:
    types = {"big": _big, "small": _small, "medium": _medium}
    if kind.startswith("tiny"):
        type_ = _tiny(int(kind[4:]))
    else:
        type_ = types[kind]()
    return Column(name, type_, nullable=nullable, server_default=None if default is None else text(str(default)))


def _char(name: str, length: int, default: str | None = "", *, nullable: bool = False) -> Column:
    return Column(name, String(length), nullable=nullable, server_default=default)


def _txt(name: str, *, nullable: bool = True) -> Column:
    return Column(name, _text(), nullable=nullable)


def _table(metadata: MetaData, prefix: str, name: str, abbrev: str, *items: SchemaItem) -> Table:
    return Table(
        f"{prefix}{name}",
        metadata,
        *items,
        PrimaryKeyConstraint("id", name=f"{prefix}{abbrev}_id_pk"),
        mysql_engine="InnoDB",
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_row_format="COMPRESSED",
        mariadb_engine="InnoDB",
        mariadb_charset="utf8mb4",
        mariadb_collate="utf8mb4_unicode_ci",
        mariadb_row_format="COMPRESSED",
    )


def _ix(prefix: str, abbrev: str, suffix: str, *columns: str, unique: bool = False) -> Index:
    return Index(f"{prefix}{abbrev}_{suffix}_{'uix' if unique else 'ix'}", *columns, unique=unique)


@dataclass(frozen=True)
class MoodleTables:
    """The ``MetaData`` and one ``Table`` per Moodle table (attribute = name without prefix)."""

    prefix: str
    metadata: MetaData
    config: Table
    config_plugins: Table
    user: Table
    cohort: Table
    cohort_members: Table
    role: Table
    context: Table
    role_assignments: Table
    role_context_levels: Table
    course: Table
    course_categories: Table
    user_lastaccess: Table
    cache_flags: Table

    def all(self) -> list[Table]:
        return [getattr(self, name) for name in TABLE_NAMES]


def moodle_tables(prefix: str = "mdl_") -> MoodleTables:
    """Build the table definitions for a Moodle database whose tables start with ``prefix``."""
    md = MetaData()
    p = prefix

    config = _table(
        md,
        p,
        "config",
        "conf",
        _id(),
        _char("name", 255),
        _txt("value", nullable=False),
        _ix(p, "conf", "nam", "name", unique=True),
    )
    config_plugins = _table(
        md,
        p,
        "config_plugins",
        "confplug",
        _id(),
        _char("plugin", 100, "core"),
        _char("name", 100),
        _txt("value", nullable=False),
        _ix(p, "confplug", "plunam", "plugin", "name", unique=True),
    )
    user = _table(
        md,
        p,
        "user",
        "user",
        _id(),
        _char("auth", 20, "manual"),
        _int("confirmed", "tiny1"),
        _int("policyagreed", "tiny1"),
        _int("deleted", "tiny1"),
        _int("suspended", "tiny1"),
        _int("mnethostid"),
        _char("username", 100),
        _char("password", 255),
        _char("idnumber", 255),
        _char("firstname", 100),
        _char("lastname", 100),
        _char("email", 100),
        _int("emailstop", "tiny1"),
        _char("phone1", 20),
        _char("phone2", 20),
        _char("institution", 255),
        _char("department", 255),
        _char("address", 255),
        _char("city", 120),
        _char("country", 2),
        _char("lang", 30, "en"),
        _char("calendartype", 30, "gregorian"),
        _char("theme", 50),
        _char("timezone", 100, "99"),
        _int("firstaccess"),
        _int("lastaccess"),
        _int("lastlogin"),
        _int("currentlogin"),
        _char("lastip", 45),
        _char("secret", 15),
        _int("picture"),
        _txt("description"),
        _int("descriptionformat", "tiny2", default=1),
        _int("mailformat", "tiny1", default=1),
        _int("maildigest", "tiny1"),
        _int("maildisplay", "tiny2", default=2),
        _int("autosubscribe", "tiny1", default=1),
        _int("trackforums", "tiny1"),
        _int("timecreated"),
        _int("timemodified"),
        _int("trustbitmask"),
        _char("imagealt", 255, None, nullable=True),
        _char("lastnamephonetic", 255, None, nullable=True),
        _char("firstnamephonetic", 255, None, nullable=True),
        _char("middlename", 255, None, nullable=True),
        _char("alternatename", 255, None, nullable=True),
        _char("moodlenetprofile", 255, None, nullable=True),
        _ix(p, "user", "mneuse", "mnethostid", "username", unique=True),
        _ix(p, "user", "del", "deleted"),
        _ix(p, "user", "con", "confirmed"),
        _ix(p, "user", "fir", "firstname"),
        _ix(p, "user", "las", "lastname"),
        _ix(p, "user", "cit", "city"),
        _ix(p, "user", "cou", "country"),
        _ix(p, "user", "las2", "lastaccess"),
        _ix(p, "user", "ema", "email"),
        _ix(p, "user", "aut", "auth"),
        _ix(p, "user", "idn", "idnumber"),
        _ix(p, "user", "fir2", "firstnamephonetic"),
        _ix(p, "user", "las3", "lastnamephonetic"),
        _ix(p, "user", "mid", "middlename"),
        _ix(p, "user", "alt", "alternatename"),
    )
    cohort = _table(
        md,
        p,
        "cohort",
        "coho",
        _id(),
        _int("contextid", default=None),
        _char("name", 254),
        _char("idnumber", 100, None, nullable=True),
        _txt("description"),
        _int("descriptionformat", "tiny2", default=None),
        _int("visible", "tiny1", default=1),
        _char("component", 100),
        _int("timecreated", default=None),
        _int("timemodified", default=None),
        _char("theme", 50, None, nullable=True),
        _ix(p, "coho", "con", "contextid"),
    )
    cohort_members = _table(
        md,
        p,
        "cohort_members",
        "cohomemb",
        _id(),
        _int("cohortid"),
        _int("userid"),
        _int("timeadded"),
        _ix(p, "cohomemb", "cohuse", "cohortid", "userid", unique=True),
        _ix(p, "cohomemb", "coh", "cohortid"),
        _ix(p, "cohomemb", "use", "userid"),
    )
    role = _table(
        md,
        p,
        "role",
        "role",
        _id(),
        _char("name", 255),
        _char("shortname", 100),
        _txt("description", nullable=False),
        _int("sortorder"),
        _char("archetype", 30),
        _ix(p, "role", "sor", "sortorder", unique=True),
        _ix(p, "role", "sho", "shortname", unique=True),
    )
    context = _table(
        md,
        p,
        "context",
        "cont",
        _id(),
        _int("contextlevel"),
        _int("instanceid"),
        _char("path", 255, None, nullable=True),
        _int("depth", "tiny2"),
        _int("locked", "tiny2"),
        _ix(p, "cont", "conins", "contextlevel", "instanceid", unique=True),
        _ix(p, "cont", "ins", "instanceid"),
        _ix(p, "cont", "pat", "path"),
    )
    # Moodle adds a varchar_pattern_ops twin of the path index on PostgreSQL (LIKE 'path/%').
    Index(f"{p}cont_pat_ix_pattern", context.c.path, postgresql_ops={"path": "varchar_pattern_ops"}).ddl_if(
        dialect="postgresql"
    )
    role_assignments = _table(
        md,
        p,
        "role_assignments",
        "roleassi",
        _id(),
        _int("roleid"),
        _int("contextid"),
        _int("userid"),
        _int("timemodified"),
        _int("modifierid"),
        _char("component", 100),
        _int("itemid"),
        _int("sortorder"),
        _ix(p, "roleassi", "sor", "sortorder"),
        _ix(p, "roleassi", "rolcon", "roleid", "contextid"),
        _ix(p, "roleassi", "useconrol", "userid", "contextid", "roleid"),
        _ix(p, "roleassi", "comiteuse", "component", "itemid", "userid"),
        _ix(p, "roleassi", "rol", "roleid"),
        _ix(p, "roleassi", "con", "contextid"),
        _ix(p, "roleassi", "use", "userid"),
    )
    role_context_levels = _table(
        md,
        p,
        "role_context_levels",
        "rolecontleve",
        _id(),
        _int("roleid", default=None),
        _int("contextlevel", default=None),
        _ix(p, "rolecontleve", "conrol", "contextlevel", "roleid", unique=True),
        _ix(p, "rolecontleve", "rol", "roleid"),
    )
    course = _table(
        md,
        p,
        "course",
        "cour",
        _id(),
        _int("category"),
        _int("sortorder"),
        _char("fullname", 254),
        _char("shortname", 255),
        _char("idnumber", 100),
        _txt("summary"),
        _int("summaryformat", "tiny2"),
        _char("format", 21, "topics"),
        _int("showgrades", "tiny2", default=1),
        _int("newsitems", "medium", default=1),
        _int("startdate"),
        _int("enddate"),
        _int("relativedatesmode", "tiny1"),
        _int("marker"),
        _int("maxbytes"),
        _int("legacyfiles", "small"),
        _int("showreports", "small"),
        _int("visible", "tiny1", default=1),
        _int("visibleold", "tiny1", default=1),
        _int("downloadcontent", "tiny1", default=None, nullable=True),
        _int("groupmode", "small"),
        _int("groupmodeforce", "small"),
        _int("defaultgroupingid"),
        _char("lang", 30),
        _char("calendartype", 30),
        _char("theme", 50),
        _int("timecreated"),
        _int("timemodified"),
        _int("requested", "tiny1"),
        _int("enablecompletion", "tiny1"),
        _int("completionnotify", "tiny1"),
        _int("cacherev"),
        _int("originalcourseid", default=None, nullable=True),
        _int("showactivitydates", "tiny1"),
        _int("showcompletionconditions", "tiny1", default=None, nullable=True),
        _char("pdfexportfont", 50, None, nullable=True),
        _ix(p, "cour", "cat", "category"),
        _ix(p, "cour", "idn", "idnumber"),
        _ix(p, "cour", "sho", "shortname"),
        _ix(p, "cour", "sor", "sortorder"),
        _ix(p, "cour", "ori", "originalcourseid"),
    )
    course_categories = _table(
        md,
        p,
        "course_categories",
        "courcate",
        _id(),
        _char("name", 255),
        _char("idnumber", 100, None, nullable=True),
        _txt("description"),
        _int("descriptionformat", "tiny2"),
        _int("parent"),
        _int("sortorder"),
        _int("coursecount"),
        _int("visible", "tiny1", default=1),
        _int("visibleold", "tiny1", default=1),
        _int("timemodified"),
        _int("depth"),
        _char("path", 255),
        _char("theme", 50, None, nullable=True),
        _ix(p, "courcate", "par", "parent"),
    )
    user_lastaccess = _table(
        md,
        p,
        "user_lastaccess",
        "userlast",
        _id(),
        _int("userid"),
        _int("courseid"),
        _int("timeaccess"),
        _ix(p, "userlast", "usecou", "userid", "courseid", unique=True),
        _ix(p, "userlast", "use", "userid"),
        _ix(p, "userlast", "cou", "courseid"),
    )
    cache_flags = _table(
        md,
        p,
        "cache_flags",
        "cachflag",
        _id(),
        _char("flagtype", 255),
        _char("name", 255),
        _int("timemodified"),
        _txt("value", nullable=False),
        _int("expiry", default=None),
        _ix(p, "cachflag", "fla", "flagtype"),
        _ix(p, "cachflag", "nam", "name"),
    )
    return MoodleTables(
        prefix=prefix,
        metadata=md,
        config=config,
        config_plugins=config_plugins,
        user=user,
        cohort=cohort,
        cohort_members=cohort_members,
        role=role,
        context=context,
        role_assignments=role_assignments,
        role_context_levels=role_context_levels,
        course=course,
        course_categories=course_categories,
        user_lastaccess=user_lastaccess,
        cache_flags=cache_flags,
    )
