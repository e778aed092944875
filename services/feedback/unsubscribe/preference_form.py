"""The preference form: what it showed, what the customer chose, and why a forged one fails.

Why a cross-site request cannot change anyone's choices (CSRF):
- There is no session and no cookie: the only credential is the signed token in the URL,
  which the customer got in their own message. Cross-site request forgery works by making a
  victim's browser send credentials it holds for another site (cookies, HTTP auth); here the
  browser holds none, so a forged request carries exactly what the forger already knows. A
  site that knows a customer's token could just as well POST it itself, which RFC 8058
  allows for the withdrawal on purpose (forwarded mail can unsubscribe its reader). SameSite
  rules need nothing to protect.
- What the form adds, for what the one-click POST does not do (grant consent, change several
  channels): each page carries a nonce, signed with the link keys under a kind of its own
  (shared/signed_links.py), bound to this token (a digest of it), dated, and holding what the
  page showed. A POST without a nonce we issued for this very link, or one older than
  FORM_TTL, is refused: a change of choices follows a page that a person was shown. The
  nonce also makes the events idempotent: one form submitted twice is one fact
  (consent_events.py). It holds the shop's campaign categories as boxes too, with a digest
  of their ids: a form shown before the shop changed its list is shown again, not guessed at.
- Browsers say where a form came from: a POST whose `Sec-Fetch-Site` is not same-origin, or
  whose `Origin` is another site's, is refused (403) before its body is read. The page is
  sent with `frame-ancestors 'none'` (no clickjacking in a frame) and `Referrer-Policy:
  same-origin`, so the token never leaves in a Referer (and `Origin` still is sent).
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from services.feedback.directory import Contact
from services.feedback.unsubscribe.categories import Category
from services.feedback.unsubscribe.consent_events import held
from services.feedback.unsubscribe.form_body import Fields, single
from services.feedback.unsubscribe.link import LinkTarget
from shared import signed_links
from shared.events.shop import Channel
from shared.http import problems
from shared.keyring import LinkKeys

FORM_KIND = "preference-form"
FORM_TTL = timedelta(hours=24)
"""How long a shown page's form stays good: a tab left open overnight still works."""
CLOCK_SKEW = timedelta(minutes=5)
FORM_FIELD = "form"
ACTION_FIELD = "action"
UNSUBSCRIBE = "unsubscribe"
SAVE = "save"
CHANNELS = (Channel.EMAIL, Channel.SMS)
"""The channels a page offers, in the order it shows them."""
_CHECKED = frozenset({"on", "1", "true", "yes"})
_DIGEST_BYTES = 16
_PAYLOAD = struct.Struct(f">{_DIGEST_BYTES}sQ8sB")
"""Forms issued before campaign categories were offered: channels only."""
_TOPICS = struct.Struct(">I4s")
"""After `_PAYLOAD`: the categories' ticked bits, and a digest of the ids they stand for."""
CATEGORY_FIELD = "category:"
"""A category's box is the form field `category:<id>`."""


@dataclass(frozen=True)
class Shown:
    """What a page offered: each offered channel's box as it was ticked."""

    boxes: tuple[tuple[Channel, bool], ...]
    topics: tuple[tuple[str, bool], ...] = ()
    """The shop's campaign categories, in its order, each ticked when the customer keeps it."""

    def offered(self, channel: Channel) -> bool:
        return any(c is channel for c, _ in self.boxes)

    def ticked(self, channel: Channel) -> bool:
        return any(c is channel and on for c, on in self.boxes)


class FormRefused(Exception):
    """The POST is not one a page of ours sent for this link (403); `expired` when it was,
    but too long ago (the customer is shown the page again)."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expired = expired


def shown_for(
    target: LinkTarget,
    contact: Contact | None,
    categories: Sequence[Category] = (),
    dropped: frozenset[str] = frozenset(),
) -> Shown:
    """The boxes a page offers: the link's channel always, the other when the customer has an
    address on it; ticked as the directory holds consent. The link's own channel counts as
    subscribed until the directory says otherwise: dispatch sent marketing on it, which it
    does only with consent, and the directory may not have learnt the contact yet. Then the
    shop's categories, each ticked unless the customer dropped it."""
    boxes = []
    for channel in CHANNELS:
        address = None
        if contact is not None:
            address = contact.email if channel is Channel.EMAIL else contact.phone
        if channel is not target.channel and not address:
            continue
        granted = held(contact, channel).granted
        boxes.append((channel, granted if granted is not None else channel is target.channel))
    return Shown(tuple(boxes), tuple((c.id, c.id not in dropped) for c in categories))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()[:_DIGEST_BYTES]


def _flags(shown: Shown) -> int:
    flags = 0
    for bit, channel in enumerate(CHANNELS):
        if shown.offered(channel):
            flags |= 1 << (2 * bit)
        if shown.ticked(channel):
            flags |= 1 << (2 * bit + 1)
    return flags


def _shown(flags: int) -> Shown:
    boxes = [
        (channel, bool(flags & (1 << (2 * bit + 1))))
        for bit, channel in enumerate(CHANNELS)
        if flags & (1 << (2 * bit))
    ]
    return Shown(tuple(boxes))


def _topics_digest(ids: Sequence[str]) -> bytes:
    return hashlib.sha256("\x1f".join(ids).encode()).digest()[:4]


