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


@pytest.mark.parametrize("rows", [1, 2, 9, 40])
def test_the_legend_sits_above_the_plot_and_covers_no_row_of_it(rows: int) -> None:
    """It sat inside the plot, lower right, over the bottom rows' intervals and raw means (seen on the smoke run's
    overview at 1280 and 800 px: the last two rows' points lay under its text)."""
    frame = pd.DataFrame([{"influencer_id": f"inf_{k:010x}", "name": "", "shrunken_mean": 1.2,
                           "ci_low": 1.05, "ci_high": 1.3 + k / 100, "mean": 1.6 - k / 50} for k in range(rows)])
    figure = means_chart(frame, 1.18)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    ax = figure.axes[0]
    legend, plot = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.y0 >= plot.y1 - 1, (legend, plot)
    assert figure.bbox.contains(legend.x0, legend.y0) and legend.x1 <= figure.bbox.x1 + 1 and \
        legend.y1 <= figure.bbox.y1 + 1, "the legend is cut off by the image's edge"
