"""Signed survey invitations: dispatch puts one in each message that asks for an answer (the
review request), the feedback service serves the survey at `/s/<token>`.

An invitation names the shop, the customer, the message that carried it, the order it asks
about (review requests are per delivered order) and the kind of survey, and it expires: an
answer to a months-old request says little, and a leaked link stops working. One invitation
is one answer (a later answer replaces the earlier one). The payload is a msgpack array,
versioned by its first element.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from shared import signed_links
from shared.events.feedback import SurveyKind
from shared.keyring import LinkKeys

KIND = "survey"
_VERSION = 1
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list)


@dataclass(frozen=True, slots=True)
class Invitation:
    shop_id: str
    customer_id: str
    message_id: str
    """The message that carried the link (a UUID): the answer's `message` reference."""
    campaign_id: str
    survey: SurveyKind
    expires_at: datetime
    """Aware; kept to the second."""
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Expired:
    """A genuine invitation past its expiry: the page says so (a forged one gets no detail)."""

    invitation: Invitation


def sign(keys: LinkKeys, invitation: Invitation) -> str:
    payload = _ENCODER.encode(
        [
            _VERSION,
            invitation.shop_id,
            invitation.customer_id,
            uuid.UUID(invitation.message_id).bytes,
            invitation.campaign_id,
            invitation.survey.value,
            int(invitation.expires_at.timestamp()),
            invitation.order_id,
        ]
    )
    return signed_links.sign(keys, KIND, payload)


def verify(keys: LinkKeys, token: str, now: datetime) -> Invitation | Expired | None:
    """The invitation a token stands for; `Expired` when it is genuine but past its time;
    None when no key of the ring signed it."""
    payload = signed_links.verify(keys, KIND, token)
    if payload is None:
        return None
    try:
        fields = _DECODER.decode(payload)
    except msgspec.DecodeError:
        return None
    if len(fields) != 8 or fields[0] != _VERSION:
        return None
    _v, shop, customer, message, campaign, kind, expires, order = fields
    if not (
        isinstance(shop, str)
        and isinstance(customer, str)
        and isinstance(message, bytes)
        and len(message) == 16
        and isinstance(campaign, str)
        and kind in {k.value for k in SurveyKind}
        and isinstance(expires, int)
        and (order is None or isinstance(order, str))
    ):
        return None
    invitation = Invitation(
        shop_id=shop,
        customer_id=customer,
        message_id=str(uuid.UUID(bytes=message)),
        campaign_id=campaign,
        survey=SurveyKind(kind),
        expires_at=datetime.fromtimestamp(expires, UTC),
        order_id=order,
    )
    return Expired(invitation) if now >= invitation.expires_at else invitation
