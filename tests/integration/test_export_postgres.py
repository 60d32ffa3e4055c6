"""`influencers export` with INFLUENCERS_DATABASE_URL set reads PostgreSQL: no data dir file needed, and the
files equal those of the same rows in the embedded SQLite store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.analytics.export import export_report
from services.analytics.store import AnalyticsStore
from services.analytics.synthetic import planted_data

ROOT = Path(__file__).resolve().parents[2]


def test_export_with_a_database_url_reads_postgresql_and_matches_the_sqlite_export(postgres_url, tmp_path) -> None:
    data = planted_data(40, 6, seed=3)
    for target in (postgres_url, tmp_path / "a.sqlite3"):
        store = AnalyticsStore(target)
        store.record_many(data.items())
        store.replace_appearances({}, data.names)
        store.close()
    empty = tmp_path / "empty-data-dir"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INFLUENCERS_")}
    result = subprocess.run([sys.executable, "-m", "influencers", "export", "--data-dir", str(empty), "--out",
                             str(tmp_path / "pg")], capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={**clean, "INFLUENCERS_DATABASE_URL": postgres_url})
    assert result.returncode == 0, result.stderr
    assert not (empty / "analytics.sqlite3").exists()
    store = AnalyticsStore(tmp_path / "a.sqlite3")
    try:
        export_report(store, tmp_path / "sqlite")
    finally:
        store.close()
    names = sorted(p.relative_to(tmp_path / "sqlite").as_posix() for p in (tmp_path / "sqlite").rglob("*"))
    assert names == sorted(p.relative_to(tmp_path / "pg").as_posix() for p in (tmp_path / "pg").rglob("*"))
    assert "influencers.csv" in names
    for name in names:
        if (tmp_path / "sqlite" / name).is_file():
            assert (tmp_path / "sqlite" / name).read_bytes() == (tmp_path / "pg" / name).read_bytes(), name
