"""The commands the CLI suggests (`follow it: influencers jobs J`, `influencers undo ID`) reach the services
where the command that suggests them did, so that they work when pasted as they are."""

from __future__ import annotations

from influencers.cli.connect import reach_flags
from influencers.cli.output import pasteable
from services.common.settings import Settings


def test_at_the_default_host_and_ports_a_suggested_command_needs_no_option() -> None:
    assert reach_flags(Settings(), "ingest") == ""
    assert reach_flags(Settings(), "identity", "analytics") == ""


def test_a_port_other_than_the_default_is_given_for_each_service_the_command_calls() -> None:
    settings = Settings(ingest_port=50054, identity_port=18452, analytics_port=18453)
    assert reach_flags(settings, "ingest") == " --ingest-port 50054"
    assert reach_flags(settings, "identity", "analytics") == " --identity-port 18452 --analytics-port 18453"


def test_another_host_is_given_once_before_the_ports() -> None:
    assert reach_flags(Settings(host="10.0.0.7", ingest_port=50054), "ingest") == " --host 10.0.0.7 --ingest-port 50054"


def test_a_service_reached_by_its_address_variable_gets_no_port_option_that_it_would_ignore() -> None:
    settings = Settings(identity_port=18452, identity_addr="10.0.0.8:50052", analytics_port=18453)
    assert reach_flags(settings, "identity", "analytics") == " --analytics-port 18453"


def test_every_command_a_message_suggests_gets_the_options_and_the_rest_of_the_text_stays() -> None:
    said = "no influencer 'x' (see the page, or `influencers review`); no job (`influencers jobs` lists its jobs)"
    assert pasteable(said, " --identity-port 18452") == (
        "no influencer 'x' (see the page, or `influencers review --identity-port 18452`); "
        "no job (`influencers jobs --identity-port 18452` lists its jobs)")


def test_at_the_defaults_a_message_is_left_as_it_is() -> None:
    assert pasteable("(`influencers jobs` lists its jobs)", "") == "(`influencers jobs` lists its jobs)"
