"""Requests as Twilio sends them to the feedback service: form-encoded, signed with the auth
token over the URL Twilio was configured with (shared/twilio_signature.py, which the unit
tests check against Twilio's published example)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlencode

from shared.twilio_signature import HEADER, compute_signature

TOKEN = "twilio-test-auth-token"
FORM = "application/x-www-form-urlencoded"
ACCOUNT = "AC" + "0" * 32


def sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def inbound(
    sender: str, body: str, *, to: str = "+15005550006", message_sid: str | None = None
) -> list[tuple[str, str]]:
    """An inbound SMS's parameters, with the extras Twilio sends beside the ones Nudge reads."""
    message_sid = message_sid or sid()
    return [
        ("ToCountry", "US"),
        ("ToState", "CA"),
        ("SmsMessageSid", message_sid),
        ("NumMedia", "0"),
        ("ToCity", ""),
        ("FromZip", ""),
        ("SmsSid", message_sid),
        ("FromState", ""),
        ("SmsStatus", "received"),
        ("FromCity", ""),
        ("Body", body),
        ("FromCountry", "NL"),
        ("To", to),
        ("MessagingServiceSid", "MG" + "1" * 32),
        ("ToZip", ""),
        ("NumSegments", "1"),
        ("MessageSid", message_sid),
        ("AccountSid", ACCOUNT),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]


def status(
    message_sid: str, message_status: str, *, to: str = "+31612345678", error: str | None = None
) -> list[tuple[str, str]]:
    params = [
        ("AccountSid", ACCOUNT),
        ("ApiVersion", "2010-04-01"),
        ("From", "+15005550006"),
        ("MessageSid", message_sid),
        ("MessageStatus", message_status),
        ("SmsSid", message_sid),
        ("SmsStatus", message_status),
        ("To", to),
    ]
    if error is not None:
        params.append(("ErrorCode", error))
    return params


def signed(
    url: str, params: Sequence[tuple[str, str]], token: str = TOKEN
) -> tuple[str, dict[str, str]]:
    """The body and headers of Twilio's POST of `params` to `url`."""
    headers = {"content-type": FORM, HEADER: compute_signature(token, url, params)}
    return urlencode(params), headers
