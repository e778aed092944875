"""Signed report links: how a marketer opens the report page in a browser.

A browser cannot put `Authorization: Bearer` on a link, and the shop's API key is not for
marketers: it writes events (ingest takes it), so it must not travel in a URL, a browser's
history or a chat message. `nudge reports url <shop> [--campaign <id>]` mints a link instead,
`<public URL>/reports/<token>`, signed with the link keys (shared/signed_links.py, its own kind,
so no other link verifies as one): it names the shop, optionally one campaign, and its expiry
(7 days by default, at most 31). It can only read that shop's (or that campaign's) report, for
any period; it stops working when it expires or when its key leaves the ring. The pages send
no Referer to other sites and are never cached (services/feedback/unsubscribe/pages.py's
headers).

The payload is a msgpack array, versioned by its first element, as the survey invitations'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from shared import signed_links
from shared.keyring import LinkKeys

KIND: Final = "report"
DEFAULT_TTL: Final = timedelta(days=7)
LONGEST_TTL: Final = timedelta(days=31)
_VERSION: Final = 1
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list)


@dataclass(frozen=True, slots=True)
class ReportLink:
    shop_id: str
    campaign_id: str | None
    """None: every campaign of the shop; else only this one."""
    expires_at: datetime
    """Aware; kept to the second."""


@dataclass(frozen=True, slots=True)
class Expired:
    """A genuine link past its expiry: the page says so (a forged one learns nothing)."""

    link: ReportLink


def sign(keys: LinkKeys, link: ReportLink) -> str:
    expires = int(link.expires_at.timestamp())
    payload = _ENCODER.encode([_VERSION, link.shop_id, link.campaign_id, expires])
    return signed_links.sign(keys, KIND, payload)


def mint(
    keys: LinkKeys, shop_id: str, campaign_id: str | None, now: datetime, ttl: timedelta
) -> str:
    """A link valid for `ttl` from `now` (ValueError beyond LONGEST_TTL or not positive)."""
    if not timedelta(0) < ttl <= LONGEST_TTL:
        raise ValueError(f"a report link lasts more than 0 and at most {LONGEST_TTL.days} days")
    return sign(keys, ReportLink(shop_id, campaign_id, now + ttl))


def verify(keys: LinkKeys, token: str, now: datetime) -> ReportLink | Expired | None:
    """The link a token stands for; `Expired` when genuine but past its time; None when no key
    of the ring signed it."""
    payload = signed_links.verify(keys, KIND, token)
    if payload is None:
        return None
    try:
        fields = _DECODER.decode(payload)
    except msgspec.DecodeError:
        return None
    if len(fields) != 4 or fields[0] != _VERSION:
        return None
    _v, shop, campaign, expires = fields
    if not (
        isinstance(shop, str)
        and (campaign is None or isinstance(campaign, str))
        and isinstance(expires, int)
        and 0 <= expires < 32503680000  # before the year 3000
    ):
        return None
    link = ReportLink(shop, campaign, datetime.fromtimestamp(expires, UTC))
    return Expired(link) if now >= link.expires_at else link
