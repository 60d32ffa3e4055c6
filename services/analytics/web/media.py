"""The video page's player: where a video's bytes can be played from, and the route that serves a local file.

A video plays from the first of its manifest rows that can be reached:
- a local file (the row's location, an absolute path) under the allowed root (Settings.allowed_root), served
  by `/video/<video_id>/media` with HTTP range requests (a browser seeks by asking for byte ranges);
  symlinks are resolved before the check, and the file opened is checked to be the one checked;
- an http(s) URL, which the browser fetches itself.
Without an allowed root the page plays local files only when it is served on loopback (the analyst's own
machine reading the analyst's own files, as ingest did); beyond loopback it says to set one. The route takes
a video id, never a path: only the locations the store recorded can be served.
"""

from __future__ import annotations

import mimetypes
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import Blueprint, Response, abort, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.wsgi import ClosingIterator

from services.analytics.records import VideoRow
from services.analytics.web.file_answer import file_answer
from services.analytics.web.links import is_http_url
from services.common.boundary import is_video_id
from services.common.location_key import whole_path
from services.common.rpc import is_loopback
from services.common.url_secrets import HIDDEN, secrets_hidden

bp = Blueprint("media", __name__)

ROOT_SETTING = "INFLUENCERS_ALLOWED_ROOT"
# A reader that reads slowly or not at all (a paused player holds its open-ended range) held a server thread
# while a body larger than waitress buffers whole (BUFFERED_BYTES, its outbuf_high_watermark) waited for it, so
# that a few of them starved every page (influencers/stack.py WebServer has 8 threads). A range is therefore
# answered with its first LONGEST_RANGE bytes at most (Content-Range says which; a player asks for the next),
# which waitress buffers and frees the thread at once; and whole-file answers larger than BUFFERED_BYTES (a
# script's GET without Range) are at most MEDIA_STREAMS at once (config "MEDIA_STREAMS"), past them 503 with
# Retry-After (RETRY_AFTER_S).
BUFFERED_BYTES = 16 * 2**20
LONGEST_RANGE = 8 * 2**20
MEDIA_STREAMS = 4
RETRY_AFTER_S = 5


@bp.record_once
def _bound_streams(state: BlueprintSetupState) -> None:
    state.app.extensions["media_streams"] = threading.BoundedSemaphore(
        int(state.app.config.get("MEDIA_STREAMS") or MEDIA_STREAMS))


@dataclass(frozen=True)
class Source:
    """How the page plays a video: `kind` "file" (served by this page), "url" (`url`, fetched by the
    browser) or "" (it cannot: `reason` says why, in the analyst's words)."""

    kind: str
    url: str = ""
    reason: str = ""


class Unplayable(Exception):
    """A local file the page will not serve; the message says why."""


def allowed_root(config: dict) -> Path | None:
    """The folder local files must lie in: ALLOWED_ROOT of the app's config; None (any) when it is empty and
    the page is on loopback. Unplayable beyond loopback without one."""
    root = str(config.get("ALLOWED_ROOT") or "")
    if root:
        return Path(root).resolve()
    if is_loopback(str(config.get("HOST") or "127.0.0.1")):
        return None
    raise Unplayable(f"local files are played only under {ROOT_SETTING}, which is not set")


def checked_path(location: str, root: Path | None) -> Path:
    """The real path of a local `location` when it is a regular file under `root` (None: anywhere);
    Unplayable otherwise. Symlinks are followed first, so a link out of the root is refused."""
    if not location or not os.path.isabs(location) or "\0" in location:
        raise Unplayable("its location on disk is not known")
    try:
        path = Path(location).resolve(strict=True)
    except FileNotFoundError:
        raise Unplayable(f"the file {location} is no longer there") from None
    except (OSError, RuntimeError) as exc:
        raise Unplayable(f"the file {location} cannot be read ({exc.__class__.__name__})") from None
    if root is not None and not path.is_relative_to(root):
        raise Unplayable(f"the file lies outside the allowed folder {root}")
    if not path.is_file():
        raise Unplayable(f"{location} is not a regular file")
    return path


