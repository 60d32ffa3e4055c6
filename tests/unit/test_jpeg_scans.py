"""services/identity/jpeg_scans.py and image_size's use of it: a progressive JPEG whose scans repeat (a CPU
bomb for libjpeg, which decodes every block again for each) is refused by its markers, before decoding."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from services.identity.faces import image_size
from services.identity.jpeg_scans import MAX_SCANS, count_scans


def _jpeg(size: int = 256, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (120, 90, 60)).save(out, "JPEG", **options)
    return out.getvalue()


def _repeated_scans(data: bytes, copies: int) -> bytes:
    """`data` (a progressive JPEG) with its last scan written `copies` times more before the end marker."""
    last = data.rindex(b"\xff\xda")
    end = data.rindex(b"\xff\xd9")
    return data[:end] + data[last:end] * copies + data[end:]


def test_a_baseline_jpeg_has_one_scan_and_a_progressive_one_about_ten() -> None:
    assert count_scans(_jpeg()) == 1
    assert 2 <= count_scans(_jpeg(progressive=True)) <= 12


def test_the_scan_of_an_exif_thumbnail_is_not_counted() -> None:
    """An EXIF APP1 segment may hold a whole JPEG (the thumbnail), scans and all: it is skipped by its length."""
    thumbnail = _jpeg(64)
    app1 = b"Exif\0\0" + thumbnail
    data = _jpeg()
    with_thumbnail = data[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + data[2:]
    assert count_scans(with_thumbnail) == 1


def test_counting_stops_past_the_limit_and_damaged_data_is_counted_as_far_as_it_goes() -> None:
    assert count_scans(_repeated_scans(_jpeg(progressive=True), 100_000)) == MAX_SCANS + 1
    assert count_scans(b"\xff\xd8") == 0 and count_scans(_jpeg()[:50]) == 0


def test_a_jpeg_of_repeated_scans_is_refused_by_image_size_before_any_decoding() -> None:
    """An 8 MB photo of 270,000 repeated scans took a face worker about 20 minutes (3,000 scans of a
    4000x4000 px image: 13 s), through the page's enrol form or a search image."""
    bomb = _repeated_scans(_jpeg(2000, progressive=True), 50_000)
    started = time.monotonic()
    with pytest.raises(ValueError, match=rf"more than {MAX_SCANS} scans"):
        image_size(bomb)
    assert time.monotonic() - started < 2
    assert image_size(_jpeg(2000, progressive=True)) == (2000, 2000), "an ordinary progressive JPEG passes"
