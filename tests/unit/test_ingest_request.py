"""The StartIngest request a manifest makes: refused by name before any call when one call cannot carry it."""

import re
from pathlib import Path

import pytest

from influencers.client import ingest_request
from services.ingest.manifest import ManifestError, manifest_rows, read_manifest


def test_a_manifest_whose_request_one_call_cannot_carry_is_refused_naming_it_and_the_sizes(tmp_path: Path) -> None:
    """A Windows-1252 file of accented names grows by half or more as UTF-8, and every row carries the manifest's
    name: within the file's own limit, over the call's. Was: `the ingest service ... cannot take it now: CLIENT:
    Sent message larger than max`, which no retry passes."""
    manifest = tmp_path / ("week-" + "x" * 60 + ".csv")
    manifest.write_bytes(b"Performance,Video URL\r\n" + b"".join(b"1,v/%d-\xe9\xe9\xe9\xe9.mp4\r\n" % k
                                                                 for k in range(2000)))
    rows = read_manifest(manifest)
    size = ingest_request(manifest, rows).ByteSize()
    assert size > manifest.stat().st_size
    assert ingest_request(manifest, rows, max_request_bytes=size).ByteSize() == size
    said = (f"manifest {manifest} makes a request of more than the {size - 1:,} bytes one call to ingest carries, "
            "by its row on line 2,001 (row 2,000): split it into several")
    with pytest.raises(ManifestError, match=re.escape(said)):
        ingest_request(manifest, rows, max_request_bytes=size - 1)


def test_a_request_grown_past_what_a_call_carries_is_refused_at_that_row_leaving_the_rest_unread(tmp_path: Path
                                                                                                  ) -> None:
    """Was: a million short rows (16 MB, 39 MB as a request) read whole and made into a request, 24 s of CPU,
    then refused; now refused at the row that passes the limit (line 860,793 of 1,000,001), 13 s."""
    manifest = tmp_path / "m.csv"
    manifest.write_text("Performance,Video URL\n" + "".join(f"1,v/{k:07d}.mp4\n" for k in range(1000)))
    eleven_rows = ingest_request(manifest, read_manifest(manifest)[:11]).ByteSize()
    rows = manifest_rows(manifest)
    with pytest.raises(ManifestError, match=r"by its row on line 13 \(row 12\)"):
        ingest_request(manifest, rows, max_request_bytes=eleven_rows + 1)
    assert next(rows).line == 14, "the rows after the one refused were read"

