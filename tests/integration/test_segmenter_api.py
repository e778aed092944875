"""The segmenter's read API on the real broker and database: the PostgreSQL projection against
the one contract suite; and `python -m services.segmenter.api` as its own process, reading
`customer.profiles.v1` records produced here and answering them over HTTP for the shop's API
key only (another shop's key: 404), older records and tombstones converging, a broken record
parked on `customer.profiles.dlq.v1`."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from kafka import KafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.segmenter.api.postgres import PostgresProjection
from services.segmenter.api.store import ProfileProjection
from shared.events.profiles import CustomerProfileEvent
from shared.topics import CUSTOMER_PROFILES, dead_letter_topic
from tests.support.feedback_process import MASTER_KEY_SETTINGS
from tests.support.ingest_process import ingest_process
from tests.support.kafka_records import TopicWindow
from tests.support.profile_events import profile_bytes, profile_event
from tests.support.profile_projection_contract import ProfileProjectionContract
from tests.support.shops import add_shop, unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
T = TypeVar("T")


class TestPostgresProjection(ProfileProjectionContract):
    @pytest.fixture(autouse=True)
    async def _engine(self, stack: Stack) -> AsyncIterator[None]:
        self.engine: AsyncEngine = create_async_engine(stack.database_url)
        yield
        await self.engine.dispose()

    def store(self) -> ProfileProjection:
        return PostgresProjection(self.engine)


@pytest.fixture(scope="module")
def api_url(stack: Stack, logs_dir: Path) -> Iterator[str]:
    """The API as SREs run it: its own process, the key hashes only (never a master key)."""
    env = {k: v for k, v in os.environ.items() if k not in MASTER_KEY_SETTINGS}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=stack.kafka_bootstrap,
        DATABASE_URL=stack.database_url,
        NUDGE_SEGMENTER_API_START_FROM="latest",
        NUDGE_SEGMENTER_API_GROUP_ID=f"test-segmenter-api-{os.getpid()}",
        NUDGE_SEGMENTER_API_CREDENTIALS_REFRESH_S="1",
    )
    argv = ("-m", "services.segmenter.api")
    log = logs_dir / "segmenter-api.log"
    with ingest_process(env, log, argv, port_setting="NUDGE_SEGMENTER_API_PORT") as (base, _):
        yield base


def _until(found: Callable[[], T | None], what: str, timeout_s: float = 30) -> T:
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = found()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"no {what} within {timeout_s:g}s (last: {last!r})")


def _produce(stack: Stack, *records: tuple[bytes, bytes | None]) -> None:
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    for key, value in records:
        producer.send(CUSTOMER_PROFILES.name, key=key, value=value)
    producer.flush()
    producer.close()


def _record(event: CustomerProfileEvent) -> tuple[bytes, bytes]:
    return event.key.encode(), profile_bytes(event)


def _get(base: str, key: str, path: str, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{base}{path}", headers=headers, params=params, timeout=10)


def _sizes(base: str, key: str) -> dict[str, int]:
    response = _get(base, key, "/v1/segments")
    assert response.status_code == 200, response.text
    return {s["segment_id"]: s["size"] for s in response.json()["segments"]}


def test_profiles_on_the_topic_are_served_to_their_shop_only(stack: Stack, api_url: str) -> None:
    shop, other = unique_shop_id("seg"), unique_shop_id("seg")
    key = add_shop(stack.database_url, shop).api_key.get_secret_value()
    other_key = add_shop(stack.database_url, other).api_key.get_secret_value()
    parked = TopicWindow(stack.kafka_bootstrap, dead_letter_topic(CUSTOMER_PROFILES.name).name)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    ada = profile_event(shop, "ada", at=at, segments=["vip", "repeat_buyers"], orders=4)
    ada_before = profile_event(shop, "ada", at=at - timedelta(days=30), segments=["lapsed"])
    bob = profile_event(shop, "bob", at=at, segments=["vip"])
    cy = profile_event(shop, "cy", at=at, segments=["vip"])
    visitor = profile_event(shop, anonymous="v-1", at=at, segments=["vip"], orders=0)
    theirs = profile_event(other, "ada", at=at, segments=["lapsed"], orders=9)
    _produce(
        stack,
        *map(_record, (ada, bob, cy, visitor, theirs)),
        _record(ada_before),  # older, arriving late: ignored
        (f"{shop}:broken".encode(), b'{"type": "customer.profile"}'),
    )

    def stored() -> dict[str, Any] | None:
        if _sizes(api_url, key).get("vip") != 3:
            return None
        response = _get(api_url, key, "/v1/customers/ada")
        return response.json() if response.status_code == 200 else None

    body = _until(stored, "ada's profile and the vip segment's three customers")
    assert (body["shop_id"], body["customer_id"]) == (shop, "ada")
    assert body["profile"]["orders"] == 4
    assert [s["segment_id"] for s in body["profile"]["segments"]] == ["vip", "repeat_buyers"]
    assert _sizes(api_url, key) == {"repeat_buyers": 1, "vip": 3}  # never the visitor

    page = _get(api_url, key, "/v1/segments/vip/members", limit=2).json()
    assert [m["customer_id"] for m in page["members"]] == ["ada", "bob"]
    rest = _get(api_url, key, "/v1/segments/vip/members", limit=2, cursor=page["next_cursor"])
    assert [m["customer_id"] for m in rest.json()["members"]] == ["cy"]
    assert rest.json()["next_cursor"] is None

    # another shop's key: bob is not found (never a 403), its own ada is its own
    refused = _get(api_url, other_key, "/v1/customers/bob")
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"
    assert _get(api_url, other_key, "/v1/customers/ada").json()["profile"]["orders"] == 9
    assert _sizes(api_url, other_key) == {"lapsed": 1}
    assert _get(api_url, other_key, "/v1/segments/vip").json()["size"] == 0
    assert _get(api_url, key, "/v1/customers/v-1").status_code == 404  # a visitor
    assert _get(api_url, "nk_0123456789ab_nothing", "/v1/segments").status_code == 401

    letters = _until(
        lambda: [x for x in parked.since_start() if x.key == f"{shop}:broken"],
        "the broken record parked",
    )
    assert [(x.value["service"], x.value["source_topic"]) for x in letters] == [
        ("segmenter-api", CUSTOMER_PROFILES.name)
    ]
    parked.close()

    later = profile_event(shop, "ada", at=at + timedelta(minutes=1), segments=["lapsed"])
    _produce(stack, _record(later), (f"{shop}:bob".encode(), None))  # bob: a tombstone
    _until(lambda: _sizes(api_url, key) == {"lapsed": 1, "vip": 1}, "ada moved, bob forgotten")
    assert _get(api_url, key, "/v1/customers/bob").status_code == 404
    ada_now = _get(api_url, key, "/v1/customers/ada").json()
    assert [s["segment_id"] for s in ada_now["profile"]["segments"]] == ["lapsed"]


def test_the_service_is_ready_and_measured(api_url: str) -> None:
    ready = httpx.get(f"{api_url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"credentials": True, "kafka": True, "profiles": True}
    metrics = httpx.get(f"{api_url}/metrics", timeout=5).text
    assert "nudge_segmenter_api_records_total" in metrics
    document = httpx.get(f"{api_url}/openapi.json", timeout=5).json()
    assert "/v1/segments/{segment_id}/members" in document["paths"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/customers/%00",
        "/v1/customers/a%00b",
        "/v1/customers/%FF%FE",
        "/v1/customers/%ED%A0%80",
        "/v1/customers/" + "%F0%9F%9B%92" * 255,
        "/v1/segments/vip/members?cursor=MR92aXAfYQBi",  # a NUL in the customer id
        "/v1/segments/vip/members?limit=1000&cursor=%00",
    ],
)
def test_no_input_is_a_500_against_postgresql(shop_key: str, api_url: str, path: str) -> None:
    response = httpx.get(f"{api_url}{path}", headers={"Authorization": f"Bearer {shop_key}"})
    assert response.status_code in {404, 422}, response.text


@pytest.fixture(scope="module")
def shop_key(stack: Stack) -> str:
    return add_shop(stack.database_url).api_key.get_secret_value()
