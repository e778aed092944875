"""Shopify webhooks as Shopify delivers them: its documented sample payloads, signed."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from services.ingest.access import sign_shopify
from shared.tenancy import ShopCredentials

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"


def fixture(topic: str) -> bytes:
    return (FIXTURES / f"{topic.replace('/', '_')}.json").read_bytes()


def deliver(
    base: str,
    shop: ShopCredentials,
    topic: str,
    body: bytes,
    *,
    secret: str | None = None,
    webhook_id: str | None = None,
    domain: str | None = None,
    triggered_at: str = "2026-11-23T10:00:00.000Z",
) -> httpx.Response:
    signature = sign_shopify(secret or shop.webhook_secret.get_secret_value(), body)
    return httpx.post(
        f"{base}/v1/webhooks/shopify",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": domain or f"{shop.shop_id}.myshopify.com",
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": triggered_at,
            "X-Shopify-API-Version": "2025-10",
        },
        timeout=10,
    )
