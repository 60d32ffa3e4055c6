"""`influencers eval` prints its scores as JSON a reader can take in: 4 significant digits, counts whole."""

import json

from influencers.evaluate import Scores


def test_the_summary_rounds_ratios_and_errors_to_4_significant_digits_and_keeps_counts_whole():
    scores = Scores(true_people=29, predicted_people=30, incidence_precision=0.9931216931216931,
                    incidence_recall=1.0, incidence_f1=0.996551724137931, bcubed_precision=0.98765432,
                    bcubed_recall=1.0, bcubed_f1=0.9937888198757764, pairwise_precision=0.5, pairwise_recall=0.0,
                    pairwise_f1=0.0, impure_influencers=0, max_performance_error=3.3853211e-05,
                    mean_performance_error=1.2345678e-06, mapping={"inf_a": "ann"})
    said = json.loads(scores.summary())
    assert said["incidence_precision"] == 0.9931 and said["bcubed_f1"] == 0.9938
    assert said["max_performance_error"] == 3.385e-05 and said["mean_performance_error"] == 1.235e-06
    assert said["true_people"] == 29 and said["incidence_recall"] == 1.0 and "mapping" not in said
