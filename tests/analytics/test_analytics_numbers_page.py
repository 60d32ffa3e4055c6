"""The numbers an analyst reads on the page: estimates with intervals (none for one video), the verdicts'
error rate in a sentence, identity's doubt per influencer, a plain model card and Predict's range."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from influencers.v1 import identity_pb2
from services.analytics.export_format import score_text, statistic_text
from services.analytics.model import ModelQuality, evaluate, fit_predictor
from services.analytics.model_card import model_card, numbers
from services.analytics.records import DONE, AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore, Label
from services.analytics.web import create_app
from services.analytics.web.doubt import OpenReviewCounts, open_items_per_influencer
from tests.support.rpc_errors import unavailable

ALICE, BOB, CAROL, DAN = "inf_aaaa000001", "inf_bbbb000002", "inf_cccc000003", "inf_dddd000004"


class ReviewQueue:
    """The corrections port's review_items, in memory (the only call the overview makes); `down` raises."""

    def __init__(self, items: list[identity_pb2.ReviewItem], down: bool = False) -> None:
        self.items, self.down, self.calls = items, down, 0

    def review_items(self, limit: int = 0) -> list[identity_pb2.ReviewItem]:
        self.calls += 1
        if self.down:
            raise unavailable()
        return self.items


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AnalyticsStore]:
    """Alice in 6 strong videos (one ambiguous), Bob in 5 weak ones, Carol in 4 average ones, Dan in one."""
    store = AnalyticsStore(tmp_path / "numbers.sqlite")
    scores = {ALICE: [2.1, 2.3, 1.9, 2.2, 2.0, 2.4], BOB: [0.4, 0.5, 0.3, 0.6, 0.5], CAROL: [1.2, 1.1, 1.3, 1.0],
              DAN: [2.5]}
    k = 0
    for who, values in scores.items():
        for n, score in enumerate(values):
            video_id = f"{k:016x}"
            store.record_video(VideoRow(f"https://cdn.example.com/{k}.mp4", video_id, score, DONE, duration_s=5.0),
                               [AppearanceRow(video_id, who, 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg",
                                              ambiguous=(who == ALICE and n == 0))])
            k += 1
    yield store
    store.close()


def test_the_overview_shows_estimates_verdicts_with_their_error_rate_and_identitys_doubt(store) -> None:
    queue = ReviewQueue([identity_pb2.ReviewItem(influencer_a=ALICE, influencer_b=DAN),
                         identity_pb2.ReviewItem(influencer_a=DAN, influencer_b=BOB)])
    page = create_app(store, corrections=queue).test_client().get("/").get_data(as_text=True)
    assert "at most about 1 in 20" in page
    assert "no interval" in page  # Dan, one video
    assert page.count('class="ci interval">[') == 3
    assert "1 doubtful video" in page and "2 to review" in page and "1 to review" in page
    assert "Predicts a video&#39;s score" in page or "Predicts a video's score" in page
    assert "Cross-validated mean absolute error" in page


def test_identity_that_does_not_answer_leaves_the_overview_up_and_says_so(store) -> None:
    page = create_app(store, corrections=ReviewQueue([], down=True)).test_client().get("/")
    assert page.status_code == 200
    assert "Open review questions are unknown" in page.get_data(as_text=True)


def test_predict_shows_the_range_nine_in_ten_videos_land_in(store) -> None:
    page = create_app(store).test_client().get(f"/predict?ids={ALICE}").get_data(as_text=True)
    assert "9 in 10 such videos score between" in page


def test_open_items_are_counted_for_both_influencers_of_a_pair() -> None:
    items = [identity_pb2.ReviewItem(influencer_a=ALICE, influencer_b=BOB),
             identity_pb2.ReviewItem(influencer_a=BOB, influencer_b=CAROL)]
    assert open_items_per_influencer(items) == {ALICE: 1, BOB: 2, CAROL: 1}


