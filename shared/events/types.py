"""Value types shared by every event: ids, money, phone numbers, time zones.

Ids are strings because shop platforms use 64-bit ids (Shopify's exceed 2^53, which
JSON numbers cannot carry exactly). Money is a decimal with its currency, never a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)


class Model(BaseModel):
    """Base for every event part: immutable, unknown fields rejected, so typos surface."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _id_from_number(value: object) -> object:
    """Accept integer ids from platforms that send numbers, and keep them exact as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


Id = Annotated[
    str,
    BeforeValidator(_id_from_number),
    StringConstraints(min_length=1, max_length=255, strip_whitespace=True),
]
"""An opaque identifier from the shop's platform (customer, product, order...)."""

ShopId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
"""Nudge's own shop identifier: lower-case slug, safe in record keys and URLs."""

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""ISO 4217 alphabetic code."""

Amount = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=18, decimal_places=6)]


class Money(Model):
    """An amount in a currency. Serialised as a decimal string, never a float."""

    amount: Amount
    currency: CurrencyCode


def _normalise_phone(value: str) -> str:
    """Return the number in E.164 or raise: we only ever store dialable numbers."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("phone must be in E.164 form, e.g. +14155550123") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("phone is not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


PhoneE164 = Annotated[str, AfterValidator(_normalise_phone)]


def _check_time_zone(value: str) -> str:
    if len(value) > 64:
        raise ValueError("time_zone is too long to be an IANA zone name")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "America" (a folder)
        raise ValueError("time_zone must be an IANA zone name, e.g. Europe/Amsterdam") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]

Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
"""BCP 47 language tag such as `en`, `en-US`, `pt-BR`."""

HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]
"""An absolute http(s) link, kept as text so that it round-trips unchanged."""
