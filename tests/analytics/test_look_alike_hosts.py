"""A video URL whose host mixes scripts (`pаypal.com` with a Cyrillic `а`) or passes for another ASCII name
(all-Cyrillic `аррӏе.com`) is shown on the page in its IDNA ASCII form, as a browser's address bar shows it, so
that the analyst reading the Videos list or a video's page is not fooled; a plain Unicode host (`bücher.example`)
and a local path stay as written. Served by a real HTTP server over a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from influencers.stack import WebServer
from services.analytics.records import DONE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.links import shown_url

MIXED = "https://p\u0430ypal.com/v.mp4"  # a Cyrillic а among Latin letters
WHOLE = "https://\u0430\u0440\u0440\u04cf\u0435.com/clip.mp4"  # аррӏе: Cyrillic alone, passes for apple.com
PLAIN = "https://b\u00fccher.example/v.mp4"


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = AnalyticsStore(tmp_path_factory.mktemp("look-alike") / "a.sqlite")
    face = AppearanceRow("", "inf_aaaa000001", 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg")
    store.record_video(VideoRow(WHOLE, "00000000000000aa", 1.0, DONE, duration_s=3.0), [face])
    store.record_video(VideoRow(PLAIN, "00000000000000bb", 2.0, DONE, duration_s=3.0), [face])
    store.record_video(VideoRow(MIXED, "", 1.0, FAILED, "host 'p\u0430ypal.com' mixes scripts in one label"))
    server = WebServer(create_app(store), "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        store.close()


def test_the_videos_list_shows_a_look_alike_host_in_its_ascii_form_and_a_plain_unicode_host_as_written(
        page_url: str) -> None:
    page = requests.get(page_url + "/videos", timeout=5).text
    assert "https://xn--pypal-4ve.com/v.mp4" in page and "p\u0430ypal.com/v.mp4" not in page
    assert "https://xn--80ak6aa92e.com/clip.mp4" in page and "\u0430\u0440\u0440\u04cf\u0435.com/clip" not in page
    assert PLAIN in page


def test_a_videos_page_shows_its_look_alike_url_in_ascii_while_its_link_goes_where_the_manifest_said(
        page_url: str) -> None:
    page = requests.get(page_url + "/video/00000000000000aa", timeout=5).text
    assert "<code>https://xn--80ak6aa92e.com/clip.mp4</code>" in page
    assert "\u0430\u0440\u0440\u04cf\u0435" not in page


@pytest.mark.parametrize("url, shown", [
    ("https://user@p\u0430ypal.com:8443/a?b#c", "https://user@xn--pypal-4ve.com:8443/a?b#c"),
    ("HTTPS://P\u0410YPAL.COM/v.mp4", "HTTPS://xn--pypal-4ve.com/v.mp4"),  # a Cyrillic capital А
    ("https://xn--pypal-4ve.com/v.mp4", "https://xn--pypal-4ve.com/v.mp4"),  # written in ASCII already
    ("https://\u6771\u4eac\u30b3\u30fc\u30d2\u30fcshop.jp/v.mp4",  # Han, Katakana and Latin: one Japanese word
     "https://\u6771\u4eac\u30b3\u30fc\u30d2\u30fcshop.jp/v.mp4"),
    ("videos/p\u0430ypal.mp4", "videos/p\u0430ypal.mp4"),  # a local path: no host
    ("https://\u2603.example/v.mp4", "https://\u2603.example/v.mp4"),  # IDNA refuses it: ingest says why
    ("https://[::1]/v.mp4", "https://[::1]/v.mp4"),
])
def test_a_url_is_shown_with_only_a_look_alike_host_rewritten(url: str, shown: str) -> None:
    assert shown_url(url) == shown
