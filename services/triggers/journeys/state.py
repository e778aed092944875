"""One customer's state: the facts campaigns decide on, and their open journeys.

It is the value of a changelogged table keyed `shop_id:customer_id`, read and written for every
event, so it is kept small and cheap to (de)serialise: plain dataclasses, times as UTC epoch
seconds, shop data (cart lines, products) as the JSON the events carried, every list capped.

The bytes (format 3) are a JSON array whose first element is the format version, then each
field by position: every dataclass is a nested array in its field order (see `_dump_*` and
`_load_*`, which must follow the dataclasses field for field; a test checks they do). Without
the keys the JSON is smaller, and building the objects from rows is about twice as fast as
from keyword dicts. Format 2 (the same without the contact's suppressions) and format 1 (a
JSON object with the field names, `"v": 1`) are still read, and written back as 3; anything
else is refused with `UnsupportedStateVersion`. A change of the layout is a new version
number, with a reader for the previous one kept here until every changelog is rewritten.
Formats 1 and 2 recorded a complaint or a hard bounce as email consent withdrawn; such a
statement cannot be told from one the customer made, so it is read as it stands.
Order of events is tracked by `seq` (one per applied event) rather than by timestamps, so
"an order after the journey started" does not depend on the shops' clocks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

STATE_VERSION = 3
"""The format `to_bytes` writes; `from_bytes` reads this one, 2 and 1."""
MAX_SEEN_EVENTS = 64
MAX_VIEWS = 10
MAX_CARTS = 3
MAX_CART_ITEMS = 20
MAX_ORDER_IDS = 30
MAX_RECENT_ORDERS = 5
MAX_ORDER_ITEMS = 10
MAX_PRODUCTS = 50
MAX_PURCHASE_TIMES = 5
MAX_SURVEYS = 10
MAX_SEGMENTS = 50
MAX_JOURNEY_IDS = 8

Json = dict[str, Any]


@dataclass(slots=True, kw_only=True)
class ChannelConsent:
    granted: bool
    at: int
    """When it was recorded: an older statement never overrides a newer one."""


def category_key(category: str) -> str:
    """A category's entry in `Contact.consent`: beside the channels, so that no new state
    format is needed and an older statement never overrides a newer one there either."""
    return f"category:{category}"


@dataclass(slots=True, kw_only=True)
class Suppressed:
    """One scope of a channel's suppression: since when (the newest report of it) and why."""

    at: int
    reason: str
    """`complaint`, `hard_bounce`, `soft_bounces`, ... (feedback's SuppressionReason)."""


@dataclass(slots=True, kw_only=True)
class Suppression:
    """A channel's address that feedback reported unusable, until an operator clears it.

    Not consent: the customer stated nothing. Ordered by event time as dispatch orders them
    (`dispatch_suppressions`): a scope counts while it is newer than the last clearing, so a
    report delivered again after a clearing changes nothing, and a clearing older than the
    report clears nothing.
    """

    scopes: dict[str, Suppressed] = field(default_factory=dict)
    """`all` (no message of any kind: a hard bounce, repeated soft bounces) and `marketing` (a
    complaint) -> the newest report of it, cleared or not."""
    cleared_at: int | None = None
    """The newest clearing (`address.unsuppressed`), kept so that older reports stay cleared."""

    def counts(self, scope: str) -> bool:
        """As dispatch reads `dispatch_suppressions`: reported after the last clearing."""
        found = self.scopes.get(scope)
        return found is not None and (self.cleared_at is None or found.at > self.cleared_at)

    def blocks_marketing(self) -> bool:
        """Any scope counting keeps marketing off the channel (transactional mail is
        dispatch's call: it skips an address suppressed for all mail, or falls back)."""
        return any(self.counts(scope) for scope in self.scopes)


@dataclass(slots=True, kw_only=True)
class Contact:
    time_zone: str | None = None
    birthday: str | None = None
    """ISO date, as the shop sent it (validated by the event model)."""
    consent: dict[str, ChannelConsent] = field(default_factory=dict)
    """What the customer stated, per channel (`email`, `sms`) and per campaign category they
    kept or dropped on the preference page (`category:<id>`, see `category_key`); nothing else
    changes it."""
    suppressions: dict[str, Suppression] = field(default_factory=dict)
    """Per channel (`email` so far): what feedback reported about the address."""


