"""Value types shared by every event: ids, times, money, phone numbers, time zones.

Ids are strings because shop platforms use 64-bit ids (Shopify's exceed 2^53, which
JSON numbers cannot carry exactly). Money is a decimal with its currency, never a float, in a
declared range. Times carry an offset, are kept in UTC, and lie in a declared range.

Emails and phone numbers get the libraries' full check, except in records parsed with the
`VALIDATED_UPSTREAM` context: records of Nudge's own topics, whose writer already ran that
check and stored the normalised form, so only the shape of that form is checked again.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

_UPSTREAM_KEY: Final = "nudge.validated_upstream"
VALIDATED_UPSTREAM: Final[Mapping[str, object]] = MappingProxyType({_UPSTREAM_KEY: True})
"""Validation context (`validate_json(raw, context=VALIDATED_UPSTREAM)`) for records of Nudge's
own topics: the service that wrote them (ingest for `shop.events.v1`) already ran the full
checks, so emails and phone numbers get a shape check of their normalised form instead.

Structure and every other rule are still validated, so a poison record is still refused with
its reason and parked (invariant 4). Never for input from outside: that needs the full check.
"""


def _validated_upstream(info: ValidationInfo) -> bool:
    """Whether this validation runs with the `VALIDATED_UPSTREAM` context."""
    context = info.context
    return context is VALIDATED_UPSTREAM or (
        isinstance(context, Mapping) and context.get(_UPSTREAM_KEY) is True
    )


class Model(BaseModel):
    """Base for every event part: immutable, unknown fields rejected, so typos surface."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    # No other `str_*` rule here (length, case): `Id`'s and `Email`'s shortcuts skip them.


def _id_from_number(value: object) -> object:
    """Accept integer ids from platforms that send numbers, and keep them exact as text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


_ASCII_WHITESPACE = " \t\n\x0b\x0c\r"
"""What pydantic-core strips from ASCII text (Python's `str.strip()` also strips \\x1c-\\x1f)."""
_SHORT_INT = 10**250
"""Integers below this in magnitude have at most 251 characters."""


def _common_id(value: Any, full: ValidatorFunctionWrapHandler) -> Any:
    """Settle the common ids (ASCII text, integers) in one call; `full` checks anything else.

    `full` is the complete rule below (number to text, strip, 1 to 255 characters), so every
    refusal, and every unusual input (non-ASCII text, str subclasses, bytes), gets the very same
    handling and error as without this shortcut. For the inputs taken here it returns what
    `full` would: text stripped of whitespace; an integer as its exact decimal text. Length is
    checked before stripping so that the shortcut also holds where whitespace is not stripped
    first. ASCII only: pydantic-core refuses text with lone surrogates, which never is ASCII.
    """
    if type(value) is str:
        if len(value) <= 255 and value.isascii():
            text = value.strip(_ASCII_WHITESPACE)
            if text:
                return text
    elif type(value) is int and -_SHORT_INT < value < _SHORT_INT:
        return str(value)
    return full(value)


Id = Annotated[
    str,
    BeforeValidator(_id_from_number),
    StringConstraints(min_length=1, max_length=255, strip_whitespace=True),
    WrapValidator(_common_id),
]
"""An opaque identifier from the shop's platform (customer, product, order...).

Validated once per id field of every event, hence `_common_id`: the constraints above, placed
after a Python validator, become four Python-level calls per id; the shortcut makes it one.
"""

ShopId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")]
"""Nudge's own shop identifier: lower-case slug, safe in record keys and URLs."""

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""ISO 4217 alphabetic code."""

EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(3000, 1, 1, tzinfo=UTC)
"""Times Nudge accepts lie in [EARLIEST_TIME, LATEST_TIME): far enough from the calendar's ends
that normalising an offset, or adding a campaign's delays, can never overflow."""
_TIME_RANGE = "from 1970-01-01T00:00:00Z up to (not including) 3000-01-01T00:00:00Z"


def _in_utc(value: datetime) -> datetime:
    """The time in UTC, or a ValueError (never an OverflowError) when it is out of range.

    `astimezone` overflows for the calendar's first and last days with an offset; that must be
    a refusal naming the field, not an exception that fails the request or the consumer.
    """
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"time is out of range: Nudge accepts times {_TIME_RANGE}") from None
    if not EARLIEST_TIME <= utc < LATEST_TIME:
        raise ValueError(f"time is out of range: Nudge accepts times {_TIME_RANGE}")
    return utc


Timestamp = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A moment with an offset (naive times are refused), normalised to UTC, in the range above."""

MONEY_MAX_DIGITS = 18
MONEY_DECIMAL_PLACES = 6
MONEY_RANGE = (
    f"a finite decimal of at most {MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES} digits before the "
    f"point and {MONEY_DECIMAL_PLACES} after"
)
"""The money Nudge accepts: every amount is checked against it where it enters."""
_MONEY_CONTEXT = decimal.Context(
    prec=MONEY_MAX_DIGITS + 20,  # exact for any sum of up to 10^20 amounts in range
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.Inexact],
)
_SMALLEST_UNIT = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)


def _canonical_amount(value: Decimal) -> Decimal:
    """The same amount with an exponent between -6 and 0: `1E+11` becomes `100000000000`,
    `1.50000000000` becomes `1.500000`. Exact: the digits dropped are zeros (the range check
    ran first), and later arithmetic never meets an exponent in the millions (`0E+1000000`)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: checked before
    if exponent > 0:
        return value.quantize(Decimal(1), context=_MONEY_CONTEXT)
    if exponent < -MONEY_DECIMAL_PLACES:
        return value.quantize(_SMALLEST_UNIT, context=_MONEY_CONTEXT)
    return value


