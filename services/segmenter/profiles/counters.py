"""The profile's bounded counters: tallies (categories, brands) and activity per type and day.

Pure: each function returns a new dict and leaves the one passed in as it was (profiles are
values; see `apply`). A tally counts and remembers the last time; past MAX_TALLIES entries
the least recently seen goes. Activity counts events per type and UTC day number; days more
than MAX_ACTIVITY_DAYS before the profile's newest day are dropped, so that "more than N times
in the last D days" can be answered for any D up to MAX_ACTIVITY_DAYS.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.segmenter.profiles.model import MAX_ACTIVITY_DAYS, MAX_TALLIES, Tally

DAY_S = 86_400

Activity = dict[str, dict[int, int]]


def day_of(at: float) -> int:
    """The UTC day number of a unix time (days since 1970-01-01)."""
    return int(at // DAY_S)


def _least_recent(tallies: dict[str, Tally]) -> str:
    return min(tallies, key=lambda name: (tallies[name].last_at, name))


def _bounded(tallies: dict[str, Tally]) -> dict[str, Tally]:
    while len(tallies) > MAX_TALLIES:
        del tallies[_least_recent(tallies)]
    return tallies


def tally(tallies: dict[str, Tally], names: Iterable[str], at: float) -> dict[str, Tally]:
    """`tallies` with each name counted once more, seen at `at` (a late event does not move
    `last_at` back)."""
    result = dict(tallies)
    for name in names:
        known = result.get(name)
        if known is None:
            result[name] = Tally(count=1, last_at=at)
        else:
            result[name] = Tally(count=known.count + 1, last_at=max(known.last_at, at))
    return _bounded(result)


def join_tallies(mine: dict[str, Tally], theirs: dict[str, Tally]) -> dict[str, Tally]:
    """Counts added up, the later `last_at` kept, bounded again."""
    if not theirs:
        return mine
    result = dict(mine)
    for name, other in theirs.items():
        known = result.get(name)
        result[name] = (
            other
            if known is None
            else Tally(count=known.count + other.count, last_at=max(known.last_at, other.last_at))
        )
    return _bounded(result)


def newest_day(activity: Activity) -> int | None:
    days = [max(per_day) for per_day in activity.values() if per_day]
    return max(days) if days else None


def _pruned(activity: Activity, newest: int) -> Activity:
    """Every type's days within MAX_ACTIVITY_DAYS of `newest`; types left empty go."""
    oldest = newest - MAX_ACTIVITY_DAYS
    result: Activity = {}
    for kind, per_day in activity.items():
        if min(per_day) > oldest:
            result[kind] = per_day
            continue
        kept = {day: count for day, count in per_day.items() if day > oldest}
        if kept:
            result[kind] = kept
    return result


def count_activity(activity: Activity, kind: str, at: float) -> Activity:
    """`activity` with one more event of `kind` on the UTC day of `at`. An event older than
    the kept window is not counted (it would be dropped at once). The window is looked at only
    when a type gets a new day (at most once a day per type): most events add to a count."""
    day = day_of(at)
    known = activity.get(kind)
    result = dict(activity)
    if known is not None and day in known:
        per_day = dict(known)
        per_day[day] += 1
        result[kind] = per_day
        return result
    newest = newest_day(activity)
    if newest is not None and day <= newest - MAX_ACTIVITY_DAYS:
        return activity
    per_day = dict(known) if known is not None else {}
    per_day[day] = 1
    result[kind] = per_day
    if newest is not None and day > newest:
        return _pruned(result, day)
    return result


def join_activity(mine: Activity, theirs: Activity) -> Activity:
    """Both counts added up per type and day, then pruned to the window of the newest day."""
    if not theirs:
        return mine
    result = dict(mine)
    for kind, other in theirs.items():
        per_day = dict(result.get(kind, {}))
        for day, count in other.items():
            per_day[day] = per_day.get(day, 0) + count
        result[kind] = per_day
    newest = newest_day(result)
    return _pruned(result, newest) if newest is not None else result
