"""Every page at a 390 px phone in headless Chromium, under a font wider than this machine's: nothing makes the
page wider than its window. CI's fresh Chromium (other fonts) measured the video page 432 px wide at 390 after a
200-character name, where this machine measured 390; a wide monospace font with extra letter spacing, injected
into each page, stands for any font a browser may pick. On the pages: that name, a right-to-left one, the longest
influencer id, URLs and a local path of hundreds of characters without a blank, a long error, a long actor on the
audit trail, and a correction's notice naming the long name."""

from __future__ import annotations

from pathlib import Path

from services.analytics.audit import AuditRow
from services.analytics.records import DONE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore, Label
from services.analytics.web import create_app
from services.analytics.web.audit_views import DONE_COOKIE
from tests.analytics.test_analytics_web import FakeCorrections, serving
from tests.support.browser import chromium

WIDTH = 390
# Wider than any sans-serif font at the same size: each character takes a monospace cell plus 1 px.
WIDE_FONT = '* { font-family: "DejaVu Sans Mono", monospace !important; letter-spacing: 1px !important; }'
LONG = "W" * 200  # the longest name identity keeps (services/common/name_text.py)
LONG_ID = "inf_bbbb000002zzzzzzzz"  # the longest id a split can make (services/common/boundary.py)
LONG_URL = "https://cdn.example.com/" + "a" * 300 + ".mp4?sig=" + "b" * 200
LONG_PATH = "videos/" + "c" * 250 + ".mp4"
CAST = {"inf_aaaa000001": (0, 1, 2), LONG_ID: (0, 1, 3), "inf_cccc000003": (1, 2), "inf_dddd000004": (0, 2, 3)}


def _store(path: Path) -> AnalyticsStore:
    store = AnalyticsStore(path)
    urls = [LONG_URL, LONG_URL.replace("cdn", "cdn2"), "https://cdn.example.com/2.mp4", LONG_PATH]
    for k, url in enumerate(urls):
        video_id = f"{k:016x}"
        store.record_video(VideoRow(url, video_id, 1.0 + k, DONE, duration_s=5.0, location=f"/data/{k}/" + url[-300:]),
                           [AppearanceRow(video_id, i, 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg")
                            for i, ks in CAST.items() if k in ks])
    store.record_video(VideoRow("https://cdn.example.com/" + "d" * 400, f"{9:016x}", 1.0, FAILED,
                                error="fetch failed: " + "e" * 300))
    store.replace_appearances({}, {"inf_aaaa000001": LONG, "inf_dddd000004": "مرحبا بالعالم 42"},
                              [Label("inf_eeee000005", LONG[:150] + "H", hidden=True)])
    rows = [("rename", ("inf_aaaa000001",), ("inf_aaaa000001",), LONG),  # shown as a correction's notice
            ("merge", ("inf_eeee000005", LONG_ID), ("inf_aaaa000001",), ""),
            ("move", ("inf_aaaa000001",), (LONG_ID,), "")]
    for position, (action, before, after, name) in enumerate(rows, start=1):
        store.apply_changes(position, {}, {}, audit=AuditRow(
            f"{position:032x}", action, "cli:" + "u" * 120, 1.8e9 + position, before_ids=before, after_ids=after,
            names={"inf_aaaa000001": LONG}, before_name=name and "V" * 200, after_name=name, videos=1,
            undoable=True))
    return store


PAGES = ["/", "/videos", "/videos?q=" + "x" * 300, "/predict", "/predict?ids=inf_aaaa000001&ids=" + LONG_ID,
         "/review", "/review?unlikely=1", "/audit", "/enrol", "/influencer/inf_aaaa000001",
         f"/influencer/{LONG_ID}", "/influencer/inf_dddd000004", "/influencer/inf_aaaa000001/delete",
         "/influencer/inf_eeee000005", *(f"/video/{k:016x}" for k in (0, 1, 3, 9)), "/no/such/" + "p" * 300]


def test_no_page_is_wider_than_a_390_px_phone_under_a_wide_font(tmp_path: Path) -> None:
    store = _store(tmp_path / "a.sqlite")
    # bypass_csp: the page's policy refuses inline styles, the injected font's too
    with serving(create_app(store, corrections=FakeCorrections())) as url, chromium() as browser:
        page = browser.new_context(bypass_csp=True, viewport={"width": WIDTH, "height": 844}).new_page()
        wide = {}
        for path in PAGES:
            # A correction's notice naming the 200-character name, as each page shows it once after the correction
            page.context.add_cookies([{"name": DONE_COOKIE, "value": f"{1:032x}", "url": url}])
            page.goto(url + path, wait_until="domcontentloaded")
            page.add_style_tag(content=WIDE_FONT)
            width = page.evaluate("document.documentElement.scrollWidth")
            past = page.evaluate(
                "w => Array.from(document.querySelectorAll('body *')).filter(e => !e.closest("
                "'.table-scroll, .pick-list') && e.getBoundingClientRect().right > w + 1)"
                ".map(e => e.tagName + '.' + e.className + '#' + e.id)", WIDTH)
            if width > WIDTH or past:
                wide[path[:60]] = (width, past[:6])
        assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"DejaVu Sans Mono"')
        assert wide == {}, wide
    store.close()