@dataclass(slots=True, kw_only=True)
class Cart:
    cart_id: str
    items: list[Json]
    """LineItem JSON, at most MAX_CART_ITEMS."""
    value: Json | None = None
    recovery_url: str | None = None
    at: int


@dataclass(slots=True, kw_only=True)
class View:
    """A product seen; only what decisions use (the browse journey keeps the full product)."""

    product_id: str
    category: str | None = None
    at: int


@dataclass(slots=True, kw_only=True)
class OrderSummary:
    order_id: str
    order_number: str | None = None
    items: list[Json]
    total: Json
    status_url: str | None = None
    at: int
    first_order: bool = False


@dataclass(slots=True, kw_only=True)
class Orders:
    count: int = 0
    first_at: int | None = None
    last_at: int | None = None
    last_seq: int = 0
    revenue: dict[str, str] = field(default_factory=dict)
    """Currency -> decimal text (placed minus refunded)."""
    ids: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    recent: list[OrderSummary] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class ProductPurchases:
    product_id: str
    category: str | None = None
    times: list[int] = field(default_factory=list)
    seq: int = 0


@dataclass(slots=True, kw_only=True)
class Journey:
    """One instance of a campaign for this customer, waiting for its next step."""

    campaign_id: str
    journey_id: str
    entered_seq: int
    entered_at: int
    anchor: int
    """Step delays count from here (the start, or the last cart activity / product view)."""
    step: int = 0
    due_at: int
    cart_id: str | None = None
    order_id: str | None = None
    product: Json | None = None
    shipment: Json | None = None
    segment_id: str | None = None
    occasion_date: str | None = None


@dataclass(slots=True, kw_only=True)
class CampaignMark:
    """What re-entry rules need: when the campaign was last entered, and which instances."""

    last_entry: int
    journey_ids: list[str] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class CustomerState:
    v: int = STATE_VERSION
    shop_id: str
    customer_id: str | None = None
    anonymous_id: str | None = None
    seq: int = 0
    contact: Contact = field(default_factory=Contact)
    carts: list[Cart] = field(default_factory=list)
    last_cart_add_seq: int = 0
    views: list[View] = field(default_factory=list)
    orders: Orders = field(default_factory=Orders)
    purchases: list[ProductPurchases] = field(default_factory=list)
    surveys: list[str] = field(default_factory=list)
    """Orders whose survey was answered."""
    last_survey_seq: int = 0
    segments: list[str] = field(default_factory=list)
    journeys: list[Journey] = field(default_factory=list)
    campaigns: dict[str, CampaignMark] = field(default_factory=dict)
    seen: list[int] = field(default_factory=list)
    """`event_key`s of the last MAX_SEEN_EVENTS events applied: a replayed one changes
    nothing. 48-bit digests rather than the ids (UUIDs would triple the state's size)."""

    @property
    def anonymous(self) -> bool:
        """A visitor nobody can be messaged at: journeys wait, parked, until identified."""
        return self.customer_id is None

    def next_due_at(self) -> datetime | None:
        """When `fire_due` should next run; None when nothing is pending (or anonymous)."""
        if self.anonymous or not self.journeys:
            return None
        return datetime.fromtimestamp(min(j.due_at for j in self.journeys), UTC)

    def cart(self, cart_id: str | None) -> Cart | None:
        for cart in self.carts:
            if cart.cart_id == cart_id:
                return cart
        return None

    def product_purchases(self, product_id: str) -> ProductPurchases | None:
        for entry in self.purchases:
            if entry.product_id == product_id:
                return entry
        return None

    def to_bytes(self) -> bytes:
        """Format STATE_VERSION (whatever `v` says: a state read from an older format is
        written in the current one)."""
        return orjson.dumps(_dump_state(self))

    @classmethod
    def from_bytes(cls, raw: bytes) -> CustomerState:
        """Read format 3, 2 or 1; raise UnsupportedStateVersion on any other."""
        decoded = orjson.loads(raw)
        if isinstance(decoded, list) and decoded and decoded[0] == STATE_VERSION:
            return _load_state(decoded)
        if isinstance(decoded, list) and decoded and decoded[0] == 2:
            return _load_state(decoded, _load_contact_v2)
        if isinstance(decoded, dict) and decoded.get("v") == 1:
            return _state_v1(decoded)
        version = decoded[0] if isinstance(decoded, list) and decoded else None
        if isinstance(decoded, dict):
            version = decoded.get("v")
        raise UnsupportedStateVersion(version)

    def copy(self) -> CustomerState:
        """A deep copy (the decision functions update the state they are given in place)."""
        return _load_state(orjson.loads(orjson.dumps(_dump_state(self))))


