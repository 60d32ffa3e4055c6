"""`influencers review` lists each pair with its names beside the ids (README: names appear everywhere ids
did): the id columns stay first for scripts, each name follows at the end, "-" for an unnamed influencer."""

from google.protobuf.duration_pb2 import Duration

from influencers.cli.corrections import REVIEW_HEADER, review_line
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
