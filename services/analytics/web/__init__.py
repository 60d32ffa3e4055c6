"""Flask report page: `create_app(store, config, corrections)` application factory.

Errors: the JSON API (`/api/...`) answers every error in JSON, `{"error": "..."}` with the status code
(400, 401, 403, 404, 405, 413, 500...); pages answer with a page of the site (404.html, error.html for the rest).
Reads are in views.py, the correction forms in corrections.py, sign-in and CSRF in session.py.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, g, render_template, request
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from services.analytics.analysis import AnalysisCache
from services.analytics.store import AnalyticsStore
from services.analytics.web import bidi, http_metrics, links, request_log, session, static_files
from services.analytics.web.audit_views import bp as audit_bp
from services.analytics.web.body_limits import FORM_BYTES, FORM_PARTS, MAX_UPLOAD_BYTES, too_large
from services.analytics.web.corrections import bp as corrections_bp
from services.analytics.web.identity_calls import Corrections
from services.analytics.web.media import bp as media_bp
from services.analytics.web.views import bp
from services.common import tracing


def create_app(store: AnalyticsStore, config: dict[str, Any] | None = None,
               corrections: Corrections | None = None) -> Flask:
    """The report app over `store`.

    config["TOKEN"], when set, is required on every request: a session cookie from the sign-in form, or
    `Authorization: Bearer <token>` (leave it empty on loopback). config["HOST"] is the address the page is
    served on: beyond loopback, writes are refused without a token. config["ALLOWED_ROOT"]: the folder whose
    files the video page may play (media.py). `corrections` (the identity service and
    analytics, see corrections.py) enables the correction forms; without it they answer 503.
    """
    app = Flask(__name__, static_folder=None)  # static_files serves /static
    app.jinja_env.finalize = bidi.finalize  # before any template is compiled: it is built into each
    app.jinja_env.filters["href"] = links.href  # an address as given, percent-encoded: the finalize keeps it
    app.jinja_env.filters["shown_url"] = links.shown_url  # a look-alike host as its xn-- form
    app.config.update(TOKEN="", HOST="127.0.0.1", ALLOWED_ROOT="", JSON_SORT_KEYS=False,
                      MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES, MAX_FORM_MEMORY_SIZE=FORM_BYTES,
                      MAX_FORM_PARTS=FORM_PARTS)  # per path: body_limits, session._bound_body
    app.config.update(config or {})
    app.extensions["analytics_store"] = store
    app.extensions["analytics_cache"] = AnalysisCache(store)
    app.extensions["corrections"] = corrections
    http_metrics.install(app)  # first: the requests the session refuses are counted too
    request_log.install(app)  # its time includes the session's checks
    session.install(app)
    static_files.install(app)
    app.register_blueprint(bp)
    app.register_blueprint(corrections_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(media_bp)
    app.register_error_handler(HTTPException, _http_error)
    tracing.instrument_flask(app)
    return app


def _http_error(error: HTTPException) -> Response | tuple[str, int]:
    """Unhandled exceptions reach here as a 500 (InternalServerError); their details are logged, not sent."""
    status = error.code or 500
    if isinstance(error, RequestEntityTooLarge) and error.description == RequestEntityTooLarge.description:
        error.description = too_large(request.path)  # werkzeug's own words name no limit
    g.error_page = True  # the page reads no correction's message from the store (audit_views._feedback)
    if session.wants_json():
        message = "internal server error" if status == 500 else (error.description or error.name)
        response = session.json_error(message, status)
        for name, value in error.get_headers():
            if name.lower() != "content-type":  # keeps Allow (405) and the like
                response.headers[name] = value
        return response
    if status == 404:
        detail = "" if error.description == NotFound.description else error.description
        return render_template("404.html", detail=detail), 404
    # Every other status is a page of the site too (Werkzeug's bare page loses the navigation); a 500's
    # details stay in the log.
    detail = "Something went wrong on our side; the log has the details." if status == 500 else error.description
    response = Response(render_template("error.html", status=status, title=error.name, detail=detail), status)
    for name, value in error.get_headers():
        if name.lower() != "content-type":  # keeps Allow (405), Retry-After and the like
            response.headers[name] = value
    return response
