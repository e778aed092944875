"""Tracking tokens: round trip, one kind never verifies as the other, tampered targets refused."""

from __future__ import annotations

import uuid

from pydantic import SecretStr

from shared import signed_links
from shared.keyring import MasterKey, MasterKeyRing
from shared.tracking_links import Click, Tracked, sign_click, sign_open, verify_click, verify_open

KEYS = MasterKeyRing((MasterKey("k1", SecretStr("k" * 40)),), "test").link_keys()
TRACKED = Tracked("acme", "7390498521379", str(uuid.UUID(int=7)))
CLICK = Click(TRACKED, "https://acme.example/products/mug?utm_source=nudge")


def test_a_click_token_carries_whose_message_and_the_target() -> None:
    assert verify_click(KEYS, sign_click(KEYS, CLICK)) == CLICK


def test_an_open_token_carries_whose_message() -> None:
    assert verify_open(KEYS, sign_open(KEYS, TRACKED)) == TRACKED


def test_a_click_token_is_no_open_token_and_the_reverse() -> None:
    assert verify_open(KEYS, sign_click(KEYS, CLICK)) is None
    assert verify_click(KEYS, sign_open(KEYS, TRACKED)) is None


def test_a_changed_target_is_refused() -> None:
    token = sign_click(KEYS, CLICK)
    other = sign_click(KEYS, Click(TRACKED, "https://evil.example/"))
    kid, payload, _mac = other.split(".")
    assert verify_click(KEYS, f"{kid}.{payload}.{token.split('.')[2]}") is None
    assert verify_click(KEYS, "garbage") is None


def test_a_signed_payload_of_another_shape_is_refused() -> None:
    for payload in (b"\x93\x01\xa1a\xa1b", b"not msgpack", b"\x95\x02\xa1a\xa1b\xc4\x01x\xa1u"):
        assert verify_click(KEYS, signed_links.sign(KEYS, "click", payload)) is None
        assert verify_open(KEYS, signed_links.sign(KEYS, "open", payload)) is None


def test_tokens_fit_a_url_path() -> None:
    token = sign_click(KEYS, CLICK)
    assert all(c.isalnum() or c in "-_." for c in token)
