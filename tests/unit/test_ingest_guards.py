"""Rate limits, the recent-ids window and request signatures, with an injected clock."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import pytest
from pydantic import SecretStr

from services.ingest.access import Access, sign_native, sign_shopify
from services.ingest.dedup import RecentIds
from services.ingest.rate_limit import ShopRateLimiter
from shared.credentials import issue_api_key
from shared.http.problems import Problem
from shared.tenancy import AccessSnapshot, ShopAccess
from shared.token_bucket import TokenBucket


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=20, clock=clock)
    assert bucket.take(20) == 0
    assert bucket.take(5) == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take(5) == 0


def test_shop_limits_are_independent_and_retry_after_is_whole_seconds() -> None:
    clock = Clock()
    limiter = ShopRateLimiter(min_burst=100, clock=clock)
    assert limiter.take("a", 10, 100) == 0
    assert limiter.take("a", 10, 25) == 3
    assert limiter.take("b", 10, 100) == 0


def test_a_request_dearer_than_the_burst_passes_once_the_bucket_is_full() -> None:
    clock = Clock()
    limiter = ShopRateLimiter(min_burst=100, clock=clock)
    assert limiter.take("a", 100, 150) == 0  # full bucket: admitted, now in debt
    assert limiter.take("a", 100, 10) == 1
    clock.now += 0.6
    assert limiter.take("a", 100, 10) == 0
    limiter.refund("a", 100)
    assert limiter.take("a", 100, 100) == 0


def test_each_worker_admits_its_share_of_the_shops_rate() -> None:
    clock = Clock()
    workers = [ShopRateLimiter(min_burst=10, clock=clock, share=1 / 2) for _ in range(2)]
    for limiter in workers:  # 1,000/s over two workers: a 500-event burst each
        assert limiter.take("a", 1000, 500) == 0
        assert limiter.take("a", 1000, 250) == 1
    clock.now += 1.0  # one second later the two have admitted 1,000 more between them
    assert [limiter.take("a", 1000, 500) for limiter in workers] == [0, 0]
    assert [limiter.take("a", 1000, 1) for limiter in workers] == [1, 1]


def test_recent_ids_forget_after_the_window_and_beyond_the_bound() -> None:
    clock = Clock()
    recent = RecentIds(window_s=60, max_ids=2, clock=clock)
    recent.remember(["a", "b"])
    assert "a" in recent and "b" in recent
    recent.remember(["c"])
    assert "a" not in recent and len(recent) == 2
    clock.now += 61
    assert "b" not in recent and "c" not in recent


SECRET = "whsec_test"


def make_access(require_signature: bool = False, clock: Clock | None = None) -> tuple[Access, str]:
    issued = issue_api_key()
    shop = ShopAccess(
        "acme",
        "acme.myshopify.com",
        (SecretStr("whsec_new"), SecretStr(SECRET)),
        100,
        require_signature,
    )
    snapshot = AccessSnapshot(
        shops={"acme": shop},
        key_hashes={issued.key_id: ("acme", issued.key_hash)},
        shopify_domains={"acme.myshopify.com": "acme"},
    )

    async def load() -> AccessSnapshot:
        return snapshot

    access = Access(
        load, refresh_s=60, signature_tolerance_s=300, clock=clock or Clock(1_700_000_000)
    )
    asyncio.run(access.refresh())
    return access, issued.key.get_secret_value()


def test_api_keys_are_checked_against_their_hash() -> None:
    access, key = make_access()
    assert asyncio.run(access.shop_for_key(key)).shop_id == "acme"
    for wrong in (key[:-1] + ("A" if key[-1] != "A" else "B"), "nk_bad", ""):
        with pytest.raises(Problem) as err:
            asyncio.run(access.shop_for_key(wrong))
        assert err.value.status == 401


def test_shopify_hmac_accepts_current_and_previous_secret_only() -> None:
    access, _ = make_access()
    body = b'{"id": 1}'
    for secret in ("whsec_new", SECRET):
        shop = asyncio.run(
            access.shop_for_shopify("ACME.myshopify.com", sign_shopify(secret, body), body)
        )
        assert shop.shop_id == "acme"
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert sign_shopify(SECRET, body) == expected
    for domain, header in [
        ("acme.myshopify.com", sign_shopify("whsec_other", body)),
        ("acme.myshopify.com", "%%%not-base64"),
        ("other.myshopify.com", sign_shopify(SECRET, body)),
        ("acme.myshopify.com", None),
    ]:
        with pytest.raises(Problem) as err:
            asyncio.run(access.shop_for_shopify(domain, header, body))
        assert err.value.status == 401


def test_native_signatures_bound_replays_in_time() -> None:
    clock = Clock(1_700_000_000)
    access, _ = make_access(require_signature=True, clock=clock)
    body = b'{"events": []}'
    snapshot_shop = ShopAccess("acme", None, (SecretStr(SECRET),), 100, True)
    access.check_signature(snapshot_shop, sign_native(SECRET, body, 1_700_000_000), body)
    access.check_signature(snapshot_shop, sign_native(SECRET, body, 1_700_000_000 - 299), body)
    for header in (
        None,
        sign_native(SECRET, body, 1_700_000_000 - 301),
        sign_native(SECRET, body + b" ", 1_700_000_000),
        "v1=abc",
        "t=abc,v1=abc",
        f"t=1700000000,v1={'é' * 64}",
    ):
        with pytest.raises(Problem) as err:
            access.check_signature(snapshot_shop, header, body)
        assert err.value.status == 401
