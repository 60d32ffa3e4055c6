"""Settings are typed and range-checked when built; a bad value names its environment variable."""

import dataclasses
import re
from pathlib import Path

import pytest

from services.common.settings import Settings, SettingsError, env_name


def env(**values: str) -> dict[str, str]:
    return {f"INFLUENCERS_{k.upper()}": v for k, v in values.items()}


def test_the_defaults_are_valid():
    assert Settings.from_env({}) == Settings()


def test_numbers_and_booleans_are_read_from_the_environment():
    s = Settings.from_env(env(workers="3", match_threshold=" 0.5 ", allow_private_urls="yes", web_port="0"))
    assert (s.workers, s.match_threshold, s.allow_private_urls, s.web_port) == (3, 0.5, True, 0)


@pytest.mark.parametrize(("name", "raw", "words"), [
    ("workers", "abc", "not a whole number"),
    ("workers", "2.5", "not a whole number"),
    ("match_threshold", "nan", "not a number"),
    ("cluster_threshold", "inf", "not a number"),
    ("fetch_timeout_s", "ten", "not a number"),
    ("allow_private_urls", "maybe", "not a boolean"),
    ("web_port", "-1", "out of range (0 to 65535)"),
    ("ingest_port", "70000", "out of range (0 to 65535)"),
    ("workers", "-2", "out of range"),
    ("match_threshold", "0", "out of range"),
    ("max_video_bytes", "0", "out of range (at least 1)"),
    ("qdrant_shards", "0", "out of range"),
])
def test_a_bad_environment_value_is_refused_with_a_message_naming_the_variable(name, raw, words):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env(**{name: raw}))
    message = str(caught.value)
    assert f"INFLUENCERS_{name.upper()}=" in message
    assert words in message
    assert "\n" not in message


def test_a_bad_flag_value_is_refused_like_a_bad_environment_value():
    with pytest.raises(SettingsError, match="INFLUENCERS_WEB_PORT=-5 is out of range"):
        Settings.from_env({}, web_port=-5)


def test_a_settings_error_is_a_value_error_so_older_callers_still_catch_it():
    assert issubclass(SettingsError, ValueError)


def test_replace_checks_the_new_values_too():
    with pytest.raises(SettingsError, match="INFLUENCERS_MATCH_MARGIN"):
        Settings().replace(match_margin=float("nan"))


def test_every_setting_is_documented_in_the_configuration_guide():
    # A table cell names a variable in full (`INFLUENCERS_X`) or after another of its row (`_X`, same prefix).
    guide = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    named: set[str] = set()
    for row in guide.splitlines():
        prefix = ""
        for name in re.findall(r"`([A-Z_]+)`", row.split("|")[1] if row.startswith("|") else ""):
            if name.startswith("_") and prefix:
                named.add(prefix + name)
            else:
                named.add(name)
                prefix = "INFLUENCERS_QDRANT" if name.startswith("INFLUENCERS_QDRANT_") else name.split("_")[0]
    aliases = {"qdrant_url": "QDRANT_URL", "qdrant_api_key": "QDRANT_API_KEY"}
    missing = [env_name(f.name) for f in dataclasses.fields(Settings)
               if env_name(f.name) not in named and aliases.get(f.name) not in named]
    assert not missing, f"not in docs/configuration.md: {missing}"


@pytest.mark.parametrize("address", ["identity:99999", "identity", "identity:port", ":50052"])
def test_an_address_of_another_service_without_a_usable_port_is_refused_naming_the_variable(address):
    # Before, ingest started with INFLUENCERS_IDENTITY_ADDR=identity:99999 and failed every row later.
    with pytest.raises(SettingsError, match="INFLUENCERS_IDENTITY_ADDR.*HOST:PORT"):
        Settings.from_env({"INFLUENCERS_IDENTITY_ADDR": address})


@pytest.mark.parametrize("address", ["identity:50052", "10.0.0.7:1", "[::1]:50052", "dns:///identity:50052"])
def test_host_port_addresses_and_grpc_target_uris_are_accepted(address):
    assert Settings.from_env({"INFLUENCERS_ANALYTICS_ADDR": address}).analytics_target == address


@pytest.mark.parametrize("url", ["postgresql://app:p/ss@db:5432/influencers", "postgresql://app:pa#ss@db/influencers",
                                 "postgresql://app:pa?ss@db:5432/influencers?sslmode=require",
                                 "postgresql://app@/influencers?host=/var/run/postgresql"])
def test_a_database_url_whose_password_holds_a_slash_hash_or_question_mark_is_accepted_as_the_driver_reads_it(url):
    # Before, its port was read as a browser would (the password's `/`, `#` or `?` ending the host part):
    # refused as 'has a port that is not a number', though SQLAlchemy connects with it.
    assert Settings.from_env({"INFLUENCERS_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize("url", ["postgresql://app:pw@db:abc/influencers", "postgresql://app@db:99999/x",
                                 "postgresql://app@db:0/x"])
