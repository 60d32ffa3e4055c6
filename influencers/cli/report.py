"""The report commands on a data dir (export, eval): no service runs; the analytics store is read directly."""

from __future__ import annotations

import argparse
import contextlib
import io
import sqlite3
from pathlib import Path

from sqlalchemy import exc as sa_exc

from influencers.cli.config import settings_from_args
from influencers.cli.output import cut, db_error, usage_error
from services.common.boundary import escaped


def cmd_export(args: argparse.Namespace) -> int:
    """Writes the report's files; reads INFLUENCERS_DATABASE_URL when set, else the data dir's SQLite file."""
    from services.analytics.export import export_report
    from services.analytics.store import SQLITE_FILE, AnalyticsStore
    from services.analytics.store_schema import StaleSchema

    settings = settings_from_args(args)
    db = settings.data_dir / SQLITE_FILE
    if not settings.database_url and not db.is_file():
        # A fleet's report is in analytics' data dir: ingest's and identity's hold none (docs/fleet.md).
        return usage_error(f"no data in {cut(str(settings.data_dir))} (no {SQLITE_FILE}): give --data-dir the data "
                           "dir of `influencers run` or of `influencers service analytics`, or run `influencers run` "
                           "first")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return usage_error(f"--out {cut(args.out)} is a file, not a folder")
    try:
        store = AnalyticsStore.open(settings, read_only=True)  # a data dir on a read-only mount is exported too
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
    try:
        export_report(store, out, settings.allowed_root)
    finally:
        store.close()
    print(f"exported to {out}/")  # `--out report/`: one slash, not two
    return 0


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
