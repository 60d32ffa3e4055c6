"""Identity built directly (tests, stack.py, embedding code) refuses what the CLI refuses, before it opens
anything."""

import pytest

from services.common.settings import Settings, SettingsError
from services.identity.process import IdentityProcess


@pytest.mark.parametrize("locator", ["true", "no-such-model.tflite"])
def test_an_identity_process_whose_face_locator_model_is_missing_refuses_to_start_naming_the_variable(
        tmp_path, locator):
    settings = Settings(data_dir=tmp_path, identity_port=0, workers=1, face_locator=locator)
    with pytest.raises(SettingsError, match=r"INFLUENCERS_FACE_LOCATOR=.*no model file"):
        IdentityProcess(settings)
    assert not (tmp_path / "qdrant").exists()  # refused before its stores were opened
