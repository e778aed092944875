"""Small hand-made runs for the comparison and report tests: two customers, a clock where a
wall second is a simulated minute, and builders for predictions, copies and faults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.e2e.compare import HISTORIES_KEPT, RECOVERY_S, Category, Comparison, compare
from tests.e2e.model import (
    ClockMap,
    Customer,
    Expected,
    Fault,
    Observed,
    Prediction,
    Sink,
    Withheld,
)

WALL = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
CLOCK = ClockMap(origin=WALL.timestamp(), scale=60.0)
"""One wall second is a simulated minute; at WALL both clocks agree."""
ANNA = Customer("shop-a", "c1", "anna@sim.example.com", "+15550100001")
BEN = Customer("shop-a", "c2", "ben@sim.example.com", None)


def wall(seconds: float) -> datetime:
    return WALL + timedelta(seconds=seconds)


def sim(seconds: float) -> datetime:
    """The simulated time the services read `seconds` of wall time after WALL."""
    return CLOCK.simulated(wall(seconds))


def expected(message_id: str, **changes: object) -> Expected:
    base = Expected(
        message_id=message_id,
        trigger_id="t-" + message_id,
        shop_id=ANNA.shop_id,
        customer_id=ANNA.customer_id,
        campaign_id="order_confirmation",
        step_id="confirmation",
        channel="email",
        variant=None,
        transactional=True,
        campaign_kind="order_update",
        due_at=sim(10),
        send_after=sim(10),
        expires_at=sim(20),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def withheld(message_id: str, reason: str, **changes: object) -> Withheld:
    base = Withheld(
        message_id=message_id,
        trigger_id="t-" + message_id,
        shop_id=ANNA.shop_id,
        customer_id=ANNA.customer_id,
        campaign_id="abandoned_cart",
        step_id="reminder-1",
        channel="email",
        transactional=False,
        reason=reason,
        decided_at=sim(5),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def email(message_id: str | None, at: float, to: str = ANNA.email or "") -> Observed:
    return Observed(Sink.SMTP, message_id, to, wall(at), "subject")


def sms(message_id: str | None, at: float, to: str = ANNA.phone or "") -> Observed:
    return Observed(Sink.SMS, message_id, to, wall(at), "body")


def fault(kind: str, target: str, start: float, end: float) -> Fault:
    return Fault(kind, target, wall(start), wall(end))


class Histories:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def __call__(self, shop_id: str, customer_id: str) -> list[str]:
        self.asked.append((shop_id, customer_id))
        return [f"{customer_id}: ordered"]


def run(
    expect: Sequence[Expected] = (),
    withhold: Sequence[Withheld] = (),
    observed: Sequence[Observed] = (),
    faults: Sequence[Fault] = (),
    history: Histories | None = None,
    recovery_s: float = RECOVERY_S,
    histories: int = HISTORIES_KEPT,
    skipped: Mapping[str, str] | None = None,
    opt_outs: Mapping[tuple[str, str], Sequence[tuple[str, datetime]]] | None = None,
) -> Comparison:
    prediction = Prediction(
        expected=list(expect),
        withheld=list(withhold),
        customers={(c.shop_id, c.customer_id): c for c in (ANNA, BEN)},
        history=history or Histories(),
        events=10,
        until=sim(100),
        margin=timedelta(seconds=30),
    )
    return compare(
        prediction,
        observed,
        faults,
        CLOCK,
        recovery_s=recovery_s,
        histories=histories,
        skipped=skipped,
        opt_outs=opt_outs,
    )


def only(comparison: Comparison) -> dict[Category, list[str | None]]:
    return {c: [d.message_id for d in found] for c, found in comparison.found.items() if found}
