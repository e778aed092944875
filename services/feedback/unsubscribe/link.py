"""What an unsubscribe link names: one customer of one shop and one channel, or nothing.

The token is the whole credential (shared/unsubscribe.py: HMAC with the link keys, key id
inside), so a link that does not verify, names a channel Nudge does not send on, or ids that
no event could carry is refused the same way: it never reaches the directory or the broker.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from services.feedback.directory import ContactRef
from shared import unsubscribe
from shared.events.shop import Channel
from shared.events.types import Id, ShopId
from shared.keyring import LinkKeys

MAX_TOKEN_CHARS = 1024
"""Far above any token dispatch signs (key id, two ids of at most 255 characters, the MAC in
base64); a longer path segment is refused before any HMAC is computed over it."""
_SHOP_ID: TypeAdapter[str] = TypeAdapter(ShopId)
_CUSTOMER_ID: TypeAdapter[str] = TypeAdapter(Id)


@dataclass(frozen=True)
class LinkTarget:
    ref: ContactRef
    channel: Channel


class InvalidLink(Exception):
    """The token names no one we could act for; `reason` is for logs and the problem detail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve(keys: LinkKeys, token: str) -> LinkTarget:
    """The customer and channel `token` names; raises InvalidLink otherwise."""
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidLink(f"the token is longer than {MAX_TOKEN_CHARS} characters")
    found = unsubscribe.verify(keys, token)
    if found is None:
        raise InvalidLink(
            "not an unsubscribe link of ours: unknown, altered, or signed with a retired key"
        )
    try:
        channel = Channel(found.channel)
    except ValueError:
        raise InvalidLink(
            f"the link names a channel Nudge does not send on: {found.channel!r}"
        ) from None
    try:
        shop_id = _SHOP_ID.validate_python(found.shop_id)
        customer_id = _CUSTOMER_ID.validate_python(found.customer_id)
    except ValidationError:
        raise InvalidLink("the link names a shop or customer id no event can carry") from None
    if customer_id != found.customer_id:
        raise InvalidLink("the link's customer id is not in its canonical form")
    return LinkTarget(ContactRef(shop_id, customer_id), channel)
