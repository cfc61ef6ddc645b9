from __future__ import annotations

from enttui.domain.passwords import ALPHABET, CLASSES, LOOK_ALIKES, generate_password, is_acceptable


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