class UnsupportedStateVersion(ValueError):
    """State bytes of a format this code cannot read (written by a newer version, or not a
    state at all): refusing them beats misreading a customer's journeys."""

    def __init__(self, version: object) -> None:
        super().__init__(
            f"customer state in format {version!r}; this version reads formats "
            f"{STATE_VERSION}, 2 and 1 only"
        )
        self.version = version


# Format 3: one JSON array per dataclass, fields in declaration order. The rows are built and
# unpacked by hand (no reflection, no keyword dicts): this is the hottest code of the worker.
# Objects are made with __new__ and filled by tuple assignment, which also checks each row's
# length (a row of the wrong size raises ValueError instead of shifting fields).

_new = object.__new__


def _dump_state(s: CustomerState) -> list[Any]:
    contact, orders = s.contact, s.orders
    return [
        STATE_VERSION,
        s.shop_id,
        s.customer_id,
        s.anonymous_id,
        s.seq,
        [
            contact.time_zone,
            contact.birthday,
            {k: [c.granted, c.at] for k, c in contact.consent.items()},
            {
                k: [{scope: [m.at, m.reason] for scope, m in c.scopes.items()}, c.cleared_at]
                for k, c in contact.suppressions.items()
            },
        ],
        [[c.cart_id, c.items, c.value, c.recovery_url, c.at] for c in s.carts],
        s.last_cart_add_seq,
        [[v.product_id, v.category, v.at] for v in s.views],
        [
            orders.count,
            orders.first_at,
            orders.last_at,
            orders.last_seq,
            orders.revenue,
            orders.ids,
            orders.cancelled,
            [
                [o.order_id, o.order_number, o.items, o.total, o.status_url, o.at, o.first_order]
                for o in orders.recent
            ],
        ],
        [[p.product_id, p.category, p.times, p.seq] for p in s.purchases],
        s.surveys,
        s.last_survey_seq,
        s.segments,
        [
            [
                j.campaign_id,
                j.journey_id,
                j.entered_seq,
                j.entered_at,
                j.anchor,
                j.step,
                j.due_at,
                j.cart_id,
                j.order_id,
                j.product,
                j.shipment,
                j.segment_id,
                j.occasion_date,
            ]
            for j in s.journeys
        ],
        {k: [m.last_entry, m.journey_ids] for k, m in s.campaigns.items()},
        s.seen,
    ]


def _load_state(
    row: list[Any], load_contact: Callable[[list[Any]], Contact] | None = None
) -> CustomerState:
    """`load_contact`: the contact's reader for an older format (the rest did not change)."""
    s: CustomerState = _new(CustomerState)
    s.v = STATE_VERSION
    (
        _version,
        s.shop_id,
        s.customer_id,
        s.anonymous_id,
        s.seq,
        contact,
        carts,
        s.last_cart_add_seq,
        views,
        orders,
        purchases,
        s.surveys,
        s.last_survey_seq,
        s.segments,
        journeys,
        campaigns,
        s.seen,
    ) = row
    s.contact = (load_contact or _load_contact)(contact)
    s.carts = [_load_cart(c) for c in carts]
    s.views = [_load_view(v) for v in views]
    s.orders = _load_orders(orders)
    s.purchases = [_load_purchases(p) for p in purchases]
    s.journeys = [_load_journey(j) for j in journeys]
    s.campaigns = {k: _load_mark(m) for k, m in campaigns.items()}
    return s


def _load_contact(row: list[Any]) -> Contact:
    c: Contact = _new(Contact)
    c.time_zone, c.birthday, consent, suppressions = row
    c.consent = {k: _load_consent(v) for k, v in consent.items()}
    c.suppressions = {k: _load_suppression(v) for k, v in suppressions.items()}
    return c


