"""The one DN key: every spelling of a DN gives the same key; a non-DN raises InvalidDn."""

from __future__ import annotations

import pytest

from enttui.domain.dn import InvalidDn, dn_key, dn_key_or_none, lookup_key, same_dn

BASE = "uid=F450mmdo,ou=people,dc=ent,dc=test"


@pytest.mark.parametrize(
    "spelling",
    [
        BASE,
        "UID=F450mmdo, OU=People,dc=ent,dc=test",
        "uid = f450MMDO ,ou=people , dc=ent,DC=test",
        " uid=F450mmdo,ou=people,dc=ent,dc=test ",
        "uid=\\46450mmdo,ou=people,dc=ent,dc=test",
        'uid="F450mmdo",ou=people,dc=ent,dc=test',
    ],
)
def test_spellings_of_one_dn_share_a_key(spelling):
    assert dn_key(spelling) == "uid=f450mmdo,ou=people,dc=ent,dc=test"


def test_escaped_separators_stay_inside_the_value():
    a = dn_key("cn=Dupont\\, Jean,ou=people,dc=ent")
    b = dn_key("cn=Dupont\\2C Jean,ou=people,dc=ent")
    assert a == b == "cn=dupont\\, jean,ou=people,dc=ent"
    assert dn_key("cn=a\\+b,dc=x") != dn_key("cn=a+sn=b,dc=x")


def test_multi_valued_rdn_in_a_fixed_order():
    assert dn_key("cn=A+sn=B,dc=x") == dn_key("SN=b + CN=a,dc=x")


def test_accents_and_non_ascii_values():
    assert dn_key("cn=Zoé Müller,dc=x") == dn_key("CN=ZOÉ MÜLLER,dc=x") == "cn=zoé müller,dc=x"
    assert dn_key("cn=Zo\\C3\\A9,dc=x") == "cn=zoé,dc=x"


@pytest.mark.parametrize("bad", ["not a dn", "uid=x,,dc=x", "uid=x,dc=x\\", 'cn="open,dc=x', "=x,dc=y", "cn=\\ff,dc=x"])
def test_invalid_dns_raise(bad):
    with pytest.raises(InvalidDn) as info:
        dn_key(bad)
    assert "DN invalide" in str(info.value)
    assert dn_key_or_none(bad) is None


def test_same_dn():
    assert same_dn(BASE, "UID=F450mmdo, OU=People,dc=ent,dc=test")
    assert not same_dn(BASE, "uid=other,ou=people,dc=ent,dc=test")
    assert same_dn("garbage", "garbage")
    assert not same_dn("garbage", BASE)


def test_empty_dn_is_the_root():
    assert dn_key("") == ""


def test_lookup_key_never_raises():
    assert lookup_key("UID=x, OU=People") == "uid=x,ou=people"
    assert lookup_key("not a dn") != lookup_key("not a dn,x=y")
    assert lookup_key("not a dn") == lookup_key("not a dn")
    assert dn_key_or_none(lookup_key("not a dn")) is None
