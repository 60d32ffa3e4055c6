"""`influencers enrol` says of each photo with several faces how many it had and that the largest was enrolled
(it was enrolled in silence: the largest face may not be the person named)."""

from __future__ import annotations

from influencers.cli.corrections import several_faces

RED = "\x1b[31m"


def test_enrol_names_each_photo_with_several_faces_and_says_the_largest_was_enrolled() -> None:
    photos = ["alone.jpg", f"team{RED}.jpg", "pair.jpg"]
    assert several_faces(photos, [1, 3, 2]) == ["team\\x1b[31m.jpg: the photo had 3 faces; enrolled the largest",
                                                "pair.jpg: the photo had 2 faces; enrolled the largest"]
    assert several_faces(photos, []) == []  # an identity of an older release does not count them
