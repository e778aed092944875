"""The filters templates get besides Jinja's built-ins: money, dates, defaults, GSM-7 text.

Locale-aware without a CLDR dependency: a small table per language covers the shipped locales,
and anything else falls back to English conventions. Money is `<symbol><amount>` for English
("€12.50", "$1,234.00"), `€ 12,50` for Dutch, `12,50 €` for German, French, Spanish and
Italian; a currency without a known symbol is written with its code ("CHF 12.50").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final

from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

from services.dispatch.templates.sms import to_gsm7

LOCALE_VARIABLE: Final = "message_locale"
"""Set by the store to the locale the template was found in; filters format for it."""
RENDERING_LOCALE: Final[ContextVar[str]] = ContextVar("rendering_locale", default="en")
"""The same locale for the render in progress: macros imported without context (shared
between messages) do not see `message_locale`, and their money and dates must follow it."""

_SYMBOLS: Final = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$"}
_ZERO_DECIMALS: Final = frozenset({"JPY", "KRW", "ISK", "CLP", "VND"})
_SUFFIX_LANGUAGES: Final = frozenset({"de", "fr", "es", "it"})
_COMMA_DECIMAL: Final = frozenset({"nl", "de", "fr", "es", "it"})

_MONTHS: Final = {
    "en": "January February March April May June July August September October November December",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
}
_WEEKDAYS: Final = {
    "en": "Monday Tuesday Wednesday Thursday Friday Saturday Sunday",
    "nl": "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag",
}


def _language(context: Context) -> str:
    locale = context.get(LOCALE_VARIABLE) or RENDERING_LOCALE.get()
    return str(locale).split("-")[0].lower()


def _amount_and_currency(value: Any) -> tuple[Decimal, str]:
    if isinstance(value, Mapping):
        amount, currency = value.get("amount"), value.get("currency")
    else:
        amount, currency = getattr(value, "amount", None), getattr(value, "currency", None)
    if amount is None or not isinstance(currency, str):
        raise ValueError(f"money needs an amount and a currency, got {value!r}")
    try:
        return Decimal(str(amount)), currency
    except InvalidOperation as exc:
        raise ValueError(f"money amount is not a number: {amount!r}") from exc


def format_money(value: Any, language: str = "en") -> str:
    amount, currency = _amount_and_currency(value)
    places = 0 if currency in _ZERO_DECIMALS else 2
    quantum = Decimal(1).scaleb(-places)
    number = f"{amount.quantize(quantum, rounding=ROUND_HALF_EVEN):,.{places}f}"
    if language in _COMMA_DECIMAL:
        number = number.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    symbol = _SYMBOLS.get(currency)
    if symbol is None:
        return f"{currency} {number}"
    if language in _SUFFIX_LANGUAGES:
        return f"{number} {symbol}"
    if language == "nl":
        return f"{symbol} {number}"
    return f"{symbol}{number}"


def format_date(value: Any, style: str = "long", language: str = "en") -> str:
    """`long`: "14 March 2027"; `day`: "Sunday 14 March"; `short`: "2027-03-14"."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, date):
        raise ValueError(f"not a date: {value!r}")
    months = _MONTHS.get(language, _MONTHS["en"]).split()
    weekdays = _WEEKDAYS.get(language, _WEEKDAYS["en"]).split()
    month = months[value.month - 1]
    if style == "long":
        return f"{value.day} {month} {value.year}"
    if style == "day":
        return f"{weekdays[value.weekday()]} {value.day} {month}"
    if style == "short":
        return value.strftime("%Y-%m-%d")
    raise ValueError(f"unknown date style {style!r} (long, day, short)")


@pass_context
def money_filter(context: Context, value: Any) -> str:
    return format_money(value, _language(context))


@pass_context
def date_filter(context: Context, value: Any, style: str = "long") -> str:
    return format_date(value, style, _language(context))


def default_filter(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, but None counts as missing too: variables carry None for unknowns."""
    if isinstance(value, Undefined) or value is None or (boolean and not value):
        return default_value
    return value


def gsm_filter(value: Any) -> str:
    return to_gsm7(str(value))


FILTERS: Final[dict[str, Callable[..., Any]]] = {
    "money": money_filter,
    "date": date_filter,
    "default": default_filter,
    "d": default_filter,
    "gsm": gsm_filter,
}
