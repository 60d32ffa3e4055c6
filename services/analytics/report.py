"""View models and downloadable tables of the report, built from the analysis and the store's rows.

Shared by the web page and the export, so the page, the CSV files and the JSON API always agree.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import pandas as pd

from services.analytics.analysis import Analysis
from services.analytics.export_format import relative_locations, rounded, without_root
from services.analytics.model import ModelQuality
from services.analytics.model_card import ModelCard, model_card
from services.analytics.records import AppearanceRow, VideoRow
from services.analytics.store import AnalyticsStore
from services.analytics.timeline import timeline
from services.analytics.verdicts import fdr_sentence
from services.common.names import Known, fold
from services.common.paging import decode_token, encode_token
from services.common.protoconv import status_word
from services.common.row_keys import is_manifest_row_key
from services.common.url_secrets import location_shown

TABLES = ("influencers", "videos", "appearances")
INFLUENCER_COLUMNS = [
    "influencer_id", "videos", "avg_performance", "median_performance", "std_performance",
    "representative_image", "name", "ci_low", "ci_high", "shrunken_mean", "consistency", "attributed_effect",
    "verdict", "p_value", "q_value", "ambiguous_videos",
]
# video_id last: it joins videos.csv's video_id, where the URL cannot (two manifests' `videos/a.mp4`, other bytes)
APPEARANCE_COLUMNS = ["video_url", "influencer_id", "first_seen_s", "last_seen_s", "faces", "video_id", "hidden"]
VIDEO_COLUMNS = ["video_url", "performance", "status", "error", "duration_s", "faces", "location", "video_id"]
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def is_safe_id(value: str) -> bool:
    """True for ids usable as a file name (letters, digits, `_`, `.`, `-`; no leading dot)."""
    return bool(_SAFE_ID.match(value))


def face_path(influencer_id: str) -> str:
    """Relative path of an influencer's representative face in an export; "" when the id is unsafe."""
    return f"faces/{influencer_id}.jpg" if is_safe_id(influencer_id) else ""


# ---- tables -----------------------------------------------------------------------------------------

def influencers_table(analysis: Analysis, min_videos: int = 0) -> pd.DataFrame:
    stats = analysis.stats[analysis.stats["videos"] >= min_videos]
    table = stats.rename(columns={
        "mean": "avg_performance", "median": "median_performance", "std": "std_performance",
    })
    table = table.assign(representative_image=[face_path(i) for i in table["influencer_id"]])
    return table[INFLUENCER_COLUMNS].reset_index(drop=True)


def appearances_table(analysis: Analysis) -> pd.DataFrame:
    urls = analysis.videos[["video_id", "url"]].rename(columns={"url": "video_url"})
    table = analysis.appearances.merge(urls, on="video_id", how="inner")
    # Someone marked "not an influencer" keeps their appearances, said so: influencers.csv has no row of them.
    table = table.assign(hidden=table["influencer_id"].isin(list(analysis.hidden)).astype(bool))
    return table[APPEARANCE_COLUMNS].reset_index(drop=True)


def videos_table(rows: list[VideoRow]) -> pd.DataFrame:
    """One row per manifest row, status as a lower-case word; `location` (where the bytes were read) and
    `video_id` (content) tell apart two rows the manifests spelt alike. A row its submission gave again
    (`repeats`) is followed by that many rows of status "duplicate", so that N manifest rows give N rows."""
    table = []
    for r in rows:
        # A row without URL: none. A link's password or path token is never shown (its key keeps them).
        location = "" if is_manifest_row_key(r.location) else location_shown(r.location or r.url)
        first = [r.url, r.performance, status_word(r.status), r.error, r.duration_s, r.faces, location, r.video_id]
        table.append(first)
        again = f"same URL as the row above (listed {r.repeats + 1} times in the manifest)"
        table.extend([r.url, r.performance, "duplicate", again, *first[4:]] for _ in range(r.repeats))
    return pd.DataFrame(table, columns=VIDEO_COLUMNS).astype(
        {"performance": "float64", "duration_s": "float64", "faces": "int64"})


