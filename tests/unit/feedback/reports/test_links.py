"""Signed report links: they name a shop (and maybe a campaign), expire, and verify only as
report links signed by a key of the ring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from services.feedback.reports import links
from shared import signed_links
from shared.keyring import MasterKeyRing
from tests.support.dispatch_process import TEST_LINK_KEYS

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def test_a_link_names_its_shop_campaign_and_expiry() -> None:
    token = links.mint(TEST_LINK_KEYS, "acme", "cart", NOW, timedelta(days=7))
    assert links.verify(TEST_LINK_KEYS, token, NOW) == links.ReportLink(
        "acme", "cart", NOW + timedelta(days=7)
    )
    shop_wide = links.mint(TEST_LINK_KEYS, "acme", None, NOW, timedelta(hours=1))
    found = links.verify(TEST_LINK_KEYS, shop_wide, NOW)
    assert isinstance(found, links.ReportLink) and found.campaign_id is None


def test_a_link_expires_at_its_time() -> None:
    token = links.mint(TEST_LINK_KEYS, "acme", None, NOW, timedelta(days=1))
    assert isinstance(
        links.verify(TEST_LINK_KEYS, token, NOW + timedelta(hours=23)), links.ReportLink
    )
    assert isinstance(links.verify(TEST_LINK_KEYS, token, NOW + timedelta(days=1)), links.Expired)


def test_a_link_lasts_at_most_31_days() -> None:
    links.mint(TEST_LINK_KEYS, "acme", None, NOW, links.LONGEST_TTL)
    for ttl in (links.LONGEST_TTL + timedelta(seconds=1), timedelta(0), timedelta(days=-1)):
        with pytest.raises(ValueError, match="at most 31 days"):
            links.mint(TEST_LINK_KEYS, "acme", None, NOW, ttl)


def test_altered_foreign_or_other_kinds_of_tokens_do_not_verify() -> None:
    token = links.mint(TEST_LINK_KEYS, "acme", None, NOW, timedelta(days=1))
    kid, payload, mac = token.split(".")
    other_shop = links.mint(TEST_LINK_KEYS, "globex", None, NOW, timedelta(days=1)).split(".")[1]
    ring = MasterKeyRing.single(SecretStr("x" * 40), "another deployment").link_keys()
    same_payload_as_survey = signed_links.sign(
        TEST_LINK_KEYS, "survey", b"\x94\x01\xa4acme\xc0\x00"
    )
    for bad in (
        f"{kid}.{other_shop}.{mac}",
        f"{kid}.{payload}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}",
        links.mint(ring, "acme", None, NOW, timedelta(days=1)),
        same_payload_as_survey,
        signed_links.sign(TEST_LINK_KEYS, links.KIND, b"\x93\x01\xa4acme\xc0"),  # a field short
        signed_links.sign(TEST_LINK_KEYS, links.KIND, b"not msgpack \xc1"),
        "",
    ):
        assert links.verify(TEST_LINK_KEYS, bad, NOW) is None, bad
