"""The page's Content-Security-Policy: its own inline scripts run (each carries its answer's nonce), a script it
did not write does not, and nothing a page loads is refused by it."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from tests.analytics.test_analytics_web import FakeCorrections, serving

FILE_VIDEO, LINK_VIDEO = "00000000000000f1", "00000000000000f2"
PAGES = ("/", "/videos", "/review?unlikely=1", f"/video/{FILE_VIDEO}", f"/video/{LINK_VIDEO}",
         "/influencer/inf_aaaa000001", "/audit", "/enrol", "/predict", "/no/such/page", "/signin")
# Records each violation the page reports, before any of its own scripts runs (an init script is not the page's).
WATCH = ("window.__violations = []; document.addEventListener('securitypolicyviolation', "
         "e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));")


def _store(tmp_path: Path) -> AnalyticsStore:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 1024)
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    for video, url, location in ((FILE_VIDEO, "clip.mp4", str(clip)),
                                 (LINK_VIDEO, "https://cdn.example.com/v.mp4", "https://cdn.example.com/v.mp4")):
        store.record_video(VideoRow(url=url, video_id=video, performance=1.0, status=DONE, duration_s=10.0, faces=2,
                                    location=location),
                           [AppearanceRow(video, i, 1.0, 2.0, 1, 1.0, 0.8, b"\xff\xd8jpeg", False)
                            for i in ("inf_aaaa000001", "inf_bbbb000002")])
    return store


def test_every_script_of_a_page_carries_the_nonce_its_policy_names_and_each_answer_has_its_own(
        tmp_path: Path) -> None:
    """The policy was `frame-ancestors 'none'` alone: a script slipped past the templates' escaping would have
    run. Now only a script with the answer's nonce runs, and no page needs 'unsafe-inline'."""
    store = _store(tmp_path)
    client = create_app(store, {"ALLOWED_ROOT": str(tmp_path)}, corrections=FakeCorrections()).test_client()
    try:
        seen = set()
        for path in PAGES:
            answer = client.get(path)
            policy = answer.headers["Content-Security-Policy"]
            nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]{22})'", policy)
            assert nonce is not None and "unsafe" not in policy and "frame-ancestors 'none'" in policy, policy
            scripts = re.findall(r"<script\b[^>]*>", answer.get_data(as_text=True))
            assert all(tag == f'<script nonce="{nonce.group(1)}">' for tag in scripts), (path, scripts)
            seen.add(nonce.group(1))
        assert len(seen) == len(PAGES), "a nonce is never reused"
        assert "sandbox" in client.get(f"/video/{FILE_VIDEO}/media").headers["Content-Security-Policy"]
    finally:
        store.close()


def test_in_chromium_the_pages_scripts_run_a_foreign_one_does_not_and_nothing_else_is_refused(
        tmp_path: Path, page: Page) -> None:
    store = _store(tmp_path)
    try:
        app = create_app(store, {"ALLOWED_ROOT": str(tmp_path)}, corrections=FakeCorrections())
        with serving(app) as url:
            page.add_init_script(WATCH)
            for path in PAGES:
                page.goto(url + path, wait_until="load")
                assert page.evaluate("window.__violations") == [], path
            page.goto(url + "/", wait_until="load")
            assert page.evaluate("document.querySelector('th[data-sort]').tabIndex") == 0, "base.html's sorter ran"
            page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
                          " document.body.appendChild(s); }")
            assert page.evaluate("window.__ran") is None
            assert page.evaluate("window.__violations") == ["script-src-elem inline"]
    finally:
        store.close()


def test_no_page_tells_another_site_its_address_and_the_page_itself_still_gets_its_referer(page: Page,
                                                                                          tmp_path: Path) -> None:
    """Without a Referrer-Policy, a video's CDN learned the report's host name from the player's fetch and from a
    clicked link (strict-origin-when-cross-origin). Now it learns nothing; a form of the page still sends it."""
    store = _store(tmp_path)
    try:
        with serving(create_app(store, {"ALLOWED_ROOT": str(tmp_path)}, corrections=FakeCorrections())) as url:
            sent: dict[str, str | None] = {}
            page.route("https://cdn.example.com/**", lambda route: (sent.update(
                cdn=route.request.headers.get("referer")), route.fulfill(status=404)))
            page.on("request", lambda r: r.url.startswith(url + "/static/") and sent.update(
                own=r.headers.get("referer")))
            page.goto(url + f"/video/{LINK_VIDEO}", wait_until="load")
            page.wait_for_function("() => document.getElementById('player').networkState === 3 || "
                                   "document.getElementById('player').error !== null", timeout=10_000)
            assert "cdn" in sent and sent["cdn"] is None, sent
            assert sent.get("own") == url + f"/video/{LINK_VIDEO}", sent
    finally:
        store.close()
