"""Realistic triggers for every shipped template, shaped like the triggers service emits them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.dispatch.templates import (
    MessageLinks,
    RecipientView,
    ShopBrand,
    render_variables,
)
from shared.events.shop import ProductRef
from shared.events.triggers import TriggerFired

SHOP = "acme-coffee"
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
BRAND = ShopBrand(
    SHOP,
    name="Acme Coffee",
    url="https://acme.example",
    support_email="help@acme.example",
    support_phone="+31 20 123 4567",
    address="Keizersgracht 1, 1015 CJ Amsterdam",
    benefits=("Free shipping from €40", "Free returns within 30 days"),
)
LINKS = MessageLinks(
    unsubscribe_url="https://nudge.example/u/acme-coffee/tok123",
    preferences_url="https://nudge.example/p/acme-coffee/tok123",
    survey_url="https://nudge.example/s/acme-coffee/tok123",
)
ANNA = RecipientView(first_name="Anna", email="anna@example.com", phone="+31612345678")

BEANS = {
    "product_id": "p1",
    "title": "Ethiopia Yirgacheffe 250 g",
    "category": "coffee",
    "price": {"amount": "12.50", "currency": "EUR"},
    "url": "https://acme.example/products/yirgacheffe",
    "image_url": "https://cdn.acme.example/p1.jpg",
}
FILTERS = {
    "product_id": "p2",
    "title": "Paper filters (100)",
    "category": "accessories",
    "price": {"amount": "4.95", "currency": "EUR"},
}
CART = {
    "cart_id": "cart-9",
    "items": [{**BEANS, "quantity": 2}, {**FILTERS, "quantity": 1}],
    "value": {"amount": "29.95", "currency": "EUR"},
    "recovery_url": "https://acme.example/cart/recover/abc123",
}
ORDER = {
    "order_id": "o-1001",
    "order_number": "#1001",
    "items": [{**BEANS, "quantity": 2}],
    "total": {"amount": "29.95", "currency": "EUR"},
    "status_url": "https://acme.example/orders/o-1001",
    "first_order": True,
}
SHIPMENT = {
    "order_id": "o-1001",
    "shipment_id": "s-1",
    "status": "out_for_delivery",
    "carrier": "PostNL",
    "tracking_number": "3SABCD1234567",
    "tracking_url": "https://postnl.example/track/3SABCD1234567",
    "estimated_delivery_at": "2027-03-02T14:00:00+00:00",
}


def _seed(strategy: str) -> dict[str, Any]:
    return {"strategy": strategy, "product_ids": ["p1"], "categories": ["coffee"]}


# template id -> (campaign, step, transactional, channels, context, variant)
Case = tuple[str, str, bool, list[str], dict[str, Any], str | None]
CASES: dict[str, Case] = {
    "welcome/1-welcome": (
        "welcome",
        "welcome",
        False,
        ["email"],
        {"incentive_code": "WELCOME10"},
        None,
    ),
    "welcome/2-order-on-its-way": (
        "welcome",
        "order-on-its-way",
        False,
        ["email"],
        {"order": ORDER, "incentive_code": "WELCOME10"},
        None,
    ),
    "welcome/2-brand-story": (
        "welcome",
        "brand-story",
        False,
        ["email"],
        {"incentive_code": "WELCOME10"},
        None,
    ),
    "welcome/3-how-to-use": (
        "welcome",
        "how-to-use",
        False,
        ["email"],
        {"incentive_code": "WELCOME10"},
        None,
    ),
    "welcome/4-reviews": (
        "welcome",
        "reviews",
        False,
        ["email", "sms"],
        {"incentive_code": "WELCOME10"},
        None,
    ),
    "welcome/5-news": ("welcome", "news", False, ["email"], {"incentive_code": "WELCOME10"}, None),
    "cart/reminder-1": (
        "abandoned_cart",
        "reminder-1",
        False,
        ["email"],
        {"cart": CART, "recommendations": _seed("cart_based")},
        None,
    ),
    "cart/reminder-2": (
        "abandoned_cart",
        "reminder-2",
        False,
        ["email", "sms"],
        {"cart": CART, "recommendations": _seed("cart_based")},
        None,
    ),
    "cart/reminder-3": (
        "abandoned_cart",
        "reminder-3",
        False,
        ["sms", "email"],
        {"cart": CART},
        None,
    ),
    "browse/reminder": (
        "browse_abandonment",
        "reminder",
        False,
        ["email"],
        {"product": BEANS, "recommendations": _seed("same_category")},
        None,
    ),
    "order/confirmation": (
        "order_confirmation",
        "confirmation",
        True,
        ["email"],
        {"order": ORDER},
        None,
    ),
    "order/shipping-update": (
        "shipping_update",
        "update",
        True,
        ["email", "sms"],
        {"order": ORDER, "shipment": SHIPMENT},
        None,
    ),
    "order/delivered": (
        "delivery_notice",
        "delivered",
        True,
        ["email"],
        {"order": ORDER, "shipment": {**SHIPMENT, "status": "delivered"}},
        None,
    ),
    "review/request": (
        "review_request",
        "survey",
        False,
        ["email", "sms"],
        {"order": ORDER, "shipment": {**SHIPMENT, "status": "delivered"}},
        None,
    ),
    "cross-sell/recommendations": (
        "cross_sell",
        "recommendations",
        False,
        ["email"],
        {"order": ORDER, "recommendations": _seed("same_category")},
        None,
    ),
    "cross-sell/with-reviews": (
        "cross_sell",
        "with-reviews",
        False,
        ["email"],
        {"order": ORDER, "recommendations": _seed("bought_together")},
        None,
    ),
    "replenishment/reminder": (
        "replenishment",
        "reminder",
        False,
        ["email"],
        {"order": ORDER, "incentive_code": "REFILL5"},
        None,
    ),
    "replenishment/last-call": (
        "replenishment",
        "last-call",
        False,
        ["sms", "email"],
        {"order": ORDER, "incentive_code": "REFILL5"},
        None,
    ),
    "win-back/offer": (
        "win_back",
        "offer",
        False,
        ["email"],
        {
            "products": [BEANS, FILTERS],
            "segment_id": "lapsed",
            "recommendations": _seed("newest"),
            "incentive_code": "COMEBACK15",
        },
        "newest",
    ),
    "win-back/follow-up": (
        "win_back",
        "follow-up",
        False,
        ["email", "sms"],
        {
            "products": [BEANS],
            "segment_id": "lapsed",
            "recommendations": _seed("personal"),
            "incentive_code": "COMEBACK15",
        },
        None,
    ),
    "vip/welcome": (
        "vip",
        "welcome-vip",
        False,
        ["email", "sms"],
        {"products": [BEANS], "segment_id": "vip", "recommendations": _seed("personal")},
        None,
    ),
    "occasion/birthday": (
        "birthday",
        "gift",
        False,
        ["email"],
        {"occasion": "birthday", "recommendations": _seed("personal"), "incentive_code": "BDAY20"},
        None,
    ),
    "occasion/anniversary": (
        "first_purchase_anniversary",
        "thanks",
        False,
        ["email"],
        {
            "occasion": "first_purchase_anniversary",
            "recommendations": _seed("personal"),
            "incentive_code": "THANKYOU10",
        },
        None,
    ),
}


def trigger(template_id: str, **context: Any) -> TriggerFired:
    campaign, step, transactional, channels, base, variant = CASES[template_id]
    return TriggerFired.model_validate(
        {
            "campaign_id": campaign,
            "journey_id": "j-1",
            "step_id": step,
            "step_index": 0,
            "transactional": transactional,
            "channels": channels,
            "template_id": template_id,
            "variant": context.pop("variant", variant),
            "due_at": NOW,
            "context": {**base, **context},
        }
    )


def variables(
    template_id: str,
    contact: RecipientView = ANNA,
    recommended: list[ProductRef] | None = None,
    **context: Any,
) -> dict[str, Any]:
    products = recommended if recommended is not None else [ProductRef.model_validate(FILTERS)]
    return render_variables(
        trigger(template_id, **context), contact, BRAND, LINKS, recommended=products
    )