def table(store: AnalyticsStore, analysis: Analysis, name: str, root: str = "", min_videos: int = 0) -> pd.DataFrame:
    """The named table of TABLES as written for people (export_format: rounded, locations relative to `root`,
    the allowed folder); KeyError for any other name. `min_videos` keeps the influencers in at least that many
    videos, as the overview's "Minimum videos" lists them (influencers only: the other tables are of videos)."""
    if name == "influencers":
        frame = influencers_table(analysis, min_videos)
    elif name == "appearances":
        frame = appearances_table(analysis)
    elif name == "videos":
        frame = videos_table(store.list_videos())
        frame = frame.assign(location=relative_locations(frame["location"], frame["video_url"], root),
                             error=[without_root(e, root) for e in frame["error"]])
    else:
        raise KeyError(name)
    return rounded(name, frame)


def faces_at(frame: pd.DataFrame, address: Callable[[str], str]) -> pd.DataFrame:
    """influencers `frame` with each representative_image given as `address(influencer_id)` (a download of the
    page is read away from any report folder: there, `faces/<id>.jpg` named no file); "" stays ""."""
    return frame.assign(representative_image=[address(i) if path else "" for i, path in
                                              zip(frame["influencer_id"], frame["representative_image"], strict=True)])


def to_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-ready rows: NaN and +-inf become None (JSON has no such numbers), numpy scalars Python ones."""
    return [json_ready(row) for row in frame.astype(object).to_dict(orient="records")]


def json_ready(value: Any) -> Any:
    """`value` (dicts, lists and tuples of them, nested) with every non-finite float made None, so that
    `json.dumps(..., allow_nan=False)` takes it: `NaN` and `Infinity` are not JSON, and parsers refuse them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


# ---- page view models -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Overview:
    rows: list[dict[str, object]]
    all_influencers: list[tuple[str, str]]  # (influencer_id, label) for the predict form
    quality: ModelQuality
    videos: int
    overall_mean: float
    min_videos: int
    beats_baseline: bool
    card: ModelCard | None = None
    fdr_sentence: str = ""
    # Whether rows' "open_reviews" are known (identity answered); False: the page says "unknown".
    reviews_known: bool = False


def overview(analysis: Analysis, min_videos: int = 0, open_reviews: dict[str, int] | None = None) -> Overview:
    """`open_reviews`: open review items per influencer id (web/doubt.py), None when unknown; each row gets
    "open_reviews" (None when unknown) beside "ambiguous_videos"."""
    stats = analysis.stats
    shown = stats[stats["videos"] >= min_videos]
    q = analysis.quality
    rows = to_records(shown)
    for row in rows:
        row["open_reviews"] = None if open_reviews is None else open_reviews.get(str(row["influencer_id"]), 0)
    return Overview(
        rows=rows,
        all_influencers=by_name(labels(stats["influencer_id"], analysis.names), analysis.names),
        quality=q,
        videos=analysis.scored_videos,
        overall_mean=analysis.overall_mean,
        min_videos=min_videos,
        beats_baseline=q.folds > 0 and q.mae < q.baseline_mae,
        card=model_card(q, analysis.overall_mean),
        fdr_sentence=fdr_sentence(),
        reviews_known=open_reviews is not None,
    )


def label(influencer_id: str, names: dict[str, str]) -> str:
    """An influencer as a list of choices shows it (an <option> has no room for a second line): the name; the
    id after it only when another influencer has the same name; "Unnamed" and the id without a name (as every
    page shows one)."""
    return labels([influencer_id], names)[0][1]


def labels(influencer_ids: Iterable[str], names: dict[str, str]) -> list[tuple[str, str]]:
    """(id, label(id)) for each of `influencer_ids`, the names folded and counted once for all of them (a
    list of every influencer is linear in them, not quadratic)."""
    folded = Counter(fold(n) for n in names.values())
    out = []
    for i in influencer_ids:
        name = names.get(i, "")
        out.append((i, f"Unnamed · {i}" if not name else f"{name} · {i}" if folded[fold(name)] > 1 else name))
    return out


