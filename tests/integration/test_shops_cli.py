"""`nudge shops add|rotate|list` against the real database, checked through the real API."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from services.ingest.access import sign_shopify
from tests.support.ingest_process import ROOT, service_env
from tests.support.payloads import order_placed
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def nudge(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=service_env(stack.kafka_bootstrap, stack.database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )


def send(base: str, key: str) -> int:
    response = httpx.post(
        f"{base}/v1/events",
        json={"events": [order_placed("c-1")]},
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.status_code


def test_add_list_and_rotate(stack: Stack, ingest_url: str) -> None:
    shop_id = unique_shop_id("cli")
    added = nudge(
        stack, "shops", "add", shop_id, "--shopify-domain", f"{shop_id}.myshopify.com", "--json"
    )
    assert added.returncode == 0, added.stderr
    first = json.loads(added.stdout)
    assert first["api_key"].startswith("nk_") and first["webhook_secret"].startswith("whsec_")
    assert send(ingest_url, first["api_key"]) == 200

    listed = nudge(stack, "shops", "list")
    line = next(row for row in listed.stdout.splitlines() if row.startswith(shop_id))
    assert "keys=1" in line
    assert first["api_key"] not in listed.stdout  # credentials are never shown again

    duplicate = nudge(stack, "shops", "add", shop_id)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    with_grace = json.loads(nudge(stack, "shops", "rotate", shop_id, "--json").stdout)
    time.sleep(1.2)  # the service reloads credentials at most once a second on a miss
    assert send(ingest_url, with_grace["api_key"]) == 200
    assert send(ingest_url, first["api_key"]) == 200  # still inside the grace period

    rotated = nudge(stack, "shops", "rotate", shop_id, "--grace-minutes", "0", "--json")
    second = json.loads(rotated.stdout)
    time.sleep(1.2)
    assert send(ingest_url, second["api_key"]) == 200
    deadline = time.monotonic() + 10  # the periodic refresh drops the expired keys
    while send(ingest_url, first["api_key"]) != 401 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert send(ingest_url, first["api_key"]) == 401
    assert send(ingest_url, with_grace["api_key"]) == 401

    body = b'{"id": 1}'
    old_signature = sign_shopify(first["webhook_secret"], body)
    response = httpx.post(
        f"{ingest_url}/v1/webhooks/shopify",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": "products/update",
            "X-Shopify-Hmac-Sha256": old_signature,
            "X-Shopify-Shop-Domain": f"{shop_id}.myshopify.com",
            "X-Shopify-Webhook-Id": "w-1",
        },
    )
    assert response.status_code == 401


def test_invalid_shop_ids_and_unknown_shops_are_refused(stack: Stack) -> None:
    bad = nudge(stack, "shops", "add", "Not A Slug!")
    assert bad.returncode == 1 and "shop id must be" in bad.stderr
    missing = nudge(stack, "shops", "rotate", unique_shop_id("nobody"))
    assert missing.returncode == 1 and "unknown shop" in missing.stderr


def test_a_missing_secret_key_is_a_clear_start_error(stack: Stack) -> None:
    env = service_env(stack.kafka_bootstrap, stack.database_url)
    del env["NUDGE_SECRET_KEY"]
    env.pop("NUDGE_SECRET_KEY_FILE", None)
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "shops", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "NUDGE_SECRET_KEY" in result.stderr
