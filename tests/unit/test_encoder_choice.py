"""Which encoder fills a face store (services/identity/encoder_choice.py): the store's own, opencv-mirror for a new one,
and an explicit setting that contradicts the store's refused, naming both and how to go on."""

import pytest

from services.common.settings import SettingsError
from services.identity.encoder_choice import check_recorded, choose_encoder


@pytest.mark.parametrize(("setting", "recorded", "holds_hashes", "chosen"), [
    ("auto", None, False, "opencv-mirror"),  # a new store
    ("dlib", None, False, "dlib"),
    ("opencv", None, False, "opencv"),
    ("auto", None, True, "dlib"),  # an older release's store: dlib's hashes
    ("dlib", None, True, "dlib"),
    ("auto", "opencv", True, "opencv"),
    ("opencv", "opencv", True, "opencv"),
    ("auto", "dlib", False, "dlib"),  # recorded, then emptied: still the recorded one (replicas agree)
    ("auto", "opencv", False, "opencv"),
    ("opencv-mirror", None, False, "opencv-mirror"),  # a new store asked to average each chip with its mirror
    ("auto", "opencv-mirror", True, "opencv-mirror"),
])
def test_auto_is_the_stores_own_encoder_or_opencv_mirror_for_a_new_store(setting, recorded, holds_hashes, chosen):
    assert choose_encoder(setting, recorded, holds_hashes, "/d/qdrant/edge") == chosen


def test_an_explicit_encoder_contradicting_the_stores_record_is_refused_naming_both_and_the_ways_on():
    with pytest.raises(SettingsError) as refused:
        choose_encoder("dlib", "opencv", True, "/d/qdrant/edge")
    message = str(refused.value)
    assert message.startswith("INFLUENCERS_ENCODER=dlib: the face store /d/qdrant/edge was filled by the opencv "
                              "encoder (as it records)")
    assert "Unset INFLUENCERS_ENCODER (auto: the store's own) or set it to opencv" in message
    assert "start a new store (another data dir, or QDRANT_COLLECTION) for dlib" in message


def test_opencv_on_an_older_releases_store_is_refused_as_dlibs():
    with pytest.raises(SettingsError, match=r"INFLUENCERS_ENCODER=opencv: .* filled by the dlib encoder \(a store "
                                            r"of an older release, which records no encoder and used dlib's\)"):
        choose_encoder("opencv", None, True, "'faces' (a Qdrant server's collection)")


def test_a_store_filled_by_opencv_mirror_refuses_plain_opencv_and_a_plain_store_refuses_the_mirror():
    with pytest.raises(SettingsError, match=r"INFLUENCERS_ENCODER=opencv: .* filled by the opencv-mirror encoder"):
        choose_encoder("opencv", "opencv-mirror", True, "/d/qdrant/edge")
    with pytest.raises(SettingsError, match=r"INFLUENCERS_ENCODER=opencv-mirror: .* filled by the opencv encoder"):
        choose_encoder("opencv-mirror", "opencv", True, "/d/qdrant/edge")


def test_a_store_recording_an_encoder_this_release_does_not_know_asks_for_an_upgrade():
    with pytest.raises(SettingsError, match=r"records the encoder 'onnx', which this release does not know .*"
                                            r"upgrade influencers"):
        choose_encoder("auto", "onnx", True, "/d/qdrant/edge")


def test_the_record_is_written_once_and_a_replica_that_started_otherwise_meanwhile_is_refused():
    assert check_recorded("opencv", None, False, "s") is True  # a new store: record it
    assert check_recorded("dlib", None, True, "s") is True  # an older release's store: record what it was
    assert check_recorded("opencv", "opencv", True, "s") is False
    with pytest.raises(SettingsError, match=r"just started with the dlib encoder by another identity replica "
                                            r"while this one started with opencv: give every replica the same"):
        check_recorded("opencv", "dlib", False, "s")
