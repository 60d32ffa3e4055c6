"""The report commands on a data dir (export, predict, eval): no service runs; the analytics store is read directly."""

from __future__ import annotations

import argparse
import contextlib
import io
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc

from influencers.cli.config import settings_from_args
from influencers.cli.output import cut, db_error, usage_error
from influencers.v1 import identity_pb2
from services.common.boundary import escaped
from services.common.datadir import broken_link
from services.common.name_text import for_terminal
from services.common.names import Known

if TYPE_CHECKING:
    from services.analytics.report import Prediction
    from services.analytics.store import AnalyticsStore
    from services.common.settings import Settings


def cmd_export(args: argparse.Namespace) -> int:
    """Writes the report's files; reads INFLUENCERS_DATABASE_URL when set, else the data dir's SQLite file."""
    from services.analytics.export import export_report

    settings = settings_from_args(args)
    out = Path(args.out)
    if link := broken_link(out):  # was "cannot use OUT (File exists)", or the loop named at a file under it
        return usage_error(f"--out {cut(args.out)} is {link}: give a folder for the report's files")
    if out.exists() and not out.is_dir() and _has_data(settings):
        return usage_error(f"--out {cut(args.out)} is a file, not a folder")
    store = _opened_store(settings)
    if isinstance(store, int):
        return store
    try:
        export_report(store, out, settings.allowed_root)
    finally:
        store.close()
    print(f"exported to {for_terminal(str(out))}/")  # `--out report/`: one slash, not two
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """The score a video with the influencers named (ids or names, as every command takes them) is expected to
    have, with the range that holds most such videos: the page's Predict, from the data dir as it is now."""
    from influencers.names import Resolver
    from services.analytics import report
    from services.analytics.analysis import AnalysisCache
    store = _opened_store(settings_from_args(args))
    if isinstance(store, int):
        return store
    try:
        analysis = AnalysisCache(store).current()
    finally:
        store.close()
    # A NameLookupError goes to main's handler: escaped (stored names may hold controls) and named "predict:"
    ids = [Resolver(_Listed(report.merge_candidates(analysis))).one(word) for word in args.influencers]
    for line in prediction_lines(report.prediction(analysis, ids)):
        print(line)
    return 0


class _Listed:
    """Analytics' influencers (names as identity last published them) as the CLI's Resolver asks for them."""

    def __init__(self, known: list[Known]) -> None:
        self._known = known

    def influencers(self) -> list[identity_pb2.Influencer]:
        return [identity_pb2.Influencer(influencer_id=k.influencer_id, name=k.name, videos=k.videos)
                for k in self._known]


def prediction_lines(result: Prediction) -> list[str]:
    """A prediction in the page's words (prediction_words), names fit for a terminal (for_terminal)."""
    from services.analytics.prediction_words import NAME, prediction_words

    def shown(role: str, text: str) -> str:
        return for_terminal(text) if role == NAME else text

    return ["".join(shown(role, text) for role, text in s.parts) + ", ".join(shown(s.listed_role, text)
                                                                          for _, text in s.listed)
            for s in prediction_words(result).sentences()]


def _has_data(settings: Settings) -> bool:
    from services.analytics.store import SQLITE_FILE

    return bool(settings.database_url) or (settings.data_dir / SQLITE_FILE).is_file()


def _opened_store(settings: Settings) -> AnalyticsStore | int:
    """The analytics store of INFLUENCERS_DATABASE_URL, else of the data dir's SQLite file, opened to read (a data
    dir on a read-only mount is read too); the usage error's exit code (2), said, when there is none or it
    cannot be read."""
    from services.analytics.store import SQLITE_FILE, AnalyticsStore
    from services.analytics.store_schema import StaleSchema

    db = settings.data_dir / SQLITE_FILE
    if not _has_data(settings):
        # A fleet's report is in analytics' data dir: ingest's and identity's hold none (docs/fleet.md).
        # A relative data dir is said whole: the default's "no data in data" read as a slip
        where = settings.data_dir if settings.data_dir.is_absolute() else settings.data_dir.absolute()
        return usage_error(f"no data in {cut(str(where))} (no {SQLITE_FILE}): give --data-dir the data "
                           "dir of `influencers run` or of `influencers service analytics`, or run `influencers run` "
                           "first")
    try:
        return AnalyticsStore.open(settings, read_only=True)
    except (sqlite3.DatabaseError, sa_exc.DBAPIError) as exc:
        where = "the database of INFLUENCERS_DATABASE_URL" if settings.database_url else cut(str(db))
        driver = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
        then = ""
        if not settings.database_url and getattr(driver, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            then = (": restore it from a backup, or remove it with its -wal and -shm files (analytics is rebuilt "
                    "from identity at the next `influencers run` or `serve`; run the manifests again for the scores)")
        return usage_error(f"{where} cannot be read ({cut(escaped(db_error(exc)))}){then}")
    except StaleSchema as exc:
        return usage_error(str(exc))


def cmd_eval(args: argparse.Namespace) -> int:
    """Scores the current state of a data dir against a corpus's truth.csv (see influencers/evaluate.py)."""
    import tempfile

    from influencers.evaluate import score_dirs

    truth = Path(args.truth)
    if not (truth / "truth.csv").is_file():
        return usage_error(f"--truth {cut(args.truth)} holds no truth.csv (give a labelled corpus folder)")
    with tempfile.TemporaryDirectory() as tmp:
        export_args = argparse.Namespace(data_dir=args.data_dir, out=tmp)
        with contextlib.redirect_stdout(io.StringIO()):
            code = cmd_export(export_args)
        if code:
            return code
        try:
            scores = score_dirs(Path(tmp), truth)
        except (KeyError, ValueError) as exc:  # pandas: a malformed CSV, a missing column, a bad encoding
            return usage_error(f"{cut(str(truth / 'truth.csv'))} cannot be scored ({cut(escaped(str(exc)))})")
    print(scores.summary())
    return 0
