"""Birthdays and first-purchase anniversaries: on the day, at 10:00 in the customer's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.triggers.campaigns import parse_campaigns
from services.triggers.campaigns.loader import _default_source
from services.triggers.journeys.calendar import local_instant, occurrence
from tests.unit.triggers.builders import (
    Customer,
    customer_created,
    customer_updated,
    entries,
    exits,
    expires,
    fires,
    open_journeys,
    order_placed,
    subscription,
)

BIRTHDAY = "birthday"
ANNIVERSARY = "first_purchase_anniversary"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def born(day: date, zone: str | None, signed_up: datetime) -> Customer:
    customer = Customer()
    customer.send(customer_created(signed_up, birthday=day, time_zone=zone))
    return customer


@pytest.mark.parametrize(
    ("zone", "birthday", "expected"),
    [
        # Amsterdam: CET (+1) in winter, CEST (+2) in summer.
        ("Europe/Amsterdam", date(1990, 1, 15), utc(2027, 1, 15, 9)),
        ("Europe/Amsterdam", date(1990, 7, 15), utc(2027, 7, 15, 8)),
        # New York: EST (-5) before the switch on 14 March 2027, EDT (-4) from that day.
        ("America/New_York", date(1990, 3, 13), utc(2027, 3, 13, 15)),
        ("America/New_York", date(1990, 3, 14), utc(2027, 3, 14, 14)),
        # Kolkata has no daylight saving: always +05:30.
        ("Asia/Kolkata", date(1990, 3, 14), utc(2027, 3, 14, 4, 30)),
    ],
)
def test_the_birthday_message_is_due_at_10_local(
    zone: str, birthday: date, expected: datetime
) -> None:
    customer = born(birthday, zone, utc(2027, 1, 1))
    customer.run_until(utc(2028, 1, 1))
    assert customer.fire_times(BIRTHDAY) == [expected]
    (_, fire) = customer.fired(BIRTHDAY)[0]
    assert fire.data.journey_id == "birthday-2027"
    assert fire.data.context.occasion == "birthday"
    assert fire.data.context.incentive_code == "BDAY20"


def test_a_configured_time_inside_the_spring_forward_gap_is_sent_when_the_clock_resumes() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    # 28 March 2027: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    assert local_instant(date(2027, 3, 28), time(2, 30), amsterdam) == utc(2027, 3, 28, 1)
    text = "extends: default\ncampaigns:\n  birthday:\n    entry: {occasion: birthday, at: 02:30}\n"
    campaigns = parse_campaigns(text, "acme.yaml", base=_default_source())
    customer = Customer(campaigns)
    customer.send(
        customer_created(utc(2027, 1, 1), birthday=date(1990, 3, 28), time_zone="Europe/Amsterdam")
    )
    customer.run_until(utc(2028, 1, 1))
    assert customer.fire_times(BIRTHDAY) == [utc(2027, 3, 28, 1)]  # 03:00 CEST


def test_a_time_that_happens_twice_when_the_clocks_go_back_is_sent_the_first_time() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    # 31 October 2027: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    assert local_instant(date(2027, 10, 31), time(2, 30), amsterdam) == utc(2027, 10, 31, 0, 30)


def test_feb_29_birthdays_are_celebrated_on_feb_28_outside_leap_years() -> None:
    assert occurrence(2, 29, 2027) == date(2027, 2, 28)
    assert occurrence(2, 29, 2028) == date(2028, 2, 29)
    customer = born(date(2000, 2, 29), "UTC", utc(2027, 1, 1))
    customer.run_until(utc(2029, 1, 1))
    assert customer.fire_times(BIRTHDAY) == [utc(2027, 2, 28, 10), utc(2028, 2, 29, 10)]


def test_every_year_a_new_journey_is_opened_after_the_last_one_fired() -> None:
    customer = born(date(1990, 5, 3), "UTC", utc(2027, 1, 1))
    customer.run_until(utc(2029, 12, 31))
    journeys = [fire.data.journey_id for _, fire in customer.fired(BIRTHDAY)]
    assert journeys == ["birthday-2027", "birthday-2028", "birthday-2029"]
    assert open_journeys(customer.state, BIRTHDAY) == ["birthday-2030"]


def test_without_a_time_zone_the_shops_default_zone_is_used() -> None:
    text = "extends: default\nsettings:\n  default_time_zone: America/New_York\n"
    campaigns = parse_campaigns(text, "acme.yaml", base=_default_source())
    customer = Customer(campaigns)
    customer.send(customer_created(utc(2027, 1, 1), birthday=date(1990, 7, 1)))
    customer.run_until(utc(2028, 1, 1))
    assert customer.fire_times(BIRTHDAY) == [utc(2027, 7, 1, 14)]


def test_a_birthday_learned_too_late_on_the_day_waits_for_next_year() -> None:
    customer = born(date(1990, 5, 3), "UTC", utc(2027, 5, 3, 23))
    assert open_journeys(customer.state, BIRTHDAY) == ["birthday-2028"]
    same_day = born(date(1990, 5, 3), "UTC", utc(2027, 5, 3, 15))
    assert [f.data.journey_id for f in fires([a for _, a in same_day.log], BIRTHDAY)] == [
        "birthday-2027"
    ]


def test_no_valid_date_no_journey() -> None:
    nobody = Customer()
    nobody.send(customer_created(utc(2027, 1, 1)))
    assert open_journeys(nobody.state, BIRTHDAY) == []
    unborn = born(date(2030, 1, 1), "UTC", utc(2027, 1, 1))
    assert open_journeys(unborn.state, BIRTHDAY) == []


def test_a_new_time_zone_moves_the_pending_birthday() -> None:
    customer = born(date(1990, 7, 15), "UTC", utc(2027, 1, 1))
    customer.send(customer_updated(utc(2027, 2, 1), time_zone="Asia/Tokyo"))
    customer.run_until(utc(2028, 1, 1))
    assert customer.fire_times(BIRTHDAY) == [utc(2027, 7, 15, 1)]


def test_a_late_timer_beyond_the_lateness_bound_expires_and_next_year_is_planned() -> None:
    customer = born(date(1990, 5, 3), "UTC", utc(2027, 1, 1))
    actions = customer.tick(utc(2027, 5, 4, 9))  # 23 hours late, the bound is 12
    assert [e.data.journey_id for e in expires(actions, BIRTHDAY)] == ["birthday-2027"]
    assert open_journeys(customer.state, BIRTHDAY) == ["birthday-2028"]


def test_no_consent_no_birthday_and_opting_out_exits() -> None:
    customer = Customer()
    customer.send(customer_created(utc(2027, 1, 1), consent=None, birthday=date(1990, 5, 3)))
    assert open_journeys(customer.state, BIRTHDAY) == []
    assert entries(customer.send(subscription(utc(2027, 1, 2), "email", True)), BIRTHDAY) == [
        "birthday-2027"
    ]
    assert exits(customer.send(subscription(utc(2027, 1, 3), "email", False)), BIRTHDAY) == [
        "opted_out"
    ]


def test_the_anniversary_of_the_first_purchase() -> None:
    customer = Customer()
    customer.send(customer_created(utc(2027, 1, 1), time_zone="Europe/Amsterdam"))
    customer.send(order_placed(utc(2027, 1, 10, 23, 30), "o-1"))  # 11 January in Amsterdam
    customer.send(order_placed(utc(2027, 6, 1), "o-2"))
    customer.run_until(utc(2029, 1, 1))
    assert customer.fire_times(ANNIVERSARY) == [utc(2028, 1, 11, 9)]
    (_, fire) = customer.fired(ANNIVERSARY)[0]
    assert fire.data.context.occasion == "first_purchase_anniversary"
