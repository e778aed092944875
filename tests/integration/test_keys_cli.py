"""`nudge keys rotate -> reseal -> retire` against the real database, as an SRE runs it, then
ingest started on the final ring: every shop's secrets, including one sealed before key ids,
still authenticate requests.

The run uses a database of its own: resealing rewrites every shop of the database it is
pointed at, which would pull the shared test database's shops from under the session's
ingest (it holds only the old key)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from services.ingest.access import sign_native, sign_shopify
from shared.keyring import LinkKeys, read_ring_file
from tests.support.database import run_sql
from tests.support.dispatch_process import TEST_LINK_KEYS, private_database
from tests.support.ingest_process import ROOT, TEST_SECRET_KEY, ingest_process, service_env
from tests.support.payloads import order_placed
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
MASTER_KEY_SETTINGS = ("NUDGE_SECRET_KEY", "NUDGE_SECRET_KEY_FILE", "NUDGE_SECRET_KEYS_FILE")


@pytest.fixture(scope="module")
def database(stack: Stack) -> str:
    return private_database(stack.database_url, "nudge_keys_cli")


def env_with(stack: Stack, database: str, **keys: str) -> dict[str, str]:
    env = service_env(stack.kafka_bootstrap, database)
    for name in MASTER_KEY_SETTINGS:
        env.pop(name, None)
    return {**env, **keys}


def nudge(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def sealed_values(database: str) -> list[str]:
    rows = run_sql(
        database,
        "SELECT webhook_secret_sealed, previous_webhook_secret_sealed, shopify_secret_sealed"
        " FROM shops",
    )
    return [value for row in rows for value in row if value is not None]


def sealed_before_key_ids(secret: str) -> str:
    """What the SecretBox before key ids stored: Fernet under SHA-256(label + master key)."""
    digest = hashlib.sha256(b"nudge-secretbox-v1" + TEST_SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest)).encrypt(secret.encode()).decode()


def test_rotate_reseal_retire_keeps_every_shop_working(
    stack: Stack, database: str, tmp_path: Path, logs_dir: Path
) -> None:
    single = env_with(stack, database, NUDGE_SECRET_KEY=TEST_SECRET_KEY)
    shop = unique_shop_id("keys")
    domain = f"{shop}.myshopify.com"
    added = nudge(single, "shops", "add", shop, "--shopify-domain", domain, "--json")
    assert added.returncode == 0, added.stderr
    first = json.loads(added.stdout)
    shopify_secret = "shpss_" + secrets.token_hex(16)
    run_sql(
        database,
        "UPDATE shops SET shopify_secret_sealed = :sealed WHERE shop_id = :shop",
        sealed=sealed_before_key_ids(shopify_secret),
        shop=shop,
    )

    # 1. rotate: a single key has no ring file to edit in place; --out writes one
    nowhere = nudge(single, "keys", "rotate")
    assert nowhere.returncode == 1 and "--out" in nowhere.stderr
    ring_path = tmp_path / "master.keys"
    rotated = nudge(single, "keys", "rotate", "--kid", "k1", "--out", str(ring_path))
    assert rotated.returncode == 0, rotated.stderr
    ring = read_ring_file(ring_path, "test")
    assert ring.kids == ("k1", "k0")
    kept = ring.get("k0")
    assert kept is not None and kept.secret.get_secret_value() == TEST_SECRET_KEY
    assert TEST_SECRET_KEY not in rotated.stdout + rotated.stderr

    keyring = env_with(stack, database, NUDGE_SECRET_KEYS_FILE=str(ring_path))
    listed = nudge(keyring, "keys", "list", "--sealed")
    assert listed.returncode == 0, listed.stderr
    lines = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [(w[0], w[1]) for w in lines] == [("k1", "active:"), ("k0", "opens")]
    assert "2 secrets sealed" in listed.stdout.splitlines()[2]  # its own and the legacy one
    assert ring.active.secret.get_secret_value() not in listed.stdout

    derived = nudge(keyring, "keys", "derive", "links")
    links = LinkKeys.parse(derived.stdout, "nudge keys derive links")
    assert links == ring.link_keys()
    assert links.get("k0") == TEST_LINK_KEYS.active  # links dispatch signed before still verify

    # 2. the old key cannot go while secrets are sealed with it
    refused = nudge(keyring, "keys", "retire", "k0")
    assert refused.returncode == 1
    assert "2 stored secrets are still sealed with k0" in refused.stderr
    assert read_ring_file(ring_path, "test").kids == ("k1", "k0")

    second = json.loads(nudge(keyring, "shops", "add", unique_shop_id("keys"), "--json").stdout)
    assert sum(v.startswith("k1:") for v in sealed_values(database)) == 1  # new seals: new key

    # 3. reseal: everything under the active key, and a second run finds nothing to do
    resealed = nudge(keyring, "keys", "reseal")
    assert resealed.returncode == 0, resealed.stderr
    assert "resealed 2 of 3 secrets (2 shops)" in resealed.stdout
    assert "resealed 0 of 3 secrets" in nudge(keyring, "keys", "reseal").stdout
    assert all(value.startswith("k1:") for value in sealed_values(database))

    # 4. retire the old key; never the active one
    active = nudge(keyring, "keys", "retire", "k1")
    assert active.returncode == 1 and "active key" in active.stderr
    retired = nudge(keyring, "keys", "retire", "k0")
    assert retired.returncode == 0, retired.stderr
    assert read_ring_file(ring_path, "test").kids == ("k1",)

    # ingest on the final ring: the resealed secrets authenticate as before
    env = {**keyring, "NUDGE_INGEST_CREDENTIALS_REFRESH_S": "1"}
    with ingest_process(env, logs_dir / "ingest-keys.log") as (base, _pid):
        body = b'{"id": 1}'

        def shopify(secret: str) -> int:
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "products/update",
                "X-Shopify-Hmac-Sha256": sign_shopify(secret, body),
                "X-Shopify-Shop-Domain": domain,
                "X-Shopify-Webhook-Id": f"w-{time.time_ns()}",
            }
            response = httpx.post(f"{base}/v1/webhooks/shopify", content=body, headers=headers)
            return response.status_code

        assert shopify(shopify_secret) == 200  # sealed before key ids, resealed, key retired
        assert shopify(first["webhook_secret"]) == 401

        def native(api_key: str, secret: str) -> int:
            raw = json.dumps({"events": [order_placed("c-1")]}).encode()
            headers = {
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "Nudge-Signature": sign_native(secret, raw, int(time.time())),
            }
            return httpx.post(f"{base}/v1/events", content=raw, headers=headers).status_code

        assert native(first["api_key"], first["webhook_secret"]) == 200
        assert native(second["api_key"], second["webhook_secret"]) == 200
        assert native(first["api_key"], second["webhook_secret"]) == 401
