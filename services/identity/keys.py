"""In-memory indexes over a local face store, kept by the one process that owns it: which faces belong to
which video and influencer (the payload index Qdrant's local mode lacks: there every filtered read scans
all points in Python), and exact nearest neighbours by matrix product. Pure Python and numpy; Qdrant stays
the store of record, these are rebuilt from it at start."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


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

    def influencer_of(self, point_id: str) -> str:
        return self._point[point_id][1]

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


class ExactVectors:
    """Exact nearest neighbours over the faces of a local store, in one float32 matrix: Qdrant's local mode
    scores every point in Python per query, which grows with the store; a matrix product does not."""

    def __init__(self, dim: int = 128) -> None:
        self._dim = dim
        self._data = np.zeros((0, dim), np.float32)
        self._norms = np.zeros(0, np.float32)
        self._ids: list[str | None] = []
        self._row: dict[str, int] = {}
        self._free: list[int] = []

    def put(self, point_id: str, vector: np.ndarray) -> None:
        row = self._row.get(point_id)
        if row is None:
            row = self._free.pop() if self._free else self._grow()
            self._row[point_id] = row
            self._ids[row] = point_id
        self._data[row] = vector
        self._norms[row] = float(np.dot(self._data[row], self._data[row]))

    def remove(self, point_ids: list[str]) -> None:
        for pid in point_ids:
            row = self._row.pop(pid, None)
            if row is not None:
                self._ids[row] = None
                self._norms[row] = np.inf  # never nearest
                self._free.append(row)

    def nearest(self, queries: np.ndarray, limit: int) -> list[list[tuple[str, float]]]:
        """For each query row, up to `limit` (point id, Euclidean distance), nearest first."""
        alive = len(self._row)
        if alive == 0:
            return [[] for _ in range(len(queries))]
        q = np.asarray(queries, np.float32)
        d2 = self._norms[None, :] + np.sum(q * q, axis=1)[:, None] - 2.0 * (q @ self._data.T)
        k = min(limit, alive)
        out = []
        for row in d2:
            top = np.argpartition(row, k - 1)[:k]
            top = top[np.argsort(row[top])]
            out.append([(self._ids[i], float(np.sqrt(max(row[i], 0.0)))) for i in top if self._ids[i] is not None])
        return out  # type: ignore[return-value]

    def _grow(self) -> int:
        n = len(self._ids)
        if n == len(self._data):
            size = max(1024, 2 * n)
            self._data = np.vstack([self._data, np.zeros((size - n, self._dim), np.float32)])
            self._norms = np.concatenate([self._norms, np.full(size - n, np.inf, np.float32)])
        self._ids.append(None)
        return n
