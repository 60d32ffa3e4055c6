"""The page's own files (/static/style.css) answer ranges and conditions as the player's video file does, over a
real server: a range past the end is the site's 416 page, one a server may ignore gets the whole file, and a
failed If-Match is a 412 page without the file. Flask's own static route answered `Range: junk`, an unknown
unit, several ranges and a suffix longer than the file with 416, and sent the whole file as a 412's body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import serving

STYLE = (Path(__file__).parents[2] / "services/analytics/web/static/style.css").read_bytes()


@pytest.fixture(scope="module")
def url(analytics_module_store: AnalyticsStore) -> Iterator[str]:
    with serving(create_app(analytics_module_store)) as base:
        yield base + "/static/style.css"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_range_past_the_end_of_a_static_file_is_the_sites_416_page(url: str, method: str) -> None:
    for bad in (f"bytes={len(STYLE)}-", "bytes=99999999-", "bytes=-0"):
        reply = requests.request(method, url, headers={"Range": bad}, timeout=5)
        assert reply.status_code == 416, bad
        assert reply.headers["Content-Range"] == f"bytes */{len(STYLE)}"
        assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
        if method == "GET":
            assert 'class="topbar"' in reply.text and "Range Not Satisfiable" in reply.text, reply.text[:200]


@pytest.mark.parametrize("ignored", ["junk", "items=0-5", "bytes=0-1,5-6", f"bytes=-{len(STYLE) * 2}", "bytes=9-3"])
def test_a_range_a_server_may_ignore_gets_the_whole_static_file(url: str, ignored: str) -> None:
    reply = requests.get(url, headers={"Range": ignored}, timeout=5)
    assert reply.status_code in (200, 206) and reply.content == STYLE, (ignored, reply.status_code)


def test_a_static_file_answers_one_range_head_and_conditions(url: str) -> None:
    part = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=5)
    assert part.status_code == 206 and part.content == STYLE[:10]
    assert part.headers["Content-Range"] == f"bytes 0-9/{len(STYLE)}"
    head = requests.head(url, timeout=5)
    assert head.status_code == 200 and head.content == b"" and head.headers["Content-Length"] == str(len(STYLE))
    assert head.headers["Content-Type"] == "text/css; charset=utf-8"
    etag, modified = head.headers["ETag"], head.headers["Last-Modified"]
    assert requests.get(url, headers={"If-None-Match": etag}, timeout=5).status_code == 304
    assert requests.get(url, headers={"If-Modified-Since": modified}, timeout=5).status_code == 304
    stale = requests.get(url, headers={"If-Range": '"another"', "Range": "bytes=0-9"}, timeout=5)
    assert stale.status_code == 200 and stale.content == STYLE
    failed = requests.get(url, headers={"If-Match": '"another"'}, timeout=5)
    assert failed.status_code == 412 and STYLE[:200] not in failed.content and 'class="topbar"' in failed.text


def test_only_files_of_the_static_folder_are_served(url: str) -> None:
    base = url.rsplit("/", 1)[0]
    for path in ("/../__init__.py", "/%2e%2e/__init__.py", "/", "/nope.css", "/style.css/", "/..%2fcsp.py",
                 "/style.css%00", "/%2e%2e%2fcsp.py"):
        reply = requests.get(base + path, timeout=5)
        assert reply.status_code == 404, path
