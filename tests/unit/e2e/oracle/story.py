"""Hand-built customer timelines for the oracle's tests: a few actions with known answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from services.simulator.behaviour import (
    Action,
    Cart,
    CartChange,
    Checkout,
    Kind,
    Line,
    Order,
    Shipment,
    ShipmentUpdate,
)
from services.simulator.formats import Format
from services.simulator.population import Customer, customer
from services.simulator.products import CATALOG
from shared.events import EventEnvelope
from tests.e2e.model import Expected, Withheld
from tests.e2e.oracle.config import Loaded, OracleConfig
from tests.e2e.oracle.ingest import CustomerIngest, access
from tests.e2e.oracle.predict import judge
from tests.e2e.oracle.replies import RepliesTo, no_replies

SHOP = "sim-native"
START = datetime(2026, 12, 7, tzinfo=UTC)


@cache
def loaded() -> Loaded:
    return Loaded.load(OracleConfig.e2e())


def person(**changes: Any) -> Customer:
    """A native shop's customer from before the start, in UTC, with email consent only."""
    base = customer(7, (SHOP,), 1)
    fields: dict[str, Any] = {
        "time_zone": "UTC",
        "email_consent": True,
        "sms_consent": False,
        "phone": None,
        "bounces": False,
        "joins_after": None,
        "birthday": None,
    }
    fields.update(changes)
    return dataclasses.replace(base, **fields)


class Story:
    """One customer's actions, in order, at minutes after `START` (or given times)."""

    def __init__(self, who: Customer) -> None:
        self.who = who
        self.actions: list[Action] = []
        self._cart: Cart | None = None
        self._order: Order | None = None
        self._shipment: Shipment | None = None
        self._n = 0

    def _at(self, minutes: float) -> datetime:
        return START + timedelta(minutes=minutes)

    def _add(self, minutes: float, kind: Kind, detail: Any = None) -> Story:
        self.actions.append(Action(self._at(minutes), self.who, len(self.actions), kind, detail))
        return self

    def profile(self, minutes: float = 0) -> Story:
        return self._add(minutes, Kind.PROFILE)

    def cart(self, minutes: float) -> Story:
        line = Line(CATALOG[0], 1)
        self._cart = Cart(f"cart{self.who.index}x{len(self.actions)}", (line,))
        return self._add(minutes, Kind.ADDED_TO_CART, CartChange(self._cart, line))

    def buy(self, minutes: float) -> Story:
        assert self._cart is not None
        self._n += 1
        n = f"{self.who.index}{self._n:03d}"
        checkout = Checkout(f"6{n}", f"tok{n}", self._cart)
        self._add(minutes, Kind.CHECKOUT_STARTED, checkout)
        self._order = Order(f"5{n}", f"#{n}", checkout, self._n == 1)
        return self._add(minutes, Kind.ORDER_PLACED, self._order)

    def ship(self, minutes: float) -> Story:
        assert self._order is not None
        self._shipment = Shipment(self._order, f"4{self._order.order_id}", f"TRK{self._n}")
        return self._add(minutes, Kind.SHIPPED, self._shipment)

    def out_for_delivery(self, minutes: float) -> Story:
        assert self._shipment is not None
        update = ShipmentUpdate(
            self._shipment, f"3{self._shipment.shipment_id}1", "out_for_delivery"
        )
        return self._add(minutes, Kind.OUT_FOR_DELIVERY, update)

    def judge(
        self,
        *,
        until_minutes: float,
        margin_minutes: float = 5,
        replies_to: RepliesTo = no_replies,
        format: Format = Format.NATIVE,
        replies_until_minutes: float | None = None,
        segment_events: Sequence[EventEnvelope] = (),
    ) -> Answer:
        ingest = CustomerIngest(access(self.who.shop), format)
        events = list(ingest.events(self.actions))
        expected, withheld = judge(
            self.who,
            events,
            loaded(),
            replies_to,
            until=self._at(until_minutes),
            margin=timedelta(minutes=margin_minutes),
            replies_until=None
            if replies_until_minutes is None
            else self._at(replies_until_minutes),
            segment_events=segment_events,
        )
        return Answer(expected, withheld)


@dataclasses.dataclass
class Answer:
    expected: list[Expected]
    withheld: list[Withheld]

    def sent(self, campaign: str, step: str) -> list[Expected]:
        return [e for e in self.expected if (e.campaign_id, e.step_id) == (campaign, step)]

    def held(self, campaign: str, step: str) -> list[Withheld]:
        return [w for w in self.withheld if (w.campaign_id, w.step_id) == (campaign, step)]


def minutes_after_start(moment: datetime) -> float:
    return (moment - START).total_seconds() / 60
