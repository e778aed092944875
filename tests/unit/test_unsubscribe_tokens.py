"""Unsubscribe tokens: round trip, tampering, another deployment's key, key rotation."""

from __future__ import annotations

from pydantic import SecretStr

from shared import signed_links
from shared.keyring import DerivedKey, LinkKeys, MasterKey, MasterKeyRing
from shared.unsubscribe import Unsubscribe, sign, verify

OLD = MasterKey("k1", SecretStr("k" * 40))
NEW = MasterKey("k2", SecretStr("n" * 40))
KEYS = MasterKeyRing((OLD,), "test").link_keys()
ROTATED = MasterKeyRing((NEW, OLD), "test").link_keys()
RETIRED = MasterKeyRing((NEW,), "test").link_keys()
WHAT = Unsubscribe("acme", "7390498521379", "email")


def test_a_token_names_who_and_which_channel() -> None:
    assert verify(KEYS, sign(KEYS, WHAT)) == WHAT


def test_a_changed_or_foreign_token_is_refused() -> None:
    token = sign(KEYS, Unsubscribe("acme", "c1", "sms"))
    other = sign(KEYS, Unsubscribe("acme", "c2", "sms"))
    kid, payload, _mac = other.split(".")
    forged = f"{kid}.{payload}.{token.split('.')[2]}"
    assert verify(KEYS, forged) is None
    foreign = MasterKeyRing((MasterKey("k1", SecretStr("x" * 40)),), "other").link_keys()
    assert verify(foreign, token) is None  # same key id, another deployment's key
    assert verify(KEYS, "garbage") is None
    assert verify(KEYS, "") is None
    assert verify(KEYS, "k1..") is None
    assert verify(KEYS, "k1.!!.??") is None


def test_a_token_carries_its_key_id_and_fits_a_url_and_an_address() -> None:
    token = sign(KEYS, WHAT)
    assert token.startswith("k1.")
    assert all(c.isalnum() or c in "-_." for c in token)


def test_after_rotation_the_new_key_signs_and_old_tokens_still_verify() -> None:
    old_token = sign(KEYS, WHAT)
    new_token = sign(ROTATED, WHAT)
    assert new_token.startswith("k2.")
    assert verify(ROTATED, old_token) == WHAT
    assert verify(ROTATED, new_token) == WHAT
    assert verify(KEYS, new_token) is None  # a verifier without the new key: roll it out first


def test_a_token_of_a_retired_key_is_refused() -> None:
    old_token = sign(KEYS, WHAT)
    assert verify(RETIRED, old_token) is None
    assert verify(RETIRED, sign(RETIRED, WHAT)) == WHAT


def test_a_tampered_key_id_is_refused() -> None:
    old_token = sign(KEYS, WHAT)
    _kid, payload, mac = old_token.split(".")
    assert verify(ROTATED, f"k2.{payload}.{mac}") is None  # another key of the ring
    assert verify(ROTATED, f"k9.{payload}.{mac}") is None  # a key the ring does not hold
    assert verify(ROTATED, f"K1.{payload}.{mac}") is None  # not a key id at all
    assert verify(ROTATED, f"{payload}.{mac}") is None  # no key id (a token from before)


def test_a_signed_link_of_another_kind_is_not_an_unsubscribe() -> None:
    payload = "\x1f".join(("acme", "c1", "email")).encode()
    survey = signed_links.sign(KEYS, "survey", payload)
    assert verify(KEYS, survey) is None
    assert signed_links.verify(KEYS, "survey", survey) == payload


def test_the_key_id_is_signed_even_where_two_ids_share_a_key() -> None:
    """The MAC covers the key id: renaming a key's id in a token does not carry its signature."""
    twin = LinkKeys((*KEYS.keys, DerivedKey("k1-copy", KEYS.active.key)), "twins")
    _kid, payload, mac = sign(twin, WHAT).split(".")
    assert verify(twin, f"k1-copy.{payload}.{mac}") is None
