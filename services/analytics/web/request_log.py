"""One log line per request of the page, at INFO: method, route (the rule, never the ids in the path), status
and milliseconds. A request that fails with an exception is logged too (Flask answers it 500 first)."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

log = logging.getLogger(__name__)


def install(app: Flask) -> None:
    """Logs `app`'s requests. Install before the other request hooks, so that the time includes them."""
    app.before_request(_start)
    app.after_request(_log)


def _start() -> None:
    g.request_started = time.perf_counter()


def _log(response: Response) -> Response:
    started = g.get("request_started")
    ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    route = request.url_rule.rule if request.url_rule is not None else "(no route)"
    log.info("request", extra={"method": request.method, "route": route, "status": response.status_code, "ms": ms})
    return response
