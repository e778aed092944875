"""Property-based fuzzing of the ingest API, against the real service and broker.

Two generators, both seeded (derandomized) and bounded so that they fit in `make test`:
- schemathesis draws requests from the committed OpenAPI document, positive and negative, and
  checks every answer against it (status codes, media types, the results' schema);
- hypothesis mutates valid native events, Segment calls and Shopify webhooks (the documented
  samples) field by field with hostile values: times at the calendar's ends, amounts with huge
  exponents, NUL characters, integers beyond 64 bits, deep nesting, wrong types, deletions.
Every request is signed as a real sender would (API key, Shopify HMAC), so the mutations reach
the mappers and models instead of stopping at authentication. Whatever comes back: never a 5xx,
only documented status codes and media types, and afterwards the topic holds exactly the events
the answers said were accepted: none lost, none extra, none twice.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.ingest.access import sign_shopify
from services.ingest.adapters.shopify import SUPPORTED_TOPICS
from services.schema_docs import OPENAPI_PATH
from shared.tenancy import ShopCredentials
from tests.support.hostile_values import mutations
from tests.support.kafka_records import TopicWindow
from tests.support.payloads import order_placed, product_viewed
from tests.support.shopify import fixture
from tests.support.shops import add_shop, unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

DOCUMENT: dict[str, Any] = json.loads(OPENAPI_PATH.read_text())
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
SEGMENT_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "segment"
EXAMPLES_PER_ROUTE = 60
FUZZ = settings(
    max_examples=EXAMPLES_PER_ROUTE,
    derandomize=True,  # the same examples on every run: CI failures reproduce
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure shows its request
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Ledger:
    """What the answers said was accepted for one shop, to compare with the topic."""

    shop: ShopCredentials
    accepted: set[str] = field(default_factory=set)

    def note(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            return
        body = response.json()
        results = body.get("results", [body])
        for result in results:
            if result["status"] == "accepted":
                self.accepted.update(result["event_ids"])

    def assert_topic_matches(self, window: TopicWindow) -> None:
        published = [record.value["id"] for record in window.for_shop(self.shop.shop_id)]
        assert len(published) == len(set(published)), "an event was published twice"
        assert set(published) == self.accepted


@pytest.fixture
def ledger(stack: Stack) -> Ledger:
    shop_id = unique_shop_id("fuzz")
    shop = add_shop(
        stack.database_url,
        shop_id,
        shopify_domain=f"{shop_id}.myshopify.com",
        rate_limit_per_s=1_000_000,  # the fuzzer is not what rate limits are for
    )
    return Ledger(shop)


@pytest.fixture
def window(stack: Stack) -> Iterator[TopicWindow]:
    from shared.topics import SHOP_EVENTS

    found = TopicWindow(stack.kafka_bootstrap, SHOP_EVENTS.name)
    yield found
    found.close()


def documented(path: str, response: httpx.Response) -> None:
    """The answer's status and media type are ones the OpenAPI document lists for `path`."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    answers = DOCUMENT["paths"][path]["post"]["responses"]
    assert str(response.status_code) in answers, f"undocumented {response.status_code}"
    media_type = response.headers["content-type"].split(";")[0]
    documented_types = answers[str(response.status_code)].get("content", {})
    assert media_type in documented_types, f"undocumented {media_type} for {response.status_code}"


def send(
    base: str,
    shop: ShopCredentials,
    path: str,
    body: bytes,
    content_type: str = "application/json",
    **headers: str,
) -> httpx.Response:
    if path == "/v1/webhooks/shopify":
        secret = shop.webhook_secret.get_secret_value()
        headers = {
            "X-Shopify-Shop-Domain": f"{shop.shop_id}.myshopify.com",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            **headers,
            "X-Shopify-Hmac-Sha256": sign_shopify(secret, body),
        }
    else:
        headers = {"Authorization": f"Bearer {shop.api_key.get_secret_value()}", **headers}
    return httpx.post(
        f"{base}{path}",
        content=body,
        headers={"Content-Type": content_type, **headers},
        timeout=30,
    )


# --- schemathesis: requests drawn from the OpenAPI document --------------------------------

ROUTES = ("/v1/events", "/v1/track", "/v1/identify", "/v1/batch", "/v1/webhooks/shopify")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", ROUTES)
def test_requests_drawn_from_the_openapi_document(
    ingest_url: str, ledger: Ledger, window: TopicWindow, path: str, mode: GenerationMode
) -> None:
    operation = SCHEMA[path]["POST"]
    topics = st.sampled_from(sorted(SUPPORTED_TOPICS))

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode), topic=topics)
    def run(case: Any, topic: str) -> None:
        body, content_type = _wire_body(case)
        extra = {"X-Shopify-Topic": topic} if path == "/v1/webhooks/shopify" else {}
        response = send(ingest_url, ledger.shop, path, body, content_type, **extra)
        case.validate_response(
            response,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )
        ledger.note(response)

    run()
    ledger.assert_topic_matches(window)