def by_name(pairs: list[tuple[str, str]], names: dict[str, str]) -> list[tuple[str, str]]:
    """(id, label) pairs with the named influencers first, in name order (case ignored; not fold's look-alike form,
    which read Cyrillic В and С as Latin b and c, so that Вера and Сергей sorted before Борис), then the unnamed by
    id."""
    return sorted(pairs, key=lambda p: (not names.get(p[0]), names.get(p[0], "").casefold(), p[0]))


def merge_candidates(analysis: Analysis, among: Collection[str] | None = None) -> list[Known]:
    """Every influencer (or those of `among`) as services.common.names sees it: name and number of videos it
    appears in (all its appearances, hidden ones too: the count identity's ListInfluencers gives the CLI)."""
    appearances = analysis.appearances
    if among is not None and len(appearances):
        appearances = appearances[appearances["influencer_id"].isin(list(among))]
    counts = appearances.groupby("influencer_id")["video_id"].nunique().to_dict() if len(appearances) else {}
    ids = set(counts) | (set(analysis.names) if among is None else set(among))
    return [Known(i, analysis.names.get(i, ""), int(counts.get(i, 0))) for i in ids]


@dataclass(frozen=True)
class Prediction:
    selected: list[tuple[str, str]]
    unknown: list[str]
    performance: float
    baseline: float
    # The prediction interval (score units) holding `level` of videos like this one; equal to `performance`
    # when there is no model.
    low: float = 0.0
    high: float = 0.0
    level: float = 0.0
    # (id, label) of those asked for who are marked "not an influencer": left out of the model, as unknown ones.
    hidden: list[tuple[str, str]] = field(default_factory=list)


def prediction(analysis: Analysis, influencer_ids: list[str]) -> Prediction:
    ids = [i for i in dict.fromkeys(influencer_ids) if i]
    known = analysis.predictor.known(ids)
    performance = analysis.predictor.predict(ids)
    low, high = analysis.quality.interval(performance)
    return Prediction(
        selected=labels(known, analysis.names),
        unknown=[i for i in ids if i not in known and i not in analysis.hidden],
        hidden=labels([i for i in ids if i not in known and i in analysis.hidden], analysis.names),
        performance=performance,
        baseline=analysis.overall_mean,
        low=low,
        high=high,
        level=analysis.quality.interval_level if analysis.quality.folds else 0.0,
    )


@dataclass(frozen=True)
class InfluencerPage:
    influencer_id: str
    name: str
    stats: dict[str, object] | None
    videos: list[dict[str, object]] = field(default_factory=list)  # rows start .. start + len(videos)
    total: int = 0  # videos they appear in
    start: int = 0


def is_known(store: AnalyticsStore, analysis: Analysis, influencer_id: str) -> bool:
    """Whether analytics knows `influencer_id`: in the statistics, in an appearance, or named (an enrolled
    person without videos yet)."""
    return (influencer_id in analysis.names or bool((analysis.stats["influencer_id"] == influencer_id).any())
            or bool(store.appearances_of(influencer_id)))  # the store last: the others are in memory


def influencer_page(store: AnalyticsStore, analysis: Analysis, influencer_id: str, start: int = 0,
                    limit: int = 1_000_000) -> InfluencerPage | None:
    """Their videos, best score first, with first/last seen: `limit` of them from the `start`-th (0-based);
    None when nobody has that id."""
    rows = analysis.stats[analysis.stats["influencer_id"] == influencer_id]
    seen = store.appearances_of(influencer_id)
    if rows.empty and not seen:
        return None
    known = store.videos_by_id(a.video_id for a in seen)

    def best_first(a: AppearanceRow) -> tuple[bool, float, str]:
        video = known.get(a.video_id)
        score = video.performance if video else None
        return score is None, -(score or 0.0), a.video_id

    shown = sorted(seen, key=best_first)[start:start + limit]
    return InfluencerPage(
        influencer_id=influencer_id,
        name=analysis.names.get(influencer_id, ""),
        stats=to_records(rows)[0] if not rows.empty else None,
        videos=[_video_of(known.get(a.video_id), a) for a in shown],
        total=len(seen),
        start=start,
    )


