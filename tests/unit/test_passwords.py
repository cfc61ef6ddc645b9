from __future__ import annotations

from collections import Counter

import pytest

from enttui.domain.passwords import (
    ALPHABET,
    CLASSES,
    LOOK_ALIKES,
    derive_password,
    generate_password,
    is_acceptable,
    new_secret,
)


def test_alphabet_has_no_look_alikes() -> None:
    assert not set(ALPHABET) & set(LOOK_ALIKES)
    assert not set(ALPHABET) & set("0Oo1lIi")


def test_passwords_follow_the_rules() -> None:
    seen = set()
    for _ in range(2000):
        pw = generate_password()
        assert len(pw) == 12
        assert is_acceptable(pw)
        assert pw[0].isalpha()
        assert all(any(c in cls for c in pw) for cls in CLASSES)
        seen.add(pw)
    assert len(seen) == 2000


def test_length_is_at_least_12() -> None:
    assert len(generate_password(8)) == 12
    assert len(generate_password(20)) == 20


def test_is_acceptable_rejects() -> None:
    assert not is_acceptable("abcdefghkmnp")  # one class only
    assert not is_acceptable("!Aa3aaaaaaaa")  # starts with a symbol
    assert not is_acceptable("Aa3!aaaaaaa0")  # look-alike


# -- derived passwords (a run's secret + an account's key) -------------------------------------


def test_derived_password_is_deterministic_per_secret_and_key() -> None:
    secret = new_secret()
    assert len(secret) == 32
    a = derive_password(secret, "uid=a,ou=people,dc=ent,dc=test")
    assert a == derive_password(secret, "uid=a,ou=people,dc=ent,dc=test")
    assert a != derive_password(secret, "uid=b,ou=people,dc=ent,dc=test")
    assert a != derive_password(new_secret(), "uid=a,ou=people,dc=ent,dc=test")
    assert len(derive_password(secret, "k", 20)) == 20 and len(derive_password(secret, "k", 3)) == 12


def test_derived_passwords_follow_the_rules_and_do_not_repeat() -> None:
    secret = new_secret()
    seen = {derive_password(secret, f"uid=u{i},ou=people") for i in range(3000)}
    assert len(seen) == 3000
    assert all(is_acceptable(pw) for pw in seen)


def test_derived_passwords_are_spread_over_the_alphabet() -> None:
    """Distribution sanity: every character appears, none far from its expected share."""
    secret = new_secret()
    counts: Counter[str] = Counter()
    n = 4000
    for i in range(n):
        counts.update(derive_password(secret, f"k{i}")[1:])  # the first character is forced to a letter
    assert set(counts) == set(ALPHABET)
    mean = sum(counts.values()) / len(ALPHABET)
    # Classes are forced once each: symbols and digits are above the mean, letters a little below.
    assert all(0.6 * mean < c < 2.5 * mean for c in counts.values()), counts


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        derive_password(b"short", "k")