Amount = Annotated[
    Decimal,
    Field(allow_inf_nan=False, max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES),
    AfterValidator(_canonical_amount),
]
"""Money's amount: MONEY_RANGE, in canonical form."""
_AMOUNT: TypeAdapter[Decimal] = TypeAdapter(Amount)


def check_amount(value: Decimal) -> Decimal:
    """`value` in canonical form when it is money Nudge accepts, else a ValueError saying why.

    For amounts read outside a model (adapters that sum refund transactions or line totals):
    checked before any arithmetic, with the very rule `Amount` applies.
    """
    _sign, digits, exponent = value.as_tuple()
    if (
        isinstance(exponent, int)
        and -MONEY_DECIMAL_PLACES <= exponent <= 0
        and len(digits) + exponent <= MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES
    ):
        return value  # in range and canonical already: what nearly every amount is
    try:
        return _AMOUNT.validate_python(value)
    except ValidationError as exc:
        reason = exc.errors(include_url=False, include_input=False)[0]["msg"]
        raise ValueError(f"{reason}; amounts must be {MONEY_RANGE}") from None


def add_amounts(values: Iterable[Decimal], start: Decimal = Decimal(0)) -> Decimal:
    """The exact sum of amounts that passed `check_amount`: never rounded, never overflowing.

    The sum may leave the range (many large amounts); storing it as Money checks it again.
    """
    with decimal.localcontext(_MONEY_CONTEXT):
        total = start
        for value in values:
            total += value
        return total


class Money(Model):
    """An amount in a currency. Serialised as a decimal string, never a float."""

    amount: Amount
    currency: CurrencyCode


@lru_cache(maxsize=4096)
def _normalise_phone(value: str) -> str:
    """Return the number in E.164 or raise: we only ever store dialable numbers.

    Remembered (refusals are not), as parsing a number is dear and customers' numbers recur.
    """
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("phone must be in E.164 form, e.g. +14155550123") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("phone is not a valid number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_E164_SHAPE = re.compile(r"\+[1-9][0-9]{5,18}")
"""A number as `_normalise_phone` writes it: `+`, then 6 to 19 digits (ASCII only).

Wider than E.164's 15 digits: phonenumbers takes some shorter (Iran, Austria, 6 digits) and
longer (Japanese and Indonesian toll-free, 19 digits) numbers as valid, and a record that
ingest accepted must never be refused here.
"""


def _phone(value: str, info: ValidationInfo) -> str:
    """The full check and normalisation of `_normalise_phone`; in a record validated upstream,
    which holds the normalised form already, only that form's shape is checked."""
    if _validated_upstream(info):
        if _E164_SHAPE.fullmatch(value) is None:
            raise ValueError("phone must be in E.164 form, e.g. +14155550123")
        return value
    return _normalise_phone(value)


PhoneE164 = Annotated[str, AfterValidator(_phone)]
"""A dialable number, normalised to E.164 (only its shape checked under `VALIDATED_UPSTREAM`)."""

_EMAILS: dict[str, str] = {}
_EMAILS_KEPT = 4096


def _remembered_email(value: Any, full: ValidatorFunctionWrapHandler) -> Any:
    """`EmailStr`'s answer for an address seen before; `full` (the dear check) for any other input.

    Only text without surrounding whitespace is remembered, so the answer never depends on
    whether the model strips whitespace first; refusals are never remembered.
    """
    if type(value) is not str or value.strip() is not value:
        return full(value)
    known = _EMAILS.get(value)
    if known is None:
        known = full(value)
        if len(_EMAILS) >= _EMAILS_KEPT:
            _EMAILS.clear()
        _EMAILS[value] = known
    return known


EMAIL_MAX_LENGTH: Final = 254
"""What email_validator accepts at most (RFC 5321's path limit, less the angle brackets)."""


def _email_shaped(value: str) -> bool:
    """Whether `value` has the shape of an address `EmailStr` normalised: at most 254
    characters, exactly one `@` with text on both sides, no space, whitespace or control,
    format, private-use or unassigned character (email_validator refuses all of these)."""
    local, at, domain = value.partition("@")
    return (
        bool(at and local and domain)
        and len(value) <= EMAIL_MAX_LENGTH
        and "@" not in domain
        and " " not in value
        and value.isprintable()
    )


def _email(value: Any, full: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """`EmailStr`'s full check (remembered: `_remembered_email`); in a record validated
    upstream, a shape check of the normalised address instead (`_email_shaped`).

    So an address email_validator refuses for its domain or its dots (`anna@example..com`)
    passes the shape check: the writer of the record ran the full check, not this parse.
    """
    if type(value) is str and _validated_upstream(info):
        if not _email_shaped(value):
            raise ValueError(
                "email must be a normalised address: one @ between a local part and a domain,"
                f" no spaces or control characters, at most {EMAIL_MAX_LENGTH} characters"
            )
        return value
    return _remembered_email(value, full)


Email = Annotated[EmailStr, WrapValidator(_email)]
"""An email address, as pydantic's `EmailStr` validates and normalises it (only its shape
checked under `VALIDATED_UPSTREAM`)."""


@lru_cache(maxsize=1024)
def _check_time_zone(value: str) -> str:
    """`value` when it names a zone of the IANA database, else a ValueError.

    Remembered (refusals are not): `ZoneInfo` keeps only a few zones loaded, so a customer base
    spread over many zones would load them from disk again and again; the database holds
    fewer than 1,024 names, so every valid one stays remembered.
    """
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
