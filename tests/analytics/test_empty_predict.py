"""/predict with nothing to predict from says so, and how to get there, instead of an empty picker."""

from __future__ import annotations

from services.analytics.records import DONE, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.web import create_app


def test_predict_on_an_empty_store_says_there_is_nothing_to_predict_from_and_to_run_a_manifest(
        analytics_empty_store: AnalyticsStore) -> None:
    page = create_app(analytics_empty_store).test_client().get("/predict").get_data(as_text=True)
    # Was: the "Influencers" picker with no option and a "Predict performance" button that predicted nothing
    assert "Nothing to predict from yet" in page
    assert "<code>influencers ingest manifest.csv</code>" in page and 'id="predict-button"' not in page


def test_predict_with_videos_but_nobody_found_in_them_says_so(analytics_empty_store: AnalyticsStore) -> None:
    analytics_empty_store.record_video(VideoRow(url="a.mp4", video_id="00000000000000a1", performance=3.0,
                                                status=DONE), [])
    page = create_app(analytics_empty_store).test_client().get("/predict").get_data(as_text=True)
    assert "Nothing to predict from yet" in page and "No influencer was found in the 1 video" in page
    assert 'id="predict-button"' not in page


def test_predict_with_influencers_keeps_its_picker(analytics_store: AnalyticsStore) -> None:
    page = create_app(analytics_store).test_client().get("/predict").get_data(as_text=True)
    # The picker is a list of ticks by face and name (was a list box, <select multiple>)
    assert 'type="checkbox" name="ids"' in page and 'id="predict-button"' in page
    assert "Nothing to predict from" not in page
