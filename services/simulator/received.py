"""What the simulated customers received: the local sinks' JSON lines read as messages in an
inbox, and each recipient found again among the simulated customers.

Pure: the records come in as dicts (deploy/local/sinks/ writes them), nothing is fetched. The
message id is dispatch's (services/dispatch/delivery.py): the local part of an email's
Message-ID, an SMS request's idempotency key.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from services.simulator.population import (
    AREA_CODES,
    AU_BLOCKS,
    EMAIL_DOMAIN,
    Customer,
    Mix,
    customer,
)
from services.simulator.replies import EMAIL, SMS

_WEB_LINK: Final = re.compile(r"https?://[^\s<>\"]+")
_ADDRESS: Final = re.compile(r"c([0-9]+)\.s([0-9]+)\.([^@]+)@" + re.escape(EMAIL_DOMAIN))
_US_PHONE: Final = re.compile(r"\+1([2-9][0-9]{2})55501([0-9]{2})")
_AU_PHONE: Final = re.compile(r"\+61([0-9]{5})([0-9]{4})")
_AREA_SLOT: Final = {code: number for number, code in enumerate(AREA_CODES)}
_AU_SLOT: Final = {block: number for number, block in enumerate(AU_BLOCKS)}
_MSGPACK: Final = msgspec.msgpack.Decoder(list)


@dataclass(frozen=True)
class Received:
    """One message as its recipient sees it."""

    channel: str
    """"email" or "sms"."""
    message_id: str
    to: str
    """The address or number it was sent to."""
    received_at: datetime
    """Wall time the sink took it."""
    links: tuple[str, ...]
    """The web links of its text, in order."""
    one_click: str | None = None
    """An email's RFC 8058 unsubscribe URL (List-Unsubscribe with List-Unsubscribe-Post)."""
    sender: str | None = None
    """The number a text came from, which a reply goes to."""


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _local_part(message_id: object) -> str | None:
    if not isinstance(message_id, str):
        return None
    local = message_id.strip().strip("<>").rsplit("@", 1)[0]
    return local or None


def one_click_url(headers: Mapping[str, str]) -> str | None:
    """The http(s) URL of `List-Unsubscribe` when `List-Unsubscribe-Post` offers one click."""
    if "one-click" not in headers.get("list-unsubscribe-post", "").lower():
        return None
    for entry in headers.get("list-unsubscribe", "").split(","):
        url = entry.strip().strip("<>").strip()
        if url.startswith(("https://", "http://")):
            return url
    return None


def from_smtp(record: Mapping[str, Any]) -> list[Received]:
    """The copies of one SMTP sink record, one per recipient; none for a copy the sink marked
    duplicate (the recipient's mailbox shows a Message-ID once) or one that is not
    dispatch's (no Message-ID, no time)."""
    message_id = _local_part(record.get("message_id"))
    at = _time(record.get("received_at"))
    if record.get("duplicate") or message_id is None or at is None:
        return []
    headers = {str(n).lower(): str(v) for n, v in record.get("headers") or [] if n and v}
    links = tuple(str(link) for link in record.get("links") or [])
    one_click = one_click_url(headers)
    return [
        Received(EMAIL, message_id, str(to), at, links, one_click)
        for to in record.get("rcpt_tos") or []
    ]


def from_sms(record: Mapping[str, Any]) -> Received | None:
    """One SMS sink record as a text; None for a copy the sink marked duplicate (same
    idempotency key) or one sent without dispatch's key."""
    key = record.get("idempotency_key")
    at = _time(record.get("received_at"))
    to = record.get("to")
    if record.get("duplicate") or not isinstance(key, str) or not key or at is None:
        return None
    if not isinstance(to, str):
        return None
    body = str(record.get("body") or "")
    links = tuple(link.rstrip(".,;:!?)") for link in _WEB_LINK.findall(body))
    sender = record.get("from")
    return Received(SMS, key, to, at, links, sender=sender if isinstance(sender, str) else None)


def link_target(link: str) -> str:
    """Where a link leads: a tracked link's (`/c/<token>`) signed target, read from the token
    as the redirect will send the browser; any other link itself."""
    path = urlsplit(link).path
    if "/c/" not in path:
        return link
    parts = path.rsplit("/c/", 1)[1].split(".")
    if len(parts) != 3:
        return link
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        fields = _MSGPACK.decode(payload)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return link
    target = fields[4] if len(fields) == 5 else None
    return target if isinstance(target, str) else link


def _is_survey(target: str) -> bool:
    return "/s/" in urlsplit(target).path


def _is_unsubscribe(target: str) -> bool:
    return "/u/" in urlsplit(target).path


def survey_link(links: tuple[str, ...]) -> str | None:
    """The link that opens the message's survey, if it has one."""
    return next((link for link in links if _is_survey(link_target(link))), None)


def product_link(links: tuple[str, ...]) -> str | None:
    """The link a customer follows to the shop: a product's page first, else any tracked
    link that is neither the survey nor an unsubscribe page."""
    tracked = [
        link
        for link in links
        if "/c/" in urlsplit(link).path
        and not _is_survey(link_target(link))
        and not _is_unsubscribe(link_target(link))
    ]
    products = [link for link in tracked if "/products/" in urlsplit(link_target(link)).path]
    return next(iter(products or tracked), None)


def phone_slot(phone: str) -> int | None:
    """The slot (customer index) `population.fictional_phone` gave `phone`, or None."""
    us = _US_PHONE.fullmatch(phone)
    if us is not None:
        area = _AREA_SLOT.get(us.group(1))
        return None if area is None else area * 100 + int(us.group(2))
    au = _AU_PHONE.fullmatch(phone)
    if au is not None:
        block = _AU_SLOT.get(au.group(1))
        return None if block is None else len(AREA_CODES) * 100 + block * 10_000 + int(au.group(2))
    return None


class Recipients:
    """The customers of one population, found from the address or number a message went to;
    None for anyone else (another seed, shop or population size, a stranger)."""

    def __init__(self, seed: int, shops: tuple[str, ...], size: int, mix: Mix) -> None:
        self.seed = seed
        self.shops = shops
        self.size = size
        self.mix = mix
        self._known: dict[int, Customer] = {}

    def _customer(self, index: int) -> Customer | None:
        if not 0 <= index < self.size:
            return None
        found = self._known.get(index)
        if found is None:
            found = self._known[index] = customer(self.seed, self.shops, index, self.mix)
        return found

    def by_email(self, address: str) -> Customer | None:
        match = _ADDRESS.fullmatch(address.strip().lower())
        if match is None or int(match.group(2)) != self.seed:
            return None
        found = self._customer(int(match.group(1)))
        if found is None or found.email.lower() != address.strip().lower():
            return None
        return found

    def by_phone(self, phone: str) -> Customer | None:
        slot = phone_slot(phone.strip())
        found = None if slot is None else self._customer(slot)
        return found if found is not None and found.phone == phone.strip() else None

    def of(self, message: Received) -> Customer | None:
        if message.channel == EMAIL:
            return self.by_email(message.to)
        return self.by_phone(message.to)
