"""`nudge tail --from`: the words, moments and ages it takes, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.analyst.errors import BadOption
from services.analyst.start import StartPosition, parse_start

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_words() -> None:
    assert parse_start("beginning", NOW) == StartPosition("beginning")
    assert parse_start("latest", NOW) == StartPosition("latest")
    assert parse_start(" Beginning ", NOW).for_tail() == "beginning"
    assert parse_start("latest", NOW).for_tail() == "latest"


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("30s", timedelta(seconds=30)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
    ],
)
def test_ages_count_back_from_now(text: str, ago: timedelta) -> None:
    assert parse_start(text, NOW) == StartPosition("time", NOW - ago)


def test_moments_keep_their_offset_and_default_to_utc() -> None:
    paris = parse_start("2026-11-23T10:15:00+01:00", NOW)
    assert paris.at == datetime(2026, 11, 23, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert parse_start("2026-11-23T10:15:00Z", NOW).for_tail() == datetime(
        2026, 11, 23, 10, 15, tzinfo=UTC
    )
    assert parse_start("2026-11-23", NOW).at == datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["yesterday", "15", "15 m", "-2h", "2026-13-01", "", "1y", "999999999w", "1969-12-31"]
)
def test_refusals_name_the_option(text: str) -> None:
    with pytest.raises(BadOption) as caught:
        parse_start(text, NOW)
    assert caught.value.option == "--from"
    assert repr(text) in str(caught.value)
