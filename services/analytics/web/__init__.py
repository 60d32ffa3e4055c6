"""Flask report page: `create_app(store, config)` application factory.

Errors: the JSON API (`/api/...`) answers every error in JSON, `{"error": "..."}` with the status code
(400, 401, 404, 405, 500...); pages answer in HTML (the 404 page, werkzeug's pages for the rest).
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from services.analytics.analysis import AnalysisCache
from services.analytics.store import AnalyticsStore
from services.analytics.web.views import bp


def create_app(store: AnalyticsStore, config: dict[str, Any] | None = None) -> Flask:
    """The report app over `store`. config["TOKEN"], when set, is required on every request as
    `?token=` or `Authorization: Bearer <token>` (leave it empty on loopback)."""
    app = Flask(__name__)
    app.config.update(TOKEN="", JSON_SORT_KEYS=False)
    app.config.update(config or {})
    app.extensions["analytics_store"] = store
    app.extensions["analytics_cache"] = AnalysisCache(store)
    app.before_request(_require_token)
    app.register_blueprint(bp)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _json_error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _require_token() -> Response | None:
    token = current_app.config.get("TOKEN") or ""
    if not token:
        return None
    header = request.headers.get("Authorization", "")
    given = request.args.get("token") or header.removeprefix("Bearer ").strip()
    if given and hmac.compare_digest(given.encode(), token.encode()):
        return None
    if _wants_json():
        response = _json_error("missing or wrong token", 401)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return Response("missing or wrong token\n", status=401, mimetype="text/plain",
                    headers={"WWW-Authenticate": "Bearer"})


def _http_error(error: HTTPException) -> Response | HTTPException | tuple[str, int]:
    """Unhandled exceptions reach here as a 500 (InternalServerError); their details are logged, not sent."""
    status = error.code or 500
    if _wants_json():
        message = "internal server error" if status >= 500 else (error.description or error.name)
        response = _json_error(message, status)
        for name, value in error.get_headers():
            if name.lower() != "content-type":  # keeps Allow (405) and the like
                response.headers[name] = value
        return response
    if status == 404:
        return render_template("404.html"), 404
    return error
