"""`influencers eval` judges the videos the truth labels: a data dir holding more videos than truth.csv (the
dev data scored against the smoke corpus, a subset) is scored on the labelled ones, and says how many it left
out, instead of counting every unlabelled appearance as a false detection."""

import json

import pandas as pd

from influencers.evaluate import score, score_dirs
from services.analytics.export import to_safe_csv

TRUTH = pd.DataFrame({"file": ["videos/v1.mp4", "videos/v2.mp4"], "people": ["ann", "bob"],
                      "performance": [1.0, 2.0]})
LABELLED = [("videos/v1.mp4", "inf_a"), ("videos/v2.mp4", "inf_b")]
UNLABELLED = [(f"videos/v{k}.mp4", f"inf_{k}") for k in range(3, 23)]


def _scored(appearances: list[tuple[str, str]]):
    frame = pd.DataFrame(appearances, columns=["video_url", "influencer_id"])
    influencers = pd.DataFrame({"influencer_id": sorted(set(frame.influencer_id)), "avg_performance": 1.5})
    return score(TRUTH, frame, influencers)


def test_videos_the_truth_does_not_label_are_left_out_of_the_scores_and_counted():
    # Was: incidence precision 0.09 and 22 predicted people, from 20 videos no one labelled
    alone, more = _scored(LABELLED), _scored(LABELLED + UNLABELLED)
    assert more.incidence_precision == alone.incidence_precision == 1.0
    assert more.predicted_people == alone.predicted_people == 2
    assert alone.unlabelled_videos == 0 and more.unlabelled_videos == 20
    assert json.loads(more.summary())["unlabelled_videos"] == 20


def test_an_influencer_also_seen_in_unlabelled_videos_is_left_out_of_the_performance_error():
    # Their average holds the scores of videos the truth does not give: was a 0.43 error against smoke's truth
    frame = pd.DataFrame(LABELLED + [("videos/v3.mp4", "inf_a")], columns=["video_url", "influencer_id"])
    influencers = pd.DataFrame({"influencer_id": ["inf_a", "inf_b"], "avg_performance": [9.0, 2.0]})
    scores = score(TRUTH, frame, influencers)
    assert scores.max_performance_error == 0.0 and scores.unlabelled_videos == 1


def test_videos_the_truth_labels_that_the_data_was_never_given_are_left_out_and_counted():
    # Was: the smoke corpus's data against dev's truth, recall 0.08 and a performance error of 0.43, as if
    # 188 videos nobody submitted had been missed
    frame = pd.DataFrame(LABELLED[:1], columns=["video_url", "influencer_id"])
    influencers = pd.DataFrame({"influencer_id": ["inf_a"], "avg_performance": [1.0]})
    given = score(TRUTH, frame, influencers, given={"v1.mp4"})
    assert given.incidence_recall == 1.0 and given.true_people == 1 and given.max_performance_error == 0.0
    assert given.unsubmitted_videos == 1 and json.loads(given.summary())["unsubmitted_videos"] == 1
    missed = score(TRUTH, frame, influencers, given={"v1.mp4", "v2.mp4"})  # given, and nobody found in it
    assert missed.incidence_recall == 0.5 and missed.unsubmitted_videos == 0


def test_a_video_whose_name_the_export_guarded_from_spreadsheets_is_matched_to_its_truth_row(tmp_path):
    # `@mia.mp4` is exported `'@mia.mp4` (a cell starting with @ is a formula to a spreadsheet): eval read the
    # guarded name, matched no truth row, and counted the video as never given and its people as missed.
    truth = pd.DataFrame({"file": ["@mia.mp4", "-b.mp4"], "people": ["ann", "bob"], "performance": [1.0, 2.0]})
    truth.to_csv(tmp_path / "truth.csv", index=False)
    exported = {
        "videos.csv": pd.DataFrame({"video_url": ["@mia.mp4", "-b.mp4"], "status": ["done", "done"]}),
        "appearances.csv": pd.DataFrame({"video_url": ["@mia.mp4", "-b.mp4"], "influencer_id": ["inf_a", "inf_b"]}),
        "influencers.csv": pd.DataFrame({"influencer_id": ["inf_a", "inf_b"], "avg_performance": [1.0, 2.0]})}
    for name, frame in exported.items():
        (tmp_path / name).write_text(to_safe_csv(frame), newline="")
    assert "'@mia.mp4" in (tmp_path / "videos.csv").read_text()
    scores = score_dirs(tmp_path, tmp_path)
    assert scores.unsubmitted_videos == 0 and scores.incidence_recall == 1.0 and scores.true_people == 2
