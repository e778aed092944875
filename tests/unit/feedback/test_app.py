"""The feedback app with fakes: probes, metrics, and errors as problem+json."""

from __future__ import annotations

import httpx
from prometheus_client import CONTENT_TYPE_LATEST

from shared.problem_details import MEDIA_TYPE
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts


def client(ready: bool = True, index: bool = True) -> httpx.AsyncClient:
    parts = fake_parts()
    assert isinstance(parts.publisher, RecordingPublisher)
    parts.publisher.ready = ready
    app = create_app(parts, checks=lambda: {"index": index})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feedback")


async def test_probes_say_what_is_missing() -> None:
    async with client() as ok:
        assert (await ok.get("/healthz")).json() == {"status": "ok"}
        ready = await ok.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"kafka": True, "index": True}
    async with client(ready=False, index=False) as not_yet:
        answer = await not_yet.get("/readyz")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == MEDIA_TYPE
        assert answer.json()["checks"] == {"kafka": False, "index": False}


async def test_errors_are_problems_and_metrics_are_prometheus_text() -> None:
    async with client() as feedback:
        missing = await feedback.get("/nothing")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == MEDIA_TYPE
        wrong = await feedback.post("/healthz")
        assert wrong.status_code == 405
        assert wrong.headers["allow"] == "GET"
        metrics = await feedback.get("/metrics")
        assert metrics.headers["content-type"] == CONTENT_TYPE_LATEST
