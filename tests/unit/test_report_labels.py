"""How the page's lists of choices label influencers (services/analytics/report.py: label, labels)."""

from __future__ import annotations

from services.analytics.report import label, labels


def test_a_name_shared_after_folding_gets_its_id_an_unnamed_one_says_so_and_a_unique_name_stands_alone() -> None:
    names = {"inf_a": "Ann  Lee", "inf_b": "ann lee", "inf_c": "Bo", "inf_d": ""}
    expected = [("inf_a", "Ann  Lee · inf_a"), ("inf_b", "ann lee · inf_b"), ("inf_c", "Bo"),
                ("inf_d", "unnamed · inf_d"), ("inf_e", "unnamed · inf_e")]
    assert labels([i for i, _ in expected], names) == expected
    assert [(i, label(i, names)) for i, _ in expected] == expected
    assert labels([], names) == []
