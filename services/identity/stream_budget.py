"""The limits of one AnalyzeVideo stream (bytes, frames, times), checked frame by frame as it arrives."""

from __future__ import annotations

from influencers.v1 import identity_pb2
from services.common.protoconv import duration_problem

MAX_FRAMES = 20_000  # frames in one AnalyzeVideo stream


class StreamBudget:
    """The limits of one AnalyzeVideo stream, checked as each frame arrives, so that a stream over them
    is refused before it is held in memory: bytes per frame and per stream, frames per stream, indexes that
    increase (frames in order, each once), and sane times (a NaN, infinite or negative time would be stored as the
    time of an appearance)."""

    def __init__(self, max_frame_bytes: int, max_stream_bytes: int, max_frames: int = MAX_FRAMES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.max_stream_bytes = max_stream_bytes
        self.max_frames = max_frames
        self.frames = 0
        self.bytes = 0
        self.last_index = -1  # the index of the frame before (the first's is at least 0)

    def admit(self, frame: identity_pb2.AnalyzeVideoRequest) -> str | None:
        """Counts `frame` in; returns why it is refused (naming the frame), or None."""
        where = f"frame {self.frames} of the stream (index {frame.index})"
        size = len(frame.image)
        self.frames += 1
        self.bytes += size
        if self.frames > self.max_frames:
            return f"{where}: more than {self.max_frames} frames in one video"
        if size > self.max_frame_bytes:
            return f"{where}: image of {size} bytes is over the limit of {self.max_frame_bytes} bytes per frame"
        if self.bytes > self.max_stream_bytes:
            return (f"{where}: the frames so far are {self.bytes} bytes, over the limit of "
                    f"{self.max_stream_bytes} bytes per video")
        if frame.index < 0:
            return f"{where}: the index is negative"
        if frame.index <= self.last_index:  # a frame sent again would count its faces and time on screen twice
            return (f"{where}: the index does not follow the previous frame's ({self.last_index}): frames come in "
                    "order, each once")
        self.last_index = frame.index
        for name, value in (("timestamp", frame.timestamp), ("span", frame.span)):
            if problem := duration_problem(name, value):
                return f"{where}: {problem}"
        return None
