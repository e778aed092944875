"""One customer's state: the facts campaigns decide on, and their open journeys.

It is the value of a changelogged table keyed `shop_id:customer_id`, read and written for every
event, so it is kept small and cheap to (de)serialise: msgspec structs, times as UTC epoch
seconds, shop data (cart lines, products) as the JSON the events carried, every list capped
(the MAX_* bounds below: a customer's history never grows the state past them).

The bytes (format 4, see `to_bytes`) are a header with the next due time, then the structs as
msgpack arrays. Format 3 (the same structs as JSON arrays), format 2 (format 3 without the
contact's suppressions) and format 1 (a JSON object with the field names, `"v": 1`) are still
read, and written back as 4 when the customer is next written; anything else is refused with
`UnsupportedStateVersion`. A change of the layout is a new version number, with a reader for
the previous one kept here until every changelog is rewritten. Formats 1 and 2 recorded a
complaint or a hard bounce as email consent withdrawn; such a statement cannot be told from
one the customer made, so it is read as it stands.
Order of events is tracked by `seq` (one per applied event) rather than by timestamps, so
"an order after the journey started" does not depend on the shops' clocks.
"""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from msgspec import Struct, field

STATE_VERSION = 4
"""The format `to_bytes` writes; `from_bytes` reads this one, 3, 2 and 1."""
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
MAX_OPEN_PER_CAMPAIGN = MAX_JOURNEY_IDS
"""Open journeys of one campaign per customer (one per order, product or shipment at most
this many at once): with the campaigns of a catalog, the bound on a state's journeys."""

Json = dict[str, Any]


class Row(Struct, kw_only=True, array_like=True, forbid_unknown_fields=True):
    """The parts of the state: stored as arrays of their fields in order (no names), and an
    array longer than its struct is an error rather than data silently dropped."""


class ChannelConsent(Row, kw_only=True):
    granted: bool
    at: int
    """When it was recorded: an older statement never overrides a newer one."""


def category_key(category: str) -> str:
    """A category's entry in `Contact.consent`: beside the channels, so that no new state
    format is needed and an older statement never overrides a newer one there either."""
    return f"category:{category}"


class Suppressed(Row, kw_only=True):
    """One scope of a channel's suppression: since when (the newest report of it) and why."""

    at: int
    reason: str
    """`complaint`, `hard_bounce`, `soft_bounces`, ... (feedback's SuppressionReason)."""


class Suppression(Row, kw_only=True):
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


class Contact(Row, kw_only=True):
    time_zone: str | None = None
    birthday: str | None = None
    """ISO date, as the shop sent it (validated by the event model)."""
    consent: dict[str, ChannelConsent] = field(default_factory=dict)
    """What the customer stated, per channel (`email`, `sms`) and per campaign category they
    kept or dropped on the preference page (`category:<id>`, see `category_key`); nothing else
    changes it."""
    suppressions: dict[str, Suppression] = field(default_factory=dict)
    """Per channel (`email` so far): what feedback reported about the address."""


class Cart(Row, kw_only=True):
    cart_id: str
    items: list[Json]
    """LineItem JSON, at most MAX_CART_ITEMS."""
    value: Json | None = None
    recovery_url: str | None = None
    at: int


class View(Row, kw_only=True):
    """A product seen; only what decisions use (the browse journey keeps the full product)."""

    product_id: str
    category: str | None = None
    at: int


class OrderSummary(Row, kw_only=True):
    order_id: str
    order_number: str | None = None
    items: list[Json]
    total: Json
    status_url: str | None = None
    at: int
    first_order: bool = False


class Orders(Row, kw_only=True):
    count: int = 0
    first_at: int | None = None
    last_at: int | None = None
    last_seq: int = 0
    revenue: dict[str, str] = field(default_factory=dict)
    """Currency -> decimal text (placed minus refunded)."""
    ids: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    recent: list[OrderSummary] = field(default_factory=list)


class ProductPurchases(Row, kw_only=True):
    product_id: str
    category: str | None = None
    times: list[int] = field(default_factory=list)
    seq: int = 0


class Journey(Row, kw_only=True):
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


class CampaignMark(Row, kw_only=True):
    """What re-entry rules need: when the campaign was last entered, and which instances."""

    last_entry: int
    journey_ids: list[str] = field(default_factory=list)


