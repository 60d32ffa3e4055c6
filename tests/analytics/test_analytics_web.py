"""The report page served for real (werkzeug on a free loopback port), over HTTP and in headless Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from services.analytics.records import DONE, FAILED, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def base_url(analytics_module_store: AnalyticsStore) -> Iterator[str]:
    with serving(create_app(analytics_module_store)) as url:
        yield url


def test_every_page_and_download_answers(base_url: str) -> None:
    first = requests.get(base_url + "/api/appearances.json", timeout=5).json()[0]
    assert first["video_url"] == requests.get(base_url + "/api/videos.json", timeout=5).json()[0]["video_url"]
    for path in ("/", "/videos", "/chart.png", "/predict?ids=inf_aaaa000001&ids=inf_dddd000004",
                 "/influencer/inf_aaaa000001", f"/video/{0:016x}", "/faces/inf_aaaa000001.jpg",
                 f"/appearance-face/{0:016x}/{first['influencer_id']}.jpg",
                 "/download/influencers.csv", "/download/videos.csv", "/download/appearances.csv",
                 "/api/influencers.json", "/api/videos.json", "/api/appearances.json"):
        assert requests.get(base_url + path, timeout=10).status_code == 200, path


def test_unknown_pages_influencers_and_videos_get_the_404_page(base_url: str) -> None:
    for path in ("/nope", "/influencer/inf_nobody", "/video/ffffffffffffffff", "/faces/inf_nobody.jpg",
                 "/download/secrets.csv"):
        reply = requests.get(base_url + path, timeout=5)
        assert reply.status_code == 404, path
    assert "Not found" in requests.get(base_url + "/nope", timeout=5).text


def test_the_json_api_and_csv_download_agree(base_url: str) -> None:
    rows = requests.get(base_url + "/api/influencers.json", timeout=5).json()
    csv = requests.get(base_url + "/download/influencers.csv", timeout=5).text.splitlines()
    assert len(rows) == len(csv) - 1 == 4
    assert csv[0].startswith("influencer_id,videos,avg_performance,median_performance,std_performance,")
    videos = requests.get(base_url + "/api/videos.json", timeout=5).json()
    assert {v["status"] for v in videos} == {"done", "duplicate", "failed"}


def test_the_predict_page_names_the_chosen_influencers_and_flags_unknown_ones(base_url: str) -> None:
    page = requests.get(base_url + "/predict?ids=inf_aaaa000001&ids=inf_ghost", timeout=5).text
    assert "<strong>Alice (inf_aaaa000001)</strong>" in page
    assert "<code>inf_ghost</code>" in page
    assert '<option value="inf_aaaa000001" selected>' in page


def test_min_videos_filters_the_overview(base_url: str) -> None:
    page = requests.get(base_url + "/?min_videos=1000", timeout=5).text
    assert "No influencer has at least 1000 videos" in page


def test_hostile_names_are_escaped_in_the_html(base_url: str, analytics_script_name: str) -> None:
    page = requests.get(base_url + "/", timeout=5).text
    assert analytics_script_name not in page
    assert "&lt;script&gt;" in page


def test_an_empty_store_shows_a_clear_empty_state(analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store)) as url:
        assert "No videos processed yet" in requests.get(url + "/", timeout=5).text
        assert "No videos processed yet" in requests.get(url + "/videos", timeout=5).text
        assert requests.get(url + "/chart.png", timeout=5).status_code == 200


def test_a_token_is_required_on_every_request_when_configured(analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        assert requests.get(url + "/", timeout=5).status_code == 401
        assert requests.get(url + "/static/style.css", timeout=5).status_code == 401
        assert requests.get(url + "/?token=wrong", timeout=5).status_code == 401
        assert requests.get(url + "/?token=s3cret", timeout=5).status_code == 200
        bearer = {"Authorization": "Bearer s3cret"}
        assert requests.get(url + "/api/videos.json", headers=bearer, timeout=5).status_code == 200
        page = requests.get(url + "/?token=s3cret", timeout=5).text
        assert "style.css?token=s3cret" in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless browser test needs /usr/bin/chromium")
def test_the_overview_in_a_real_browser(base_url: str, analytics_script_name: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    # docs/screenshots show the product on real data; these fixtures' screenshots stay in tmp_path.
    screenshots = tmp_path
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(base_url + "/", wait_until="load")

            rows = page.locator("#influencers tbody tr")
            assert rows.count() == len(requests.get(base_url + "/api/influencers.json", timeout=5).json())

            header = page.locator("#influencers th", has_text="Videos")
            header.click()
            cells = "els => els.map(e => parseFloat(e.dataset.value))"
            values = page.locator("#influencers tbody tr td:nth-child(3)").evaluate_all(cells)
            assert values == sorted(values)
            header.click()
            values = page.locator("#influencers tbody tr td:nth-child(3)").evaluate_all(cells)
            assert values == sorted(values, reverse=True)

            page.wait_for_function("Array.from(document.images).every(i => i.complete)")
            widths = page.locator("img").evaluate_all("els => els.map(e => [e.src, e.naturalWidth])")
            assert widths and all(w > 0 for _, w in widths), widths

            assert page.get_by_text(analytics_script_name).count() >= 1
            assert dialogs == []
            page.screenshot(path=str(screenshots / "overview.png"), full_page=True)

            page.get_by_role("link", name="Alice").first.click()
            page.wait_for_url("**/influencer/inf_aaaa000001")
            assert page.locator("h1").inner_text() == "Alice"
            assert page.locator("#videos tbody tr").count() > 0
            page.wait_for_function("Array.from(document.images).every(i => i.complete)")
            widths = page.locator("img").evaluate_all("els => els.map(e => e.naturalWidth)")
            assert all(w > 0 for w in widths)
            page.screenshot(path=str(screenshots / "influencer.png"), full_page=True)
        finally:
            browser.close()


HOSTILE_URL = "javascript:alert(document.domain)//x.mp4"
HOSTILE_ERROR = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A page over a store whose URLs, errors and names are hostile, with two test-only JSON routes."""
    store = AnalyticsStore(tmp_path_factory.mktemp("hostile") / "a.sqlite")
    face = AppearanceRow("", "inf_aaaa000001", 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg")
    store.record_video(VideoRow(HOSTILE_URL, "00000000000000aa", 1.0, DONE, duration_s=3.0), [face])
    store.record_video(VideoRow("https://cdn.example.com/ok.mp4?a=1&b=\"2\"", "00000000000000bb", 2.0, DONE,
                                duration_s=3.0), [face])
    store.record_video(VideoRow("=1+2<script>alert(2)</script>", "", 1.0, FAILED, HOSTILE_ERROR))
    store.replace_appearances({}, {"inf_aaaa000001": "<svg onload=alert(3)>"})
    app = create_app(store)

    @app.get("/api/boom.json")
    def boom() -> str:
        raise RuntimeError("secret detail")

    @app.get("/api/bad.json")
    def bad() -> str:
        from flask import abort
        abort(400)

    with serving(app) as url:
        yield url
    store.close()


def test_a_javascript_url_is_text_and_an_http_url_a_link(hostile_url: str) -> None:
    page = requests.get(hostile_url + "/video/00000000000000aa", timeout=5).text
    assert "javascript:alert(document.domain)//x.mp4</code>" in page
    assert 'href="javascript' not in page.lower()
    page = requests.get(hostile_url + "/video/00000000000000bb", timeout=5).text
    assert '<a href="https://cdn.example.com/ok.mp4?a=1&amp;b=&#34;2&#34;" rel="noopener noreferrer nofollow">' in page


def test_hostile_urls_errors_and_names_are_escaped_on_every_page(hostile_url: str) -> None:
    for path in ("/", "/videos", "/video/00000000000000aa", "/influencer/inf_aaaa000001",
                 "/predict?ids=inf_aaaa000001&ids=<script>alert(4)</script>"):
        page = requests.get(hostile_url + path, timeout=5).text
        for raw in ("<script>alert", "<img src=x", "<svg onload"):
            assert raw not in page, (path, raw)
    assert "&lt;img src=x onerror=alert(1)&gt;" in requests.get(hostile_url + "/videos", timeout=5).text


def test_the_csv_downloads_neutralise_formula_cells(hostile_url: str) -> None:
    videos = requests.get(hostile_url + "/download/videos.csv", timeout=5).text
    assert "'=1+2<script>" in videos
    assert "\n=" not in videos and "\n'javascript" not in videos  # a javascript: cell is not a formula


@pytest.mark.parametrize("path", ["/influencer/../../etc/passwd", "/influencer/inf_AAAA000001",
                                  "/influencer/inf_aaaa000001.jpg", "/influencer/%3Cscript%3E",
                                  "/video/00000000000000AA", "/video/00000000000000aa0", "/video/..%2F..%2Fx",
                                  "/faces/..%2Fsecret.jpg", "/faces/inf_x.jpg",
                                  "/appearance-face/00000000000000aa/inf_x.jpg",
                                  "/appearance-face/nothex/inf_aaaa000001.jpg"])
def test_ids_out_of_pattern_are_not_found(hostile_url: str, path: str) -> None:
    reply = requests.get(hostile_url + path, timeout=5)
    assert reply.status_code == 404 and "Not found" in reply.text


def test_the_json_api_answers_errors_in_json_and_pages_in_html(hostile_url: str) -> None:
    for method, path, status in (("get", "/api/secrets.json", 404), ("post", "/api/videos.json", 405),
                                 ("get", "/api/bad.json", 400), ("get", "/api/boom.json", 500)):
        reply = requests.request(method, hostile_url + path, timeout=5)
        assert reply.status_code == status, path
        assert reply.headers["Content-Type"] == "application/json", path
        assert set(reply.json()) == {"error"} and reply.json()["error"], path
    assert "secret detail" not in requests.get(hostile_url + "/api/boom.json", timeout=5).text
    page = requests.get(hostile_url + "/nope", timeout=5)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")


def test_a_missing_token_on_the_json_api_is_a_json_401(analytics_empty_store: AnalyticsStore) -> None:
    with serving(create_app(analytics_empty_store, {"TOKEN": "s3cret"})) as url:
        reply = requests.get(url + "/api/videos.json", timeout=5)
        assert reply.status_code == 401 and reply.json() == {"error": "missing or wrong token"}
