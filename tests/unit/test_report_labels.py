"""How the page's lists of choices label influencers, and whom merges choose among (services/analytics/report.py:
label, labels, merge_candidates)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from services.analytics.report import by_name, label, labels, merge_candidates
from services.common.names import Known


def test_a_name_shared_after_folding_gets_its_id_an_unnamed_one_says_so_and_a_unique_name_stands_alone() -> None:
    names = {"inf_a": "Ann  Lee", "inf_b": "ann lee", "inf_c": "Bo", "inf_d": ""}
    expected = [("inf_a", "Ann  Lee · inf_a"), ("inf_b", "ann lee · inf_b"), ("inf_c", "Bo"),
                ("inf_d", "Unnamed · inf_d"), ("inf_e", "Unnamed · inf_e")]
    assert labels([i for i, _ in expected], names) == expected
    assert [(i, label(i, names)) for i, _ in expected] == expected
    assert labels([], names) == []


def test_merge_candidates_among_some_ids_counts_their_videos_as_the_whole_list_does() -> None:
    appearances = pd.DataFrame({"influencer_id": ["inf_a", "inf_a", "inf_a", "inf_b", "inf_c"],
                                "video_id": ["v1", "v1", "v2", "v3", "v3"]})
    analysis = SimpleNamespace(appearances=appearances, names={"inf_a": "Ann", "inf_d": "Ann"})
    whole = {k.influencer_id: k for k in merge_candidates(analysis)}
    assert whole == {"inf_a": Known("inf_a", "Ann", 2), "inf_b": Known("inf_b", "", 1),
                     "inf_c": Known("inf_c", "", 1), "inf_d": Known("inf_d", "Ann", 0)}
    assert sorted(merge_candidates(analysis, among=["inf_a", "inf_d"]), key=str) == \
        sorted([whole["inf_a"], whole["inf_d"]], key=str)
    assert merge_candidates(analysis, among=[]) == []


def test_a_list_of_choices_puts_cyrillic_names_in_their_alphabets_order() -> None:
    # The sort key was the look-alike form (names.fold), which reads Cyrillic В as b and С as c: Вера and Сергей went
    # among the Latin letters, before Борис
    names = {"inf_a": "Сергей", "inf_b": "Борис", "inf_c": "анна", "inf_d": "Вера", "inf_e": ""}
    pairs = labels(names, names)
    assert [names[i] for i, _ in by_name(pairs, names)] == ["анна", "Борис", "Вера", "Сергей", ""]
