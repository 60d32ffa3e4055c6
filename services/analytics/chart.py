"""Server-side chart of influencer means with their 95% intervals (matplotlib, Agg; no pyplot state)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_BARS = 40


def means_chart_png(stats: pd.DataFrame, overall_mean: float) -> bytes:
    """PNG bytes of means_chart."""
    buf = io.BytesIO()
    means_chart(stats, overall_mean).savefig(buf, format="png")
    return buf.getvalue()


def means_chart(stats: pd.DataFrame, overall_mean: float) -> Figure:
    """One row per influencer (top MAX_BARS by shrunken mean), labelled with its name as typed: a diamond at the
    shrunken mean with its 95% interval (hollow, no interval, under two videos), a dot at the raw mean, and a
    dashed line at the overall mean. The axis fits these (axis_limits)."""
    shown = stats.head(MAX_BARS).iloc[::-1]
    height = 1.5 + 0.32 * max(len(shown), 1)  # 0.3 in of it the legend's row above the plot
    fig = Figure(figsize=(7.5, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if shown.empty:
        ax.text(0.5, 0.5, "No influencers yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        names = shown["name"] if "name" in shown else shown["influencer_id"]
        labels = [(n or i)[:28] for i, n in zip(shown["influencer_id"], names, strict=True)]
        y = np.arange(len(shown))
        # The interval is around the shrunken mean (it is the same estimate's); none under two videos.
        has = np.isfinite(shown["ci_low"].to_numpy(float)) & np.isfinite(shown["ci_high"].to_numpy(float))
        centre, low, high = (shown[c].to_numpy(float) for c in ("shrunken_mean", "ci_low", "ci_high"))
        ax.errorbar(centre[has], y[has], xerr=[centre[has] - low[has], high[has] - centre[has]], fmt="D",
                    markersize=5, color="#d2691e", ecolor="#9db5da", capsize=3,
                    label="estimate, 95% interval")
        ax.scatter(centre[~has], y[~has], marker="D", s=22, facecolors="none", edgecolors="#d2691e", zorder=3,
                   label="estimate (too few videos)" if (~has).any() else None)
        ax.scatter(shown["mean"], y, marker="o", s=14, color="#2457a6", zorder=3, label="raw mean")
        ax.axvline(overall_mean, color="#888", linestyle="--", linewidth=1, label="all videos")
        ax.set_xlim(*axis_limits(shown, overall_mean))
        # parse_math off: matplotlib reads text between two `$` as a formula, and one it cannot parse
        # (`$\undefinedcmd$`) fails the whole chart.
        ax.set_yticks(list(y), labels, parse_math=False)
        ax.set_xlabel("performance")
        ax.grid(axis="x", alpha=0.3)
        # Above the plot, outside it: inside ("lower right") it covered the bottom rows' intervals and raw means
        # whenever they sat right of the middle, as every shrunken estimate does near the overall mean.
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=4, fontsize=8, frameon=False,
                  borderaxespad=0.2, handletextpad=0.4, columnspacing=1.2)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def axis_limits(stats: pd.DataFrame, overall_mean: float, pad: float = 0.05) -> tuple[float, float]:
    """The x range (score units) that holds every shown raw mean, shrunken mean and finite interval bound and
    the overall mean, widened by `pad` of its width on each side (a width of 1 when all are one number)."""
    values = np.concatenate([stats[c].to_numpy(float) for c in ("mean", "shrunken_mean", "ci_low", "ci_high")]
                            + [np.array([overall_mean], dtype=float)])
    values = values[np.isfinite(values)]
    low, high = float(values.min()), float(values.max())
    width = high - low if high > low else 1.0
    return low - pad * width, high + pad * width
