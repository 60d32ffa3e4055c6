"""The audit trail's lookup "which correction took this id away" (store.audit_leaving: the page of an id merged
away, an answer for a pair merged meanwhile) at N audit rows, on SQLite: N merges, each taking one id away, then
200 lookups of ids spread over the trail. Prints the mean time a lookup, and a read of one row by its key beside it.

    python bench/audit_lookup.py [N]      # docs/audit.md: 5000 and 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from services.analytics.audit import AuditRow
from services.analytics.store import AnalyticsStore

LOOKUPS = 200


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = AnalyticsStore(Path(tmp) / "analytics.sqlite3")
        try:
            for k in range(rows):
                gone, kept = f"inf_{k:010x}", f"inf_{k + 1:010x}"
                store.apply_changes(k + 1, {}, {}, audit=AuditRow(
                    f"{k + 1:032x}", "merge", "bench", 1.0, (gone, kept), (kept,), {gone: "A", kept: "B"},
                    videos=1, faces=1, undoable=True))
            ids = [f"inf_{k:010x}" for k in range(0, rows, max(1, rows // LOOKUPS))]
            started = time.perf_counter()
            for i in ids:
                assert store.audit_leaving(i) is not None
            lookup = (time.perf_counter() - started) / len(ids)
            started = time.perf_counter()
            for k in range(len(ids)):
                store.audit_row(f"{k + 1:032x}")
            one = (time.perf_counter() - started) / len(ids)
        finally:
            store.close()
    print(f"{rows} audit rows: {lookup * 1000:.2f} ms a lookup of who took an id away, "
          f"{one * 1000:.2f} ms a read of one row by its key ({len(ids)} each)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="?", type=int, default=5000)
    main(parser.parse_args().rows)
