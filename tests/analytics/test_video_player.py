"""The video page is titled by the video's file name and plays it from where it can be reached: a local file
under the allowed root, served with range requests (never a file outside it, whatever a symlink or `..`
says), or its http(s) URL with a `#t=` fragment; when it cannot, the page says why."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app
from services.common.location_key import location_key
from services.common.url_secrets import secrets_digested, secrets_hidden

BYTES = bytes(range(256)) * 40  # 10,240 bytes standing for a video file


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "videos", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "clip one.mp4").write_bytes(BYTES)
    (outside / "secret.mp4").write_bytes(b"not yours" * 100)
    (root / "link.mp4").symlink_to(outside / "secret.mp4")
    return root, outside


def page_over(tmp_path: Path, rows: list[tuple[str, str, str]], **config: str):
    """A test client of the page over a store holding one done video per (video_id, url, location), each
    with one appearance at 3.5 s."""
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    for video_id, url, location in rows:
        store.record_video(VideoRow(url=url, video_id=video_id, performance=1.0, status=DONE, duration_s=10.0,
                                    faces=2, location=location),
                           [AppearanceRow(video_id, "inf_00000000a1", 3.5, 6.0, 2, 2.5, 0.8, b"", False,
                                          segments=((3.5, 6.0, 4.0),))])
    return create_app(store, dict(config)).test_client()


def test_a_local_file_under_the_allowed_root_is_titled_by_its_name_and_served_with_ranges(tmp_path, folders):
    root, _ = folders
    client = page_over(tmp_path, [("00000000000000a1", "videos/clip one.mp4", str(root / "clip one.mp4"))],
                       ALLOWED_ROOT=str(root))
    html = client.get("/video/00000000000000a1").get_data(as_text=True)
    assert "<h1 class=\"video-title\">clip one.mp4</h1>" in html
    assert 'src="/video/00000000000000a1/media#t=3.50"' in html
    assert 'data-seek="3.50"' in html, "the appearance seeks the player"
    part = client.get("/video/00000000000000a1/media", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == BYTES[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(BYTES)}" and part.mimetype == "video/mp4"
    whole = client.get("/video/00000000000000a1/media")
    assert whole.status_code == 200 and whole.data == BYTES and whole.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("where", ["symlink", "dotdot", "outside"])
def test_a_file_outside_the_allowed_root_is_never_served_and_the_page_says_so(tmp_path, folders, where):
    root, outside = folders
    location = {"symlink": str(root / "link.mp4"), "dotdot": f"{root}/../elsewhere/secret.mp4",
                "outside": str(outside / "secret.mp4")}[where]
    client = page_over(tmp_path, [("00000000000000b1", "x.mp4", location)], ALLOWED_ROOT=str(root))
    assert client.get("/video/00000000000000b1/media").status_code == 404
    html = client.get("/video/00000000000000b1").get_data(as_text=True)
    assert "This video cannot be played here: the file lies outside the allowed folder" in html
    assert "<video" not in html


def test_a_file_that_is_gone_is_said_to_be_gone(tmp_path, folders):
    root, _ = folders
    client = page_over(tmp_path, [("00000000000000c1", "gone.mp4", str(root / "gone.mp4"))], ALLOWED_ROOT=str(root))
    assert "cannot be played here: the file " in client.get("/video/00000000000000c1").get_data(as_text=True)
    assert client.get("/video/00000000000000c1/media").status_code == 404


def test_without_an_allowed_root_a_page_beyond_loopback_serves_no_file(tmp_path, folders):
    root, _ = folders
    rows = [("00000000000000d1", "clip.mp4", str(root / "clip one.mp4"))]
    client = page_over(tmp_path, rows, HOST="0.0.0.0", TOKEN="t")
    assert client.get("/video/00000000000000d1/media", headers={"Authorization": "Bearer t"}).status_code == 404
    html = client.get("/video/00000000000000d1", headers={"Authorization": "Bearer t"}).get_data(as_text=True)
    assert "INFLUENCERS_ALLOWED_ROOT, which is not set" in html


def test_an_http_video_plays_from_its_url_with_a_media_fragment(tmp_path):
    url = "https://cdn.example.com/v/launch%20day.mp4?v=1"
    client = page_over(tmp_path, [("00000000000000e1", url, url)])
    html = client.get("/video/00000000000000e1").get_data(as_text=True)
    assert "<h1 class=\"video-title\">launch day.mp4</h1>" in html
    assert f'src="{url.replace("&", "&amp;")}#t=3.50"' in html
    assert client.get("/video/00000000000000e1/media").status_code == 404, "the page never proxies a URL"


@pytest.mark.parametrize("link", ["https://b.s3.example/v.mp4?X-Amz-Signature=abc&v=1",
                                  "https://cdn.example/token=abc/v.mp4"])
def test_a_signed_link_whose_secret_the_store_does_not_keep_is_not_offered_to_the_player(tmp_path, link):
    # Its url is kept with `***` for the secret, its location with the secret's digest: neither opens, and the
    # player showed "could not be loaded" for a link that never could.
    client = page_over(tmp_path, [("00000000000000e2", secrets_hidden(link), secrets_digested(link))])
    html = client.get("/video/00000000000000e2").get_data(as_text=True)
    assert "<video" not in html and "its link was signed" in html
    assert "abc" not in html, "the token a location keeps in its path is never put in the page"


def test_a_timeline_bar_reached_with_tab_looks_different_from_the_others(tmp_path, page: Page):
    from tests.analytics.test_analytics_web import serving

    url = "https://cdn.example.com/v/a.mp4"
    app = page_over(tmp_path, [("00000000000000f1", url, url)]).application
    style = "e => { const s = getComputedStyle(e); return [s.fill, s.stroke, s.outlineStyle]; }"
    with serving(app) as base:
        page.goto(base + "/video/00000000000000f1", wait_until="domcontentloaded")
        bar = page.locator("rect.seekable").first
        resting = bar.evaluate(style)
        for _ in range(60):  # Tab through the page until the bar has the focus
            page.keyboard.press("Tab")
            if bar.evaluate("e => e === document.activeElement"):
                break
        assert bar.evaluate("e => e === document.activeElement")
        assert bar.evaluate(style) != resting, resting


@pytest.mark.parametrize("cell", ["relative", "absolute", "file-url"])
def test_a_local_file_whose_path_is_past_1_kib_is_found_from_its_shortened_key_and_played(tmp_path, folders, cell):
    # Its row is keyed by the path's head and digest (location_key); the player looked the file up by that key.
    root, _ = folders
    manifest_dir = root / "/".join(["d" * 200] * 3)
    relative = "/".join(["e" * 200] * 3) + "/clip.mp4"
    (manifest_dir / relative).parent.mkdir(parents=True)
    (manifest_dir / relative).write_bytes(BYTES)
    path = str(manifest_dir / relative)
    assert location_key(path) != path
    given = {"relative": relative, "absolute": path, "file-url": f"file://{quote(path)}"}[cell]
    client = page_over(tmp_path, [("00000000000000f1", given, location_key(path))], ALLOWED_ROOT=str(root))
    assert 'src="/video/00000000000000f1/media' in client.get("/video/00000000000000f1").get_data(as_text=True)
    part = client.get("/video/00000000000000f1/media", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.data == BYTES[:100]


def test_a_long_paths_key_is_never_taken_for_another_file_that_fits_its_head(tmp_path, folders):
    root, _ = folders
    base = root / "/".join(["d" * 200] * 5)
    base.mkdir(parents=True)
    (base / "other.mp4").write_bytes(BYTES)
    key = location_key(str(base / "clip.mp4"))  # recorded, then moved away; another file sits beside it
    client = page_over(tmp_path, [("00000000000000f2", "other.mp4", key)], ALLOWED_ROOT=str(root))
    assert client.get("/video/00000000000000f2/media").status_code == 404


@pytest.mark.parametrize("where", ["folder_link", "nul", "relative", "root_prefix"])
def test_no_location_reaches_a_file_outside_the_root_by_a_linked_folder_a_nul_a_relative_path_or_a_shared_prefix(
        tmp_path, folders, where):
    root, outside = folders
    (root / "linked").symlink_to(outside, target_is_directory=True)
    twin = tmp_path / "videos-private"  # shares the root's name as a prefix, not as a folder
    twin.mkdir()
    (twin / "secret.mp4").write_bytes(b"not yours" * 100)
    location = {"folder_link": str(root / "linked" / "secret.mp4"), "nul": f"{root}/clip one.mp4\0../../secret",
                "relative": "videos/../elsewhere/secret.mp4", "root_prefix": str(twin / "secret.mp4")}[where]
    client = page_over(tmp_path, [("00000000000000b2", "x.mp4", location)], ALLOWED_ROOT=str(root))
    answer = client.get("/video/00000000000000b2/media")
    assert answer.status_code == 404 and b"not yours" not in answer.data


@pytest.mark.parametrize("path", ["/video/..%2f..%2fetc%2fpasswd/media", "/video/%2e%2e/media",
                                  "/video/00000000000000b1%00/media", "/video/00000000000000b1/..%2fmedia"])
def test_the_player_route_takes_a_video_id_never_a_path(tmp_path, folders, path):
    root, _ = folders
    client = page_over(tmp_path, [("00000000000000b1", "x.mp4", str(root / "clip one.mp4"))], ALLOWED_ROOT=str(root))
    assert client.get("/video/00000000000000b1/media").status_code == 200
    assert client.get(path).status_code == 404, path
