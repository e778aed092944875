"""Probes and metrics for Kubernetes and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from services.ingest import metrics
from services.ingest.routes.common import parts
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
    summary="Readiness: connected to Kafka and shop credentials loaded",
    response_class=Response,
    responses=READY_ANSWER,
)
async def readyz(request: Request) -> Response:
    p = parts(request)
    return readiness({"kafka": p.publisher.ready, "credentials": p.access.ready})


@router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, responses=METRICS_ANSWER
)
async def metrics_page() -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
