"""A customer's profile as the segmenter keeps it: compact, bounded, versioned.

Stored as msgpack (msgspec Structs) in the changelogged `profiles` table, one entry per
customer key (`shop:customer`, or `shop:anon:visitor` before the visitor is identified).
Times are unix seconds (floats) and money is `Decimal`; everything derived (orders count, LTV,
AOV, repeat interval, lifecycle stage) is computed from these fields by `profiles.facts`, so
that a late event only has to land in the right place here.

Bounds (so that the cost of an event does not grow with a customer's history): at most
`MAX_ORDERS` orders kept one by one (older ones folded into `archived`), `MAX_TALLIES`
categories / brands per list, `MAX_SEEN_IDS` recent event ids, activity counts per event
type and UTC day for `MAX_ACTIVITY_DAYS` days, `MAX_PENDING` notes of cancellations and
refunds that arrived before their order, and `MAX_MERGED` visitor hand-overs remembered.

The format is the msgpack map's `v` entry (the struct's tag, always written): a profile of
another format is refused by `decode` rather than misread.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

FORMAT: Final = 1
"""Bumped on every incompatible change of the encoding; `decode` migrates older formats."""
MAX_ORDERS: Final = 200
MAX_TALLIES: Final = 50
MAX_SEEN_IDS: Final = 256
MAX_ACTIVITY_DAYS: Final = 400
"""Longest window a rule may count events in ("more than N times in the last D days")."""
MAX_PENDING: Final = 32
MAX_REFUND_IDS: Final = 64
"""Refund ids remembered per order (a refund said again is not counted twice)."""
MAX_MERGED: Final = 16


class Order(msgspec.Struct, frozen=True, omit_defaults=True):
    """One order: its total at placement, what was refunded since, and whether it was cancelled."""

    order_id: str
    at: float
    total: Decimal
    currency: str
    refunded: Decimal = Decimal(0)
    refund_ids: tuple[str, ...] = ()
    cancelled: bool = False


class Archived(msgspec.Struct, frozen=True, omit_defaults=True):
    """Orders folded out of `Profile.orders` (beyond MAX_ORDERS; cancelled ones are dropped):
    their count and net revenue per currency, the first and last of them, and the gaps
    between them (for the repeat interval's median). Every archived order is older than every
    order still kept, so the gap from `last_at` to the oldest kept order completes the chain."""

    count: int = 0
    counts: dict[str, int] = {}
    """Per currency (for the average order value in one currency)."""
    net: dict[str, Decimal] = {}
    first_at: float | None = None
    first_currency: str | None = None
    """The currency of the first order (a shop without a declared currency reports in it)."""
    last_at: float | None = None
    gaps: tuple[float, ...] = ()
    """The last MAX_ORDERS gaps between archived orders, in seconds."""


class Refund(msgspec.Struct, frozen=True):
    refund_id: str
    amount: Decimal
    currency: str


class Pending(msgspec.Struct, frozen=True, omit_defaults=True):
    """A cancellation or refunds of an order not (yet) in the profile: events of one order
    may arrive in any order, so they wait here and apply when the order comes."""

    order_id: str
    at: float
    """When the first of them happened."""
    cancelled: bool = False
    refunds: tuple[Refund, ...] = ()


class Tally(msgspec.Struct, frozen=True):
    count: int
    last_at: float


class Engagement(msgspec.Struct, frozen=True, omit_defaults=True):
    """One channel's engagement counters; `last_engaged_at` is the last open, click or reply by
    a person (machine opens and clicks are not engagement)."""

    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    replied: int = 0
    last_engaged_at: float | None = None


class Answer(msgspec.Struct, frozen=True, omit_defaults=True):
    """A survey answer; the latest by time wins (equal times: the greater event id, as every
    consumer of survey.answered decides)."""

    score: int
    at: float
    event_id: str = ""


class Membership(msgspec.Struct, frozen=True):
    """A segment the customer is in: since when, under which version of its rule."""

    since: float
    rule_version: int


class Profile(msgspec.Struct, omit_defaults=True, tag_field="v", tag=FORMAT):
    shop_id: str
    customer_id: str | None = None
    anonymous_id: str | None = None
    first_seen_at: float | None = None
    last_activity_at: float | None = None
    orders: list[Order] = []
    """Oldest first (by time, then order id), at most MAX_ORDERS."""
    archived: Archived = Archived()
    pending: list[Pending] = []
    """Cancellations and refunds waiting for their order, oldest first, at most MAX_PENDING."""
    categories_bought: dict[str, Tally] = {}
    categories_viewed: dict[str, Tally] = {}
    brands_bought: dict[str, Tally] = {}
    brands_viewed: dict[str, Tally] = {}
    activity: dict[str, dict[int, int]] = {}
    """Per event type, per UTC day number (unix seconds // 86,400): how many events."""
    engagement: dict[str, Engagement] = {}
    """Per channel (`email`, `sms`)."""
    consent: dict[str, bool] = {}
    """Per channel: marketing consent as last stated (absent: never stated)."""
    consent_at: dict[str, float] = {}
    """Per channel: when `consent` was stated (an older statement never overrides a newer)."""
    email: bool = False
    """Whether an email address is known (the address itself is dispatch's, not kept here)."""
    phone: bool = False
    locale: str | None = None
    time_zone: str | None = None
    birthday: str | None = None
    """ISO date."""
    nps: Answer | None = None
    csat: Answer | None = None
    seen_ids: list[str] = []
    """The last MAX_SEEN_IDS event ids applied: a replayed event changes nothing."""
    merged: list[str] = []
    """The last MAX_MERGED visitor hand-overs joined into this profile (`merge.handover_mark`):
    a hand-over delivered again changes nothing."""
    segments: dict[str, Membership] = {}
    """Current memberships, kept here so that one write per customer stores both."""
    entries: dict[str, int] = {}
    """Per segment, how many times the customer entered it (the ids of changes derive from it)."""
    rules: str = ""
    """Fingerprint of the shop's rules this profile was last evaluated with: a profile whose
    fingerprint differs after a restart is evaluated again, once."""
    published: int = 0
    """Hash of what was last written to customer.profiles.v1 (0: never), so that an event
    that changes nothing an analyst would see publishes nothing."""


_ENCODER: Final = msgspec.msgpack.Encoder(decimal_format="string")
_DECODER: Final = msgspec.msgpack.Decoder(Profile)


def encode(profile: Profile) -> bytes:
    return _ENCODER.encode(profile)


def decode(raw: bytes) -> Profile:
    """Raises msgspec.DecodeError / ValidationError on bytes that are not a stored profile of
    this format (ValidationError "Invalid value N - at `$.v`" for another format)."""
    return _DECODER.decode(raw)
