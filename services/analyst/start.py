"""`nudge tail --from`: where reading starts, as a user writes it.

`beginning`, `latest`, a moment (ISO 8601; without an offset it is UTC) or an age (`15m`,
`2h`, `1d`, `1h30m`: that long before now). A moment becomes offsets through the broker's
offsets-for-times lookup: the first record whose timestamp is at or after it, per partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from services.analyst.errors import BadOption

OPTION: Final = "--from"
_AGE = re.compile(r"(?:\d{1,9}[smhdw])+")
_AGE_PART = re.compile(r"(\d+)([smhdw])")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
HELP: Final = (
    "beginning, latest, a time (ISO 8601, UTC when it has no offset) or an age such as 15m, 2h, 1d"
)


@dataclass(frozen=True)
class StartPosition:
    """`kind` says where; `at` is the moment for `time` (always timezone-aware)."""

    kind: Literal["beginning", "latest", "time"]
    at: datetime | None = None

    def for_tail(self) -> Literal["beginning", "latest"] | datetime:
        """The spelling shared.kafka.tail takes."""
        if self.kind == "time":
            assert self.at is not None
            return self.at
        return self.kind


def parse_start(text: str, now: datetime) -> StartPosition:
    """Read a `--from` value; `now` (aware) anchors ages. Raises BadOption naming `--from`."""
    value = text.strip()
    if value.lower() in ("beginning", "earliest"):
        return StartPosition("beginning")
    if value.lower() in ("latest", "end"):
        return StartPosition("latest")
    if _AGE.fullmatch(value):
        try:
            age = sum(
                (timedelta(**{_UNITS[unit]: int(n)}) for n, unit in _AGE_PART.findall(value)),
                timedelta(0),
            )
            at = now - age
        except OverflowError:
            raise BadOption(OPTION, f"{text!r} reaches back before 1970") from None
        return StartPosition("time", _not_before_epoch(at, text))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadOption(OPTION, f"expected {HELP}; got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return StartPosition("time", _not_before_epoch(moment, text))


def _not_before_epoch(at: datetime, text: str) -> datetime:
    if at < _EPOCH:
        raise BadOption(OPTION, f"{text!r} is before 1970, where Kafka's timestamps begin")
    return at