class CustomerState(Row, kw_only=True):
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
        due = self.next_due_s()
        return None if due is None else datetime.fromtimestamp(due, UTC)

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

    def next_due_s(self) -> float | None:
        """`next_due_at` as epoch seconds: what the bytes' header and the timer index hold."""
        if self.anonymous or not self.journeys:
            return None
        return float(min(j.due_at for j in self.journeys))

    def to_bytes(self) -> bytes:
        """Format STATE_VERSION: the header (version, next due time), then the msgpack body."""
        due = self.next_due_s()
        self.v = STATE_VERSION
        body = _ENCODER.encode(self)
        return _HEADER.pack(STATE_VERSION, _NOTHING_DUE if due is None else due) + body

    @classmethod
    def from_bytes(cls, raw: bytes) -> CustomerState:
        """Read format 4, 3, 2 or 1; raise UnsupportedStateVersion on any other."""
        first = raw[:1]
        if first == _FORMAT_4:
            try:
                return _DECODER.decode(memoryview(raw)[_HEADER.size :])
            except msgspec.DecodeError as exc:
                raise UnsupportedStateVersion(STATE_VERSION, exc) from exc
        if first == b"[":
            return _from_rows(raw)
        if first == b"{":
            decoded = orjson.loads(raw)
            if decoded.get("v") == 1:
                return _state_v1(decoded)
            raise UnsupportedStateVersion(decoded.get("v"))
        raise UnsupportedStateVersion(raw[0] if raw and raw[0] < 0x20 else None)

    def copy(self) -> CustomerState:
        """A deep copy (the decision functions update the state they are given in place)."""
        return _DECODER.decode(_ENCODER.encode(self))


class UnsupportedStateVersion(ValueError):
    """State bytes of a format this code cannot read (written by a newer version, or not a
    state at all): refusing them beats misreading a customer's journeys."""

    def __init__(self, version: object, problem: Exception | None = None) -> None:
        detail = f" ({problem})" if problem is not None else ""
        super().__init__(
            f"customer state in format {version!r}{detail}; this version reads formats "
            f"{STATE_VERSION}, 3, 2 and 1 only"
        )
        self.version = version


def due_of(raw: bytes) -> float | None:
    """The next due time (epoch seconds) of a stored state, or None: read from format 4's
    header without decoding the body, so that rebuilding the timer index after a rebalance
    costs a read per customer, not a decode. Older formats are decoded."""
    if raw[:1] == _FORMAT_4:
        due = float(_HEADER.unpack_from(raw)[1])
        return None if due == _NOTHING_DUE else due
    return CustomerState.from_bytes(raw).next_due_s()


# Format 4: a 9-byte header, then msgspec's msgpack of the structs as arrays (array_like:
# fields by position, no names). The header is the format version (one byte, 4: never the
# first byte of the JSON formats before it) and the next due time as a big-endian double
# (+inf: nothing pending), kept outside the body so the timer index is rebuilt from the
# states table without decoding them. The structs' field order is format 3's row order (`v`
# first), so format 3 and 2 rows decode with the same types from JSON; a new field goes at the
# end of its struct with a default (older bodies then still decode), any other change of the
# layout is a new version with a reader for the previous one.

_HEADER = struct.Struct(">Bd")
_FORMAT_4 = bytes([STATE_VERSION])
_NOTHING_DUE = math.inf
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(CustomerState)
_ROWS = msgspec.json.Decoder(CustomerState)


def _from_rows(raw: bytes) -> CustomerState:
    """Formats 3 and 2: JSON arrays in the structs' field order, the version first. Format 2's
    contact row lacks the suppressions (the field's default); it kept a complaint or a hard
    bounce as email consent withdrawn, which stays as it was: nothing in the state tells it
    from the customer's own statement."""
    try:
        state = _ROWS.decode(raw)
    except msgspec.DecodeError as exc:
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            decoded = None
        version = decoded[0] if isinstance(decoded, list) and decoded else None
        raise UnsupportedStateVersion(version, None if version not in (2, 3) else exc) from exc
    if state.v not in (2, 3):
        raise UnsupportedStateVersion(state.v)
    state.v = STATE_VERSION
    return state


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
