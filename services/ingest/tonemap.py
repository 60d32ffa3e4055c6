"""HDR pictures (PQ, SMPTE ST 2084, as HDR10 phone video is) brought to the SDR BT.709 picture the face detector was
trained on: pure numpy on a frame's RGB, its matrix and range already applied (colour.to_bgr).

Read as if SDR, a PQ picture is washed out and dim: the reference white of a graded video (203 nits, ITU-R BT.2408)
sits at 58% of the signal, and skin lower still. Here the signal is turned to light (the PQ curve), 203 nits taken
as SDR's white, the BT.2020 primaries turned to BT.709's, light past white clipped, and SDR's display gamma (BT.1886,
2.4) inverted: what `zscale=t=linear:npl=203,format=gbrpf32le,zscale=p=bt709,tonemap=clip:desat=0,zscale=t=bt709`
gives in ffmpeg's command. Faces, graded near reference white, keep their contrast; only highlights past it are lost.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

PQ_TRC = 16  # AVCOL_TRC_SMPTE2084, as FFmpeg numbers a frame's transfer characteristic
REFERENCE_WHITE_NITS = 203.0  # BT.2408: HDR's graphics white, taken as SDR's 100%
# Linear BT.2020 RGB to linear BT.709 RGB (BT.2087).
BT2020_TO_BT709 = np.array([[1.6605, -0.5876, -0.0728],
                            [-0.1246, 1.1329, -0.0083],
                            [-0.0182, -0.1006, 1.1187]], np.float32)
BT2020_PRIMARIES = 9  # AVCOL_PRI_BT2020


def is_hdr(transfer: int) -> bool:
    """Whether a frame of transfer characteristic `transfer` (FFmpeg's number: frame.color_trc) is PQ, the one mapped
    here. HLG (ARIB STD-B67) is not: made to be shown on SDR displays as it is, it is read as SDR, as before."""
    return transfer == PQ_TRC


@functools.cache
def _pq_light() -> np.ndarray:
    """Light of each 16-bit PQ code (65536 float32), relative to reference white (1.0 = 203 nits)."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    e = np.linspace(0.0, 1.0, 65536, dtype=np.float64) ** (1 / m2)
    nits = 10000.0 * (np.maximum(e - c1, 0.0) / (c2 - c3 * e)) ** (1 / m1)
    return (nits / REFERENCE_WHITE_NITS).astype(np.float32)


@functools.cache
def _sdr_codes() -> np.ndarray:
    """8-bit codes (65536 uint8) of display light 0..1 in 65536 steps on an SDR display: BT.1886's gamma of 2.4
    inverted, as zscale's `t=bt709` (display-referred) writes them. A table: the power itself took 24 ms a 720x1280
    frame, the table 9 (its steps cost 2 levels at most, in the darkest codes)."""
    return (np.linspace(0.0, 1.0, 65536, dtype=np.float64) ** (1 / 2.4) * 255.0 + 0.5).astype(np.uint8)


def sdr_rgb(rgb48: np.ndarray, bt2020: bool = True) -> np.ndarray:
    """`rgb48` (H, W, 3) uint16 RGB coded by PQ, in BT.2020 primaries when `bt2020` (as HDR10 video is; else taken as
    BT.709's), as (H, W, 3) uint8 RGB in BT.709 (module docstring)."""
    light = _pq_light()[rgb48]
    light = np.clip(cv2.transform(light, BT2020_TO_BT709) if bt2020 else light, 0.0, 1.0)
    return _sdr_codes()[(light * 65535.0 + 0.5).astype(np.uint16)]
