"""Time limits (RPC, fetch, video length) are finite, positive and at most a week: beyond that gRPC turns a
deadline into an instant DEADLINE_EXCEEDED and threads or sockets raise OverflowError."""

import pytest

from services.common.settings import MAX_WAIT_S, Settings, SettingsError

LIMITS = ["rpc_timeout_s", "fetch_timeout_s", "max_video_seconds"]


@pytest.mark.parametrize("name", LIMITS)
@pytest.mark.parametrize(("raw", "words"), [("0", "out of range"), ("-5", "out of range"), ("1e300", "out of range"),
                                            ("1e10", "out of range"), ("nan", "not a number"), ("inf", "not a number"),
                                            ("-inf", "not a number"), ("soon", "not a number")])
def test_a_time_limit_at_an_extreme_is_refused_naming_its_variable(name, raw, words):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({f"INFLUENCERS_{name.upper()}": raw})
    assert str(caught.value).startswith(f"INFLUENCERS_{name.upper()}=") and words in str(caught.value)


@pytest.mark.parametrize("name", LIMITS)
def test_a_week_is_the_longest_time_limit_allowed(name):
    assert getattr(Settings.from_env({f"INFLUENCERS_{name.upper()}": str(MAX_WAIT_S)}), name) == MAX_WAIT_S
    with pytest.raises(SettingsError, match="0.001 to 604800"):
        Settings.from_env({f"INFLUENCERS_{name.upper()}": str(MAX_WAIT_S + 1)})
