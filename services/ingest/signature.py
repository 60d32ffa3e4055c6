"""A video's look, from its sampled frames, to recognise a repost before any face is analysed.

A repost is the same frames again under other bytes: remuxed, re-encoded at another quality or bitrate,
uploaded again. It decodes to the same shots, sampled at the same times, each looking the same to within
compression noise. Its people are those of the original, so identity can copy them (as copies) instead of
detecting and encoding every face again.

The print of a frame is its luma averaged over a 64 x 64 grid (each cell ~11 x 20 px of a 720 x 1280 frame):
compression noise moves a cell's average by a few levels, and another person's face of 50 px swapped into
the same setting changes at least 6 cells by more than CELL_LEVELS (100 px: 27; measured on the corpus
photos pasted onto one background). Two frames look alike when at most MAX_CELLS cells differ by more than
that. Two videos are one repost when their durations agree and every sampled frame of each has a frame of
the other at the same time that looks alike: one frame with another person in it is enough to say no. A
video of more than MAX_FRAMES sampled frames gets no signature (it is analysed). What is not a repost, and
must be analysed: another cut of the same shoot (other shots, other times, another duration), the same
setting with another person in it, a crop, a mirror, a resize that changes the aspect.

Candidates are found by exact keys: the number of sampled frames with the duration to a tenth of a second
(a repost has both; the query asks the neighbouring tenths too), and 16-bit bands of a 64-bit difference
hash of the first few frames that are not flat (a fade from black says nothing; in a textured frame a
re-encode flips a bit or two, so one of four bands survives, but in a smooth one many bits are a coin
toss, hence the duration key). Every candidate is checked in full, so a key's only cost is a look.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GRID = 64  # print: GRID x GRID cells of mean luma (4 KiB a frame)
CELL_LEVELS = 24  # a cell differing by more than this (of 255) differs
MAX_CELLS = 4  # frames look alike with at most this many differing cells (of 4096)
MAX_MEAN_LEVELS = 4.0  # ... and a mean absolute difference at most this
TIME_TOLERANCE_S = 0.1  # frames at the same time: a re-muxed clock may move a frame by one
KEY_FRAMES = 3  # frames whose hash bands key the lookup
FLAT_STD = 6.0  # a frame this uniform (a fade, a title card on black) keys nothing
MAX_FRAMES = 64  # a video with more sampled frames gets no signature (its size stays under 256 KiB)


@dataclass(frozen=True)
class Signature:
    """`times_s[k]` is when sampled frame k was shown; `prints` is (k, GRID * GRID) uint8."""

    duration_s: float
    times_s: tuple[float, ...]
    prints: np.ndarray

    def to_bytes(self) -> bytes:
        return self.prints.astype(np.uint8).tobytes()

    @classmethod
    def from_parts(cls, duration_s: float, times_s: list[float], prints: bytes) -> Signature:
        return cls(duration_s, tuple(times_s), np.frombuffer(prints, np.uint8).reshape(len(times_s), GRID * GRID))


def frame_print(bgr: np.ndarray) -> np.ndarray:
    """The (GRID * GRID,) uint8 print of one BGR frame: mean luma per cell."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (GRID, GRID), interpolation=cv2.INTER_AREA).reshape(-1)


def signature(duration_s: float, times_s: list[float], prints: list[np.ndarray]) -> Signature | None:
    """The signature of a video from its sampled frames' times and prints; None past MAX_FRAMES frames or
    with none."""
    if not prints or len(prints) > MAX_FRAMES:
        return None
    return Signature(float(duration_s), tuple(float(t) for t in times_s), np.stack(prints).astype(np.uint8))


def _dhash(print_: np.ndarray) -> int:
    """A 64-bit difference hash of a print: is each of 8 x 8 cells brighter than its right neighbour."""
    small = cv2.resize(print_.reshape(GRID, GRID), (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).reshape(-1)
    return int(sum(1 << k for k, b in enumerate(bits) if b))


def _length_key(frames: int, tenths: int) -> str:
    return f"n{frames}.d{tenths}"


def lookup_keys(sig: Signature) -> list[str]:
    """The exact keys this video is found by: its length key, and 4 bands of the 64-bit hash of each of the
    first KEY_FRAMES frames that are not flat, with the frame's rank."""
    keys = [_length_key(len(sig.times_s), round(sig.duration_s * 10))]
    rank = 0
    for p in sig.prints:
        if rank == KEY_FRAMES:
            break
        if float(p.std()) < FLAT_STD:
            continue
        h = _dhash(p)
        keys.extend(f"{rank}.{band}.{(h >> (16 * band)) & 0xFFFF:04x}" for band in range(4))
        rank += 1
    return keys


def query_keys(sig: Signature) -> list[str]:
    """The keys to look a repost of this video's up by: lookup_keys, and the length keys of the
    neighbouring tenths of a second (a duration of 4.049 s and one of 4.051 s round apart)."""
    tenths = round(sig.duration_s * 10)
    return [_length_key(len(sig.times_s), tenths + d) for d in (-1, 1)] + lookup_keys(sig)


def frames_alike(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two prints are one frame up to compression noise."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int((diff > CELL_LEVELS).sum()) <= MAX_CELLS and float(diff.mean()) <= MAX_MEAN_LEVELS


def _all_alike(a: Signature, b: Signature) -> bool:
    """Whether every frame of `a` has a look-alike in `b` at the same time."""
    times_b = np.asarray(b.times_s)
    for t, p in zip(a.times_s, a.prints, strict=True):
        near = np.flatnonzero(np.abs(times_b - t) <= TIME_TOLERANCE_S)
        if not any(frames_alike(p, b.prints[k]) for k in near):
            return False
    return True


def is_repost(a: Signature, b: Signature) -> bool:
    """Whether `a` and `b` are the same frames (a repost of one another); symmetric."""
    if not a.times_s or not b.times_s:
        return False
    if abs(a.duration_s - b.duration_s) > max(0.1, 0.01 * max(a.duration_s, b.duration_s)):
        return False
    if a.prints.shape[1] != b.prints.shape[1]:  # a print of another grid (an older release's)
        return False
    return _all_alike(a, b) and _all_alike(b, a)
