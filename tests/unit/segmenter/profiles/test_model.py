"""The stored form of a profile: msgpack that round-trips, with its format always written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec
import pytest

from services.segmenter.profiles.model import FORMAT, Profile, decode, encode
from tests.support import segmenter_events as ev
from tests.support.segmenter_events import at
from tests.unit.segmenter.profiles.builders import facts, run


def test_a_profile_round_trips_through_its_encoding() -> None:
    profile = run(
        ev.customer_created(email_consent=True, birthday=date(1990, 4, 2)),
        ev.order_placed(total="19.99", at=at(1)),
        ev.order_placed(order_id="o2", total="5.00", currency="USD", at=at(9)),
        ev.order_refunded(amount="0.99", at=at(2)),
        ev.order_cancelled(order_id="o7", at=at(2)),
        ev.message_opened(at=at(3)),
        ev.survey_answered(at=at(4)),
    )
    decoded = decode(encode(profile))
    assert decoded == profile
    assert decoded.orders[0].refunded == Decimal("0.99")
    assert facts(decoded) == facts(profile)


def test_the_format_is_written_even_though_defaults_are_left_out() -> None:
    raw = encode(Profile(shop_id="s1"))
    assert msgspec.msgpack.decode(raw) == {"v": FORMAT, "shop_id": "s1"}


def test_a_profile_of_another_format_is_refused() -> None:
    raw = msgspec.msgpack.encode({"v": FORMAT + 1, "shop_id": "s1"})
    with pytest.raises(msgspec.ValidationError, match=r"\$\.v"):
        decode(raw)
