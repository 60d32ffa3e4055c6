"""Which face encoder fills a face store. dlib's ResNet runs in dlib or in OpenCV, on the chip alone or also on its
mirror image (settings.ENCODERS). dlib and opencv are the same network and weights, encodings within 5.1e-7 a
component, but the encoding hash (facestore.vector_hash, rounded to 1e-5) differs for ~60% of faces between the
two (and for every face between either and opencv-mirror), and the store keeps those hashes: a repost's faces are
found by them, and an erased person's faces survive only as keyed hashes of them. So a store keeps the encoder
it was first filled with, recorded in it (FaceStore.recorded_encoder), and every replica that opens it runs
that one."""

from __future__ import annotations

from services.common.settings import AUTO_ENCODER, ENCODERS, ENV_PREFIX, SettingsError

# A new store's, unless asked otherwise: dlib's network in OpenCV (~40% less CPU a face than dlib's run), each face
# encoded with its mirror image (twice that CPU again), for encodings that hold when the box moves: corpora of
# people other than dev's split less (docs/identity.md, docs/performance.md).
NEW_STORE_ENCODER = "opencv-mirror"
UNRECORDED_ENCODER = "dlib"  # a store holding faces and no record was made before the record, by dlib alone


def made_by(recorded: str | None, holds_hashes: bool) -> str | None:
    """The encoder whose hashes the store holds: the recorded one; "dlib" for a store of a release before the
    record that holds hashes; None for a store that holds none (any encoder may start it)."""
    if recorded:
        return recorded
    return UNRECORDED_ENCODER if holds_hashes else None


def choose_encoder(setting: str, recorded: str | None, holds_hashes: bool, store: str) -> str:
    """The encoder to run on a store, given INFLUENCERS_ENCODER (`setting`: "auto" or one of ENCODERS), what
    the store records and whether it holds hashes; `store` names it in the refusal. "auto": the store's
    encoder, or NEW_STORE_ENCODER for a new store. SettingsError when an explicit setting contradicts the store's."""
    made = made_by(recorded, holds_hashes)
    if made is None:
        return NEW_STORE_ENCODER if setting == AUTO_ENCODER else setting
    if made not in ENCODERS:
        raise SettingsError(f"the face store {store} records the encoder {made!r}, which this release does not "
                            f"know (it knows {', '.join(ENCODERS)}): upgrade influencers")
    if setting in (AUTO_ENCODER, made):
        return made
    why = "as it records" if recorded else "a store of an older release, which records no encoder and used dlib's"
    raise SettingsError(
        f"{ENV_PREFIX}ENCODER={setting}: the face store {store} was filled by the {made} encoder ({why}); "
        f"{setting}'s encodings hash differently, and a repost of an erased person's video is known by those "
        f"hashes alone: it would go unflagged. "
        f"Unset {ENV_PREFIX}ENCODER (auto: the store's own) or set it to {made} to go on with this store, "
        f"or start a new store (another data dir, or QDRANT_COLLECTION) for {setting}")


def check_recorded(chosen: str, recorded: str | None, holds_hashes: bool, store: str) -> bool:
    """After the workers started with `chosen`: True when the store must now record it (it records nothing);
    SettingsError when it records another (another replica, configured otherwise, started it meanwhile)."""
    made = made_by(recorded, holds_hashes)
    if made is not None and made != chosen:
        raise SettingsError(
            f"{ENV_PREFIX}ENCODER: the face store {store} was just started with the {made} encoder by another "
            f"identity replica while this one started with {chosen}: give every replica the same "
            f"{ENV_PREFIX}ENCODER (or leave it unset), then start this one again")
    return recorded is None
