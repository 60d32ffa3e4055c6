"""The chart of means draws each influencer's name as typed: matplotlib reads text between two `$` as a formula
(mathtext), so a name such as `$\\undefinedcmd$` failed the whole chart (/chart.png a 500) and `$x^2$ Queen`
was drawn as a formula."""

from __future__ import annotations

import pandas as pd
import pytest

from services.analytics.chart import means_chart, means_chart_png

PNG = b"\x89PNG\r\n\x1a\n"


def stats(*names: str) -> pd.DataFrame:
    return pd.DataFrame([{"influencer_id": f"inf_{k:010x}", "name": name, "shrunken_mean": 1.0 + k,
                          "ci_low": 0.5 + k, "ci_high": 1.5 + k, "mean": 1.0 + k} for k, name in enumerate(names)])


@pytest.mark.parametrize("name", [r"$\undefinedcmd$", r"$\frac{1}{0}$", "Cash $$ Money $", "$x^2$ Queen", "$", "a_b^c"])
def test_a_name_that_matplotlib_would_read_as_a_formula_is_drawn_as_typed_and_the_chart_is_made(name: str) -> None:
    assert means_chart_png(stats(name, "Ann"), 1.5).startswith(PNG)
    labels = means_chart(stats(name), 1.0).axes[0].get_yticklabels()
    assert [label.get_text() for label in labels] == [name[:28]]
    assert not any(label.get_parse_math() for label in labels)
