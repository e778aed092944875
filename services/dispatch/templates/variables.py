"""What templates see: plain dicts, lists and strings built from a trigger and the contact.

Plain data keeps templates simple and the sandbox tight (no model methods to reach). Unknown
values are None, which templates guard with `{% if %}` or `| default(...)` (printing None is a
render error). Links back to the shop go through `MessageLinks.track` when a shop tracks clicks;
unsubscribe and preference links never do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.dispatch.incentives import Incentive
from shared.events.shop import LineItem, ProductRef
from shared.events.triggers import TriggerFired
from shared.events.types import Money


@dataclass(frozen=True, slots=True)
class RecipientView:
    """The contact as templates may see it; everything optional."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True, slots=True)
class ShopBrand:
    """How the shop presents itself; `ShopBrand(shop_id)` is a usable default for any shop."""

    shop_id: str
    name: str | None = None
    """Defaults to the shop id, title-cased ("acme-coffee" -> "Acme Coffee")."""
    url: str | None = None
    support_email: str | None = None
    support_phone: str | None = None
    from_email: str | None = None
    from_name: str | None = None
    address: str | None = None
    """Postal address for marketing email footers (CAN-SPAM); omitted when unknown."""
    benefits: tuple[str, ...] = ()
    """Short selling points ("Free returns within 30 days") for win-back and welcome copy."""

    @property
    def display_name(self) -> str:
        return self.name or self.shop_id.replace("-", " ").replace("_", " ").title()


@dataclass(frozen=True, slots=True)
class MessageLinks:
    """Per-message links dispatch signs or tracks; cart, order and product links come from the
    trigger context."""

    unsubscribe_url: str | None = None
    """Required by every marketing email template: without it the message does not render."""
    preferences_url: str | None = None
    survey_url: str | None = None
    """The short CSAT/NPS survey for review requests (signed per message by dispatch)."""
    track: Callable[[str], str] | None = None
    """Click tracking (services/dispatch/links.py), applied to every link built here but the
    unsubscribe and preferences links; None: the shop does not track clicks."""


def render_variables(
    trigger: TriggerFired,
    contact: RecipientView,
    brand: ShopBrand,
    links: MessageLinks,
    *,
    recommended: Sequence[ProductRef] = (),
    incentive: Incentive | None = None,
) -> dict[str, Any]:
    """The template variables for one message.

    `recommended` are products resolved from the context's recommendation seed (by dispatch or
    a recommender); without them templates show a link to the shop instead of an empty block.
    `incentive` is what the message offers when dispatch chose it for the customer (a code
    scaled to their value: incentives.py); without it, the campaign's `incentive_code`.
    """
    ctx = trigger.context
    if incentive is None and ctx.incentive_code is not None:
        incentive = Incentive(ctx.incentive_code)
    shop_url = brand.url

    def link(url: str | None, fallback: str | None = None) -> str | None:
        target = url or fallback
        return links.track(target) if target and links.track else target

    def product(ref: ProductRef) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": ref.product_id,
            "variant_id": ref.variant_id,
            "sku": ref.sku,
            "title": ref.title,
            "category": ref.category,
            "brand": ref.brand,
            "price": _money(ref.price),
            "url": link(ref.url, shop_url),
            "image_url": ref.image_url,
        }
        if isinstance(ref, LineItem):
            data["quantity"] = ref.quantity
            total = ref.price.amount * ref.quantity if ref.price else None
            data["line_total"] = _money(ref.price, total)
        return data

    cart = order = shipment = recommendations = None
    if ctx.cart is not None:
        cart = {
            "items": [product(i) for i in ctx.cart.items],
            "item_count": sum(i.quantity for i in ctx.cart.items),
            "value": _money(ctx.cart.value),
            "url": link(ctx.cart.recovery_url, f"{shop_url}/cart" if shop_url else None),
        }
    if ctx.order is not None:
        order = {
            "id": ctx.order.order_id,
            "number": ctx.order.order_number or ctx.order.order_id,
            "items": [product(i) for i in ctx.order.items],
            "item_count": sum(i.quantity for i in ctx.order.items),
            "total": _money(ctx.order.total),
            "url": link(ctx.order.status_url, shop_url),
            "first_order": ctx.order.first_order,
        }
    if ctx.shipment is not None:
        s = ctx.shipment
        shipment = {
            "order_id": s.order_id,
            "status": s.status.value if s.status else None,
            "carrier": s.carrier,
            "tracking_number": s.tracking_number,
            "tracking_url": link(s.tracking_url),
            "estimated_delivery": _local_iso(s.estimated_delivery_at, contact.time_zone),
        }
    if ctx.recommendations is not None:
        recommendations = {
            "strategy": ctx.recommendations.strategy,
            "products": [product(p) for p in recommended],
            "url": link(shop_url),
        }
    return {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        # Not dataclasses.asdict: its deep copy costs a tenth of a whole render.
        "contact": {name: getattr(contact, name) for name in contact.__slots__},
        "shop": {
            "id": brand.shop_id,
            "name": brand.display_name,
            "url": link(shop_url),
            "support_email": brand.support_email,
            "support_phone": brand.support_phone,
            "from_email": brand.from_email,
            "from_name": brand.from_name or brand.display_name,
            "address": brand.address,
            "benefits": list(brand.benefits),
        },
        "links": {
            "unsubscribe": links.unsubscribe_url,
            "preferences": links.preferences_url,
            "survey": link(links.survey_url),
        },
        "campaign_id": trigger.campaign_id,
        "step_id": trigger.step_id,
        "template_id": trigger.template_id,
        "variant": trigger.variant,
        "transactional": trigger.transactional,
        "channels": [c.value for c in trigger.channels],
        "cart": cart,
        "order": order,
        "shipment": shipment,
        "product": product(ctx.product) if ctx.product else None,
        "products": [product(p) for p in ctx.products],
        "recommendations": recommendations,
        "segment_id": ctx.segment_id,
        "occasion": ctx.occasion,
        "incentive_code": None if incentive is None else incentive.code,
        "incentive": None
        if incentive is None
        else {"code": incentive.code, "percent": _percent(incentive.percent)},
    }


def _percent(value: Decimal | None) -> str | None:
    """As copy prints it: 20 as "20", 12.50 as "12.5"."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def _money(money: Money | None, amount: Any = None) -> dict[str, str] | None:
    if money is None:
        return None
    return {"amount": str(money.amount if amount is None else amount), "currency": money.currency}


def _local_iso(moment: datetime | None, time_zone: str | None) -> str | None:
    """In the customer's time zone when known, so "arrives Tuesday" is their Tuesday."""
    if moment is None:
        return None
    if time_zone:
        with suppress(ZoneInfoNotFoundError, ValueError):
            moment = moment.astimezone(ZoneInfo(time_zone))
    return moment.isoformat()
