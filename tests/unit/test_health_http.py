"""The workers' health pages: readiness and aiohttp's own errors as problem+json."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from shared.health_http import health_app
from shared.problem_details import MEDIA_TYPE


async def test_errors_and_unreadiness_are_problems() -> None:
    reason: list[str | None] = ["tables are recovering"]
    async with TestClient(TestServer(health_app(lambda: reason[0]))) as client:
        missing = await client.get("/table/journeys")
        assert missing.status == 404
        assert missing.headers["Content-Type"] == MEDIA_TYPE
        assert (await missing.json(content_type=MEDIA_TYPE))["status"] == 404

        wrong = await client.post("/healthz")
        assert wrong.status == 405
        assert wrong.headers["Content-Type"] == MEDIA_TYPE
        assert "GET" in wrong.headers["Allow"]

        not_ready = await client.get("/readyz")
        assert not_ready.status == 503
        body = await not_ready.json(content_type=MEDIA_TYPE)
        assert body["reason"] == "tables are recovering"

        reason[0] = None
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert (await ready.json())["status"] == "ready"
