"""A face's encoding as the mean of its chip's and its mirror image's (test-time augmentation).

dlib's encoder is not mirror-symmetric: a chip and its mirror image encode ~0.19 apart (median of 12 faces of
the corpus photos, 0.13-0.25). Averaging the two makes an encoding move ~25% less when the detector's box (hence
the 5 landmarks and the chip's alignment) moves by 4-16 px: bench/encoder_stability.py, docs/identity.md. The
mean is not rescaled: dlib's encodings have no fixed length (norms 1.33-1.63, 5th to 95th percentile, on dev
faces), and the mean's spread the same. Same-person distances come out ~4% shorter. Twice the encoder's
passes a face."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Encode = Callable[[list[np.ndarray]], np.ndarray]  # (rows, cols, 3) uint8 chips -> (n, 128) float64


def mirrored(chips: list[np.ndarray]) -> list[np.ndarray]:
    """Each chip's mirror image (left and right swapped), as contiguous arrays of the same shape."""
    return [np.ascontiguousarray(c[:, ::-1]) for c in chips]


def mirror_mean(encode: Encode) -> Encode:
    """`encode`, made to return the mean of each chip's encoding and its mirror image's (one call of `encode`
    on both, so a batch stays a batch)."""

    def encode_both(chips: list[np.ndarray]) -> np.ndarray:
        if not chips:
            return np.zeros((0, 128))
        both = encode(list(chips) + mirrored(chips))
        return (both[:len(chips)] + both[len(chips):]) / 2.0
    return encode_both
