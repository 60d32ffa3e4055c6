"""`influencers predict`: the page's Predict on the command line, from a data dir, people given by id or name."""

from __future__ import annotations

from pathlib import Path

import pytest

from influencers.cli import main
from services.analytics import report
from services.analytics.analysis import AnalysisCache
from services.analytics.export_format import statistic_text
from services.analytics.store import SQLITE_FILE, AnalyticsStore
from tests.analytics.conftest import fill_store


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir whose analytics store holds the planted videos (Alice is inf_aaaa000001)."""
    fill_store(AnalyticsStore(tmp_path / SQLITE_FILE)).close()
    return tmp_path


def test_predict_prints_the_pages_prediction_with_its_range_for_names_and_ids(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--data-dir", str(data), "alice", "INF_DDDD000004"]) == 0
    store = AnalyticsStore(data / SQLITE_FILE)
    expected = report.prediction(AnalysisCache(store).current(), ["inf_aaaa000001", "inf_dddd000004"])
    store.close()
    assert expected.level > 0 and expected.low < expected.performance < expected.high
    said = capsys.readouterr().out.splitlines()
    assert said == [
        f"A video with Alice and Unnamed · inf_dddd000004 is expected to score {statistic_text(expected.performance)} "
        f"(all videos: {statistic_text(expected.baseline)}).",
        f"{round(expected.level * 10)} in 10 such videos score between {statistic_text(expected.low)} and "
        f"{statistic_text(expected.high)}, judging by how far the model missed videos it had not seen."]


def test_an_id_the_model_does_not_know_is_counted_as_the_mean_and_said(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--data-dir", str(data), "inf_00000000ff"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0].startswith("A video with none of the known influencers is expected to score")
    assert said[-1] == "Not known to the model (counted as the overall mean): inf_00000000ff"


def test_a_name_nobody_has_is_a_usage_error_naming_it(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--data-dir", str(data), "Zed"]) == 2
    err = capsys.readouterr().err
    assert "no influencer is named or has the id 'Zed'" in err and err.count("\n") == 1


def test_predict_without_data_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", "--data-dir", str(tmp_path), "Alice"]) == 2
    assert "no data in" in capsys.readouterr().err


def test_predict_help_lists_its_own_options_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    shown = capsys.readouterr().out
    assert "INFLUENCER [INFLUENCER ...]" in shown and "--data-dir" in shown
    assert "--host" not in shown and "--identity-port" not in shown


def test_predict_of_a_store_that_is_no_database_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / SQLITE_FILE).write_bytes(b"not a database" * 100)  # export's refusal, from the one opener
    assert main(["predict", "--data-dir", str(tmp_path), "Alice"]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and err.count("\n") == 1


def test_a_name_two_influencers_share_is_refused_with_their_stored_names_escaped_for_the_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Names stored before names were cleaned may hold a bidi override: the refusal lists them, escaped as every
    # command's error is (main's NameLookupError handler), not raw, and prefixed with the command as there.
    store = fill_store(AnalyticsStore(tmp_path / SQLITE_FILE))
    store.replace_appearances({}, {"inf_aaaa000001": "Al\u202eice", "inf_cccc000003": "Al\u202eice"})
    store.close()
    assert main(["predict", "--data-dir", str(tmp_path), "alice"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the store's migration log line
    assert "names 2 influencers" in err and err.startswith("influencers: error: predict: ")
    assert "\u202e" not in err and "Al\\u202eice" in err


def test_the_default_data_dir_is_named_by_its_whole_path_when_it_holds_no_data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Was "no data in data (no analytics.sqlite3)": the default ./data, said as a bare word
    monkeypatch.chdir(tmp_path)
    assert main(["predict", "Alice"]) == 2
    err = capsys.readouterr().err
    assert f"no data in {tmp_path / 'data'} (no analytics.sqlite3)" in err and err.count("\n") == 1, err
