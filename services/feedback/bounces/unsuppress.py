"""`nudge contacts unsuppress`: an operator lifts an address's suppressions in one shop.

For every customer of the shop that holds the address (a suppression feedback published, or
the directory's contact), an `address.unsuppressed` event goes to `feedback.events.v1` (dispatch
then lets email to that address through again), and once the broker has them, each clearing is
kept in the audit with who, when and why. A suppression is lifted as of the clearing's time: a
bounce SNS delivers again later, from before it, does not bring it back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import TypeAdapter, ValidationError

from services.feedback.bounces.store import Clearing, Suppression, SuppressionStore
from services.feedback.directory import ContactRef, Directory
from shared.events import EventEnvelope, derived_event_id
from shared.events import feedback as fb
from shared.events.types import Email

Publish = Callable[[Sequence[EventEnvelope]], Awaitable[None]]
SOURCE = "/shops/{shop_id}/feedback/operator"
_EMAIL: TypeAdapter[str] = TypeAdapter(Email)


class CannotUnsuppress(Exception):
    """Nothing to clear, or the request itself is wrong (the message says which)."""


@dataclass(frozen=True)
class Request:
    shop_id: str
    actor: str
    reason: str
    address: str | None = None
    customer_id: str | None = None


async def unsuppress(
    request: Request,
    *,
    directory: Directory,
    store: SuppressionStore,
    publish: Publish,
    now: datetime | None = None,
) -> list[Clearing]:
    """Publish the clearings, then audit them; returns what was cleared."""
    if (request.address is None) == (request.customer_id is None):
        raise CannotUnsuppress("name the address or the customer (--customer), not both")
    if not request.reason.strip() or not request.actor.strip():
        raise CannotUnsuppress("say who clears it and why (--by, --reason)")
    at = now or datetime.now(UTC)
    targets = await _targets(request, directory, store)
    if not targets:
        raise CannotUnsuppress(_nothing(request))
    try:
        events = [_event(request, customer, address, at) for (customer, address) in targets]
    except ValidationError as exc:
        raise CannotUnsuppress(f"cannot say so: {exc.errors()[0]['msg']}") from None
    await publish(events)
    clearings = [
        Clearing(
            shop_id=request.shop_id,
            address=address,
            customer_id=customer,
            at=at,
            actor=request.actor.strip()[:100],
            reason=request.reason.strip()[:500],
            event_id=event.id,
            cleared=_describe(held),
        )
        for ((customer, address), held), event in zip(targets.items(), events, strict=True)
    ]
    await store.clear(clearings)
    return clearings


async def _targets(
    request: Request, directory: Directory, store: SuppressionStore
) -> dict[tuple[str, str], list[Suppression]]:
    """(customer, address) → what is held for it, for every customer holding the address."""
    found: dict[tuple[str, str], list[Suppression]] = {}
    if request.address is not None:
        address = _address(request.address)
        held = await store.active(request.shop_id, address=address)
        for contact in await directory.contacts_by_email(address):
            if contact.ref.shop_id == request.shop_id:
                found.setdefault((contact.ref.customer_id, address), [])
    else:
        assert request.customer_id is not None
        held = await store.active(request.shop_id, customer_id=request.customer_id)
        known = await directory.contact(ContactRef(request.shop_id, request.customer_id))
        if known is not None and known.email:
            with contextlib.suppress(CannotUnsuppress):  # an address the shop sent wrongly
                found.setdefault((request.customer_id, _address(known.email)), [])
    for item in held:
        found.setdefault((item.customer_id, item.address), []).append(item)
    return dict(sorted(found.items()))


def _address(text: str) -> str:
    try:
        return _EMAIL.validate_python(text.strip()).lower()
    except ValidationError:
        raise CannotUnsuppress(f"{text!r} is not an email address") from None


def _nothing(request: Request) -> str:
    if request.address is not None:
        return f"no customer of shop {request.shop_id} has the address {request.address}"
    return f"shop {request.shop_id} knows no address of customer {request.customer_id}"


def _event(
    request: Request, customer: str, address: str, at: datetime
) -> fb.AddressUnsuppressedEvent:
    return fb.AddressUnsuppressedEvent(
        id=derived_event_id(
            request.shop_id, "unsuppress", f"{address}\x1f{customer}\x1f{at.isoformat()}"
        ),
        source=SOURCE.format(shop_id=request.shop_id),
        time=at,
        shopid=request.shop_id,
        customerid=customer,
        data=fb.AddressUnsuppressed(
            email=address, actor=request.actor.strip()[:100], reason=request.reason.strip()[:500]
        ),
    )


def _describe(held: Sequence[Suppression]) -> str:
    if not held:
        return "nothing held"
    return ", ".join(f"{item.scope}:{item.reason}" for item in held)


async def unsuppress_with_settings(request: Request) -> list[Clearing]:
    """`unsuppress` against the deployment's database and broker (DATABASE_URL, KAFKA_*)."""
    from services.feedback.bounces.postgres import PostgresSuppressionStore
    from services.feedback.directory.postgres import PostgresDirectory
    from shared.db.engine import make_engine
    from shared.publisher import EventPublisher
    from shared.settings import DatabaseSettings, KafkaSettings
    from shared.topics import FEEDBACK_EVENTS

    engine = make_engine(DatabaseSettings())
    publisher = EventPublisher(
        KafkaSettings(),
        topic=FEEDBACK_EVENTS.name,
        client_id="nudge-cli",
        timeout_s=15,
        linger_ms=0,
    )
    await publisher.start()
    try:
        return await unsuppress(
            request,
            directory=PostgresDirectory(engine),
            store=PostgresSuppressionStore(engine),
            publish=publisher.publish,
        )
    finally:
        await publisher.stop()
        await engine.dispose()
