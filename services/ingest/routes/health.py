"""Probes and metrics for Kubernetes and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from services.ingest import metrics
from services.ingest.openapi import HEALTH_ANSWER, METRICS_ANSWER, READY_ANSWER
from services.ingest.routes.common import json_response, parts
from shared.problem_details import MEDIA_TYPE, problem_body

router = APIRouter()


@router.get(
    "/healthz",
    summary="Liveness: the process answers (no dependencies checked)",
    response_class=Response,
    responses=HEALTH_ANSWER,
)
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get(
    "/readyz",
    summary="Readiness: connected to Kafka and shop credentials loaded",
    response_class=Response,
    responses=READY_ANSWER,
)
async def readyz(request: Request) -> Response:
    p = parts(request)
    checks = {"kafka": p.publisher.ready, "credentials": p.access.ready}
    if all(checks.values()):
        return json_response({"ready": True, "checks": checks})
    missing = ", ".join(name for name, ok in checks.items() if not ok)
    body = problem_body(503, f"not ready: {missing}", extensions={"ready": False, "checks": checks})
    return Response(body, status_code=503, media_type=MEDIA_TYPE)


@router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, responses=METRICS_ANSWER
)
async def metrics_page() -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
