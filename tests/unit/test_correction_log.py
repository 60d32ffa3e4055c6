"""Each correction identity answers is one log line naming it and its ids (an erased id only as its hash)."""

import hashlib
import logging

import grpc
import pytest

from influencers.v1 import identity_pb2
from services.identity.correction_log import CORRECTIONS, logged


class Context:
    """The part of a grpc.ServicerContext the log reads: the status a refusal set."""

    def __init__(self, code: grpc.StatusCode | None = None) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode | None:
        return self._code


def _lines(caplog):
    return [r for r in caplog.records if r.name == "services.identity.correction_log"]


def test_a_merge_is_one_line_with_its_ids_and_feed_position(caplog):
    reply = identity_pb2.MergeInfluencersResponse(changes=identity_pb2.Changes(feed_position=42))
    merge = logged(lambda request, context: reply, "merge")
    with caplog.at_level(logging.INFO):
        merge(identity_pb2.MergeInfluencersRequest(influencer_ids=["inf_a", "inf_b"]), Context())
    (line,) = _lines(caplog)
    assert (line.getMessage(), line.correction, line.influencer_ids, line.feed_position) == (
        "correction", "merge", "inf_a,inf_b", 42)


def test_a_delete_logs_the_hash_of_the_id_and_never_the_id(caplog):
    delete = logged(lambda request, context: identity_pb2.DeleteInfluencerResponse(), "delete")
    with caplog.at_level(logging.INFO):
        delete(identity_pb2.DeleteInfluencerRequest(influencer_id="inf_gone"), Context())
    (line,) = _lines(caplog)
    assert line.subject_sha256 == hashlib.sha256(b"inf_gone").hexdigest()
    assert "inf_gone" not in str(vars(line))


def test_a_rename_logs_that_a_name_was_set_but_not_the_name(caplog):
    reply = identity_pb2.RenameInfluencerResponse(influencer=identity_pb2.Influencer(feed_position=7))
    rename = logged(lambda request, context: reply, "rename")
    with caplog.at_level(logging.INFO):
        rename(identity_pb2.RenameInfluencerRequest(influencer_id="inf_a", name="Ada Lovelace"), Context())
    (line,) = _lines(caplog)
    assert line.name_chars == 12 and line.feed_position == 7 and "Ada" not in str(vars(line))


def test_a_refused_correction_is_one_line_with_its_status(caplog):
    def refuse(request, context):
        raise RuntimeError("aborted")  # what context.abort raises, after setting the code

    hide = logged(refuse, "hide")
    with caplog.at_level(logging.INFO), pytest.raises(RuntimeError):
        hide(identity_pb2.HideInfluencerRequest(influencer_id="inf_x", hidden=True), Context(grpc.StatusCode.NOT_FOUND))
    (line,) = _lines(caplog)
    assert (line.getMessage(), line.code, line.hidden) == ("correction refused", "NOT_FOUND", True)


def test_every_correction_rpc_of_identity_is_logged():
    service = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]
    assert set(CORRECTIONS) <= {m.name for m in service.methods}


@pytest.mark.parametrize(("answer", "said"), [(identity_pb2.REVIEW_ANSWER_SAME, "same"),
                                              (identity_pb2.REVIEW_ANSWER_SKIP, "skip"), (42, "42")])
def test_a_review_answer_is_logged_as_its_word_not_its_enum_number(caplog, answer, said):
    # Was `answer=3`: an operator reading the log had to look the number up in identity.proto
    reply = identity_pb2.AnswerReviewItemResponse(changes=identity_pb2.Changes(feed_position=9))
    answer_call = logged(lambda request, context: reply, "review answer")
    with caplog.at_level(logging.INFO):
        answer_call(identity_pb2.AnswerReviewItemRequest(influencer_a="inf_a", influencer_b="inf_b", answer=answer),
                    Context())
    (line,) = _lines(caplog)
    assert line.answer == said