def _load_contact_v2(row: list[Any]) -> Contact:
    """Format 2's contact: no suppressions (it kept a complaint or a hard bounce as consent
    withdrawn, which stays as it was: nothing in the state tells it from the customer's own)."""
    c: Contact = _new(Contact)
    c.time_zone, c.birthday, consent = row
    c.consent = {k: _load_consent(v) for k, v in consent.items()}
    c.suppressions = {}
    return c


def _load_suppression(row: list[Any]) -> Suppression:
    s: Suppression = _new(Suppression)
    scopes, s.cleared_at = row
    s.scopes = {k: _load_suppressed(v) for k, v in scopes.items()}
    return s


def _load_suppressed(row: list[Any]) -> Suppressed:
    m: Suppressed = _new(Suppressed)
    m.at, m.reason = row
    return m


def _load_consent(row: list[Any]) -> ChannelConsent:
    c: ChannelConsent = _new(ChannelConsent)
    c.granted, c.at = row
    return c


def _load_cart(row: list[Any]) -> Cart:
    c: Cart = _new(Cart)
    c.cart_id, c.items, c.value, c.recovery_url, c.at = row
    return c


def _load_view(row: list[Any]) -> View:
    v: View = _new(View)
    v.product_id, v.category, v.at = row
    return v


def _load_orders(row: list[Any]) -> Orders:
    o: Orders = _new(Orders)
    o.count, o.first_at, o.last_at, o.last_seq, o.revenue, o.ids, o.cancelled, recent = row
    o.recent = [_load_order(r) for r in recent]
    return o


def _load_order(row: list[Any]) -> OrderSummary:
    o: OrderSummary = _new(OrderSummary)
    o.order_id, o.order_number, o.items, o.total, o.status_url, o.at, o.first_order = row
    return o


def _load_purchases(row: list[Any]) -> ProductPurchases:
    p: ProductPurchases = _new(ProductPurchases)
    p.product_id, p.category, p.times, p.seq = row
    return p


def _load_journey(row: list[Any]) -> Journey:
    j: Journey = _new(Journey)
    (
        j.campaign_id,
        j.journey_id,
        j.entered_seq,
        j.entered_at,
        j.anchor,
        j.step,
        j.due_at,
        j.cart_id,
        j.order_id,
        j.product,
        j.shipment,
        j.segment_id,
        j.occasion_date,
    ) = row
    return j


def _load_mark(row: list[Any]) -> CampaignMark:
    m: CampaignMark = _new(CampaignMark)
    m.last_entry, m.journey_ids = row
    return m


def _state_v1(d: Json) -> CustomerState:
    """Format 1: the dataclasses as JSON objects, as orjson writes them."""
    contact = d["contact"]
    orders = d["orders"]
    return CustomerState(
        shop_id=d["shop_id"],
        customer_id=d["customer_id"],
        anonymous_id=d["anonymous_id"],
        seq=d["seq"],
        contact=Contact(
            time_zone=contact["time_zone"],
            birthday=contact["birthday"],
            consent={k: ChannelConsent(**v) for k, v in contact["consent"].items()},
        ),
        carts=[Cart(**c) for c in d["carts"]],
        last_cart_add_seq=d["last_cart_add_seq"],
        views=[View(**v) for v in d["views"]],
        orders=Orders(
            count=orders["count"],
            first_at=orders["first_at"],
            last_at=orders["last_at"],
            last_seq=orders["last_seq"],
            revenue=orders["revenue"],
            ids=orders["ids"],
            cancelled=orders["cancelled"],
            recent=[OrderSummary(**o) for o in orders["recent"]],
        ),
        purchases=[ProductPurchases(**p) for p in d["purchases"]],
        surveys=d["surveys"],
        last_survey_seq=d["last_survey_seq"],
        segments=d["segments"],
        journeys=[Journey(**j) for j in d["journeys"]],
        campaigns={k: CampaignMark(**m) for k, m in d["campaigns"].items()},
        seen=d["seen"],
    )


def event_key(event_id: str) -> int:
    """A 48-bit digest of an event id: a false match among 64 recent ids is ~1 in 4 * 10^12."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=6).digest(), "big")


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def keep_last(items: list[Any], limit: int) -> None:
    """Trim a list in place to its last `limit` entries (the newest are appended)."""
    if len(items) > limit:
        del items[: len(items) - limit]
