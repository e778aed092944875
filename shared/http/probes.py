"""The answers of the probes every HTTP service serves (`/healthz`, `/readyz`)."""

from __future__ import annotations

import orjson
from fastapi import Response

from shared.problem_details import MEDIA_TYPE, problem_body


def alive() -> Response:
    return Response(orjson.dumps({"status": "ok"}), media_type="application/json")


def readiness(checks: dict[str, bool]) -> Response:
    """200 with the checks when all pass; else a 503 problem whose `checks` say which failed."""
    if all(checks.values()):
        body = orjson.dumps({"ready": True, "checks": checks})
        return Response(body, media_type="application/json")
    missing = ", ".join(name for name, ok in checks.items() if not ok)
    body = problem_body(503, f"not ready: {missing}", extensions={"ready": False, "checks": checks})
    return Response(body, status_code=503, media_type=MEDIA_TYPE)