def _video_of(video: VideoRow | None, a: AppearanceRow) -> dict[str, object]:
    return {
        "video_id": a.video_id,
        "url": video.url if video else "",
        "title": video_title(video.url) if video else a.video_id,
        "performance": video.performance if video else None,
        **_seen(a),
        "timeline": timeline(a.segments, video.duration_s if video else 0.0, a.first_seen_s, a.last_seen_s),
    }


def _seen(a: AppearanceRow) -> dict[str, object]:
    """How an appearance shows on a page (an influencer's videos, a video's people): when, how much, how sure."""
    return {
        "first_seen_s": a.first_seen_s,
        "last_seen_s": a.last_seen_s,
        "faces": a.faces,
        "screen_time_s": a.screen_time_s,
        "ambiguous": a.ambiguous,
        "has_face": bool(a.best_face),
    }


@dataclass(frozen=True)
class VideoPage:
    video: VideoRow
    status: str
    urls: list[str]
    people: list[dict[str, object]]
    title: str = ""
    rows: list[VideoRow] = field(default_factory=list)  # every manifest row with these bytes
    # (url, location) of each of those rows, as videos.csv writes them, once each: the location tells apart
    # two manifests' folders giving one URL ("" for a row stored under its manifest line).
    places: list[tuple[str, str]] = field(default_factory=list)


def video_title(url: str) -> str:
    """A video as the analyst knows it: the file name of its path or URL ("clip.mp4"); the URL itself when
    its path names no file (`https://host/`). Never the content hash."""
    path = urlsplit(url).path if urlsplit(url).scheme.lower() in ("http", "https", "file") else url
    name = PurePosixPath(unquote(path)).name if path else ""
    return name or url


def video_page(store: AnalyticsStore, analysis: Analysis, video_id: str, root: str = "") -> VideoPage | None:
    """Who appears in the video and when; every manifest URL that gave these bytes, and where each was read
    (as videos.csv says it: relative to `root`, the allowed folder, or from its manifest's folder)."""
    video = store.get_video(video_id=video_id)
    if video is None:
        return None
    duration = video.duration_s
    people = [
        {
            "influencer_id": a.influencer_id,
            "label": label(a.influencer_id, analysis.names),
            "name": analysis.names.get(a.influencer_id, ""),
            "timeline": timeline(a.segments, duration, a.first_seen_s, a.last_seen_s),
            **_seen(a),
        }
        for a in sorted(store.appearances_in(video_id), key=lambda a: a.first_seen_s)
    ]
    rows = store.rows_of_video(video_id)
    urls = list(dict.fromkeys(r.url for r in rows))
    listed = videos_table(rows)
    places = list(dict.fromkeys(zip(listed["video_url"],
                                    relative_locations(listed["location"], listed["video_url"], root), strict=True)))
    return VideoPage(video=video, status=status_word(video.status), urls=urls, people=people,
                     title=video_title(urls[0] if urls else video.url), rows=rows, places=places)


def video_list(store: AnalyticsStore) -> list[dict[str, object]]:
    return [_video_item(r) for r in store.list_videos()]


def video_list_page(store: AnalyticsStore, page_token: str, size: int) -> tuple[list[dict[str, object]], str]:
    """Up to `size` rows of video_list after the page `page_token` ("" the first; services.common.paging
    tokens), and the token of the next page ("" after the last). ValueError for a token paging did not make."""
    rows, after = store.list_videos_page(after=decode_token(page_token), limit=size)
    return [_video_item(r) for r in rows], encode_token(after) if after else ""


def _video_item(r: VideoRow) -> dict[str, object]:
    return {"url": r.url, "video_id": r.video_id, "performance": r.performance, "status": status_word(r.status),
            "error": r.error, "duration_s": r.duration_s, "faces": r.faces, "repeats": r.repeats}
