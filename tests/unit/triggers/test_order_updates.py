"""Order confirmation, shipping updates, delivery: transactional, at once, once per fact."""

from __future__ import annotations

from tests.unit.triggers.builders import (
    T0,
    Customer,
    at,
    delivered,
    expires,
    fires,
    order_placed,
    shipment_created,
    shipment_status,
    subscription,
)


def test_an_order_is_confirmed_at_once_even_without_marketing_consent() -> None:
    customer = Customer()
    (fire,) = fires(customer.send(order_placed(T0)), "order_confirmation")
    assert fire.data.transactional
    assert fire.data.due_at == T0
    assert fire.data.context.order is not None
    assert fire.data.context.order.first_order
    assert fire.data.template_id == "order/confirmation"
    assert fire.customer_id == "c1" and fire.shop_id == "acme"


def test_opting_out_does_not_stop_transactional_messages() -> None:
    customer = Customer()
    customer.send(subscription(T0, "email", False))
    assert len(fires(customer.send(order_placed(at(minutes=1))), "order_confirmation")) == 1


def test_only_the_first_order_is_congratulated() -> None:
    customer = Customer()
    customer.send(order_placed(T0, "o-1"))
    (second,) = fires(customer.send(order_placed(at(days=1), "o-2")), "order_confirmation")
    assert second.data.context.order is not None
    assert not second.data.context.order.first_order


def test_the_same_order_reported_twice_is_confirmed_once() -> None:
    customer = Customer()
    customer.send(order_placed(T0, "o-1"))
    assert fires(customer.send(order_placed(at(minutes=1), "o-1")), "order_confirmation") == []


def test_shipments_are_announced_at_their_milestones_only() -> None:
    customer = Customer()
    customer.send(order_placed(T0))
    (created,) = fires(customer.send(shipment_created(at(hours=5))), "shipping_update")
    assert created.data.context.shipment is not None
    assert created.data.context.shipment.carrier == "PostNL"
    assert fires(customer.send(shipment_status(at(hours=6), "in_transit")), "shipping_update") == []
    (out,) = fires(customer.send(shipment_status(at(hours=7), "out_for_delivery")))
    assert out.data.campaign_id == "shipping_update"
    assert out.data.context.shipment is not None
    assert out.data.context.shipment.status == "out_for_delivery"
    again = customer.send(shipment_status(at(hours=8), "out_for_delivery"))
    assert fires(again, "shipping_update") == []  # the carrier repeating itself
    (notice,) = fires(customer.send(delivered(at(hours=9))), "delivery_notice")
    assert notice.data.journey_id == "shipment:s-1:delivered"
    assert notice.data.context.order is not None


def test_a_confirmation_discovered_days_late_is_expired() -> None:
    customer = Customer()
    actions = customer.send(order_placed(T0), now=at(days=2))
    assert fires(actions, "order_confirmation") == []
    assert len(expires(actions, "order_confirmation")) == 1
