"""Segment `track` and `identify` calls (Segment Spec, e-commerce v2) as Nudge shop events.

The HTTP layer unpacks `batch` envelopes and calls this per item. Calls Nudge has no use for
(page, screen, group, alias; track events outside the e-commerce spec; Cart Viewed) map to
no event rather than an error: they are normal traffic, which the HTTP layer reports as
ignored. Event ids derive from `messageId`, which Segment keeps on retries.
"""

from __future__ import annotations

from typing import Any

from services.ingest.adapters._build import Who, build
from services.ingest.adapters._customer import CustomerFields, customer_data
from services.ingest.adapters._payload import ROOT, Node
from services.ingest.adapters._segment_commerce import map_track
from services.ingest.adapters._segment_context import Call
from services.ingest.adapters.errors import MappingError
from shared.events import ShopEvent
from shared.events.catalog import CustomerIdentifiedEvent, CustomerUpdatedEvent
from shared.events.shop import CustomerIdentified, CustomerUpdated


def _trait(sources: list[Node], *keys: str) -> tuple[str | None, str]:
    """The first of `keys` in the call's traits, then in context.traits; and its path."""
    for node in sources:
        for key in keys:
            value = node.opt_text(key)
            if value is not None:
                return value, node.field(key)
    return None, sources[0].field(keys[0])


def _phone(sources: list[Node]) -> str | None:
    """Phones come in every shape from tracking plans; one that is not text is dropped."""
    for node in sources:
        value = node.raw("phone")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _identify(root: Node, call: Call) -> list[ShopEvent]:
    """customer.updated; plus customer.identified when the call links an anonymous id."""
    context = root.opt_obj("context")
    sources = [root.opt_obj("traits") or Node({}, root.field("traits"))]
    context_traits = context.opt_obj("traits") if context is not None else None
    if context_traits is not None:
        sources.append(context_traits)
    email, email_field = _trait(sources, "email")
    first_name, first_name_field = _trait(sources, "firstName", "first_name")
    last_name, last_name_field = _trait(sources, "lastName", "last_name")
    birthday, _ = _trait(sources, "birthday")
    fields = CustomerFields(
        paths={"email": email_field, "first_name": first_name_field, "last_name": last_name_field},
        email=email,
        phone=_phone(sources),
        first_name=first_name,
        last_name=last_name,
        locale=context.opt_text("locale") if context is not None else None,
        time_zone=context.opt_text("timezone") if context is not None else None,
        birthday=birthday,
    )
    events: list[ShopEvent] = [
        call.event(CustomerUpdatedEvent, customer_data(CustomerUpdated, fields))
    ]
    user_id, anonymous_id = call.who.customer_id, call.who.anonymous_id
    if user_id is not None and anonymous_id is not None:
        link = build(
            CustomerIdentified,
            {"anonymous_id": "anonymousId", "customer_id": "userId"},
            anonymous_id=anonymous_id,
            customer_id=user_id,
        )
        events.append(
            call.event(
                CustomerIdentifiedEvent,
                link,
                # One fact per pair, however often the pair is identified again.
                event_id=call.event_id_for(f"identified/{anonymous_id}/{user_id}"),
                who=Who(anonymous_id=anonymous_id, anonymous_field="anonymousId"),
            )
        )
    return events


def map_segment_call(
    call: dict[str, Any], *, shop_id: str, default_type: str | None = None
) -> list[ShopEvent]:
    """The events one Segment call reports: [] when ignored; raises MappingError.

    `default_type` is the batch item's `type`, for items that do not repeat it.
    """
    if not isinstance(call, dict):
        raise MappingError(ROOT, "expected a JSON object")
    root = Node(call)
    call_type = root.opt_text("type") or default_type
    if call_type is None:
        raise MappingError("type", "required text is missing")
    call_type = call_type.lower()
    if call_type not in ("track", "identify"):
        return []
    common = Call.read(root, shop_id)
    if call_type == "identify":
        return _identify(root, common)
    return map_track(root, common)
