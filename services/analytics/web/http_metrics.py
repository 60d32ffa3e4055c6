"""The report page's request metrics: `http_requests_total{route,status}` and `http_request_duration_seconds`
(services/common/metrics.py). The route is the Flask url rule that matched (`/influencer/<influencer_id>`),
never the raw path, and "other" when none did (a 404), so that label values stay bounded."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from services.common.metrics import families, register_service

OTHER = "other"


def install(app: Flask) -> None:
    """Measures every request of `app`. Call before any other before_request hook is installed: the first
    hook that answers (a sign-in redirect, a refused token) ends the chain, and those answers count too."""
    register_service("analytics")  # the page is analytics': its families show where it is served
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)


def _start() -> None:
    g.metrics_t0 = time.perf_counter()


def _finish(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else OTHER
    m = families()
    m.http_requests.labels(route, str(response.status_code)).inc()
    started = g.get("metrics_t0")
    if started is not None:
        m.http_seconds.labels(route).observe(time.perf_counter() - started)
    return response