def test_identity_is_asked_again_only_when_the_store_changed_or_the_cache_is_old() -> None:
    now = [0.0]
    queue = ReviewQueue([identity_pb2.ReviewItem(influencer_a=ALICE, influencer_b=BOB)])
    counts = OpenReviewCounts(queue.review_items, ttl_s=30.0, clock=lambda: now[0])
    assert counts.counts((1, 0)) == {ALICE: 1, BOB: 1}
    now[0] = 10.0
    counts.counts((1, 0))
    assert queue.calls == 1
    counts.counts((2, 0))
    assert queue.calls == 2, "a new store version asks again"
    now[0] = 45.0
    counts.counts((2, 0))
    assert queue.calls == 3, "so does a cache older than its time to live"
    queue.down = True
    now[0] = 100.0
    assert counts.counts((2, 0)) is None
    assert OpenReviewCounts(None).counts((1, 0)) is None


def test_the_model_card_says_plainly_how_the_model_compares_with_guessing_the_average(analytics_planted) -> None:
    card = model_card(evaluate(*analytics_planted), 1.5)
    assert card.plain.startswith("Predicts a video's score from who is in it about ")
    # The average as the "mean performance" card beside it gives it (was 3 digits there: 1.18 beside 1.183).
    assert "more closely than guessing the average video (1.500)" in card.plain
    assert card.spread.startswith("9 in 10 videos land between -")
    assert card.technical.startswith("Cross-validated mean absolute error (5 folds, 80 videos)")
    worse = ModelQuality(0.4, -0.1, 0.3, 0.0, 5, 20, -0.5, 0.6)
    assert model_card(worse, 1.0).plain.startswith("Predicts a video's score no better than guessing the average")
    none = model_card(ModelQuality.none(1, "1 scored video; a model needs at least 2 to be fitted and tested"), 1.0)
    assert none.plain == "No model: 1 scored video; a model needs at least 2 to be fitted and tested."


def test_the_prediction_interval_holds_about_nine_in_ten_unseen_videos_and_stays_in_the_score_range(
        analytics_planted) -> None:
    videos, apps = analytics_planted
    train, test = videos.iloc[::2], videos.iloc[1::2]
    quality = evaluate(train, apps[apps["video_id"].isin(train["video_id"])])
    model = fit_predictor(train, apps[apps["video_id"].isin(train["video_id"])])
    who = apps.groupby("video_id")["influencer_id"].apply(list)
    inside = [quality.interval(model.predict(who.get(v, [])))[0] <= y <= quality.interval(model.predict(
        who.get(v, [])))[1] for v, y in zip(test["video_id"], test["performance"], strict=True)]
    assert 0.75 <= np.mean(inside) <= 1.0
    assert quality.interval(0.01)[0] == 0.0, "never below the lowest score"
    assert ModelQuality.none(0, "none").interval(1.2) == (1.2, 1.2)


def test_numbers_side_by_side_in_a_sentence_have_the_same_decimals() -> None:
    assert numbers(-0.58, 0.881) == ["-0.580", "0.881"]
    assert numbers(12.3, 0.5) == ["12.3", "0.5"]
    assert numbers(1234.5, 3.25) == ["1,234", "3"]
    assert numbers(0.0, 0.0) == ["0.00", "0.00"]


def test_the_overview_says_the_benjamini_hochberg_sentence_once(store) -> None:
    # Was twice: under the table and again in "How to read these numbers", the second time beside its own
    # "(Benjamini–Hochberg, 5% false discovery rate)".
    page = create_app(store).test_client().get("/").get_data(as_text=True)
    assert page.count("Benjamini") == 1
    assert page.count("Verdicts are read across all influencers at once") == 1


def test_the_influencer_downloads_hold_the_influencers_the_minimum_videos_setting_lists(store) -> None:
    # Was: the links ignored ?min_videos=, and the files held all four influencers while the page listed two.
    client = create_app(store).test_client()
    page = client.get("/?min_videos=5").get_data(as_text=True)
    assert 'href="/download/influencers.csv?min_videos=5"' in page
    assert 'href="/api/influencers.json?min_videos=5&amp;download=1"' in page
    assert "the 2 listed, in 5+ videos; appearances and videos: every video" in page
    download = client.get("/download/influencers.csv?min_videos=5")
    assert download.headers["Content-Disposition"] == 'attachment; filename="influencers-5plus-videos.csv"'
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True), newline="")))
    assert [row[0] for row in rows[1:]] == [ALICE, BOB]
    assert {r["influencer_id"] for r in client.get("/api/influencers.json?min_videos=5").get_json()} == {ALICE, BOB}
    assert len(client.get("/api/influencers.json").get_json()) == 4
    assert len(client.get("/api/videos.json?min_videos=5").get_json()) == 16, "every video, whatever the setting"
    assert 'href="/download/influencers.csv"' in client.get("/").get_data(as_text=True)


