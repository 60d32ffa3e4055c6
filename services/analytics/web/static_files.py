"""The page's own files (`/static/...`: its style sheet), answered as the player's video file is (file_answer.py):
a bad or past-the-end Range is the site's 416 page, or ignored as RFC 9110 lets a server ignore it, and a failed
If-Match a 412 without the file. Flask's own static route (werkzeug's `send_file`) answered `Range: junk`, a
unit it does not know and a suffix longer than the file with 416, and sent the whole file as a 412's body."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Flask, Response, abort
from werkzeug.security import safe_join

from services.analytics.web.file_answer import file_answer
from services.analytics.web.media import Unplayable, open_checked

FOLDER = (Path(__file__).parent / "static").resolve()


def install(app: Flask) -> None:
    """Serves FOLDER at `/static/<filename>` under the endpoint Flask's own route has (`static`, as url_for names
    it); the app is made with static_folder=None."""
    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=static_file)


def static_file(filename: str) -> Response:
    """The file `filename` of FOLDER; 404 for anything else (a path out of it, a folder, a missing file)."""
    path = safe_join(str(FOLDER), filename)
    if path is None or filename.endswith("/"):  # "style.css/" names a folder: resolve() dropped the slash
        abort(404)
    try:
        file, info, _ = open_checked(path, FOLDER)
    except Unplayable:
        abort(404)
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return file_answer(filename, file, info, kind)
