"""How a reference photo is brought to detection size: decode reduced, then shrink to about 1,000 px.

Detection runs on the image upsampled x2 (faces down to ~40 px), so its cost follows the pixels: a
4096x4096 photo took 12.5 s alone (40 s on a loaded machine) and ~1 GB in a face worker. A reference photo
is a portrait: at 1,000 px on its long side the face keeps hundreds of pixels, more than the encoder's
150 px chip uses. JPEGs are decoded at 1/2, 1/4 or 1/8 scale by the codec itself (IDCT scaling), so the
full-size image is never held in memory. Pure: sizes in, sizes out.
"""

from __future__ import annotations

MAX_SIDE_PX = 1000  # long side of the image detection sees
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # how the photos identity decodes begin: JPEG, PNG
_REDUCTIONS = (8, 4, 2)  # JPEG IDCT scalings OpenCV offers (IMREAD_REDUCED_COLOR_8/4/2)


def decode_reduction(width: int, height: int, max_side: int = MAX_SIDE_PX) -> int:
    """The largest codec reduction (8, 4, 2, else 1) that keeps the long side of a `width` x `height` px
    image at `max_side` px or more (the final shrink is then a resize, for quality)."""
    long_side = max(width, height)
    return next((k for k in _REDUCTIONS if long_side // k >= max_side), 1)


def shrunk_size(width: int, height: int, max_side: int = MAX_SIDE_PX) -> tuple[int, int]:
    """(width, height) in px with the long side at most `max_side`, the aspect kept; smaller images as
    they are (never enlarged)."""
    long_side = max(width, height)
    if long_side <= max_side:
        return width, height
    scale = max_side / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))
