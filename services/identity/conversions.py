"""Identity's domain values as the contract's messages (protos/influencers/v1), and the contract's review
answers as the domain's words: the servicer and the change writer build their answers and the feed's
changes with these, so that one value has one message shape everywhere."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from influencers.v1 import common_pb2, identity_pb2
from services.common.protoconv import duration, review_reason
from services.identity.appearances import AppearanceOut
from services.identity.registry import InfluencerInfo, Label
from services.identity.review import ANSWERS, Item

REVIEW_ANSWERS = {identity_pb2.REVIEW_ANSWER_SAME: ANSWERS[0], identity_pb2.REVIEW_ANSWER_DIFFERENT: ANSWERS[1],
                  identity_pb2.REVIEW_ANSWER_SKIP: ANSWERS[2]}
REVIEW_AUDIT = {identity_pb2.REVIEW_ANSWER_SAME: identity_pb2.AUDIT_ACTION_REVIEW_SAME,
                identity_pb2.REVIEW_ANSWER_DIFFERENT: identity_pb2.AUDIT_ACTION_REVIEW_DIFFERENT,
                identity_pb2.REVIEW_ANSWER_SKIP: identity_pb2.AUDIT_ACTION_REVIEW_SKIP}


def appearance_pb(a: AppearanceOut) -> common_pb2.Appearance:
    return common_pb2.Appearance(
        influencer_id=a.influencer_id, first_seen=duration(a.first_seen_s), last_seen=duration(a.last_seen_s),
        faces=a.faces, best_face=a.best_face, face_quality=a.face_quality, ambiguous=a.ambiguous,
        screen_time=duration(a.screen_time_s), face_ref=a.face_ref,
        segments=[common_pb2.Segment(start=duration(s.start_s), end=duration(s.end_s), best=duration(s.best_s))
                  for s in a.segments])


def videos_pb(page: Mapping[str, list[AppearanceOut]]) -> list[common_pb2.VideoAppearances]:
    """Each video of `page` (video id -> its appearances) with its appearances, in the page's order."""
    return [common_pb2.VideoAppearances(video_id=v, appearances=[appearance_pb(a) for a in apps])
            for v, apps in page.items()]


def hidden_labels_pb(ids: Iterable[str], names: Mapping[str, str]) -> list[common_pb2.InfluencerLabel]:
    """A hidden label for each of `ids` (sorted), with its name if it has one."""
    return [common_pb2.InfluencerLabel(influencer_id=i, name=names.get(i, ""), hidden=True) for i in sorted(ids)]


def review_item_pb(item: Item) -> identity_pb2.ReviewItem:
    return identity_pb2.ReviewItem(
        influencer_a=item.a, influencer_b=item.b, distance=item.distance, reason=review_reason(item.reason),
        face_ref_a=item.face_ref_a, face_ref_b=item.face_ref_b, video_id_a=item.video_a, video_id_b=item.video_b,
        timestamp_a=duration(item.time_a_s), timestamp_b=duration(item.time_b_s), probability=item.probability)


def label_pb(label: Label) -> common_pb2.InfluencerLabel:
    return common_pb2.InfluencerLabel(influencer_id=label.influencer_id, name=label.name, hidden=label.hidden,
                                      deleted=label.deleted, erased_key=label.erased_key)


def influencer_pb(info: InfluencerInfo, face: bytes = b"") -> identity_pb2.Influencer:
    return identity_pb2.Influencer(
        influencer_id=info.influencer_id, name=info.name, videos=len(info.videos), faces=info.faces,
        representative_face=face, representative_face_ref=info.best_crop, face_quality=info.face_quality,
        video_ids=info.videos, hidden=info.hidden, enrolled=info.enrolled)
