"""Probes and metrics for Kubernetes and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.http.openapi import HEALTH_ANSWER, METRICS_ANSWER, READY_ANSWER
from shared.http.probes import alive, readiness

router = APIRouter()


@router.get(
    "/healthz",
    summary="Liveness: the process answers (no dependencies checked)",
    response_class=Response,
    responses=HEALTH_ANSWER,
)
async def healthz() -> Response:
    return alive()


@router.get(
    "/readyz",
    summary="Readiness: the shops' API keys are loaded, the projection's consumer has its "
    "partitions",
    response_class=Response,
    responses=READY_ANSWER,
)
async def readyz(request: Request) -> Response:
    checks: dict[str, bool] = request.app.state.checks()
    credentials = request.app.state.parts is not None and request.app.state.parts.api_keys.ready
    return readiness({"credentials": credentials, **checks})


@router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, responses=METRICS_ANSWER
)
async def metrics_page() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