def open_checked(location: str, root: Path | None) -> tuple[BinaryIO, os.stat_result, Path]:
    """The file at `location`, opened, when checked_path allows it; the opened file is checked to be the file
    checked (a symlink swapped in between is refused). The caller closes it."""
    path = checked_path(location, root)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise Unplayable(f"the file {location} cannot be opened ({exc.strerror})") from None
    info = os.fstat(fd)
    try:
        same = os.path.samestat(info, os.stat(checked_path(location, root)))
    except (OSError, Unplayable):
        same = False
    if not same or not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Unplayable(f"the file {location} changed while it was opened")
    return open(fd, "rb"), info, path


def find_source(rows: list[VideoRow], config: dict) -> Source:
    """Where the page can play the video of `rows` (the manifest rows with its content): a local file first
    (it needs no network), then an http(s) URL; Source("") with the reason of the first refusal otherwise."""
    reasons: list[str] = []
    for row in rows:
        location = on_disk(row)
        if is_http_url(location):
            continue
        try:
            checked_path(location, allowed_root(config))
            return Source("file")
        except Unplayable as exc:
            reasons.append(str(exc))
    for row in rows:
        for candidate in (row.url, row.location):
            if not is_http_url(candidate):
                continue
            if not _signed(candidate):
                return Source("url", candidate)
            reasons.append("its link was signed, and the page keeps no signature or token of a link "
                           "(open it from your own copy of the manifest)")
    return Source("", reason=reasons[0] if reasons else "no manifest row gives a place to read it from")


def on_disk(row: VideoRow) -> str:
    """Where a row's bytes were read: its location, or for a path past 1 KiB (keyed by its head and digest,
    services/common/location_key.py) the whole path, found from the manifest's cell the row keeps."""
    location = row.location or row.url
    return whole_path(location, row.url) or location


def _signed(url: str) -> bool:
    """Whether `url` is a signed link as the store keeps it: its secrets hidden (`***`) or digested, so that it
    no longer opens, or a location keeping a token in its path, which the page must not show
    (services/common/url_secrets.py). A digested secret is a secret value secrets_hidden would hide."""
    return HIDDEN in url or secrets_hidden(url) != url


@bp.get("/video/<video_id>/media")
def media(video_id: str) -> Response:
    """The video's local file, with range requests (206 Partial Content) and conditional GETs; 404 when the
    video has no local file the page may serve."""
    if not is_video_id(video_id):
        abort(404)
    response = _media_file(video_id)
    if request.method == "HEAD" or response.status_code not in (200, 206) or \
            (response.content_length or 0) <= BUFFERED_BYTES:
        return response
    streams = current_app.extensions["media_streams"]
    if not streams.acquire(blocking=False):
        response.close()
        raise ServiceUnavailable(description="the page is sending as many videos at once as it may (MEDIA_STREAMS): "
                                             "play it again in a few seconds", retry_after=RETRY_AFTER_S)
    # The file's iterator is given to the server as it is (direct_passthrough: Response.call_on_close never
    # runs): the stream is freed when the server closes it, the body sent or the reader gone.
    response.response = ClosingIterator(response.response, streams.release)
    return response


def _media_file(video_id: str) -> Response:
    rows = current_app.extensions["analytics_store"].rows_of_video(video_id)
    for row in rows:
        location = on_disk(row)
        if is_http_url(location):
            continue
        try:
            file, info, path = open_checked(location, allowed_root(current_app.config))
        except Unplayable:
            continue
        return _answer(video_id, file, info, path)
    abort(404, description="this video has no file the page may play")


_MPEG_TS = {".ts": "video/mp2t", ".m2ts": "video/mp2t", ".mts": "video/mp2t"}  # mimetypes: Qt Linguist text


def media_type(name: str) -> str:
    """The Content-Type a video file named `name` is served with: its video or audio type, else bytes. A file
    that decodes as a video may also be a web page (an MP4 whose free box holds a <script>): named `.html` or
    `.svg` and served as such, a browser ran its script under the page's origin."""
    kind = _MPEG_TS.get(Path(name).suffix.lower()) or mimetypes.guess_type(name)[0] or ""
    return kind if kind.startswith(("video/", "audio/")) else "application/octet-stream"


def _answer(video_id: str, file: BinaryIO, info: os.stat_result, path: Path) -> Response:
    return file_answer(video_id, file, info, media_type(path.name), what="the video's file",
                       longest_range=LONGEST_RANGE)
