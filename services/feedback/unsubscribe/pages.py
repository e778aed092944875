"""The pages a customer sees behind `/u/<token>`, rendered on the server from Jinja2 templates
(services/feedback/templates/) with autoescaping on: addresses and ids come from shops'
events and links, and are never markup here.

Small, accessible and self-contained: no script, no external asset (the styles are inline,
which the Content-Security-Policy allows and nothing else), readable on a phone. Every page
is personal (`Cache-Control: no-store`), may not be framed, and keeps the token out of any
Referer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse

from shared.events.shop import Channel

_ENV = Environment(
    loader=PackageLoader("services.feedback", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
}
LABELS = {Channel.EMAIL: "Marketing emails", Channel.SMS: "Marketing text messages (SMS)"}


@dataclass(frozen=True)
class Box:
    """One choice on the page."""

    channel: str
    label: str
    address: str | None
    ticked: bool


def mask_email(address: str | None) -> str | None:
    """`a•••@example.com`: enough for the customer to recognise, little for anyone else."""
    if not address or "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}\u2022\u2022\u2022@{domain}"


def mask_phone(number: str | None) -> str | None:
    """`•••• 0123`: the last four digits."""
    digits = [c for c in number or "" if c.isdigit()]
    if len(digits) < 4:
        return None
    return "\u2022\u2022\u2022\u2022 " + "".join(digits[-4:])


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = _ENV.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=HEADERS)
