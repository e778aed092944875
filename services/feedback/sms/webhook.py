"""A Twilio webhook request: its form, the URL Twilio signed, its signature, its fields.

The form is parsed by the standard library (`urllib.parse.parse_qsl`, strict: a field without
`=`, an empty field or bytes that are not UTF-8 are a 400). The URL Twilio signed is the one
it was configured with, which behind a load balancer is not the Host this service sees: the
configured public URL, then the path and the query exactly as they arrived. Parameters Nudge
does not read are accepted and signed like the others, as Twilio adds new ones over time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import SecretStr

from shared import twilio_signature
from shared.http import problems
from shared.http.problems import FieldError

FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 200
"""Twilio's inbound requests carry about 20 (more with media); far more is not Twilio."""
SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
"""A Twilio resource id: two letters (SM, MM for messages) and 32 hex digits."""


def require_form(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        raise problems.unsupported_media(
            f"Content-Type must be {FORM} (as Twilio posts), not {media_type or 'missing'!r}"
        )


def parse_form(raw: bytes) -> list[tuple[str, str]]:
    """The parameters in order, decoded; 400 when the body is not a well-formed form."""
    try:
        text = raw.decode("ascii")
        return parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise problems.bad_request(
            "the body is not a URL-encoded form: it holds raw non-ASCII bytes, or an "
            "escaped value that is not UTF-8"
        ) from None
    except ValueError as exc:  # a field without '=', an empty field, too many fields
        raise problems.bad_request(f"the body is not a URL-encoded form: {exc}") from None


def signed_url(public_url: str, request: Request) -> str:
    """The configured public URL, then the path and query as they arrived."""
    path = request.scope.get("raw_path") or request.scope["path"].encode()
    query: bytes = request.scope.get("query_string", b"")
    url = public_url + path.decode("latin-1")
    return f"{url}?{query.decode('latin-1')}" if query else url


def verify(
    tokens: Sequence[SecretStr], url: str, params: Sequence[tuple[str, str]], signature: str | None
) -> None:
    """403 unless `signature` is Twilio's for this URL and form under one of `tokens`."""
    if not tokens:
        raise problems.from_status(
            403, "no Twilio auth token is configured here, so no request can be verified"
        )
    if not signature:
        raise problems.from_status(403, f"the {twilio_signature.HEADER} header is missing")
    secrets = [token.get_secret_value() for token in tokens]
    if not twilio_signature.is_valid(secrets, url, params, signature):
        raise problems.from_status(
            403, f"{twilio_signature.HEADER} does not match this URL and form"
        )


@dataclass(frozen=True)
class Form:
    """The verified parameters, read one field at a time (errors name the field)."""

    params: Sequence[tuple[str, str]]

    def __post_init__(self) -> None:
        for name, value in self.params:
            if "\x00" in name or "\x00" in value:
                field = name.replace("\x00", "\\u0000")
                raise problems.invalid(
                    "the form holds a NUL character",
                    [FieldError(field, "contains a NUL character, which Nudge does not accept")],
                )

    def optional(self, name: str, *, max_chars: int = 255) -> str | None:
        values = {value for key, value in self.params if key == name}
        if not values:
            return None
        if len(values) > 1:
            raise _invalid(name, "given more than once, with different values")
        (value,) = values
        if len(value) > max_chars:
            raise _invalid(name, f"longer than {max_chars} characters")
        return value

    def required(self, name: str, *, max_chars: int = 255) -> str:
        value = self.optional(name, max_chars=max_chars)
        if not value:
            raise _invalid(name, "required")
        return value

    def sid(self, *names: str) -> str:
        """A message sid, from the first of `names` present (Twilio sends MessageSid and,
        for older integrations, SmsSid)."""
        for name in names:
            value = self.optional(name)
            if value:
                if not SID.match(value):
                    raise _invalid(name, "not a Twilio sid (two letters and 32 hex digits)")
                return value
        raise _invalid(names[0], "required")


def _invalid(name: str, reason: str) -> problems.Problem:
    return problems.invalid(f"the form's {name} is not valid", [FieldError(name, reason)])
