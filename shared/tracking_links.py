"""Signed tracking tokens: dispatch rewrites each link of a message to `/c/<token>` and adds
the open pixel `/o/<token>.gif`; the feedback service verifies them, records the click or open
and redirects to the signed target.

A token names the shop, the customer and the message, so recording needs no lookup; a click
token also carries its target URL, signed, so `/c/` is never an open redirect: a target that
no key of the ring signed is refused. The payload is a msgpack array (compact: SMS links count
against a 160-character segment), versioned by its first element.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec

from shared import signed_links
from shared.keyring import LinkKeys

CLICK = "click"
OPEN = "open"
_VERSION = 1
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list)


@dataclass(frozen=True, slots=True)
class Tracked:
    """Whose message a click or an open is about."""

    shop_id: str
    customer_id: str
    message_id: str
    """The message's id (a UUID, as `shared.events.messages.message_id` makes them)."""


@dataclass(frozen=True, slots=True)
class Click:
    tracked: Tracked
    url: str
    """Where the customer goes: the link as the template wrote it."""


def _payload(tracked: Tracked, *rest: str) -> bytes:
    message = uuid.UUID(tracked.message_id).bytes
    return _ENCODER.encode([_VERSION, tracked.shop_id, tracked.customer_id, message, *rest])


def _fields(payload: bytes | None, count: int) -> list[object] | None:
    if payload is None:
        return None
    try:
        fields = _DECODER.decode(payload)
    except msgspec.DecodeError:
        return None
    if len(fields) != count or fields[0] != _VERSION:
        return None
    if not all(isinstance(f, str) for f in (fields[1], fields[2], *fields[4:])):
        return None
    if not isinstance(fields[3], bytes) or len(fields[3]) != 16:
        return None
    return fields


def _tracked(fields: list[object]) -> Tracked:
    assert isinstance(fields[1], str) and isinstance(fields[2], str)
    assert isinstance(fields[3], bytes)
    return Tracked(fields[1], fields[2], str(uuid.UUID(bytes=fields[3])))


def sign_click(keys: LinkKeys, click: Click) -> str:
    return signed_links.sign(keys, CLICK, _payload(click.tracked, click.url))


def verify_click(keys: LinkKeys, token: str) -> Click | None:
    """The click a token stands for, or None when it is not one a key of the ring signed."""
    fields = _fields(signed_links.verify(keys, CLICK, token), 5)
    if fields is None:
        return None
    url = fields[4]
    assert isinstance(url, str)
    return Click(_tracked(fields), url)


def sign_open(keys: LinkKeys, tracked: Tracked) -> str:
    return signed_links.sign(keys, OPEN, _payload(tracked))


def verify_open(keys: LinkKeys, token: str) -> Tracked | None:
    """The message an open pixel belongs to, or None when no key of the ring signed it."""
    fields = _fields(signed_links.verify(keys, OPEN, token), 4)
    return None if fields is None else _tracked(fields)