def issue(keys: LinkKeys, token: str, shown: Shown, now: datetime) -> str:
    """The nonce of one page: this link's digest, the time, randomness, what it showed."""
    issued_ms = int(now.timestamp() * 1000)
    payload = _PAYLOAD.pack(_digest(token), issued_ms, secrets.token_bytes(8), _flags(shown))
    ticked = sum(1 << bit for bit, (_, on) in enumerate(shown.topics) if on)
    payload += _TOPICS.pack(ticked, _topics_digest([c for c, _ in shown.topics]))
    return signed_links.sign(keys, FORM_KIND, payload)


def accept(
    keys: LinkKeys,
    token: str,
    nonce: str | None,
    now: datetime,
    categories: Sequence[Category] = (),
) -> Shown:
    """What the page showed, when `nonce` is one we issued for `token` within FORM_TTL;
    raises FormRefused otherwise. `categories`: the shop's, as the page would show them now
    (a form that showed another list is out of date)."""
    if not nonce:
        raise FormRefused(f"the form field {FORM_FIELD!r} is missing: submit the page's form")
    payload = signed_links.verify(keys, FORM_KIND, nonce)
    if payload is None or len(payload) not in (_PAYLOAD.size, _PAYLOAD.size + _TOPICS.size):
        raise FormRefused("the form was not issued by this service")
    digest, issued_ms, _, flags = _PAYLOAD.unpack_from(payload)
    if digest != _digest(token):
        raise FormRefused("the form was issued for another link")
    issued = datetime.fromtimestamp(issued_ms / 1000, UTC)
    if issued > now + CLOCK_SKEW:
        raise FormRefused("the form is dated in the future")
    if now - issued > FORM_TTL:
        raise FormRefused("the page was open too long; review your choices", expired=True)
    ids = [c.id for c in categories]
    ticked, listed = 0, _topics_digest(())
    if len(payload) > _PAYLOAD.size:
        ticked, listed = _TOPICS.unpack_from(payload, _PAYLOAD.size)
    if listed != _topics_digest(ids):
        raise FormRefused("the shop changed the topics it offers; review them", expired=True)
    topics = tuple((c, bool(ticked & (1 << bit))) for bit, c in enumerate(ids))
    return Shown(_shown(flags).boxes, topics)


def check_origin(
    *, origin: str | None, fetch_site: str | None, host: str | None, public_url: str
) -> None:
    """Refuse (FormRefused) a POST that a browser says came from another site.

    `Sec-Fetch-Site` must be same-origin when present; `Origin`, when present and not `null`,
    must be the service's own: its public URL's, or the Host the request was sent to under
    the public URL's scheme (behind a load balancer both name the address the browser used).
    """
    if fetch_site is not None and fetch_site.strip().lower() not in ("same-origin", "none"):
        raise FormRefused(f"a cross-site form submission (Sec-Fetch-Site: {fetch_site[:40]})")
    if origin is None or origin.strip() in ("", "null"):
        return
    parts = urlsplit(origin.strip())
    scheme = parts.scheme.lower()
    theirs = (scheme, _netloc(scheme, parts.netloc))
    public = urlsplit(public_url)
    ours_scheme = public.scheme.lower()
    ours = {(ours_scheme, _netloc(ours_scheme, public.netloc))}
    if host:
        ours.add((ours_scheme, _netloc(ours_scheme, host)))
    if theirs not in ours:
        raise FormRefused(f"a form submitted from another site ({origin[:100]})")


def _netloc(scheme: str, netloc: str) -> str:
    """host[:port] in lower case, without the scheme's default port."""
    netloc = netloc.strip().lower()
    default = {"https": ":443", "http": ":80"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc.removesuffix(default)
    return netloc


@dataclass(frozen=True)
class Choice:
    """What a submitted form asks for: every offered channel's consent after it, and the
    changes to publish as (channel, granted)."""

    chosen: dict[Channel, bool]
    changes: list[tuple[Channel, bool]]
    topics: dict[str, bool] = field(default_factory=dict)
    """Every offered category, kept (True) or dropped, after the form."""
    topic_changes: list[tuple[str, bool]] = field(default_factory=list)


def choose(fields: Fields, shown: Shown, link_channel: Channel) -> Choice:
    """The customer's choice; a 422 naming the field when the form says something a page of
    ours cannot have sent.

    `unsubscribe` withdraws the link's channel, and is published even when the page showed it
    withdrawn already (the page may have been older than a newer grant: an opt-out must not
    be lost to that). `save` changes each box the customer changed from what the page showed.
    """
    action = single(fields, ACTION_FIELD)
    if action == UNSUBSCRIBE:
        chosen = dict(shown.boxes)
        chosen[link_channel] = False
        return Choice(chosen, [(link_channel, False)], dict(shown.topics))
    if action != SAVE:
        raise problems.invalid(
            "unknown form action",
            [problems.FieldError(ACTION_FIELD, f"must be {UNSUBSCRIBE!r} or {SAVE!r}")],
        )
    chosen = {channel: _ticked(fields, channel.value) for channel, _ in shown.boxes}
    changed = [(c, chosen[c]) for c, was in shown.boxes if chosen[c] != was]
    topics = {c: _ticked(fields, CATEGORY_FIELD + c) for c, _ in shown.topics}
    topic_changes = [(c, topics[c]) for c, was in shown.topics if topics[c] != was]
    return Choice(chosen, changed, topics, topic_changes)


def _ticked(fields: Fields, name: str) -> bool:
    value = single(fields, name)
    if value is not None and value.lower() not in _CHECKED:
        raise problems.invalid(
            "a choice is neither ticked nor left out",
            [problems.FieldError(name, "a ticked box sends 'on'")],
        )
    return value is not None
