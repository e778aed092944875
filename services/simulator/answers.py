"""Performing a simulated customer's reply against the feedback service's real endpoints, as
a browser, a mailbox provider or Twilio would: the tracked link (`/c/`), the survey page and
its form (`/s/`), the one-click unsubscribe POST (RFC 8058) and the inbound SMS webhook,
signed as Twilio signs (shared/twilio_signature.py).

A survey is answered on the page its link leads to, opened directly rather than through the
tracked redirect, so that a survey answer records no click: clicks are a reply of their own,
which the oracle predicts separately.

5xx answers, 429 and transport errors are retried with a growing, jittered backoff until
`give_up_after_s`; any other 4xx ends the reply as failed, with its reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser

from services.simulator.population import Customer
from services.simulator.received import Received, link_target, product_link, survey_link
from services.simulator.replies import SMS, Reply, ReplyKind, nps_score
from shared.twilio_signature import HEADER as TWILIO_SIGNATURE
from shared.twilio_signature import compute_signature

BROWSER: Final = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
"""A person's browser: feedback takes bare or library user agents for link scanners."""
PAGE_HEADERS: Final = {"User-Agent": BROWSER, "Accept": "text/html,application/xhtml+xml"}
DEFAULT_ACCOUNT_SID: Final = "AC" + "0" * 32
"""The local SMS sink's account (deploy/local/sinks/sms_sink.py)."""
DEFAULT_SHOP_NUMBER: Final = "+15005550006"
SCORE_FIELD: Final = "score"
COMMENT_FIELD: Final = "comment"

OK: Final = "ok"
FAILED: Final = "failed"
"""Refused with a 4xx: the reason is kept."""
GAVE_UP: Final = "gave_up"
"""Still 5xx or unreachable after `give_up_after_s`."""
NO_LINK: Final = "no_link"
"""The message offers no way to do it (no product link, no survey, no one-click header)."""


@dataclass(frozen=True)
class Outcome:
    outcome: str
    status: int | None = None
    detail: str = ""
    attempts: int = 0
    score: int | None = None
    """The score sent, on the survey's own scale."""


class _Refused(Exception):
    """A final answer that ends the reply: a 4xx, or retries given up on."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.detail)
        self.outcome = outcome


@dataclass
class AnswerOptions:
    feedback_url: str
    """The feedback service's public URL (NUDGE_FEEDBACK_PUBLIC_URL): what Twilio signs."""
    twilio_auth_token: str | None
    account_sid: str = DEFAULT_ACCOUNT_SID
    give_up_after_s: float = 120.0
    first_backoff_s: float = 0.25
    max_backoff_s: float = 5.0


