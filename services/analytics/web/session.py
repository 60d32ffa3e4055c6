"""Flask side of services.analytics.web.auth: the checks run before every request, the session cookie set
after it, the sign-in and sign-out forms, and `csrf_token()` for templates.

Refusals, in the order checked: a `Host` that is not one of the page's names is 421, before any session is
read or made (DNS rebinding, hosts.py); an address with too many failed sign-ins is 429 (throttle.py); a
request without auth is 401 (JSON on /api/, the sign-in form elsewhere); a POST from another origin, without a
valid CSRF token, or a write on a page reachable beyond loopback without a token, is 403 (JSON on /api/,
HTML elsewhere).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from services.analytics.web import csp, hosts
from services.analytics.web.auth import (
    ANONYMOUS,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_LIFETIME_S,
    SIGNED_IN,
    Keys,
    Session,
    safe_next,
)
from services.analytics.web.body_limits import body_limit
from services.analytics.web.throttle import FailureThrottle, client_key
from services.common.boundary import brief
from services.common.rpc import bearer_token, is_loopback

bp = Blueprint("session", __name__)
_OPEN_ENDPOINTS = ("session.signin", "static")  # reachable before signing in


def install(app: Flask) -> None:
    """Adds the Host check, the session checks, the cookie and the sign-in routes to `app` (config TOKEN,
    HOST, ALLOWED_HOSTS: more names the page is served under, SESSION_LIFETIME_S, SESSION_SECRET)."""
    store = app.extensions.get("analytics_store")
    app.extensions["session_keys"] = Keys(app.config.get("TOKEN") or "",
                                          float(app.config.get("SESSION_LIFETIME_S") or SESSION_LIFETIME_S),
                                          secret=str(app.config.get("SESSION_SECRET") or ""),
                                          shared=store.revocations() if store is not None else None)
    app.extensions["page_hosts"] = hosts.allowed_hosts(str(app.config.get("HOST") or "127.0.0.1"),
                                                       app.config.get("ALLOWED_HOSTS") or ())
    app.extensions["signin_throttle"] = FailureThrottle()
    app.before_request(_check_host)
    app.before_request(_check_request)
    app.after_request(_finish_response)
    app.register_blueprint(bp)


def _keys() -> Keys:
    return current_app.extensions["session_keys"]


def wants_json() -> bool:
    """Whether the request is to the JSON API (errors answered in JSON)."""
    return request.path.startswith("/api/")


def json_error(message: str, status: int) -> Response:
    """`{"error": message}` with the status."""
    response = jsonify(error=message)
    response.status_code = status
    return response


def current_session() -> Session:
    """This browser's session, started (anonymous) when it has none yet; the cookie is set on the answer."""
    session = g.get("session")
    if session is None:
        session, g.new_cookie = _keys().new_session(ANONYMOUS)
        g.session = session
    return session


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"csrf_token": lambda: _keys().csrf_token(current_session()),
            "csp_nonce": _csp_nonce,
            "csrf_field": CSRF_FIELD,
            "signed_in": lambda: bool(g.get("session") and g.session.signed_in),
            "auth_required": bool(current_app.config.get("TOKEN"))}