def _shown(page: str, before: str, after: str) -> list[float]:
    """The numbers the page shows between `before` and `after` (a sign kept), in order."""
    return [float(n) for n in re.findall(re.escape(before) + r"([-+]?[0-9.]+)" + re.escape(after), page)]


def test_the_page_shows_each_estimate_interval_mean_and_effect_as_the_download_writes_it(store) -> None:
    # Was: the page rounded the unrounded numbers to 2 decimals and the files to 4 significant digits, so that
    # a file's 1.875 could be 1.87 on the page (and 1.88 to whoever rounded the file's).
    client = create_app(store).test_client()
    overview = client.get("/").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(client.get("/download/influencers.csv").get_data(as_text=True))))
    intervals = [(float(r["ci_low"]), float(r["ci_high"])) for r in rows if r["ci_low"]]
    assert list(zip(_shown(overview, 'class="ci interval">[', ","), _shown(overview, ", ", "]</span>"),
                    strict=True)) == intervals
    means = re.findall(r'<td class="num wide-only" data-value="[^"]*">([0-9.]+)</td>', overview)
    assert [float(m) for m in means] == [float(r["avg_performance"]) for r in rows]
    for row in rows:
        page = client.get(f'/influencer/{row["influencer_id"]}').get_data(as_text=True)
        assert _shown(page, "<dt>Estimate</dt><dd>", " ") == [float(row["shrunken_mean"])]
        assert _shown(page, "<dt>Raw mean</dt><dd>", "<") == [float(row["avg_performance"])]


def test_a_statistic_is_shown_with_the_digits_the_exports_write() -> None:
    assert statistic_text(1.8749999999) == "1.875"  # not 1.87, the unrounded number's two decimals
    assert statistic_text(0.0043719) == "0.004372"
    assert statistic_text(12345.6) == "12,350" and statistic_text(-12345678.0) == "-12,350,000"
    assert statistic_text(1.29996) == "1.300" and statistic_text(0.0) == "0.000"
    assert statistic_text(3.38549e-05) == "0.00003385"  # the files' 3.385e-05
    assert statistic_text(0.01234, signed=True) == "+0.01234"
    assert statistic_text(-0.5, signed=True) == "-0.5000"
    assert statistic_text(float("nan")) == statistic_text(None) == "–"


def test_the_estimate_effect_and_prediction_of_a_person_are_told_apart_in_one_line_where_they_are_shown(store) -> None:
    # Was: three numbers per person (2.2, +0.9 and 2.1 for Alice) and nothing saying why they differ.
    client = create_app(store).test_client()
    line = "Estimate, effect, prediction:"
    for path in ("/", f"/influencer/{ALICE}", f"/predict?ids={ALICE}"):
        assert client.get(path).get_data(as_text=True).count(line) == 1, path
    person = client.get(f"/influencer/{ALICE}").get_data(as_text=True)
    alone = create_app(store).extensions["analytics_cache"].current().predictor.predict([ALICE])
    assert f'<dt>Predicted, alone</dt><dd><a href="/predict?ids={ALICE}"' in person
    assert f"{statistic_text(alone)}</a>" in person


