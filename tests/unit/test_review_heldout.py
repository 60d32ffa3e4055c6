"""bench/review_heldout.py's pure parts: the corpora it builds, the table it prints, where it refuses to work."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench():
    spec = importlib.util.spec_from_file_location("review_heldout", ROOT / "bench" / "review_heldout.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_held_out_corpora_share_no_person_so_each_is_judged_by_a_model_that_never_saw_it() -> None:
    held = [set(c.people) for c in bench().CORPORA if c.held_out and c.name in ("a", "b")]
    assert len(held) == 2 and not held[0] & held[1]


def test_a_row_reads_items_share_same_answers_per_100_videos_and_people_before_and_after() -> None:
    figures = {"videos": 200, "items": 4, "same": 3, "left": 7, "left_same": 1,
               "answered": [{"one_video": True, "answer": "same"}, {"one_video": False, "answer": "same"}],
               "before": [12, 9, ["elton_john"]], "after": [9, 9, []],
               "video_splits_before": [["v1", "elton_john"]], "video_splits_after": []}
    row = bench().row("a", "shipped", figures)
    assert row == ("| a (200 videos) | shipped | 4 | 3 | 75% | 2.0 | 12 for 9 (elton_john split) | 9 for 9 | 7 (1) | "
                   "1 / 1 / 0 |")


def test_corpora_are_never_built_inside_the_repository() -> None:
    with pytest.raises(SystemExit, match="out of the repository"):
        bench().main(["--work", str(ROOT / "heldout")])
