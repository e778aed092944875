"""Customer details shared by the Shopify and Segment adapters.

Identity-bearing fields are strict (a malformed email is refused, naming the field), while
enrichments (phone, locale, time zone, birthday) are dropped when malformed: a typo in a
phone number must not lose the sign-up it came with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from pydantic import TypeAdapter

from services.ingest.adapters._build import build, valid_or_none
from shared.events.shop import Consent, CustomerData
from shared.events.types import Locale, PhoneE164, TimeZoneName

C = TypeVar("C", bound=CustomerData)

_PHONE: TypeAdapter[str] = TypeAdapter(PhoneE164)
_LOCALE: TypeAdapter[str] = TypeAdapter(Locale)
_TIME_ZONE: TypeAdapter[str] = TypeAdapter(TimeZoneName)
_DATE: TypeAdapter[date] = TypeAdapter(date)

MAX_TAGS = 100
MAX_TAG_LENGTH = 100


@dataclass(frozen=True, slots=True)
class CustomerFields:
    """Raw customer values and the payload path each came from (for error messages)."""

    paths: dict[str, str]
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    birthday: str | None = None
    consent: Consent = field(default_factory=Consent)
    tags: tuple[str, ...] = ()


def _birthday(value: str | None) -> date | None:
    """A date, also when sent as a midnight timestamp ("1990-05-20T00:00:00Z")."""
    if value is not None and len(value) > 10 and value[10] == "T":
        value = value[:10]
    return valid_or_none(_DATE, value)


def _tags(tags: tuple[str, ...]) -> list[str]:
    """Tags that fit the model; an over-long tag is dropped rather than the whole customer."""
    kept = [tag for tag in tags if len(tag) <= MAX_TAG_LENGTH]
    return list(dict.fromkeys(kept))[:MAX_TAGS]


def customer_data(model: type[C], raw: CustomerFields) -> C:
    return build(
        model,
        raw.paths,
        email=raw.email,
        phone=valid_or_none(_PHONE, raw.phone),
        first_name=raw.first_name,
        last_name=raw.last_name,
        locale=valid_or_none(_LOCALE, raw.locale and raw.locale.replace("_", "-")),
        time_zone=valid_or_none(_TIME_ZONE, raw.time_zone),
        birthday=_birthday(raw.birthday),
        consent=raw.consent,
        tags=_tags(raw.tags),
    )
