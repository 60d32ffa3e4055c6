"""Report pages (reads; the correction forms post to corrections.py). Views only read the request, call
services.analytics.report and render.

Ids in routes are checked against the services' strict patterns before any lookup (a bad id is a 404, one
in capitals a redirect to its lower-case URL: canonical.py); numeric query parameters are read by query.py;
templates are autoescaped, and a URL from a manifest becomes a link only when it is http(s).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for

from services.analytics import report
from services.analytics.analysis import Analysis
from services.analytics.audit import gone_sentence
from services.analytics.export_format import score_text, statistic_text
from services.analytics.prediction_words import prediction_words
from services.analytics.store import AnalyticsStore
from services.analytics.web.attachment import as_download
from services.analytics.web.bidi import as_html, described, isolated
from services.analytics.web.canonical import canonical_ids, influencer_id_as_typed, no_such
from services.analytics.web.chart_cache import ChartCache
from services.analytics.web.csv_download import csv_download
from services.analytics.web.doubt import REVIEW_PAGE, OpenReviewCounts
from services.analytics.web.links import is_http_url
from services.analytics.web.media import Source, find_source
from services.analytics.web.query import whole_number
from services.common.boundary import is_influencer_id, is_video_id
from services.common.names import Known, fold, namesakes

# Templates and static files are the app's own (services/analytics/web/templates, .../static).
bp = Blueprint("report", __name__)


def _store() -> AnalyticsStore:
    return current_app.extensions["analytics_store"]


def _analysis() -> Analysis:
    return current_app.extensions["analytics_cache"].current()


def _min_videos() -> int:
    return whole_number("min_videos", "the fewest videos a person listed has")


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"fmt": _fmt, "stat": statistic_text, "score": score_text, "http_url": is_http_url, "named": _named}


def _named(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(id, name, "" when unnamed) for each (id, label) of `pairs`, in their order: a list that shows each name
    with its id beside it (the pick lists)."""
    names = _analysis().names
    return [(i, names.get(i, "")) for i, _ in pairs]


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@bp.get("/")
def overview() -> str:
    return render_template("overview.html", view=report.overview(_analysis(), _min_videos(), _open_reviews()),
                           hidden=_hidden_influencers())


def _open_reviews() -> dict[str, int] | None:
    """Open review items per influencer (identity's queue, cached by doubt.OpenReviewCounts); None unknown."""
    counts = current_app.extensions.get("review_counts")
    if counts is None:
        corrections = current_app.extensions.get("corrections")
        fetch = (lambda: corrections.review_items(REVIEW_PAGE)) if corrections is not None else None
        counts = current_app.extensions.setdefault("review_counts", OpenReviewCounts(fetch))
    return counts.counts(_store().version())


def _hidden_influencers() -> list[dict[str, str]]:
    """The influencers marked "not an influencer" (analytics keeps them out of the statistics), by id."""
    analysis = _analysis()
    return [{"influencer_id": i, "name": analysis.names.get(i, "")} for i in sorted(analysis.hidden)]


@bp.get("/chart.png")
def chart() -> Response:
    """The chart of means, drawn once per analysis and set shown (chart_cache): the minimums of videos keep nested
    sets, so how many are kept names the set."""
    # Here, not at the top: matplotlib costs ~0.75 CPU s to import, and a run that never draws the chart (a
    # `--no-serve` run, a page never opened) paid it at start-up.
    from services.analytics.chart import means_chart_png

    analysis = _analysis()
    stats = analysis.stats[analysis.stats["videos"] >= _min_videos()]
    charts = current_app.extensions.setdefault("charts", ChartCache())
    png = charts.png(analysis, len(stats), lambda: means_chart_png(stats, analysis.overall_mean))
    return Response(png, mimetype="image/png")


@bp.get("/predict")
def predict() -> str:
    analysis = _analysis()
    result = report.prediction(analysis, [influencer_id_as_typed(i) for i in request.args.getlist("ids")])
    return render_template("predict.html", view=report.overview(analysis), result=result,
                           words=prediction_words(result), gone=_gone_where(analysis, result.unknown[:10]))


def _gone_where(analysis: Analysis, influencer_ids: list[str]) -> dict[str, str]:
    """For each of `influencer_ids` that a correction took away (merged into another, as on its own page's
    404), the sentence saying which: a merged-away id in a link or an export was "not known to the model" alone."""
    gone = {}
    for influencer_id in influencer_ids:
        if is_influencer_id(influencer_id) and not report.is_known(_store(), analysis, influencer_id):
            row = _store().audit_leaving(influencer_id)
            if row is not None:
                gone[influencer_id] = described(row)
    return gone


INFLUENCER_PAGE_ROWS = 200  # of an influencer's videos at once: each row has a face and a timeline


@bp.get("/influencer/<influencer_id>")
def influencer(influencer_id: str) -> str:
    """One influencer: statistics, corrections, and their videos best score first, INFLUENCER_PAGE_ROWS (config
    "INFLUENCER_PAGE_ROWS") at a time from the `?from=`-th (0-based)."""
    canonical_ids(influencer_id=is_influencer_id)
    start = whole_number("from", "the place of a video in the list")
    rows = int(current_app.config.get("INFLUENCER_PAGE_ROWS") or INFLUENCER_PAGE_ROWS)
    page = report.influencer_page(_store(), _analysis(), influencer_id, start, rows)
    if page is None:
        return _gone(influencer_id)
    alone = report.prediction(_analysis(), [influencer_id]) if page.stats else None
    return render_template("influencer.html", page=page, others=_named(_others(influencer_id)), rows=rows, alone=alone,
                           hidden=influencer_id in _analysis().hidden, namesakes=_namesakes(influencer_id, page.name),
                           namesakes_at_once=int(current_app.config.get("NAMESAKES_MERGED_AT_ONCE")
                                                 or NAMESAKES_MERGED_AT_ONCE))


