"""One file on disk as the answer to a GET or HEAD of the page: the video player's file (media.py) and the page's
own files (static_files.py). Preconditions and the byte range are settled by conditional.py (RFC 9110); a 412 or
416 is the site's error page (werkzeug's `send_file` ignored a bad Range less well, and kept the whole file as
the body of a 412)."""

from __future__ import annotations

import os
from typing import BinaryIO

from flask import Response, abort, current_app, request
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import FileWrapper

from services.analytics.web.conditional import (
    UNSATISFIABLE,
    precondition_status,
    range_applies,
    requested_range,
    validators_of,
)

# Request headers answered here (conditional.py); werkzeug sees only the range settled on.
_SETTLED = ("HTTP_RANGE", "HTTP_IF_RANGE", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE",
            "HTTP_IF_UNMODIFIED_SINCE")


def file_answer(name: str, file: BinaryIO, info: os.stat_result, mimetype: str, what: str = "the file",
                longest_range: int | None = None) -> Response:
    """The open `file` (`info` its fstat, `name` what its ETag is made of) as the answer to this request: 304 or
    412 (no body) when a precondition says so, else the one byte range asked for (206; its first `longest_range`
    bytes at most, as Content-Range then says), else the whole file; 416 for a range past its end. `what` names
    the file in a 412's message. The response closes `file`."""
    size = info.st_size
    version = validators_of(name, info)
    status = precondition_status(request.headers, version)
    wanted = requested_range(request.headers.get("Range"), size) if range_applies(request.headers, version) else None
    if status == 412 or wanted == UNSATISFIABLE:
        file.close()
        if status == 412:
            abort(412, description=f"{what} is no longer the version asked for (If-Match)")
        raise RequestedRangeNotSatisfiable(length=size)
    if status == 304:
        file.close()
        response = current_app.response_class(status=304)
    else:
        # werkzeug's iterator, not the server's wsgi.file_wrapper: waitress's kept trying to send the bytes of a
        # file cut short meanwhile (its loop spinning, the client waiting); a short body now closes the connection.
        response = current_app.response_class(FileWrapper(file, 1 << 16), mimetype=mimetype,
                                              direct_passthrough=True)
        response.content_length = size
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; frame-ancestors 'none'"
    response.last_modified = version.modified
    response.set_etag(version.etag)
    response.cache_control.no_cache = True
    if status == 304:
        return response
    environ = {k: v for k, v in request.environ.items() if k not in _SETTLED}
    if isinstance(wanted, tuple) and longest_range is not None:
        wanted = (wanted[0], min(wanted[1], wanted[0] + longest_range))
    if isinstance(wanted, tuple):
        environ["HTTP_RANGE"] = f"bytes={wanted[0]}-{wanted[1] - 1}"
    return response.make_conditional(environ, accept_ranges=True, complete_length=size)
