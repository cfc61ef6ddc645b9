"""The attribute catalogue names only attributes the directory knows (the SDET schema or core LDAP)."""

import re
from importlib import resources

from enttui.domain import attributes

CORE = {
    "objectClass", "uid", "cn", "sn", "givenName", "displayName", "mail", "userPassword", "description",
    "member", "ou", "pwdReset", "pwdEndTime", "pwdAccountLockedTime", "createTimestamp", "modifyTimestamp",
}  # fmt: skip


def test_every_attribute_read_is_in_the_schema():
    schema = resources.files("enttui.data").joinpath("ent.schema").read_text(encoding="utf-8")
    known = CORE | set(re.findall(r"NAME '([A-Za-z]+)'", schema))
    lists = {n: v for n, v in vars(attributes).items() if n.endswith("_ATTRIBUTES")}
    assert len(lists) == 7
    for name, names in lists.items():
        assert len(set(names)) == len(names), name
        assert set(names) <= known, (name, set(names) - known)