class Answerer:
    """Performs replies over one HTTP client; `sleep` and `monotonic` are injectable."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        options: AnswerOptions,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.options = options
        self._sleep = sleep
        self._monotonic = monotonic
        self._jitter = random.Random()

    async def perform(self, person: Customer, message: Received, reply: Reply) -> Outcome:
        attempts = [0]
        try:
            if reply.kind is ReplyKind.CLICK:
                return await self._click(message, attempts)
            if reply.kind is ReplyKind.SURVEY:
                return await self._survey(person, message, reply, attempts)
            if reply.kind is ReplyKind.STOP:
                return await self._text(person, message, "STOP", reply, attempts)
            return await self._unsubscribe(message, attempts)
        except _Refused as refused:
            return refused.outcome

    async def _request(
        self, attempts: list[int], send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """One request (`send` makes it), retried on 5xx, 429 and transport errors; a 4xx
        raises _Refused."""
        deadline = self._monotonic() + self.options.give_up_after_s
        backoff = self.options.first_backoff_s
        while True:
            attempts[0] += 1
            try:
                response = await send()
            except httpx.TransportError as exc:
                cause, status, wait = type(exc).__name__, None, backoff
            else:
                if response.status_code < 400:
                    return response
                status, cause = response.status_code, _reason(response)
                if status < 500 and status != 429:
                    raise _Refused(Outcome(FAILED, status, cause, attempts[0]))
                wait = _retry_after(response) or backoff
            if self._monotonic() + wait > deadline:
                raise _Refused(Outcome(GAVE_UP, status, cause, attempts[0]))
            await self._sleep(wait * self._jitter.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self.options.max_backoff_s)

    async def _click(self, message: Received, attempts: list[int]) -> Outcome:
        link = product_link(message.links)
        if link is None:
            return Outcome(NO_LINK, detail="no link to the shop")
        answer = await self._request(attempts, lambda: self.client.get(link, headers=PAGE_HEADERS))
        return Outcome(OK, answer.status_code, answer.headers.get("location", ""), attempts[0])

    async def _survey(
        self, person: Customer, message: Received, reply: Reply, attempts: list[int]
    ) -> Outcome:
        assert reply.score is not None
        link = survey_link(message.links)
        if link is None:
            if message.channel == SMS:  # "Reply with a number from 1 (poor) to 5 (great)"
                return await self._text(person, message, str(reply.score), reply, attempts)
            return Outcome(NO_LINK, detail="no survey link")
        # The page the link leads to, opened directly: the click on the way would be an
        # engagement of its own, which a survey reply does not stand for (replies.py).
        target = link_target(link)
        page = await self._request(
            attempts,
            lambda: self.client.get(target, headers=PAGE_HEADERS, follow_redirects=True),
        )
        form = survey_form(page.text)
        if form is None:
            return Outcome(FAILED, page.status_code, "no survey form on the page", attempts[0])
        action, fields, scale = form
        score = nps_score(reply.score) if max(scale, default=5) > 5 else reply.score
        url = urljoin(str(page.url), action)
        form_data = {**fields, SCORE_FIELD: str(score), COMMENT_FIELD: ""}
        headers = {**PAGE_HEADERS, "Origin": origin_of(url), "Sec-Fetch-Site": "same-origin"}
        answer = await self._request(
            attempts, lambda: self.client.post(url, data=form_data, headers=headers)
        )
        return Outcome(OK, answer.status_code, "", attempts[0], score)

    async def _unsubscribe(self, message: Received, attempts: list[int]) -> Outcome:
        url = message.one_click
        if url is None:
            return Outcome(NO_LINK, detail="no one-click List-Unsubscribe")
        answer = await self._request(
            attempts,
            lambda: self.client.post(
                url,
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
        )
        return Outcome(OK, answer.status_code, "", attempts[0])

    async def _text(
        self, person: Customer, message: Received, body: str, reply: Reply, attempts: list[int]
    ) -> Outcome:
        """What Twilio POSTs to the feedback service when the customer texts `body` back."""
        token = self.options.twilio_auth_token
        if not token or person.phone is None:
            return Outcome(FAILED, None, "no Twilio auth token to sign the webhook with")
        url = self.options.feedback_url.rstrip("/") + "/sms/inbound"
        sid = inbound_sid(message.message_id, reply.kind)
        params = [
            ("MessageSid", sid),
            ("SmsSid", sid),
            ("AccountSid", self.options.account_sid),
            ("From", person.phone),
            ("To", message.sender or DEFAULT_SHOP_NUMBER),
            ("Body", body),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
        ]
        headers = {TWILIO_SIGNATURE: compute_signature(token, url, params)}
        answer = await self._request(
            attempts, lambda: self.client.post(url, data=dict(params), headers=headers)
        )
        score = int(body) if body.isdigit() else None
        return Outcome(OK, answer.status_code, "", attempts[0], score)


def inbound_sid(message_id: str, kind: ReplyKind) -> str:
    """The inbound text's MessageSid, the same on every retry (feedback derives its event ids
    from it, so a retried webhook is one reply)."""
    digest = hashlib.sha256(f"{message_id}:{kind.value}".encode()).hexdigest()
    return "SM" + digest[:32]


def survey_form(page: str) -> tuple[str, dict[str, str], list[int]] | None:
    """The survey page's form: its action, its hidden fields (the page's nonce) and the
    scores it offers; None when the page has no such form."""
    tree = LexborHTMLParser(page)
    form = tree.css_first("form[method=post]")
    if form is None:
        return None
    hidden = {
        str(node.attrs.get("name")): str(node.attrs.get("value") or "")
        for node in form.css("input[type=hidden]")
        if node.attrs.get("name")
    }
    scale = [
        int(value)
        for node in form.css(f"input[name={SCORE_FIELD}]")
        if (value := node.attrs.get("value")) is not None and value.isdigit()
    ]
    if not scale:
        return None
    return str(form.attrs.get("action") or ""), hidden, scale


def _reason(response: httpx.Response) -> str:
    """A short reason: a problem's `detail`, else the start of the body."""
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return str(body.get("detail") or body.get("title") or body.get("message") or "")[:200]
    return f"HTTP {response.status_code}: " + " ".join(response.text.split())[:120]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of `url`: the `Origin` a browser sends with a form."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
