"""The one path every accepted event takes: drop repeats, rate-limit, publish, report.

All three APIs (native, Shopify, Segment) turn their payload into `Item`s and hand them here,
so that acknowledgement, deduplication and limits behave the same whichever door an event
came through.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from pydantic import ValidationError

from services.ingest import metrics
from services.ingest.dedup import RecentIds
from services.ingest.rate_limit import ShopRateLimiter
from shared.events import EventEnvelope, dump_shop_event
from shared.http import problems
from shared.http.problems import FieldError
from shared.limits import MAX_EVENT_BYTES
from shared.publisher import BrokerUnavailable, EventPublisher, RecordRefused
from shared.tenancy import ShopAccess

Status = Literal["accepted", "duplicate", "rejected", "ignored"]


@dataclass(slots=True)
class Item:
    """One unit of a request (a batch entry, a webhook): the events it became, or why not."""

    events: list[EventEnvelope] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    ignored_reason: str | None = None
    ref: str | None = None
    """The caller's own id for the item (event id, messageId, webhook id), echoed back."""


class ItemResult(NamedTuple):
    """(A tuple: built once per item of every request, where a frozen dataclass costs more.)"""

    position: int
    """The item's index in the request."""
    status: Status
    ref: str | None
    event_ids: list[str]
    errors: list[FieldError]
    reason: str | None = None

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {"index": self.position, "status": self.status}
        if self.ref is not None:
            body["id"] = self.ref
        if self.event_ids:
            body["event_ids"] = self.event_ids
        if self.errors:
            body["errors"] = [{"field": e.field, "reason": e.reason} for e in self.errors]
        if self.reason:
            body["reason"] = self.reason
        return body


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic errors as dotted field paths (`data.items.0.price.amount`) with reasons."""
    return [
        FieldError(".".join(str(p) for p in err["loc"]) or "(body)", err["msg"])
        for err in exc.errors(include_url=False, include_input=False)
    ]


class Intake:
    def __init__(
        self,
        publisher: EventPublisher,
        recent: RecentIds,
        limiter: ShopRateLimiter,
        retry_after_s: int,
    ) -> None:
        self._publisher = publisher
        self._recent = recent
        self._limiter = limiter
        self._retry_after_s = retry_after_s

    async def submit(self, shop: ShopAccess, items: list[Item]) -> list[ItemResult]:
        """Publish every new event of `items`; all or nothing per request.

        An item with an event too large for one record is refused (with the reason) before
        anything is published. Raises a 429 or 503 Problem when nothing was acknowledged, so
        the caller retries the whole request with the same ids.
        """
        fresh: list[EventEnvelope] = []
        fresh_records: list[tuple[str, bytes]] = []
        fresh_scoped: list[str] = []
        seen_here: set[str] = set()
        recent = self._recent
        for item in items:
            encoded = _encoded(item)
            for event, value in zip(item.events, encoded, strict=True):
                # Ids are unique per shop only: one shop's ids must never shadow another's.
                scoped = f"{event.shopid}\x1f{event.id}"
                if scoped not in seen_here:
                    seen_here.add(scoped)
                    if scoped not in recent:
                        fresh.append(event)
                        fresh_records.append((event.key, value))
                        fresh_scoped.append(scoped)
        if fresh:
            wait = self._limiter.take(shop.shop_id, shop.rate_limit_per_s, len(fresh))
            if wait:
                metrics.EVENTS.labels("*", "rate_limited").inc(len(fresh))
                raise problems.rate_limited(wait)
            try:
                with metrics.PUBLISH_SECONDS.time():
                    await self._publisher.publish_records(fresh_records)
            except BrokerUnavailable as exc:
                self._limiter.refund(shop.shop_id, len(fresh))
                metrics.EVENTS.labels("*", "unavailable").inc(len(fresh))
                raise problems.unavailable(str(exc), self._retry_after_s) from exc
            except RecordRefused as exc:
                self._limiter.refund(shop.shop_id, len(fresh))
                metrics.EVENTS.labels("*", "refused").inc(len(fresh))
                raise problems.too_large(f"kafka refused an event: {exc}") from exc
            recent.remember(fresh_scoped)
        fresh_ids = {e.id for e in fresh}
        outcomes: Counter[tuple[str, str]] = Counter()
        results = [self._result(i, item, fresh_ids, outcomes) for i, item in enumerate(items)]
        for (event_type, outcome), count in outcomes.items():
            metrics.EVENTS.labels(event_type, outcome).inc(count)  # once per kind, not per event
        return results

    @staticmethod
    def _result(
        index: int, item: Item, fresh_ids: set[str], outcomes: Counter[tuple[str, str]]
    ) -> ItemResult:
        """The item's answer; its outcomes are counted into `outcomes` for the metrics."""
        ids = [e.id for e in item.events]
        if item.errors:
            outcomes["*", "rejected"] += 1
            return ItemResult(index, "rejected", item.ref, [], item.errors)
        if not item.events:
            outcomes["*", "ignored"] += 1
            return ItemResult(index, "ignored", item.ref, [], [], item.ignored_reason)
        for event in item.events:
            outcomes[event.type, "accepted" if event.id in fresh_ids else "duplicate"] += 1
        status: Status = "accepted" if any(i in fresh_ids for i in ids) else "duplicate"
        return ItemResult(index, status, item.ref, ids, [])


def _encoded(item: Item) -> list[bytes]:
    """The records of the item's events; none, and the item refused, when one is too large.

    Checked here, against the limit the topics and the producer share (shared/limits.py), so
    that an oversized event is refused with its reason instead of failing at the producer.
    """
    values = [dump_shop_event(event) for event in item.events]
    for event, value in zip(item.events, values, strict=True):
        if len(value) > MAX_EVENT_BYTES:
            item.errors.append(
                FieldError(
                    "(event)",
                    f"event {event.id} is {len(value)} bytes once encoded; one event may be at "
                    f"most {MAX_EVENT_BYTES} bytes",
                )
            )
    if item.errors:
        item.events = []
        return []
    return values
