"""The directory attributes each read asks for, in one place (the SDET schema's names).

Each read asks for what it needs and no more (a paged read of 100,000 people costs in proportion
to what it carries): the detail of a person, a row of the people table, the counts, the sync, the
coherence checks, groups and structures. ``userPassword`` is read only to know whether there is
one; it is turned into a boolean at once and never kept.
"""

from __future__ import annotations

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

# What the Moodle sync reads of a person.
SYNC_PERSON_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",
    "sn",
    "givenName",
    "mail",
    "ENTPersonLogin",
    "ENTPersonJointure",
    "ENTPersonProfils",
    "ENTPersonStructRattach",
    "ENTPersonFonctions",
    "modifyTimestamp",
)

# What the coherence checks read of a person (one paged read of the whole people branch).
COHERENCE_PERSON_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",
    "cn",
    "sn",
    "givenName",
    "displayName",
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
