"""/videos is paged: a long video list is sent a page at a time, every row once, over HTTP."""

from __future__ import annotations

import re

import requests

from services.analytics.records import DONE, FAILED, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.views import VIDEOS_PAGE_ROWS
from tests.analytics.test_analytics_web import serving


def test_the_video_list_comes_a_page_at_a_time_with_every_row_once(analytics_empty_store: AnalyticsStore) -> None:
    analytics_empty_store.record_many(
        (VideoRow(url=f"https://cdn.example.com/{n}.mp4", video_id=f"{n:016x}", performance=float(n),
                  status=DONE if n % 3 else FAILED, error="" if n % 3 else "HTTP 404"), [])
        for n in range(17))
    with serving(create_app(analytics_empty_store, {"VIDEOS_PAGE_ROWS": 7})) as url:
        seen, sizes, path = [], [], "/videos"
        while path:
            page = requests.get(url + path, timeout=5)
            assert page.status_code == 200
            found = re.findall(r"https://cdn\.example\.com/(\d+)\.mp4", page.text)
            seen += found
            sizes.append(len(found))
            nxt = re.search(r'rel="next" href="([^"]+)"', page.text)
            path = nxt.group(1).replace("&amp;", "&") if nxt else ""
        assert sizes == [7, 7, 3] and seen == [str(n) for n in range(17)]
        for bad in ("nonsense", "cDE6MA==", "x" * 100):
            reply = requests.get(url + "/videos", params={"page": bad}, timeout=5)
            assert reply.status_code == 400 and "does not exist" in reply.text, bad
        assert len(requests.get(url + "/download/videos.csv", timeout=5).text.splitlines()) == 18, "downloads: all"
    assert VIDEOS_PAGE_ROWS == 500
