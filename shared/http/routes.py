"""Routes whose endpoints take the Request and return the Response themselves."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from prometheus_client import Counter, Histogram

from shared.http import problems

log = logging.getLogger(__name__)


class DirectRoute(APIRoute):
    """A route whose endpoint takes the Request and returns the Response itself.

    FastAPI's own request handler solves dependencies and serialises return values on every
    request; these endpoints have neither (they read raw bodies, for signatures), and
    skipping it saves CPU on every webhook. The
    route still documents itself in the OpenAPI schema (FastAPI's custom route classes).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


Handler = Callable[[Request], Awaitable[Response]]


def observing(
    requests: Counter, seconds: Histogram
) -> Callable[[str], Callable[[Handler], Handler]]:
    """A decorator factory for one service's routes: `observing(REQUESTS, SECONDS)(route)`
    counts and times each request by route and status, answers a raised Problem as its error,
    and a failure of ours as a logged problem+json 500."""

    def observed(route: str) -> Callable[[Handler], Handler]:
        def wrap(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def run(request: Request) -> Response:
                started = time.perf_counter()
                try:
                    response = await handler(request)
                except problems.Problem as problem:
                    response = problem.response()
                except Exception:
                    log.exception("%s failed", route)
                    response = problems.internal().response()
                seconds.labels(route).observe(time.perf_counter() - started)
                requests.labels(route, str(response.status_code)).inc()
                return response

            return run

        return wrap

    return observed
