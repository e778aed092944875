"""A send resumed after its sender died (same message id) is skipped when the address was
suppressed or consent withdrawn meanwhile, and goes out again otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest

from services.dispatch.message_log import MessageRow
from services.dispatch.policy import ChannelState, Contact
from services.dispatch.sender import Delivery, Job, Outlet, Sender
from services.dispatch.settings import DispatchSettings
from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.templates.store import TemplateStore
from shared.clock import make_clock
from shared.events.shop import Channel
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.triggers import abandoned_cart_fired

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def sender() -> Sender:
    return Sender(
        None,  # type: ignore[arg-type]
        templates=TemplateStore.load(None),
        shops=ShopProfiles.load(None, "https://{shop_id}.example"),
        delivery=cast(Delivery, None),
        statuses=cast(Outlet, None),
        settings=DispatchSettings(),
        link_keys=TEST_LINK_KEYS,
        clock=make_clock(),
        circuits={},
    )


def interrupted(transactional: bool = False) -> MessageRow:
    fired = abandoned_cart_fired("acme", "c1", "reminder-1")
    trigger = fired.data.model_copy(update={"transactional": transactional})
    return MessageRow(
        trigger_id=fired.id,
        shop_id="acme",
        customer_id="c1",
        journey_id="j-1",
        attempts=1,
        trigger=trigger,
        state="sending",
        channel=Channel.EMAIL,
        message_id="m-1",
        address="ada@example.com",
        created_at=NOW,
    )


@pytest.mark.parametrize(
    ("state", "transactional", "reason"),
    [
        (ChannelState("ada@example.com", True, undeliverable="hard bounce"), True, "suppressed"),
        (
            ChannelState("ada@example.com", True, marketing_suppressed="complaint"),
            False,
            "suppressed",
        ),
        (ChannelState("ada@example.com", False, withdrawn=True), False, "opted_out"),
    ],
)
def test_what_changed_since_the_first_try_stops_the_resend(
    state: ChannelState, transactional: bool, reason: str
) -> None:
    outcome = sender()._resume(interrupted(transactional), Contact(email=state), NOW)
    assert isinstance(outcome, tuple)
    _row, _settle, update = outcome
    assert update.status == "skipped"
    assert update.reason is not None and update.reason.startswith(reason)
    assert "after an interrupted send" in update.reason


def test_a_complaint_does_not_stop_a_transactional_resend() -> None:
    """Past the checks, the resend is rendered again: this trigger's empty context cannot
    render, which is what shows it got that far (a suppression would have stopped it)."""
    state = ChannelState("ada@example.com", None, marketing_suppressed="complaint")
    outcome = sender()._resume(interrupted(True), Contact(email=state), NOW)
    assert not isinstance(outcome, Job)
    _row, _settle, update = outcome
    assert update.reason is not None and update.reason.startswith("render_error")
