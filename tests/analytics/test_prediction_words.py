"""The page's Predict and `influencers predict` say a prediction in the same sentences (prediction_words): the page
marks names and numbers up, the CLI prints them plain, and the words between are the same."""

from __future__ import annotations

import re
from html import unescape

import pytest

from influencers.cli.report import prediction_lines
from services.analytics import report
from services.analytics.analysis import AnalysisCache
from services.analytics.store import AnalyticsStore, Label
from services.analytics.web import create_app

ALICE, BOB, DAN = "inf_aaaa000001", "inf_bbbb000002", "inf_dddd000004"


def page_sentences(store: AnalyticsStore, ids: list[str]) -> list[str]:
    """The sentences of the page's prediction, tags taken out and white space folded (the hint between left out)."""
    page = create_app(store).test_client().get("/predict?" + "&".join(f"ids={i}" for i in ids)).get_data(as_text=True)
    result = page[page.index('<div class="result">'):page.index("</div>", page.index('<div class="result">'))]
    return [" ".join(unescape(re.sub(r"<[^>]+>", "", text)).split())
            for attrs, text in re.findall(r"<p([^>]*)>(.*?)</p>", result, re.S) if "three-numbers" not in attrs]


@pytest.mark.parametrize("ids", [[ALICE, DAN], ["inf_00000000ff"], [ALICE, BOB, "inf_00000000ff"]])
def test_the_page_and_the_cli_say_a_prediction_in_the_same_words(analytics_store: AnalyticsStore,
                                                                  ids: list[str]) -> None:
    analytics_store.replace_appearances({}, {BOB: "Bob"}, [Label(BOB, name="Bob", hidden=True)])
    said = prediction_lines(report.prediction(AnalysisCache(analytics_store).current(), ids))
    assert page_sentences(analytics_store, ids) == said
    assert len(said) == 2 + (BOB in ids) + ("inf_00000000ff" in ids)
