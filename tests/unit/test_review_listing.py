"""`influencers review` lists each pair with its names beside the ids (README: names appear everywhere ids
did): the id columns stay first for scripts, each name follows at the end, "-" for an unnamed influencer."""

from google.protobuf.duration_pb2 import Duration

from influencers.cli.corrections import REVIEW_HEADER, empty_review, review_line, review_notes
from influencers.v1 import identity_pb2


def test_a_review_line_ends_with_both_names_and_a_dash_for_an_unnamed_influencer():
    # Was: ids alone, "inf_1a3ddd6b90  inf_95a801b41e ... 34%" of Tony Blair and Ben Affleck, both named
    item = identity_pb2.ReviewItem(influencer_a="inf_aaaa000001", influencer_b="inf_bbbb000002", distance=0.542,
                                   video_id_a="00000000000000a1", video_id_b="00000000000000b2",
                                   timestamp_a=Duration(seconds=4), timestamp_b=Duration(seconds=2),
                                   probability=0.34)
    line = review_line(item, {"inf_aaaa000001": "Tony Blair"})
    assert line.startswith("inf_aaaa000001  inf_bbbb000002  0.542  ")
    assert line.endswith("  34%  Tony Blair  -")
    assert REVIEW_HEADER.split("  ")[-2:] == ["name_a", "name_b"]
    assert len(line.split("  ")) == len(REVIEW_HEADER.split("  "))


def pairs(n: int) -> list[identity_pb2.ReviewItem]:
    return [identity_pb2.ReviewItem(influencer_a=f"inf_a{k:09d}", influencer_b=f"inf_b{k:09d}") for k in range(n)]


def test_a_queue_longer_than_identity_sends_at_once_says_how_many_are_left_out():
    # Was: `review --all` listed 100 of 152 pairs and said nothing of the other 52
    found = identity_pb2.ListReviewItemsResponse(items=pairs(100), likely=2, unlikely=150, floor=0.5)
    assert review_notes(found, listed_all=True) == [
        "these are the 100 most likely of 152 pairs: the rest are listed as these are answered"]
    found = identity_pb2.ListReviewItemsResponse(items=pairs(100), likely=120, unlikely=3, floor=0.5)
    assert review_notes(found, listed_all=False) == [
        "these are the 100 most likely of 120 pairs: the rest are listed as these are answered",
        "3 less likely pairs under 50%: --all lists them"]


def test_a_whole_queue_says_only_what_all_adds_or_that_nothing_is_left():
    found = identity_pb2.ListReviewItemsResponse(items=pairs(2), likely=2, unlikely=1, floor=0.5)
    assert review_notes(found, listed_all=False) == ["1 less likely pair under 50%: --all lists them"]
    assert review_notes(identity_pb2.ListReviewItemsResponse(items=pairs(3), likely=2, unlikely=1, floor=0.5),
                        listed_all=True) == []
    assert review_notes(identity_pb2.ListReviewItemsResponse(floor=0.5), listed_all=False) == [], "stdout says it"


def test_an_empty_list_says_so_on_stdout_and_how_many_pairs_all_would_add():
    # Was: nothing at all on stdout, and "2 less likely pairs under 50%" on stderr only
    unlikely = identity_pb2.ListReviewItemsResponse(likely=0, unlikely=2, floor=0.5)
    assert empty_review(unlikely) == "No pairs are likely to be one person (2 under the floor: --all lists them)"
    assert review_notes(unlikely, listed_all=False) == []
    assert empty_review(identity_pb2.ListReviewItemsResponse(floor=0.5)) == "No pairs to review"
