"""The answers waitress gives itself, before any application runs (a request line it cannot read, headers too
large, a bad chunk), made the site's own: the page's error page, or JSON on /api, instead of waitress's plain
text. `page_channel(app)` is the channel class a waitress server takes (its `channel_class`)."""

from __future__ import annotations

import logging

from flask import Flask, request
from waitress.channel import HTTPChannel
from waitress.task import ErrorTask
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

log = logging.getLogger(__name__)

# How much of waitress's own reason ("Bad URI", "Malformed HTTP method ...") the answer repeats: it may quote the
# client's bytes, escaped by the template, but never at length.
MAX_DETAIL_CHARS = 200


def _path(request: object) -> str:
    """The request's path when waitress read it and it is plain ASCII; "/" otherwise."""
    path = getattr(request, "path", None)
    if isinstance(path, str) and path.startswith("/") and path.isascii() and path.isprintable():
        return path
    return "/"


def render(app: Flask, path: str, code: int, detail: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """The status line, headers and body the app's own error handler gives `code` at `path` (HTML, or JSON
    under /api), with what the app adds to every answer (its security headers; the request's metric and log
    line), without running the request's own hooks (sign-in, CSRF): nothing of the request was read."""
    error_class = default_exceptions.get(code, InternalServerError)
    error: HTTPException = error_class(description=detail[:MAX_DETAIL_CHARS] or None)
    with app.test_request_context(path):
        request.url_rule = None  # no route answered: the metrics count it as "other", the log as "(no route)"
        response = app.process_response(app.make_response(app.handle_user_exception(error)))
        body = response.get_data()
    headers = [(name, value) for name, value in response.headers.items()
               if name.lower() not in ("content-length", "connection")]
    return response.status, headers, body


class _PageErrorTask(ErrorTask):
    """waitress's ErrorTask, answering with the site's page; waitress's own text if the page cannot be made."""

    app: Flask

    def execute(self) -> None:
        error = self.request.error
        # A body over the page's limit: the page's own words, which name its limits ("exceeds max_body of 26214400"
        # names a byte count), as when the page itself refuses one.
        detail = "" if int(error.code) == 413 else str(error.body)
        try:
            status, headers, body = render(self.app, _path(self.request), int(error.code), detail)
        except Exception:  # the page failed: the client still gets waitress's short answer
            log.exception("the page's error page for a request waitress refused (%s) failed", error.code)
            super().execute()
            return
        self.status = status
        self.response_headers.extend(headers)
        if getattr(error, "retry_after", None):  # a refusal for now (page_bodies.UploadsBusy): when to come back
            self.response_headers.append(("Retry-After", str(error.retry_after)))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


def page_channel(app: Flask) -> type[HTTPChannel]:
    """A waitress channel class whose refusals are `app`'s error pages."""
    task = type("PageErrorTask", (_PageErrorTask,), {"app": app})
    return type("PageChannel", (HTTPChannel,), {"error_task_class": task})
