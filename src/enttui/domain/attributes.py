"""The directory attributes each read asks for, in one place (the SDET schema's names).

Each read asks for what it needs and no more (a paged read of 100,000 people costs in proportion
to what it carries): the detail of a person, a row of the people table, the counts, the sync, the
credential plans (diffusion, regeneration), the coherence checks, groups and structures. The fields
of a :class:`~enttui.domain.people.Person` whose attributes were not read stay empty. ``userPassword``
is read only to know whether there is one; it is turned into a boolean at once and never kept.
"""

from __future__ import annotations

from collections.abc import Sequence

# Every attribute the console reads on a person (one read, no second round trip).
PERSON_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",
    "uid",
    "cn",
    "sn",
    "givenName",
    "displayName",
    "mail",
    "ENTPersonLogin",
    "ENTPersonJointure",
    "ENTPersonProfils",
    "ENTPersonStructRattach",
    "ENTPersonFonctions",
    "ENTPersonDateNaissance",
    "ENTPersonSexe",
    "ENTEleveClasses",
    "ENTEleveGroupes",
    "ENTEleveParents",
    "ENTElevePersRelEleve",
    "ENTAuxPersRelEleveEleve",
    "ENTAuxEnsClasses",
    "ENTAuxEnsGroupes",
    "ENTAuxNonEnsEtabService",
    "pwdReset",
    "userPassword",  # read only to know whether there is one (turned into a boolean at once)
    "createTimestamp",
    "modifyTimestamp",
)

# What a row of the people table needs (the detail reads PERSON_ATTRIBUTES).
LIST_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",
    "uid",
    "cn",
    "sn",
    "givenName",
    "displayName",
    "mail",
    "ENTPersonLogin",
    "ENTPersonProfils",
    "ENTPersonStructRattach",
    "ENTEleveClasses",
    "ENTAuxPersRelEleveEleve",
    "ENTEleveParents",
    "ENTAuxEnsClasses",
    "pwdReset",
    "userPassword",  # only whether there is one (the État column); never kept
)

# The counts by profile and class.
COUNT_ATTRIBUTES: tuple[str, ...] = ("objectClass", "ENTPersonProfils", "ENTEleveClasses")

# What the Moodle sync reads of a person (its main read, the retry list, the member lookups): the
# Moodle user row (SYNC.md, "Comptes utilisateur"), whether the profile is synced, and the
# ENTPersonFonctions role mapping. The périmètre (ENTPersonStructRattach) and the watermark
# (modifyTimestamp) are in the filters, which the server evaluates; ENTPersonStructRattach is read
# too only when the périmètre holds several schools (the sync's Bilan per school,
# enttui.jobs.sync_run.SyncRun.person_attributes). Cohort names take the school from the group's cn
# and the structures, never from a person.
SYNC_PERSON_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",  # the target when the profile is missing ([ent] profile_source): synced profiles
    "ENTPersonProfils",  # the target: synced profiles ([sync] profiles)
    "ENTPersonLogin",  # username (no login: no Moodle user)
    "ENTPersonJointure",  # idnumber (the part after the first $)
    "givenName",  # firstname
    "sn",  # lastname
    "mail",  # email
    "ENTPersonFonctions",  # [sync] fonction_roles: function codes → system roles
)

# What the credential plans read of a person (diffusion and regeneration: who, the message, the
# identifier file's row, the resume), before :func:`with_attribute` adds ``[ldap] inactive_attribute``.
PLAN_PERSON_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",  # the target when the profile is missing ([ent] profile_source)
    "ENTPersonProfils",  # the target: who gets credentials, who an information mail
    "ENTPersonLogin",  # {identifiant}, the file's login column, the resume's file check, traces
    "givenName",  # {prenom}, the file, the order, a child's label
    "sn",  # {nom}, the file, the order, a child's label
    "mail",  # the address (none: the file)
    "ENTPersonStructRattach",  # the file's UAI column; the regeneration's UAIs
    "ENTEleveClasses",  # {classes}, a student's row detail, a child's label
    "ENTAuxPersRelEleveEleve",  # a parent's children ({enfants}, the row detail)
    "createTimestamp",  # the regeneration's "created since"
    "userPassword",  # only whether there is one: no password = never given credentials (never kept)
)

# What the coherence checks read of a person (one paged read of the whole people branch).
COHERENCE_PERSON_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",
    "sn",
    "givenName",
    "displayName",  # the name shown when sn and givenName are missing
    "mail",
    "ENTPersonLogin",
    "ENTPersonJointure",
    "ENTPersonProfils",
    "ENTPersonStructRattach",
    "ENTPersonDateNaissance",
    "ENTEleveClasses",
    "ENTEleveParents",
    "ENTElevePersRelEleve",
    "ENTEleveMajeur",
    "ENTAuxPersRelEleveEleve",
    "createTimestamp",
    "userPassword",  # only whether there is one: no password = never activated (never kept)
)

# Groups (classes, pedagogical and role groups).
GROUP_ATTRIBUTES: tuple[str, ...] = ("objectClass", "cn", "description", "member", "modifyTimestamp")

# Structures (schools).
STRUCTURE_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",
    "ou",
    "ENTStructureUAI",
    "ENTStructureNomCourant",
    "ENTStructureJointure",
    "ENTStructureSIREN",
)


def with_attribute(attributes: Sequence[str], name: str) -> tuple[str, ...]:
    """``attributes`` and ``name`` after them, unless it is there already (names compared case-insensitively)
    or empty: e.g. ``[ldap] inactive_attribute``, which ``Person.activated`` needs besides ``userPassword``."""
    if not name or name.lower() in {a.lower() for a in attributes}:
        return tuple(attributes)
    return (*attributes, name)
