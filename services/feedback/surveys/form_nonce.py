"""The survey form's nonce, and why a forged answer fails (CSRF).

As on the preference page (services/feedback/unsubscribe/preference_form.py, which explains
the reasoning at length): there is no session and no cookie, the signed token in the URL is the
only credential, and browsers say where a form came from (`Sec-Fetch-Site`, `Origin`: checked
before the body is read). Each page shown carries a nonce signed with the link keys under a
kind of its own, bound to this very link (a digest of the token), dated and random: a POST
without a nonce we issued for this link, or one older than FORM_TTL, records nothing. The
nonce also names the form in the answer's event id (records.py): submitting one form twice is
one answer, answering again on a page shown later is a new one.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from datetime import UTC, datetime, timedelta

from services.feedback.unsubscribe.preference_form import FormRefused
from shared import signed_links
from shared.keyring import LinkKeys

FORM_KIND = "survey-form"
FORM_TTL = timedelta(hours=24)
"""How long a shown page's form stays good: a tab left open overnight still works."""
CLOCK_SKEW = timedelta(minutes=5)
FORM_FIELD = "form"
_DIGEST_BYTES = 16
_PAYLOAD = struct.Struct(f">{_DIGEST_BYTES}sQ8s")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()[:_DIGEST_BYTES]


def issue(keys: LinkKeys, token: str, now: datetime) -> str:
    """The nonce of one page: this link's digest, the time, randomness."""
    issued_ms = int(now.timestamp() * 1000)
    payload = _PAYLOAD.pack(_digest(token), issued_ms, secrets.token_bytes(8))
    return signed_links.sign(keys, FORM_KIND, payload)


def accept(keys: LinkKeys, token: str, nonce: str | None, now: datetime) -> str:
    """`nonce` when it is one we issued for `token` within FORM_TTL; raises FormRefused
    otherwise (`expired` when it was ours but is too old: the page is shown again)."""
    if not nonce:
        raise FormRefused(f"the form field {FORM_FIELD!r} is missing: submit the page's form")
    payload = signed_links.verify(keys, FORM_KIND, nonce)
    if payload is None or len(payload) != _PAYLOAD.size:
        raise FormRefused("the form was not issued by this service")
    digest, issued_ms, _ = _PAYLOAD.unpack(payload)
    if digest != _digest(token):
        raise FormRefused("the form was issued for another link")
    issued = datetime.fromtimestamp(issued_ms / 1000, UTC)
    if issued > now + CLOCK_SKEW:
        raise FormRefused("the form is dated in the future")
    if now - issued > FORM_TTL:
        raise FormRefused("the page was open too long; please answer again", expired=True)
    return nonce
