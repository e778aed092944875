"""The floor under the feedback routes: the least any feedback service must spend per request.

A bare ASGI app (no FastAPI, no routing table, no request objects) that does only what every
implementation of the two measured routes must do, with the same code where it matters:

- `POST /sms/inbound`: read the body, parse the form, check `X-Twilio-Signature` over the
  configured public URL, the path and every parameter (shared/twilio_signature.py), build the
  same record (services/feedback/sms/records.py: `consent.withdrawn` for STOP, `consent.granted`
  for START, `reply.received` otherwise, its id derived from the sid) and answer TwiML;
- `POST /u/<token>`: check the token's HMAC (shared/unsubscribe.py), read the body and check it
  is `List-Unsubscribe=One-Click`, build the same `consent.withdrawn`
  (services/feedback/unsubscribe/consent_events.py) and answer 200 with JSON.

Both publish with the same acks-before-answer publisher (shared/publisher.py, librdkafka,
acks=all, idempotent, the service's linger) to feedback.events.v1 and answer only once the
broker has the record. It runs under uvicorn with the service's guarded httptools protocol
(shared/http/protocol.py) and its settings (NUDGE_FEEDBACK_*: port, public URL, keep-alive,
header deadline, connection cap), one process like the service.

What it skips: the directory (the service asks PostgreSQL for the contacts with the sender's
number and the last text sent to them, or for the contact's held consent; here the customer is
the number itself, or the token's), the keyword rules beyond an exact STOP / START (Unicode
normalisation, Twilio's whole lists, HELP), shop profiles and the audience rules, field checks
with problem+json refusals naming the field, the budget and deadlines for unverified bodies,
metrics, the index consumer, and FastAPI. Those are the service's choices and duties; what is
left cannot be skipped by any implementation that keeps the promises (signature, the event,
acknowledged before the answer), so the floor's CPU per request bounds the service's from below
on this machine: `make bench` (tests/bench/feedback.py) measures both in the same run.

Run: `python -m tests.bench.feedback_floor` (NUDGE_FEEDBACK_PORT, NUDGE_FEEDBACK_PUBLIC_URL,
NUDGE_FEEDBACK_TWILIO_AUTH_TOKEN, NUDGE_LINK_KEYS, KAFKA_BOOTSTRAP_SERVERS).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
import uvicorn

from services.feedback.directory import ContactRef
from services.feedback.parts import Publisher
from services.feedback.settings import FeedbackSettings
from services.feedback.sms import records
from services.feedback.sms.keywords import Keyword
from services.feedback.sms.profiles import SmsProfile
from services.feedback.sms.twiml import MEDIA_TYPE, twiml
from services.feedback.unsubscribe.consent_events import (
    ONE_CLICK,
    HeldConsent,
    consent_event,
    one_click_origin,
)
from shared import twilio_signature, unsubscribe
from shared.events import EventEnvelope
from shared.events.shop import Channel
from shared.garbage import tune_garbage_collector
from shared.http import protocol
from shared.keyring import LinkKeys
from shared.publisher import BrokerUnavailable, EventPublisher
from shared.settings import KafkaSettings, LinkKeySettings
from shared.topics import FEEDBACK_EVENTS

SHOP = "bench-feedback"
"""The shop an inbound text is recorded for (the service finds it in its directory)."""
NEVER_STATED = HeldConsent(None, None)
"""The held consent a one-click acts on, unknown without a directory."""
KEYWORDS = {"STOP": Keyword.STOP, "START": Keyword.START}
ANSWERS = {
    keyword: twiml(SmsProfile(brand="Nudge").answer(keyword)) for keyword in KEYWORDS.values()
}
"""The confirmations, rendered once (the service renders the shop's text per request)."""
NO_ANSWER = twiml()
Message = dict[str, Any]


class _State:
    settings: FeedbackSettings | None = None
    link_keys: LinkKeys | None = None
    publisher: Publisher | None = None


def configure(settings: FeedbackSettings, link_keys: LinkKeys, publisher: Publisher) -> None:
    """What the app works with: the lifespan sets it from the environment when served (the
    publisher being shared/publisher.py's); tests hand in a recording publisher."""
    _State.settings, _State.link_keys, _State.publisher = settings, link_keys, publisher


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            settings = FeedbackSettings()
            publisher = EventPublisher(
                KafkaSettings(),
                topic=FEEDBACK_EVENTS.name,
                client_id="nudge-feedback-floor",
                timeout_s=settings.publish_timeout_s,
                linger_ms=1,  # as services/feedback/parts.py
            )
            configure(settings, LinkKeySettings().keys(), publisher)
            await publisher.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if isinstance(_State.publisher, EventPublisher):
                await _State.publisher.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(
    send: Any, status: int, body: bytes, media_type: bytes = b"application/json"
) -> None:
    headers = [(b"content-type", media_type), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _body(receive: Any) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _publish(send: Any, event: EventEnvelope) -> bool:
    assert _State.publisher is not None
    try:
        await _State.publisher.publish([event])
    except BrokerUnavailable as exc:
        await _answer(send, 503, orjson.dumps({"detail": str(exc)}))
        return False
    return True


async def inbound_sms(scope: Message, receive: Any, send: Any) -> None:
    params = parse_qsl((await _body(receive)).decode("ascii"), keep_blank_values=True)
    settings = _State.settings
    assert settings is not None
    url = settings.public_url + scope["raw_path"].decode("latin-1")
    signature = dict(scope["headers"]).get(b"x-twilio-signature", b"").decode("latin-1")
    tokens = [token.get_secret_value() for token in settings.twilio_auth_token]
    if not twilio_signature.is_valid(tokens, url, params, signature):
        await _answer(send, 403, b'{"detail": "bad signature"}')
        return
    form = dict(params)
    sid, phone, text = form["MessageSid"], form["From"], form.get("Body", "")
    ref = ContactRef(SHOP, phone.lstrip("+"))
    keyword = KEYWORDS.get(text.strip().upper())
    now = datetime.now(UTC)
    event: EventEnvelope
    if keyword is None:
        event = records.reply(ref, sid=sid, text=text, answered=None, now=now)
    else:
        (event,) = records.consent_changes(keyword, [ref], sid=sid, phone=phone, last=None, now=now)
    if await _publish(send, event):
        answer = NO_ANSWER if keyword is None else ANSWERS[keyword]
        await _answer(send, 200, answer, MEDIA_TYPE.encode())


async def one_click(scope: Message, receive: Any, send: Any) -> None:
    assert _State.link_keys is not None
    found = unsubscribe.verify(_State.link_keys, scope["path"].removeprefix("/u/"))
    if found is None:
        await _answer(send, 404, b'{"detail": "not an unsubscribe link of ours"}')
        return
    fields = dict(parse_qsl((await _body(receive)).decode("ascii").strip()))
    if fields.get("List-Unsubscribe", "").lower() != "one-click":
        await _answer(send, 422, b'{"detail": "not a one-click request"}')
        return
    ref, channel = ContactRef(found.shop_id, found.customer_id), Channel(found.channel)
    event = consent_event(
        ref,
        channel,
        granted=False,
        source=ONE_CLICK,
        origin_id=one_click_origin(ref, channel, NEVER_STATED),
        consent=NEVER_STATED,
        now=datetime.now(UTC),
    )
    if await _publish(send, event):
        body = orjson.dumps({"status": "unsubscribed", "channel": channel.value})
        await _answer(send, 200, body)


async def app(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path, method = scope["path"], scope["method"]
    if method == "GET":  # the readiness probe the bench waits on
        ready = _State.publisher is not None and _State.publisher.ready
        await _answer(send, 200 if ready else 503, orjson.dumps({"ready": ready}))
    elif path == "/sms/inbound":
        await inbound_sms(scope, receive, send)
    elif path.startswith("/u/"):
        await one_click(scope, receive, send)
    else:
        await _answer(send, 404, b'{"detail": "no such route"}')


def main() -> None:
    """Serve as services/feedback/server.py serves the service."""
    settings = FeedbackSettings()
    protocol.configure(
        header_timeout_s=settings.header_timeout_s, max_connections=settings.max_connections
    )
    tune_garbage_collector()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        timeout_keep_alive=settings.keep_alive_s,
        http=protocol.CLASS_PATH,
    )


if __name__ == "__main__":
    main()
