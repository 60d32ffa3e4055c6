"""Which stored faces belong to which video and influencer: the payload index that Qdrant's local mode
lacks (there every filtered read scans all points in Python), kept in memory by the one process that owns
a local store. Pure Python."""

from __future__ import annotations

from collections import defaultdict


class KeyIndex:
    def __init__(self) -> None:
        self._point: dict[str, tuple[str, str]] = {}
        self._video: dict[str, set[str]] = defaultdict(set)
        self._influencer: dict[str, set[str]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._point)

    def put(self, point_id: str, video_id: str, influencer_id: str) -> None:
        self.remove([point_id])
        self._point[point_id] = (video_id, influencer_id)
        self._video[video_id].add(point_id)
        self._influencer[influencer_id].add(point_id)

    def remove(self, point_ids: list[str]) -> None:
        for pid in point_ids:
            keys = self._point.pop(pid, None)
            if keys is not None:
                self._discard(self._video, keys[0], pid)
                self._discard(self._influencer, keys[1], pid)

    def assign(self, point_ids: list[str], influencer_id: str) -> None:
        for pid in point_ids:
            if pid in self._point:
                self.put(pid, self._point[pid][0], influencer_id)

    def of_videos(self, video_ids: list[str]) -> list[str]:
        return sorted({pid for v in video_ids for pid in self._video.get(v, ())})

    def of_influencers(self, influencer_ids: list[str]) -> list[str]:
        return sorted({pid for i in influencer_ids for pid in self._influencer.get(i, ())})

    @staticmethod
    def _discard(table: dict[str, set[str]], key: str, pid: str) -> None:
        members = table.get(key)
        if members is not None:
            members.discard(pid)
            if not members:
                del table[key]
