"""Probes and metrics for Kubernetes and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from services.ingest import metrics
from services.ingest.routes.common import json_response, parts

router = APIRouter()


@router.get("/healthz", summary="Liveness: the process answers (no dependencies checked)")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", summary="Readiness: connected to Kafka and shop credentials loaded")
async def readyz(request: Request) -> Response:
    p = parts(request)
    checks = {"kafka": p.publisher.ready, "credentials": p.access.ready}
    ready = all(checks.values())
    return json_response({"ready": ready, "checks": checks}, 200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
async def metrics_page() -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