def _wire_body(case: Any) -> tuple[bytes, str]:
    """The bytes schemathesis would send (JSON, or raw data in negative mode) and their media
    type: serialised here so that the Shopify signature covers exactly what is sent."""
    kwargs = case.as_transport_kwargs(base_url="http://ingest")
    content_type = kwargs["headers"].get("Content-Type", "application/json")
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode(), content_type
    data = kwargs.get("data") or b""
    return (data.encode() if isinstance(data, str) else bytes(data)), content_type


# --- hypothesis: valid payloads, mutated field by field ------------------------------------

SINGLE_WEBHOOKS = 250
"""Examples for a route that takes one payload a request (Shopify), where batches cannot
multiply the mutations."""
BATCH_ITEMS = 40
"""Mutated items per batch request (native events, Segment calls): one hostile item must
not fail its neighbours, and many mutations fit in the time a suite can spend."""


def _segment(name: str) -> dict[str, Any]:
    call: dict[str, Any] = json.loads((SEGMENT_FIXTURES / f"{name}.json").read_text())
    return call


def _customer_created() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "customer.created",
        "time": "2026-11-23T10:15:00+01:00",
        "customerid": "c-1",
        "data": {
            "email": "ada@example.com",
            "phone": "+31612345678",
            "first_name": "Ada",
            "birthday": "1990-02-28",
            "consent": {
                "email": {
                    "status": "granted",
                    "source": "checkout",
                    "recorded_at": "2026-11-23T10:15:00Z",
                }
            },
        },
    }


@dataclass(frozen=True)
class Door:
    """One way in: a route, its valid payloads, and how mutated payloads become a request."""

    path: str
    payloads: Callable[[], list[Any]]
    batch_key: str | None
    """The body's array of items (one request carries many), or None: one payload a request."""
    headers: Callable[[int], dict[str, str]] = lambda _: {}


SHOPIFY_TOPICS = sorted(SUPPORTED_TOPICS)
DOORS = {
    "native": Door(
        "/v1/events",
        lambda: [order_placed("c-1"), product_viewed(anonymous_id="v-1"), _customer_created()],
        "events",
    ),
    "segment": Door(
        "/v1/batch",
        lambda: [_segment(p.stem) for p in sorted(SEGMENT_FIXTURES.glob("*.json"))],
        "batch",
    ),
    "shopify": Door(
        "/v1/webhooks/shopify",
        lambda: [json.loads(fixture(topic)) for topic in SHOPIFY_TOPICS],
        None,
        lambda index: {"X-Shopify-Topic": SHOPIFY_TOPICS[index]},
    ),
}


def _mutated(valid: list[Any]) -> st.SearchStrategy[tuple[int, Any]]:
    """(which valid payload, that payload mutated)."""
    return st.integers(min_value=0, max_value=len(valid) - 1).flatmap(
        lambda index: st.tuples(st.just(index), mutations(valid[index]))
    )


@pytest.mark.parametrize("door", sorted(DOORS))
def test_valid_payloads_mutated_field_by_field(
    ingest_url: str, ledger: Ledger, window: TopicWindow, door: str
) -> None:
    way = DOORS[door]
    valid = way.payloads()
    size = BATCH_ITEMS if way.batch_key else 1
    requests = st.lists(_mutated(valid), min_size=size, max_size=size)

    @settings(FUZZ, max_examples=EXAMPLES_PER_ROUTE if way.batch_key else SINGLE_WEBHOOKS)
    @given(items=requests)
    def run(items: list[tuple[int, Any]]) -> None:
        payloads = [payload for _, payload in items]
        if door == "native":
            for payload in payloads:
                if isinstance(payload, dict):
                    payload["id"] = str(uuid.uuid4())  # each one a new fact
        body = {way.batch_key: payloads} if way.batch_key else payloads[0]
        raw = json.dumps(body).encode()
        response = send(ingest_url, ledger.shop, way.path, raw, **way.headers(items[0][0]))
        documented(way.path, response)
        ledger.note(response)

    run()
    ledger.assert_topic_matches(window)


def test_segment_basic_auth_is_fuzzed_too(ingest_url: str, ledger: Ledger) -> None:
    """The write key as Basic user name, with junk passwords and malformed headers."""

    @FUZZ
    @given(password=st.text(max_size=20), mangle=st.booleans())
    def run(password: str, mangle: bool) -> None:
        user = ledger.shop.api_key.get_secret_value()
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        header = f"Basic {token[:-2] if mangle else token}"
        call = {**_segment("product_viewed"), "messageId": str(uuid.uuid4())}
        response = httpx.post(
            f"{ingest_url}/v1/track",
            content=json.dumps(call).encode(),
            headers={"Authorization": header, "Content-Type": "application/json"},
            timeout=30,
        )
        documented("/v1/track", response)
        assert response.status_code in (200, 401)

    run()
