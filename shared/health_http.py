"""Health, readiness and metrics pages for Kubernetes probes and Prometheus (worker services).

The stream workers serve these from a small aiohttp site of their own: for triggers instead of
Faust's web server, which would also expose the tables' contents (customers' data) under
`/table`; for dispatch beside its consumer and sender loops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.problem_details import MEDIA_TYPE, problem_body

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (404, 405...) in the problem+json format every service answers in."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        body = problem_body(exc.status, exc.reason)
        return web.Response(
            body=body, status=exc.status, headers={**headers, "Content-Type": MEDIA_TYPE}
        )


def health_app(is_ready: Callable[[], str | None]) -> web.Application:
    """`is_ready` returns None when ready, else why not."""

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        reason = is_ready()
        if reason is None:
            return web.json_response({"status": "ready"})
        body = problem_body(503, f"not ready: {reason}", extensions={"reason": reason})
        return web.Response(body=body, status=503, headers={"Content-Type": MEDIA_TYPE})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(middlewares=[problems])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def start_site(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
