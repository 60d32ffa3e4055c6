"""Flask report page: `create_app(store, config)` application factory."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Flask, Response, current_app, render_template, request

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
    app.register_error_handler(404, _not_found)
    return app


def _require_token() -> Response | None:
    token = current_app.config.get("TOKEN") or ""
    if not token:
        return None
    header = request.headers.get("Authorization", "")
    given = request.args.get("token") or header.removeprefix("Bearer ").strip()
    if given and hmac.compare_digest(given.encode(), token.encode()):
        return None
    return Response("missing or wrong token\n", status=401, mimetype="text/plain",
                    headers={"WWW-Authenticate": "Bearer"})


def _not_found(error: Exception) -> tuple[str, int]:
    return render_template("404.html"), 404
