"""Survey invitations: round trip, expiry, forgery, another kind of token."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr

from shared import signed_links
from shared.events.feedback import SurveyKind
from shared.keyring import MasterKey, MasterKeyRing
from shared.survey_links import Expired, Invitation, sign, verify
from shared.tracking_links import Tracked, sign_open

KEYS = MasterKeyRing((MasterKey("k1", SecretStr("k" * 40)),), "test").link_keys()
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
INVITATION = Invitation(
    shop_id="acme",
    customer_id="c1",
    message_id=str(uuid.UUID(int=9)),
    campaign_id="review-request",
    survey=SurveyKind.CSAT,
    expires_at=NOW + timedelta(days=30),
    order_id="1001",
)


def test_an_invitation_round_trips_until_it_expires() -> None:
    token = sign(KEYS, INVITATION)
    assert verify(KEYS, token, NOW) == INVITATION
    assert verify(KEYS, token, INVITATION.expires_at - timedelta(seconds=1)) == INVITATION
    assert verify(KEYS, token, INVITATION.expires_at) == Expired(INVITATION)


def test_an_invitation_without_an_order_round_trips() -> None:
    plain = Invitation("acme", "c1", str(uuid.UUID(int=1)), "nps", SurveyKind.NPS, NOW)
    assert verify(KEYS, sign(KEYS, plain), NOW - timedelta(days=1)) == plain


def test_forged_and_foreign_tokens_are_refused() -> None:
    token = sign(KEYS, INVITATION)
    kid, _payload, mac = token.split(".")
    other = sign(KEYS, Invitation("acme", "c2", INVITATION.message_id, "x", SurveyKind.NPS, NOW))
    assert verify(KEYS, f"{kid}.{other.split('.')[1]}.{mac}", NOW) is None
    tracked = Tracked("acme", "c1", INVITATION.message_id)
    assert verify(KEYS, sign_open(KEYS, tracked), NOW) is None
    assert verify(KEYS, signed_links.sign(KEYS, "survey", b"\x91\x01"), NOW) is None
    assert verify(KEYS, "k1.x.y", NOW) is None
