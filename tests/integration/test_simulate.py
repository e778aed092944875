"""`nudge simulate` against a real ingest process: every accepted event reaches
shop.events.v1 exactly once, duplicated deliveries included, and a rerun is all duplicates."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections import Counter
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from services.simulator.command import Options, Plan, run, simulate
from services.simulator.formats import Format, ShopKeys
from services.simulator.sender import SendOptions
from shared.clock import ScaledClock
from shared.credentials import SecretBox
from shared.db.engine import make_engine
from shared.settings import DatabaseSettings
from shared.tenancy import ShopRegistry
from tests.support.kafka_records import TopicWindow
from tests.support.shops import TEST_KEYS, add_shop, unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

SCALE = 86_400.0
"""A simulated day a wall second."""


def _shops(stack: Stack) -> dict[str, ShopKeys]:
    keys = {}
    for fmt in Format:
        shop_id = unique_shop_id(f"sim{fmt.value}")
        domain = f"{shop_id}.myshopify.com" if fmt is Format.SHOPIFY else None
        creds = add_shop(stack.database_url, shop_id, shopify_domain=domain)
        keys[shop_id] = ShopKeys(
            shop_id,
            fmt,
            creds.api_key.get_secret_value(),
            creds.webhook_secret.get_secret_value(),
        )
    return keys


def test_every_accepted_event_is_published_exactly_once(
    stack: Stack, ingest_url: str, shop_events: TopicWindow
) -> None:
    keys = _shops(stack)
    clock = ScaledClock(origin=time.time(), scale=SCALE)
    plan = Plan(
        seed=31,
        customers=50,
        days=2,
        start=clock.now(),
        shops=tuple((k.shop_id, k.format) for k in keys.values()),
    )
    options = SendOptions(rate=2000, duplicate_rate=0.2, record_ids=True, seed=31)
    tally = asyncio.run(simulate(plan, keys, ingest_url, clock, options))

    assert tally.actions > 50
    assert tally.failed == Counter()
    assert tally.items["rejected"] == tally.items["ignored"] == 0, tally.rejected
    assert tally.resent > 0
    assert tally.items["duplicate"] >= tally.resent
    assert tally.duplicates_expected >= tally.resent
    assert tally.accepted_unexpectedly == 0

    records = [r for r in shop_events.since_start() if r.value["shopid"] in keys]
    published = Counter(r.value["id"] for r in records)
    assert [i for i, count in published.items() if count > 1] == [], "published twice"
    assert set(published) == set(tally.accepted_ids)
    assert {r.value["shopid"] for r in records} == set(keys)
    # Shop ids are new each run and customers are drawn from them, so which kinds of event a
    # population of this size produces within two days varies: only that it produced some.
    assert records


def _registry(database_url: str) -> tuple[AsyncEngine, ShopRegistry]:
    engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
    return engine, ShopRegistry(engine, SecretBox(TEST_KEYS))


def test_the_command_registers_its_shops_and_a_rerun_is_all_duplicates(
    stack: Stack, ingest_url: str, tmp_path: Path
) -> None:
    credentials = tmp_path / "shops.json"
    shops = ",".join(f"{unique_shop_id(f'cmd{f.value}')}={f.value}" for f in Format)
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    options = Options(
        seed=32,
        customers=40,  # shop ids are new each run: fewer customers can do nothing in a day
        days=2.0,
        time_scale=SCALE,
        clock_origin=None,
        start=start,
        rate=1000.0,
        concurrency=16,
        ingest_url=ingest_url,
        shops=shops,
        credentials=credentials,
        duplicate_rate=0.0,
        dry_run=False,
        as_json=True,
        settle_s=0.0,
    )
    first = io.StringIO()
    assert run(options, lambda: _registry(stack.database_url), first) == 0
    saved = json.loads(credentials.read_text())["shops"]
    assert sorted(entry["shop_id"] for entry in saved) == sorted(
        part.partition("=")[0] for part in shops.split(",")
    )
    report = json.loads(first.getvalue())
    assert report["items"].get("accepted", 0) > 0, json.dumps(report)
    assert report["start"] == start

    def no_registry() -> tuple[AsyncEngine, ShopRegistry]:
        raise AssertionError("the credentials file should be enough")

    again = io.StringIO()
    assert run(options, no_registry, again) == 0
    rerun = json.loads(again.getvalue())
    assert rerun["items"].get("accepted", 0) == 0
    assert rerun["items"]["duplicate"] == report["items"]["accepted"] + report["items"].get(
        "duplicate", 0
    )
