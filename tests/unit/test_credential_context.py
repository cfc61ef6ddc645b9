"""A person's school and children are found whatever the spelling of the DNs that point to them."""

from enttui.domain.dn import lookup_key
from enttui.domain.people import person_from_entry
from enttui.jobs.credentials import RunContext, detail_of, uai_of

SCHOOL = "ou=0123456A,ou=structures,dc=ent"
CHILD = "uid=E1,ou=people,dc=ent"


def test_school_and_children_by_their_dn_key():
    parent = person_from_entry(
        "uid=P1,ou=people,dc=ent",
        {
            "objectClass": ["ENTPerson", "ENTAuxPersRelEleve"],
            "ENTPersonLogin": ["p1"],
            "sn": ["Martin"],
            "givenName": ["Anne"],
            "ENTPersonStructRattach": ["OU=0123456A, OU=Structures,DC=ent"],
            "ENTAuxPersRelEleveEleve": ["UID=E1, ou=People,dc=ent"],
        },
    )
    ctx = RunContext(uai_of={lookup_key(SCHOOL): "0123456A"}, children={lookup_key(CHILD): "Léo Martin (3A)"})
    assert uai_of(ctx, parent) == "0123456A"
    assert detail_of(ctx, parent) == "Léo Martin (3A)"