def _csp_nonce() -> str:
    """This answer's script nonce (csp.py), made the first time a template asks; the header names it."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = csp.new_nonce()
    return nonce


def _throttle() -> FailureThrottle:
    return current_app.extensions["signin_throttle"]


def _client() -> str:
    """The client, by its address: the socket's peer (waitress drops forwarded-for headers from untrusted
    proxies), an IPv6 one by its /64 (throttle.client_key)."""
    return client_key(request.remote_addr or "?")


def _authenticated(keys: Keys) -> bool:
    sent = bearer_token(request.headers.get("Authorization"))
    if sent is not None:
        if keys.token_matches(str(sent)):
            return True
        _throttle().failed(_client())
    return bool(g.session and g.session.signed_in)


def _check_host() -> None:
    """421 for a Host that is not one of the page's names, before any session is read or made (the error page
    reads none: it shows no sign-out form, which would need one)."""
    if hosts.host_allowed(request.headers.get("Host"), current_app.extensions["page_hosts"]):
        return
    abort(421, description="this page is not served under that host name (add it to INFLUENCERS_ALLOWED_HOSTS if "
                           "it is the page's own name)")


def _check_request() -> Response | None:
    keys = _keys()
    g.session = keys.read_session(request.cookies.get(SESSION_COOKIE))
    token = current_app.config.get("TOKEN") or ""
    signing_in = request.endpoint == "session.signin" and request.method == "POST"
    if token and (signing_in or bearer_token(request.headers.get("Authorization")) is not None):
        wait_s = _throttle().retry_after_s(_client())
        if wait_s > 0:
            return _too_many(wait_s)
    if token and request.endpoint not in _OPEN_ENDPOINTS and not _authenticated(keys):
        return _unauthorized()
    # Whether what the page knows may be shown (the sign-in page, open to anyone, shows none of it)
    g.reads_allowed = not token or request.endpoint not in _OPEN_ENDPOINTS or bool(g.session and g.session.signed_in)
    if request.method in ("GET", "HEAD", "OPTIONS") or request.routing_exception is not None:
        return None  # no write happens: reads, and requests for no route (their 404 or 405 follows)
    if not token and not is_loopback(str(current_app.config.get("HOST") or "127.0.0.1")):
        _forbid("writes on a page reachable beyond loopback need INFLUENCERS_TOKEN")
    _check_origin()
    _bound_body()
    if _form_lost():
        abort(400, description="the form's body is not a whole multipart/form-data upload (cut short, or without "
                               "its boundary): send it again")
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not keys.csrf_matches(g.session, given):
        _forbid("missing or wrong CSRF token (reload the page and try again)")
    return None


def _bound_body() -> None:
    """413 for a body over its path's limit (body_limits: the enrol form's photos, else 500 kB), and for one that
    is not a multipart upload and is over the form limits (request.max_form_memory_size, 500 kB, and
    max_form_parts, 1,000 fields), before it is parsed. Werkzeug bounds only multipart forms so, as it streams
    them: an urlencoded form or a JSON body was read whole up to MAX_CONTENT_LENGTH (25 MB, which the enrol form's
    photos need), and 25 MB of distinct field names sent to /signin, which needs no session, cost one request 13 s
    and 725 MB."""
    # get_data and the form parser answer 413 past it
    request.max_content_length = min(body_limit(request.path), current_app.config.get("MAX_CONTENT_LENGTH") or 2**62)
    if request.mimetype == "multipart/form-data":
        return
    request.max_content_length = min(request.max_content_length, request.max_form_memory_size)
    if request.mimetype == "application/x-www-form-urlencoded":
        body = request.get_data(cache=True)  # the form is parsed from this cached copy
        if request.max_form_parts is not None and body.count(b"&") + 1 > request.max_form_parts:
            raise RequestEntityTooLarge()
        _check_utf8(body)


def _check_utf8(body: bytes) -> None:
    """400 naming the first field of an urlencoded form whose value is not UTF-8 (every browser sends the page's
    UTF-8): werkzeug kept such bytes as their %-escapes, so `name=%ED%A0%80` (a lone surrogate) renamed an
    influencer "%ED%A0%80"."""
    for part in body.split(b"&"):
        try:
            unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            field = unquote_to_bytes(part.partition(b"=")[0]).decode("utf-8", "replace")
            abort(400, description=f"form field {brief(field, 40)!r} is not UTF-8 text: send the form from the "
                                   "page, or encode it as UTF-8")


def _form_lost() -> bool:
    """Whether a multipart body was sent but cannot be read: werkzeug then gives an empty form, in silence, and
    every field would be said to be missing (the CSRF token first)."""
    return (request.mimetype == "multipart/form-data" and bool(request.content_length)
            and not request.form and not request.files)


def _check_origin() -> None:
    """A POST must come from the page itself: `Origin`, else `Referer`, naming the page's host and port.
    Fetch metadata saying "cross-site" is refused too. With neither header the caller is no browser page (every
    current browser sends Origin on a POST), and the CSRF token, checked next, is what stands."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        _forbid("a write from another site is refused (Sec-Fetch-Site: cross-site)")
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return
    if not hosts.same_site_origin(source, request.headers.get("Host", ""), current_app.extensions["page_hosts"]):
        _forbid("a write from another origin is refused (Origin or Referer is not this page)")


def _too_many(wait_s: float) -> Response:
    seconds = max(1, int(wait_s + 0.999))
    message = f"too many wrong tokens from this address: try again in {seconds} s"
    if wants_json():
        response = json_error(message, 429)
    else:
        response = Response(render_template("signin.html", next=safe_next(request.values.get("next")),
                                            error=message), status=429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _forbid(message: str) -> None:
    if wants_json():
        abort(json_error(message, 403))
    abort(403, description=message)


def _unauthorized() -> Response:
    if wants_json():
        response = json_error("missing or wrong token", 401)
    else:
        response = Response(render_template("signin.html", next=safe_next(request.full_path.rstrip("?")),
                                            error=""), status=401)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _finish_response(response: Response) -> Response:
    cookie = g.pop("new_cookie", None)
    if cookie:
        response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="Strict", secure=request.is_secure,
                            path="/")
    # Behind a token, what a view did not mark otherwise is kept by no cache: Back after signing out shows
    # nothing, and a shared cache in front keeps no report.
    if current_app.config.get("TOKEN") and request.endpoint != "static" and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    # What the page serves is of the type it says: a browser never reads a JSON or CSV answer holding a name or URL
    # typed as `<script>` as a page of this origin.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # One-click forms must not be framed by another site (clickjacking); a script the templates did not write
    # does not run (csp.py).
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", csp.policy(_csp_nonce()))
    # A video's CDN (the player's fetch, a clicked link) learns nothing of the page, not even its host name; the
    # page's own requests keep their Referer (a POST's origin check reads it when a browser sent no Origin).
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Response | str | tuple[str, int]:
    """The sign-in form; a right token starts a signed-in session and goes on to `next` (a local path)."""
    target = safe_next(request.values.get("next"))
    if not current_app.config.get("TOKEN"):
        return redirect(target)
    if request.method != "POST":  # HEAD is a read too: a token in its body is never tried (nor throttled)
        return render_template("signin.html", next=target, error="")
    if not _keys().token_matches(request.form.get("token", "")):
        _throttle().failed(_client())
        return render_template("signin.html", next=target, error="That is not the token."), 401
    g.session, g.new_cookie = _keys().new_session(SIGNED_IN)
    return redirect(target, code=303)


@bp.post("/signout")
def signout() -> Response:
    """Ends this session on the server too (a copy of its cookie is worth nothing after), and starts an
    anonymous one."""
    if g.session is not None and g.session.signed_in:
        _keys().revoke(g.session)
    g.session, g.new_cookie = _keys().new_session(ANONYMOUS)
    return redirect(url_for("session.signin"), code=303)
