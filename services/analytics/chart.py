"""Server-side chart of influencer means with their 95% intervals (matplotlib, Agg; no pyplot state)."""

from __future__ import annotations

import io

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_BARS = 40


def means_chart_png(stats: pd.DataFrame, overall_mean: float) -> bytes:
    """PNG bytes: one horizontal interval per influencer (top MAX_BARS by shrunken mean), a dot at the
    mean, a diamond at the shrunken mean, and a dashed line at the overall mean."""
    shown = stats.head(MAX_BARS).iloc[::-1]
    height = 1.2 + 0.32 * max(len(shown), 1)
    fig = Figure(figsize=(7.5, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if shown.empty:
        ax.text(0.5, 0.5, "No influencers yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        names = shown["name"] if "name" in shown else shown["influencer_id"]
        labels = [(n or i)[:28] for i, n in zip(shown["influencer_id"], names, strict=True)]
        y = range(len(shown))
        err = [shown["mean"] - shown["ci_low"], shown["ci_high"] - shown["mean"]]
        ax.errorbar(shown["mean"], y, xerr=err, fmt="o", color="#2457a6", ecolor="#9db5da", capsize=3,
                    label="mean, 95% interval")
        ax.scatter(shown["shrunken_mean"], y, marker="D", s=22, color="#d2691e", zorder=3,
                   label="shrunken mean")
        ax.axvline(overall_mean, color="#888", linestyle="--", linewidth=1, label="all videos")
        ax.set_yticks(list(y), labels)
        ax.set_xlabel("performance")
        ax.grid(axis="x", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
