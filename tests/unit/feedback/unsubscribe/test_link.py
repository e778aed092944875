"""What an unsubscribe link names: only a token our link keys signed, for a known channel."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from services.feedback.directory import ContactRef
from services.feedback.unsubscribe.link import MAX_TOKEN_CHARS, InvalidLink, LinkTarget, resolve
from shared import signed_links
from shared.events.shop import Channel
from shared.keyring import MasterKey, MasterKeyRing
from shared.unsubscribe import Unsubscribe, sign

OLD = MasterKey("k1", SecretStr("o" * 40))
NEW = MasterKey("k2", SecretStr("n" * 40))
RING = MasterKeyRing((NEW, OLD), "test").link_keys()
OLD_ONLY = MasterKeyRing((OLD,), "test").link_keys()
OTHER = MasterKeyRing((MasterKey("k2", SecretStr("x" * 40)),), "other").link_keys()


def test_a_token_of_the_ring_names_the_customer_and_channel() -> None:
    for keys in (RING, OLD_ONLY):  # the active key, and an older one still in the ring
        token = sign(keys, Unsubscribe("acme", "7390498521379", "sms"))
        assert resolve(RING, token) == LinkTarget(ContactRef("acme", "7390498521379"), Channel.SMS)


def _refused(token: str) -> str:
    with pytest.raises(InvalidLink) as refused:
        resolve(RING, token)
    return refused.value.reason


def test_forged_tampered_foreign_and_retired_tokens_are_refused() -> None:
    token = sign(RING, Unsubscribe("acme", "c1", "email"))
    kid, payload, mac = token.split(".")
    other = sign(RING, Unsubscribe("acme", "c2", "email")).split(".")[1]
    assert "not an unsubscribe link" in _refused(f"{kid}.{other}.{mac}")  # someone else's
    assert "not an unsubscribe link" in _refused(f"k1.{payload}.{mac}")  # another key's id
    assert "not an unsubscribe link" in _refused(f"k9.{payload}.{mac}")  # no such key
    assert "not an unsubscribe link" in _refused(sign(OTHER, Unsubscribe("acme", "c1", "email")))
    retired = sign(
        MasterKeyRing((MasterKey("k0", SecretStr("r" * 40)),), "t").link_keys(),
        Unsubscribe("acme", "c1", "email"),
    )
    assert "retired key" in _refused(retired)
    for garbage in ("", "garbage", "k2..", "k2.!!.??", "a.b.c.d"):
        _refused(garbage)


def test_a_signed_link_of_another_kind_is_not_an_unsubscribe() -> None:
    survey = signed_links.sign(RING, "survey", "\x1f".join(("acme", "c1", "email")).encode())
    _refused(survey)


def test_a_signed_token_naming_what_no_event_can_carry_is_refused() -> None:
    assert "channel" in _refused(sign(RING, Unsubscribe("acme", "c1", "push")))
    assert "shop or customer" in _refused(sign(RING, Unsubscribe("Not A Slug", "c1", "email")))
    assert "shop or customer" in _refused(sign(RING, Unsubscribe("acme", "x" * 300, "email")))
    assert "canonical" in _refused(sign(RING, Unsubscribe("acme", " c1 ", "email")))


def test_an_overlong_token_is_refused_before_any_mac() -> None:
    assert "longer than" in _refused("k2." + "A" * MAX_TOKEN_CHARS)
