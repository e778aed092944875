"""The floor under the batch API: the least any ingest in Python must spend per event here.

A bare ASGI app (no FastAPI) that does only what the issue makes mandatory for every event:
parse the batch, validate it with the same pydantic models (all 100 events in one call, the
fastest way pydantic offers), serialise each event, and publish with ingest's own producer
(librdkafka, acks=all, idempotent), answering once the broker acknowledged. No authentication,
deduplication, rate limits, per-item answers or metrics. `make bench` runs it under uvicorn
with as many workers as ingest, on the same batches, so its events/s bound what ingest can
reach on this machine: if the floor is below a target, no change inside ingest meets it.

Run: `python -m uvicorn tests.bench.ingest_floor:app --workers N --port P`.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from shared.events import ShopEvent
from shared.garbage import tune_garbage_collector
from shared.publisher import BrokerUnavailable, EventPublisher
from shared.settings import KafkaSettings
from shared.topics import SHOP_EVENTS

SHOP = "bench-ingest"
SOURCE = f"/shops/{SHOP}/api"
BATCH: TypeAdapter[list[ShopEvent]] = TypeAdapter(list[ShopEvent])
Message = dict[str, Any]


class _State:
    publisher: EventPublisher | None = None


async def _answer(send: Any, status: int, body: object) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            tune_garbage_collector()  # as ingest does: rare, cheap collections
            _State.publisher = EventPublisher(
                KafkaSettings(),
                topic=SHOP_EVENTS.name,
                client_id="nudge-ingest-floor",
                timeout_s=5.0,
                linger_ms=2,
            )
            await _State.publisher.start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _State.publisher is not None:
                await _State.publisher.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _body(receive: Any) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def app(scope: Message, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    publisher = _State.publisher
    assert publisher is not None
    if scope["method"] == "GET":  # the readiness probe the bench waits on
        await _answer(send, 200 if publisher.ready else 503, {"ready": publisher.ready})
        return
    raw = orjson.loads(await _body(receive))["events"]
    for event in raw:
        event.update(specversion="1.0", source=SOURCE, shopid=SHOP)
    try:
        events = BATCH.validate_python(raw)
        await publisher.publish(events)
    except ValidationError as exc:
        await _answer(send, 422, {"errors": exc.error_count()})
        return
    except BrokerUnavailable as exc:
        await _answer(send, 503, {"detail": str(exc)})
        return
    ids = [event.id for event in events]
    await _answer(send, 200, {"results": [{"status": "accepted", "event_ids": ids}]})