def test_a_score_is_shown_as_the_manifest_gave_it_as_the_downloads_write_it(tmp_path: Path) -> None:
    # Was: 0.6722 in the manifest and videos.csv, 0.67 on the Videos, video and influencer pages.
    store = AnalyticsStore(tmp_path / "scores.sqlite")
    try:
        for k, score in enumerate((0.6722, 2.0)):
            video_id = f"{k:016x}"
            store.record_video(VideoRow(f"https://cdn.example.com/{k}.mp4", video_id, score, DONE, duration_s=5.0),
                               [AppearanceRow(video_id, ALICE, 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg")])
        client = create_app(store).test_client()
        assert [v["performance"] for v in client.get("/api/videos.json").get_json()] == [0.6722, 2.0]
        assert '>0.6722</td>' in client.get("/videos").get_data(as_text=True)
        assert "<dd>0.6722</dd>" in client.get(f"/video/{0:016x}").get_data(as_text=True)
        person = client.get(f"/influencer/{ALICE}").get_data(as_text=True)
        assert "<dd>0.6722 – 2</dd>" in person and '>0.6722</td>' in person
    finally:
        store.close()
    assert score_text(None) == score_text(float("nan")) == "–"


def test_the_model_cards_technical_figures_are_report_jsons_rounded_as_the_exports_round_them() -> None:
    # Was 3 significant digits (0.406 vs 0.366, R² -0.14), where report.json says 0.4063, 0.3659, -0.1428.
    quality = ModelQuality(0.406349, -0.142849, 0.365949, -0.15, 5, 12, -0.575649, 0.881949)
    technical = model_card(quality, 1.183).technical
    assert "(5 folds, 12 videos) 0.4063 vs 0.3659 for the global mean; R² -0.1428 vs -0.1500;" in technical
    assert "90% of out-of-fold errors lie in [-0.5756, 0.8819]." in technical


def test_a_downloaded_influencers_face_is_the_pages_address_of_it(store) -> None:
    # Was faces/<id>.jpg, relative to a report folder the download has none of: /api/faces/... answered 404.
    client = create_app(store).test_client()
    (alice,) = [r for r in client.get("/api/influencers.json").get_json() if r["influencer_id"] == ALICE]
    assert alice["representative_image"] == f"http://localhost/faces/{ALICE}.jpg"
    assert client.get(alice["representative_image"]).status_code == 200
    csv_rows = csv.DictReader(io.StringIO(client.get("/download/influencers.csv").get_data(as_text=True)))
    assert {r["representative_image"] for r in csv_rows} == {f"http://localhost/faces/{i}.jpg"
                                                              for i in (ALICE, BOB, CAROL, DAN)}


def test_the_influencers_card_says_how_many_the_minimum_videos_setting_lists(store) -> None:
    # Was "4 influencers" above a table of 2, the filter's effect said nowhere but in its box.
    client = create_app(store).test_client()
    assert "<span>influencers (2 listed: 5+ videos)</span>" in client.get("/?min_videos=5").get_data(as_text=True)
    assert "<span>influencers</span>" in client.get("/").get_data(as_text=True)


def test_predict_says_a_picked_influencer_marked_not_an_influencer_is_left_out_not_unknown(store) -> None:
    # Was "Not known to the model" with the bare id, of someone the analyst had hidden a moment before.
    store.replace_appearances({}, {DAN: "Dan"}, [Label(DAN, name="Dan", hidden=True)])
    page = create_app(store).test_client().get(f"/predict?ids={DAN}&ids={ALICE}").get_data(as_text=True)
    hidden = page[page.index('id="hidden-picked"'):]
    assert "left out of the model" in hidden and "<strong>Dan</strong>" in hidden[:hidden.index("</p>")]
    assert "Not known to the model" not in page


def test_an_influencer_page_shows_no_prediction_alone_while_there_is_no_model(tmp_path: Path) -> None:
    # Was "Predicted, alone" with the average video's score, from a model that could not be fitted.
    store = AnalyticsStore(tmp_path / "one.sqlite")
    try:
        store.record_video(VideoRow("https://cdn.example.com/0.mp4", f"{0:016x}", 1.5, DONE, duration_s=5.0),
                           [AppearanceRow(f"{0:016x}", ALICE, 0.0, 1.0, 1, 1.0, 0.5, b"\xff\xd8jpeg")])
        page = create_app(store).test_client().get(f"/influencer/{ALICE}").get_data(as_text=True)
    finally:
        store.close()
    assert "Predicted, alone" not in page
