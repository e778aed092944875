"""Simulated customers: reproducible from (seed, index), valid contact data on reserved
ground, and the mix's shares honoured over a large population."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from statistics import fmean

import pytest
from pydantic import TypeAdapter

from services.simulator.population import (
    AREA_CODES,
    PHONE_CAPACITY,
    Customer,
    Mix,
    customer,
    fictional_phone,
    population,
)
from shared.events.types import Email, Locale, PhoneE164, TimeZoneName

SHOPS = ("sim-shopify", "sim-segment", "sim-native")


def test_the_same_seed_gives_the_same_customers() -> None:
    assert population(7, SHOPS, 50) == population(7, SHOPS, 50)
    assert population(7, SHOPS, 50) != population(8, SHOPS, 50)


def test_customer_k_is_the_same_in_a_population_of_10_or_1000() -> None:
    small = population(7, SHOPS, 10)
    large = population(7, SHOPS, 1000)
    assert large[:10] == small
    assert customer(7, SHOPS, 9) == small[9]


def test_customers_are_spread_over_the_shops_in_turn() -> None:
    people = population(7, SHOPS, 6)
    assert [c.shop for c in people] == [*SHOPS, *SHOPS]


def test_contact_data_is_valid_for_ingest_and_unique() -> None:
    people = population(3, SHOPS, 2000)
    emails = TypeAdapter(Email)
    phones = TypeAdapter(PhoneE164)
    for person in people:
        assert emails.validate_python(person.email) == person.email
        assert person.email.endswith("@sim.example.com")
        if person.phone is not None:
            assert phones.validate_python(person.phone) == person.phone
        TypeAdapter(Locale).validate_python(person.locale)
        TypeAdapter(TimeZoneName).validate_python(person.time_zone)
        assert person.sms_consent is False or person.phone is not None
    assert len({p.email for p in people}) == len(people)
    numbers = [p.phone for p in people if p.phone is not None]
    assert len(set(numbers)) == len(numbers)
    assert len({p.customer_id for p in people}) == len(people)


@pytest.mark.parametrize(
    "slot",
    [0, 99, 100, len(AREA_CODES) * 100 - 1, len(AREA_CODES) * 100, PHONE_CAPACITY - 1],
)
def test_fictional_numbers_are_valid_up_to_the_capacity(slot: int) -> None:
    number = fictional_phone(slot)
    assert number is not None
    assert TypeAdapter(PhoneE164).validate_python(number) == number
    assert fictional_phone(PHONE_CAPACITY) is None
    assert PHONE_CAPACITY >= 100_000


def test_seeds_and_indexes_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        customer(100_000, SHOPS, 0)
    with pytest.raises(ValueError, match="index"):
        customer(1, SHOPS, -1)


def test_a_mix_out_of_range_names_its_field() -> None:
    with pytest.raises(ValueError, match=r"mix\.abandon_probability"):
        Mix(abandon_probability=1.5)
    with pytest.raises(ValueError, match=r"mix\.sessions_per_week"):
        Mix(sessions_per_week=0)


def _share(people: list[Customer], test: Callable[[Customer], bool]) -> float:
    return fmean(1.0 if test(p) else 0.0 for p in people)


def test_the_mix_is_honoured_over_a_large_population() -> None:
    mix = Mix()
    people = population(21, SHOPS, 6000, mix)
    with_phone = [p for p in people if p.phone is not None]
    assert _share(people, lambda p: p.email_consent) == pytest.approx(
        mix.email_consent_share, abs=0.03
    )
    assert len(with_phone) / len(people) == pytest.approx(mix.phone_share, abs=0.03)
    assert _share(with_phone, lambda p: p.sms_consent) == pytest.approx(
        mix.sms_consent_share, abs=0.03
    )
    assert _share(people, lambda p: p.joins_after is None) == pytest.approx(
        mix.existing_share, abs=0.03
    )
    assert _share(people, lambda p: p.repeat_interval is None) == pytest.approx(
        mix.one_time_buyer_share, abs=0.03
    )
    assert _share(people, lambda p: p.quiet_after is not None) == pytest.approx(
        mix.quiet_share, abs=0.03
    )
    assert _share(people, lambda p: p.bounces) == pytest.approx(mix.bouncing_share, abs=0.01)
    for name in (
        "cart_add_probability",
        "checkout_probability",
        "abandon_probability",
        "stop_reply_probability",
        "survey_answer_probability",
        "click_probability",
    ):
        mean = fmean(getattr(p, name) for p in people)
        assert mean == pytest.approx(getattr(mix, name), abs=0.02), name
    assert fmean(p.sessions_per_week for p in people) == pytest.approx(
        mix.sessions_per_week, rel=0.05
    )
    intervals = [p.repeat_interval.days for p in people if p.repeat_interval is not None]
    assert fmean(intervals) == pytest.approx(mix.repeat_interval_days, rel=0.1)
    assert len({p.time_zone for p in people}) >= 8


def test_another_mix_changes_the_customers_it_governs() -> None:
    eager = dataclasses.replace(Mix(), email_consent_share=1.0, phone_share=0.0)
    people = population(21, SHOPS, 200, eager)
    assert all(p.email_consent and p.phone is None and not p.sms_consent for p in people)