def _gone(influencer_id: str) -> tuple[str, int]:
    """The 404 of an influencer id nobody has: when a correction took it away (a merge), which one and where
    its faces went, with a link to each influencer of those that is still there."""
    row = _store().audit_leaving(influencer_id)
    if row is None:
        abort(404, description=no_such("influencer_id", influencer_id))
    analysis = _analysis()
    counted = set(analysis.stats["influencer_id"])
    see = [(i, analysis.names.get(i) or i) for i in row.after_ids[:10] if i in counted or _store().appearances_of(i)]
    return render_template("404.html", detail=as_html(gone_sentence(influencer_id, isolated(row))), see=see), 404


# Namesakes offered as one merge at most (config "NAMESAKES_MERGED_AT_ONCE"): more influencers of one name than
# this are a common name, not one person split; they are listed, and merged by hand.
NAMESAKES_MERGED_AT_ONCE = 5


def _namesakes(influencer_id: str, name: str) -> list[Known]:
    """The other influencers named `name` (case and blanks ignored), most videos first: one person the face
    model split (a look years apart, a shot in profile) whom the analyst named twice, offered as one merge.
    Names are folded once; videos are counted for the namesakes only, when there are some."""
    analysis = _analysis()
    folded = fold(name)
    if not folded:
        return []
    named = [i for i, n in analysis.names.items() if i != influencer_id and fold(n) == folded]
    return namesakes(influencer_id, name, report.merge_candidates(analysis, among=named)) if named else []


@bp.get("/video/<video_id>")
def video(video_id: str) -> str:
    canonical_ids(video_id=is_video_id)
    page = report.video_page(_store(), _analysis(), video_id, current_app.config.get("ALLOWED_ROOT", ""))
    if page is None:
        abort(404, description=no_such("video_id", video_id))
    unread = page.status == "failed" and not page.video.duration_s and not page.video.faces
    # A row that failed before its file was read (not a video, a text file) has nothing a player could play.
    source = (Source("", reason="its row failed before the file was read as a video (the reason is below)")
              if unread else find_source(page.rows, current_app.config))
    return render_template("video.html", page=page, others=_others(""), source=source,
                           repost=_store().repost_of(video_id))


def _others(influencer_id: str) -> list[tuple[str, str]]:
    """(id, label) of every influencer with statistics but `influencer_id`: choices of the correction forms."""
    analysis = _analysis()
    return report.by_name(report.labels([i for i in analysis.stats["influencer_id"] if i != influencer_id],
                                        analysis.names), analysis.names)


VIDEOS_PAGE_ROWS = 500  # rows of /videos at once: 200k rows were 68 MB of HTML; the downloads have them all


@bp.get("/videos")
def videos() -> str:
    """The videos in the order first recorded, VIDEOS_PAGE_ROWS (config "VIDEOS_PAGE_ROWS") at a time
    (`?page=` the token of a page)."""
    token = request.args.get("page", "")
    try:
        rows, next_token = report.video_list_page(_store(), token,
                                             int(current_app.config.get("VIDEOS_PAGE_ROWS") or VIDEOS_PAGE_ROWS))
    except ValueError:
        abort(400, description="that page of the video list does not exist (start again from the first page)")
    return render_template("videos.html", rows=rows, next_page=next_token, paged=bool(token))


@bp.get("/faces/<influencer_id>.jpg")
def face(influencer_id: str) -> Response:
    canonical_ids(influencer_id=is_influencer_id)
    return _jpeg(_store().best_face(influencer_id))


@bp.get("/appearance-face/<video_id>/<influencer_id>.jpg")
def appearance_face(video_id: str, influencer_id: str) -> Response:
    canonical_ids(video_id=is_video_id, influencer_id=is_influencer_id)
    return _jpeg(_store().appearance_face(video_id, influencer_id))


def _jpeg(data: bytes | None) -> Response:
    if not data:
        abort(404)
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "private, max-age=60"})


@bp.get("/download/<name>.csv")
def download_csv(name: str) -> Response:
    return csv_download(_table(name), _file_stem(name))


@bp.get("/api/<name>.json")
def download_json(name: str) -> Response:
    """The table as JSON: inline, as programs read it; saved as a file with `?download=1` (the page's links)."""
    return as_download(jsonify(report.to_records(_table(name))), f"{_file_stem(name)}.json")


def _file_stem(name: str) -> str:
    """A table's file name without its extension: a file narrowed by "Minimum videos" says so in its name,
    wherever it is saved."""
    least = _min_videos() if name == "influencers" else 0
    return f"{name}-{least}plus-videos" if least else name


def _table(name: str) -> Any:
    if name not in report.TABLES:
        abort(404)
    frame = report.table(_store(), _analysis(), name, current_app.config.get("ALLOWED_ROOT", ""),
                         _min_videos() if name == "influencers" else 0)
    if name != "influencers":
        return frame
    return report.faces_at(frame, lambda i: url_for("report.face", influencer_id=i, _external=True))
