"""A video's page says what its row's status means for who appears: a row that failed was never analysed, so
"Nobody was recognised in this video" (a done video with no face) would be a wrong reading of it."""

from __future__ import annotations

from pathlib import Path

from services.analytics.records import DONE, DUPLICATE, FAILED, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app


def _page(tmp_path: Path, status: int, error: str = "") -> str:
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="notes.mp4", video_id="00000000000000a1", performance=3.0, status=status,
                                error=error), [])
    return create_app(store).test_client().get("/video/00000000000000a1").get_data(as_text=True)


def test_a_failed_video_is_said_not_analysed_rather_than_to_show_nobody(tmp_path):
    html = _page(tmp_path, FAILED, "notes.mp4: not a video (a text file)")
    assert "notes.mp4: not a video (a text file)" in html
    assert "Nobody was recognised" not in html  # was said of a text file never analysed
    assert "Not analysed: this row failed (the reason is above)" in html


def test_a_done_video_without_faces_still_says_nobody_was_recognised(tmp_path):
    assert "Nobody was recognised in this video." in _page(tmp_path, DONE)


def test_a_row_that_failed_before_it_was_read_shows_no_duration_or_faces_rather_than_zeros(tmp_path):
    # Was "0.0" s and 0 faces for a missing file, on the Videos page and the video's page, as if read and empty
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="notes.mp4", video_id="00000000000000a1", performance=3.0, status=FAILED,
                                error="notes.mp4: not a video (a text file)"), [])
    client = create_app(store).test_client()
    listed = client.get("/videos").get_data(as_text=True)
    row = listed[listed.index("notes.mp4"):listed.index("</tr>", listed.index("notes.mp4"))]
    assert 'data-value="0.0">0.0<' not in row and row.count(">–</td>") == 2, row
    page = client.get("/video/00000000000000a1").get_data(as_text=True)
    assert "<dt>Duration</dt><dd>–</dd>" in page and "<dt>Faces</dt><dd>–</dd>" in page


def test_a_row_that_failed_before_its_file_was_read_offers_no_player_and_says_why(tmp_path):
    # Was a player loading the text file, then "the browser cannot reach it or cannot play its format".
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video")
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="notes.mp4", video_id="00000000000000a1", performance=3.0, status=FAILED,
                                error="notes.mp4: not a video (a text file)", location=str(notes)), [])
    page = create_app(store).test_client().get("/video/00000000000000a1").get_data(as_text=True)
    assert 'id="player"' not in page
    assert "This video cannot be played here: its row failed before the file was read as a video" in page


def test_a_video_two_manifests_folders_gave_under_one_url_lists_both_and_where_each_was_read(tmp_path):
    # Was "videos/a.mp4" once: the second folder's row, the same bytes, was not to be seen.
    store = AnalyticsStore(tmp_path / "analytics.sqlite3")
    store.record_video(VideoRow(url="videos/a.mp4", video_id="00000000000000a1", performance=3.0, status=DONE,
                                location="/data/week1/videos/a.mp4"), [])
    store.record_video(VideoRow(url="videos/a.mp4", video_id="00000000000000a1", performance=3.0, status=DUPLICATE,
                                location="/data/week2/videos/a.mp4"), [])
    page = create_app(store).test_client().get("/video/00000000000000a1").get_data(as_text=True)
    assert "The manifest lists this video 2 times (the same bytes under each):" in page
    assert page.count("<code>videos/a.mp4</code>") == 2
    assert "read at <code>week1/videos/a.mp4</code>" in page and "read at <code>week2/videos/a.mp4</code>" in page
