"""customers/create and customers/update: contact details and marketing consent."""

from __future__ import annotations

from services.ingest.adapters._build import When, Who, build, first_time
from services.ingest.adapters._customer import CustomerFields, customer_data
from services.ingest.adapters._payload import Node
from services.ingest.adapters._shopify_common import Delivery
from shared.events.catalog import CustomerCreatedEvent, CustomerUpdatedEvent, ShopEvent
from shared.events.shop import (
    ChannelConsent,
    Consent,
    ConsentStatus,
    CustomerCreated,
    CustomerUpdated,
)

CONSENT_SOURCE = "shopify"

_CONSENT_STATES: dict[str, ConsentStatus | None] = {
    "subscribed": ConsentStatus.GRANTED,
    "unsubscribed": ConsentStatus.DENIED,
    "not_subscribed": ConsentStatus.DENIED,
    # Double opt-in not confirmed yet, erased on request, or undeliverable: no decision to
    # record, and recording "denied" would wrongly override an earlier grant elsewhere.
    "pending": None,
    "redacted": None,
    "invalid": None,
}


def _channel_consent(customer: Node, key: str, fallback: When | None) -> ChannelConsent | None:
    """Shopify's `{state, opt_in_level, consent_updated_at}` as a consent decision, if any."""
    consent = customer.opt_obj(key)
    if consent is None:
        return None
    state = consent.opt_text("state")
    status = _CONSENT_STATES.get(state.lower()) if state is not None else None
    if status is None:
        return None
    when = first_time(consent, ("consent_updated_at",), fallback)
    return build(
        ChannelConsent,
        {"recorded_at": when.field, "": consent.path},
        status=status,
        source=CONSENT_SOURCE,
        recorded_at=when.value,
    )


def _consent(customer: Node, fallback: When | None) -> Consent:
    email = _channel_consent(customer, "email_marketing_consent", fallback)
    sms = _channel_consent(customer, "sms_marketing_consent", fallback)
    return build(Consent, {"": customer.path}, email=email, sms=sms)


def customer_fields(customer: Node, fallback: When | None) -> CustomerFields:
    """The customer's details; `fallback` dates consent that carries no time of its own."""
    tags = customer.opt_text("tags") or ""
    return CustomerFields(
        paths={
            "email": customer.field("email"),
            "first_name": customer.field("first_name"),
            "last_name": customer.field("last_name"),
            "consent": customer.path,
            "tags": customer.field("tags"),
        },
        email=customer.opt_text("email"),
        phone=customer.opt_text("phone"),
        first_name=customer.opt_text("first_name"),
        last_name=customer.opt_text("last_name"),
        locale=customer.opt_text("locale"),
        consent=_consent(customer, fallback),
        tags=tuple(tag.strip() for tag in tags.split(",") if tag.strip()),
    )


def map_customer(root: Node, delivery: Delivery, *, created: bool) -> list[ShopEvent]:
    customer_id = root.ident("id")
    keys = ("created_at", "updated_at") if created else ("updated_at",)
    when = first_time(root, keys, delivery.fallback_time)
    # Consent without its own timestamp dates from the customer record's last change.
    consent_fallback = first_time(root, ("updated_at",), when)
    fields = customer_fields(root, consent_fallback)
    who = Who(customer_id=customer_id, customer_field=root.field("id"))
    if created:
        return [
            delivery.event(
                CustomerCreatedEvent,
                event_id=delivery.per_delivery_id("customer.created"),
                when=when,
                who=who,
                data=customer_data(CustomerCreated, fields),
            )
        ]
    return [
        delivery.event(
            CustomerUpdatedEvent,
            event_id=delivery.per_delivery_id("customer.updated"),
            when=when,
            who=who,
            data=customer_data(CustomerUpdated, fields),
        )
    ]
