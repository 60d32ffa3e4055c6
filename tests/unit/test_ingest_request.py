"""The StartIngest request a manifest makes: refused by name before any call when one call cannot carry it."""

import re
from pathlib import Path

import pytest

from influencers.client import ingest_request
from services.ingest.manifest import ManifestError, read_manifest


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
    said = f"manifest {manifest} makes a request of {size:,} bytes, more than the {size - 1:,} one call to ingest "
    with pytest.raises(ManifestError, match=re.escape(said)):
        ingest_request(manifest, rows, max_request_bytes=size - 1)

