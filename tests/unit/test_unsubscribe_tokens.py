"""Unsubscribe tokens: round trip, tampering, another deployment's key."""

from __future__ import annotations

from pydantic import SecretStr

from shared.unsubscribe import Unsubscribe, sign, verify

KEY = SecretStr("k" * 40)


def test_a_token_names_who_and_which_channel() -> None:
    what = Unsubscribe("acme", "7390498521379", "email")
    assert verify(KEY, sign(KEY, what)) == what


def test_a_changed_or_foreign_token_is_refused() -> None:
    token = sign(KEY, Unsubscribe("acme", "c1", "sms"))
    other = sign(KEY, Unsubscribe("acme", "c2", "sms"))
    forged = other.split(".")[0] + "." + token.split(".")[1]
    assert verify(KEY, forged) is None
    assert verify(SecretStr("x" * 40), token) is None
    assert verify(KEY, "garbage") is None
    assert verify(KEY, "") is None
