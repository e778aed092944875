"""The sender shows the incentive chosen for the customer's value: a win-back message renders
the code the shop's profile maps to the customer's tier, the campaign's code otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from services.dispatch.message_log import MessageRow
from services.dispatch.policy import ChannelState, Contact, Send
from services.dispatch.sender import Delivery, Outlet, Sender
from services.dispatch.settings import DispatchSettings
from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.templates.store import RenderedEmail, RenderedSms, TemplateStore
from shared.clock import make_clock
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired
from tests.support.dispatch_process import TEST_LINK_KEYS

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
SHOP_FILE = """
incentives:
  win_back:
    low: {code: COMEBACK10, percent: 10}
    high: {code: COMEBACK20, percent: 20}
"""


def sender(shops_dir: Path) -> Sender:
    (shops_dir / "acme.yaml").write_text(SHOP_FILE)
    return Sender(
        None,  # type: ignore[arg-type]
        templates=TemplateStore.load(None),
        shops=ShopProfiles.load(shops_dir, "https://{shop_id}.example"),
        delivery=cast(Delivery, None),
        statuses=cast(Outlet, None),
        settings=DispatchSettings(),
        link_keys=TEST_LINK_KEYS,
        clock=make_clock(),
        circuits={},
    )


def win_back(shop: str, step: str = "follow-up") -> MessageRow:
    fired = TriggerFired.model_validate(
        {
            "campaign_id": "win_back",
            "journey_id": "j-1",
            "step_id": step,
            "step_index": 1,
            "transactional": False,
            "channels": ["email", "sms"],
            "template_id": f"win-back/{step}",
            "due_at": NOW,
            "context": {"segment_id": "lapsed", "incentive_code": "COMEBACK15"},
        }
    )
    return MessageRow(
        trigger_id="t-1",
        shop_id=shop,
        customer_id="c1",
        journey_id="j-1",
        attempts=0,
        trigger=fired,
        state="queued",
        channel=None,
        message_id=None,
        address=None,
        created_at=NOW,
    )


def contact(score: int | None) -> Contact:
    return Contact(
        email=ChannelState("ada@example.com", True),
        sms=ChannelState("+31612345678", True),
        first_name="Ada",
        monetary_score=score,
    )


@pytest.mark.parametrize(
    ("score", "shown"),
    [
        (1, "COMEBACK10 (10% off)"),
        (3, "COMEBACK15 is"),
        (5, "COMEBACK20 (20% off)"),
        (None, "COMEBACK15 is"),
    ],
)
def test_the_win_back_sms_shows_the_code_for_the_customers_value(
    tmp_path: Path, score: int | None, shown: str
) -> None:
    job = sender(tmp_path)._render(
        win_back("acme"), contact(score), Send(Channel.SMS, "+31612345678"), NOW
    )
    assert isinstance(job.rendered, RenderedSms)
    assert shown in job.rendered.body


def test_a_shop_without_a_mapping_shows_the_campaigns_code(tmp_path: Path) -> None:
    job = sender(tmp_path)._render(
        win_back("other", "offer"), contact(5), Send(Channel.EMAIL, "ada@example.com"), NOW
    )
    assert isinstance(job.rendered, RenderedEmail)
    assert "COMEBACK15" in job.rendered.text and "COMEBACK20" not in job.rendered.text