def test_a_database_url_with_a_port_that_is_no_number_from_1_to_65535_is_refused(url):
    with pytest.raises(SettingsError, match="INFLUENCERS_DATABASE_URL has a port"):
        Settings.from_env({"INFLUENCERS_DATABASE_URL": url})


def test_an_address_whose_port_is_written_in_other_digits_than_ascii_is_refused():
    # Before, 'identity:５００５２' (full-width digits) passed the check and every call failed later.
    with pytest.raises(SettingsError, match="INFLUENCERS_IDENTITY_ADDR"):
        Settings.from_env({"INFLUENCERS_IDENTITY_ADDR": "identity:５００５２"})


def test_an_influencers_variable_that_is_no_setting_is_named_with_the_nearest_setting():
    from services.common.settings import unknown_variables

    environ = {"INFLUENCERS_WOKERS": "2", "INFLUENCERS_WORKERS": "2", "INFLUENCERS_DATADIR": "/d",
               "INFLUENCERS_ZZZZZZ": "1", "INFLUENCERS_CRASH_AT": "", "INFLUENCERS_REPORT_DIR": "r",
               "QDRANT_URL": "", "PATH": "/bin"}
    assert unknown_variables(environ) == [("INFLUENCERS_DATADIR", "INFLUENCERS_DATA_DIR"),
                                          ("INFLUENCERS_WOKERS", "INFLUENCERS_WORKERS"),
                                          ("INFLUENCERS_ZZZZZZ", None)]
    assert unknown_variables({env_name(f.name): "" for f in dataclasses.fields(Settings)}) == []


@pytest.mark.parametrize("token", ["s3crét", "abc\n", " abc", "abc\t"])
def test_a_token_no_grpc_header_can_carry_is_refused_at_start_naming_the_variable_and_never_shown(token):
    # Before, it was taken: every call between the services then failed with INTERNAL "Invalid metadata".
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env(token=token))
    assert "INFLUENCERS_TOKEN must be printable ASCII" in str(caught.value)
    assert not token.strip() or token.strip() not in str(caught.value)


def test_a_token_of_printable_ascii_is_accepted():
    assert Settings.from_env(env(token="Ab-9_x.~+/=")).token == "Ab-9_x.~+/="


@pytest.mark.parametrize("name", ["data_dir", "host", "worker_name", "allowed_root", "qdrant_collection", "audit_key",
                                  "token"])
def test_a_text_setting_of_blanks_alone_is_refused_naming_the_variable_and_an_empty_one_is_the_default(name):
    # Before, "  " was taken as given: INFLUENCERS_DATA_DIR="  " made a folder named "  " in the working directory.
    with pytest.raises(SettingsError, match=f"INFLUENCERS_{name.upper()} is blanks alone"):
        Settings.from_env(env(**{name: "  \t"}))
    assert Settings.from_env(env(**{name: ""})) == Settings()


@pytest.mark.parametrize("name", ["faces/other", "my faces", "faces\t", "a" * 300, "c:faces", "what?", "faces\x00",
                                  "a" * 251])
def test_a_qdrant_collection_name_qdrant_would_refuse_is_refused_at_start_naming_the_variable(name):
    # Before, it was taken: identity failed at its first call to the server (or made a collection under another path).
    with pytest.raises(SettingsError, match="INFLUENCERS_QDRANT_COLLECTION=.*a Qdrant collection name of 1 to 250"):
        Settings.from_env(env(qdrant_collection=name))


@pytest.mark.parametrize("name", ["faces", "faces-2", "Faces_v2.prod", "a" * 250, "visages-é"])
def test_a_qdrant_collection_name_qdrant_accepts_is_taken(name):
    assert Settings.from_env(env(qdrant_collection=name)).qdrant_collection == name


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///x.db?mode=memory&cache=shared"])
def test_a_sqlite_database_url_in_memory_is_refused_naming_the_variable(url):
    # Before, it was taken: analytics, the job queue and identity's feed each had a database of their own in
    # memory, every result gone at the stop.
    with pytest.raises(SettingsError, match="INFLUENCERS_DATABASE_URL=.* is a database in memory"):
        Settings.from_env({"INFLUENCERS_DATABASE_URL": url})


def test_a_sqlite_database_url_naming_a_file_is_taken():
    url = "sqlite:////srv/influencers/all.sqlite3"
    assert Settings.from_env({"INFLUENCERS_DATABASE_URL": url}).database_url == url


def test_the_settings_repr_shows_no_token_key_or_password():
    settings = Settings(token="TOKSECRET", qdrant_api_key="KEYSECRET", qdrant_url="https://u:QPWSECRET@q.example",
                        database_url="postgresql://u:PWSECRET@db/influencers", audit_key="AUDITSECRET",
                        session_secret="SESSIONSECRET")
    shown = repr(settings)
    assert "SECRET" not in shown and "workers=" in shown
