"""/videos and an influencer's page are paged: a long list is sent a page at a time, every row once, over HTTP."""

from __future__ import annotations

import re

import requests

from services.analytics.records import DONE, DUPLICATE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.analytics.web.views import INFLUENCER_PAGE_ROWS, VIDEOS_PAGE_ROWS
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
        past_any_row = "cDE6" + "OTk5" * 10  # p1: and 30 nines, forged: was a 500 (SQLite's integer overflowed)
        for bad in ("nonsense", "cDE6MA==", "x" * 100, past_any_row):
            reply = requests.get(url + "/videos", params={"page": bad}, timeout=5)
            assert reply.status_code == 400 and "does not exist" in reply.text, bad
        assert len(requests.get(url + "/download/videos.csv", timeout=5).text.splitlines()) == 18, "downloads: all"
    assert VIDEOS_PAGE_ROWS == 500


def test_an_influencers_videos_come_a_page_at_a_time_best_score_first(analytics_empty_store: AnalyticsStore) -> None:
    ann = "inf_aaaa000001"
    analytics_empty_store.record_many(
        (VideoRow(url=f"https://cdn.example.com/{n}.mp4", video_id=f"{n:016x}", performance=float(n), status=DONE),
         [AppearanceRow(f"{n:016x}", ann, first_seen_s=0.0, last_seen_s=1.0, faces=1)])
        for n in range(12))
    with serving(create_app(analytics_empty_store, {"INFLUENCER_PAGE_ROWS": 5})) as url:
        seen, path = [], f"/influencer/{ann}"
        while path:
            page = requests.get(url + path, timeout=5)
            assert page.status_code == 200
            seen.append(re.findall(r'<a href="/video/[0-9a-f]{16}">(\d+)\.mp4</a>', page.text))
            nxt = re.search(r'rel="next" href="([^"]+)"', page.text)
            path = nxt.group(1).replace("&amp;", "&") if nxt else ""
        assert seen == [["11", "10", "9", "8", "7"], ["6", "5", "4", "3", "2"], ["1", "0"]], "every video once"
        assert "Videos 11–12 of 12, best score first" in page.text and 'rel="prev"' in page.text
        past = requests.get(f"{url}/influencer/{ann}", params={"from": "99"}, timeout=5)
        assert past.status_code == 200 and "No videos from there: they appear in 12." in past.text
        for bad in ("-1", "x", "1e3", "٣", "9" * 12):
            assert requests.get(f"{url}/influencer/{ann}", params={"from": bad}, timeout=5).status_code == 400, bad
    assert INFLUENCER_PAGE_ROWS == 200


def test_a_url_its_manifest_gave_three_times_says_so_on_the_video_list_as_videos_csv_has_three_rows(
        analytics_empty_store: AnalyticsStore) -> None:
    # Was: one row on the page, nothing said, where videos.csv had the manifest's three (two "duplicate").
    analytics_empty_store.record_video(VideoRow(url="videos/a.mp4", video_id="a" * 16, performance=1.5, status=DONE,
                                                location="/m/videos/a.mp4", repeats=2))
    client = create_app(analytics_empty_store).test_client()
    page = client.get("/videos").get_data(as_text=True)
    assert ('<span class="repeats hint">listed 3 times in the manifest: counted once (videos.csv lists the other 2 rows'
            ' as duplicate)</span>') in page, "in grey, as a note: the row did not fail"
    # Under its status, not its error: the row did not fail (the note was in the "Error" column)
    assert '<td class="error"></td>' in page and page.index('class="repeats hint"') < page.index('class="error"')
    assert len(client.get("/download/videos.csv").get_data(as_text=True).splitlines()) == 1 + 3


def test_a_duplicate_rows_same_video_note_is_shown_under_its_status_not_as_an_error(
        analytics_empty_store: AnalyticsStore) -> None:
    analytics_empty_store.record_video(VideoRow(url="videos/a.mp4", video_id="a" * 16, performance=1.5, status=DONE,
                                                location="/m/videos/a.mp4"))
    analytics_empty_store.record_video(VideoRow(url="copy/a.mp4", video_id="a" * 16, performance=1.5,
                                                status=DUPLICATE, location="/m/copy/a.mp4",
                                                error="same video as videos/a.mp4"))
    page = create_app(analytics_empty_store).test_client().get("/videos").get_data(as_text=True)
    row = page[page.index("copy/a.mp4"):]
    row = row[:row.index("</tr>")]
    assert '<span class="duplicate-of hint">same video as videos/a.mp4</span>' in row, row
    assert '<td class="error"></td>' in row, row
