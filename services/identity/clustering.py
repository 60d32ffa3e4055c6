"""Re-deriving influencers from the stored faces, for the whole store or the neighbourhood of a batch.

People (a person = one video's faces of one individual) are the nodes; people whose faces are exact copies
of each other (a video posted again with other bytes) are one node standing for all of them, so reposts
weigh as they should and never fill a neighbour list. Candidate pairs come from the engine's kNN (one query a
node); their exact distance is the mean over all pairs of their faces; average linkage then runs over that
sparse graph (linkage.py), measuring a pair of clusters the graph lacks when a merge needs it, over a bounded
sample of each big cluster's faces (the same sample whatever the order of arrival). Small sets use every pair:
the dense result. Faces pinned by hand (a correction) keep their people together, or apart, and their id."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from services.identity.appearances import UNCONFIRMED, confirmed
from services.identity.facestore import FaceColumns, FaceRecord, FaceStore, unpacked
from services.identity.linkage import average_linkage
from services.identity.matching import inherit_ids, new_influencer_id

# Influencers with a face this much farther than the clustering threshold from a batch's faces are
# re-derived with it.
SLACK = 0.15
KNN = 32
GRAPH_KNN = 32  # faces (~10 people) a node looks up for the sparse graph; what it lacks is measured when needed
DENSE_FACES = 4000  # up to this many distinct faces, every pair is measured
SAMPLE_FACES = 256  # a cluster's distance to another is measured over at most this many of its faces
MAX_DEGREE = 64  # on the sparse graph, a cluster keeps its nearest this many neighbours
VECTOR_TYPE = np.float16  # half the memory of float32 for a whole store's vectors
# The payload fields a FaceTable reads (the rest of a face's record is not needed to re-derive).
TABLE_FIELDS = ("video_id", "person", "influencer_id", "vhash", "faces", "best_quality", "cooccurs", "pinned")


@dataclass
class FaceTable:
    """The faces under re-derivation, compactly (a million faces take ~0.5 GB): vectors (n, 128) float16
    (distances are computed in float32 from them; rounding moves a distance by ~1e-4) and,
    per face, its person's row, sorted by person then point id. Person rows follow the sorted person keys."""

    keys: list[tuple[str, int]] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 128), VECTOR_TYPE))
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    point_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, "S16"))  # packed (facestore.packed)
    influencer: list[str] = field(default_factory=list)  # per face, as stored
    vhash: np.ndarray = field(default_factory=lambda: np.zeros(0, "S36"))
    faces: list[int] = field(default_factory=list)  # per person: faces detected
    best_quality: list[float] = field(default_factory=list)
    cooccurs: list[list[int]] = field(default_factory=list)
    pinned: list[str] = field(default_factory=list)  # per person: the influencer set by hand, or ""

    @classmethod
    def build(cls, pages: Iterable[FaceColumns], expected: int = 1024) -> FaceTable:
        """Reads `pages` once, keeping only the compact columns (duplicates by point id are dropped);
        `expected`, the number of faces if known, sizes the columns once. The vectors are sorted in place:
        the whole store's are held once, never twice."""
        person_of: dict[tuple[str, int], int] = {}
        per_person: list[tuple[int, float, list[int], str]] = []  # faces, best quality, cooccurs, pin
        size = max(expected, 16)
        vectors = np.zeros((size, 128), VECTOR_TYPE)
        owner = np.zeros(size, np.int64)
        ids = np.zeros(size, "S16")
        hashes = np.zeros(size, "S36")
        influencer: list[str] = []
        interned: dict[str, str] = {}
        n = 0
        for page in pages:
            k = len(page.ids)
            while n + k > len(vectors):
                vectors, owner, ids, hashes = (np.concatenate([c, np.zeros_like(c)])
                                               for c in (vectors, owner, ids, hashes))
            vectors[n:n + k] = page.vectors
            ids[n:n + k] = page.ids
            for i, (pid, payload) in enumerate(zip(page.ids, page.payloads, strict=True), n):
                key = (str(payload["video_id"]), int(payload["person"]))
                row = person_of.get(key)
                if row is None:  # the person's fields, read as the store's record reads them (once a person)
                    row = person_of[key] = len(per_person)
                    r = FaceRecord.from_payload(payload)
                    per_person.append((r.faces, r.best_quality, r.cooccurs, r.pinned))
                owner[i] = row
                hashes[i] = str(payload.get("vhash", "")).encode() or pid.hex().encode()
                inf = str(payload.get("influencer_id", ""))
                influencer.append(interned.setdefault(inf, inf))
            n += k
        table = cls(keys=sorted(person_of))
        if not n:
            return table
        rank = np.empty(len(per_person), np.int64)  # person row (sorted keys) of each person in order of sight
        for row, key in enumerate(table.keys):
            rank[person_of[key]] = row
        rows = rank[owner[:n]]
        point_ids = ids[:n]
        order = np.lexsort((point_ids, rows))
        unique = np.ones(n, bool)
        unique[1:] = point_ids[order][1:] != point_ids[order][:-1]
        if unique.all():
            table.vectors = vectors[:n]
            _permute_rows(table.vectors, order)
        else:  # a neighbourhood that read a face twice (small): a copy
            order = order[unique]
            table.vectors = vectors[order]
        table.owner = rows[order]
        table.point_ids = point_ids[order]
        table.vhash = hashes[:n][order]
        table.influencer = [influencer[i] for i in order]
        for key in table.keys:
            faces, best_quality, cooccurs, pinned = per_person[person_of[key]]
            table.faces.append(faces)
            table.best_quality.append(best_quality)
            table.cooccurs.append(cooccurs)
            table.pinned.append(pinned)
        return table


def _permute_rows(a: np.ndarray, order: np.ndarray) -> None:
    """a[i] = (a as it was)[order[i]] for every row, in place (following the permutation's cycles)."""
    done = np.zeros(len(order), bool)
    done[order == np.arange(len(order))] = True
    for start in np.flatnonzero(~done).tolist():
        if done[start]:
            continue
        first = a[start].copy()
        i = start
        while True:
            j = int(order[i])
            done[i] = True
            if j == start:
                a[i] = first
                break
            a[i] = a[j]
            i = j


@dataclass
class Graph:
    nodes: list[list[int]]  # node -> people it stands for (identical faces)
    node_of: np.ndarray  # person -> node
    start: np.ndarray  # node -> first face row of its first person (a person's faces are contiguous rows)
    length: np.ndarray  # node -> that person's number of faces

    def rows(self, node: int) -> np.ndarray:
        return np.arange(self.start[node], self.start[node] + self.length[node])


def _graph(t: FaceTable) -> Graph:
    starts = np.searchsorted(t.owner, np.arange(len(t.keys)))
    ends = np.searchsorted(t.owner, np.arange(len(t.keys)), side="right")
    by_signature: dict[bytes, list[int]] = defaultdict(list)
    for person in range(len(t.keys)):
        signature = b"".join(sorted(t.vhash[starts[person]:ends[person]].tolist()))
        by_signature[hashlib.blake2b(signature, digest_size=16).digest()].append(person)
    nodes = sorted(by_signature.values())
    node_of = np.zeros(len(t.keys), np.int64)
    for n, people in enumerate(nodes):
        node_of[people] = n
    first = np.asarray([p[0] for p in nodes], np.int64)
    return Graph(nodes, node_of, starts[first], ends[first] - starts[first])


FACE_PAIRS = 1 << 17  # face pairs measured in one vectorised step (~100 MB at most: the float32 differences
# and one side's float16 vectors)


def _mean_distances(vectors: np.ndarray, g: Graph, a: np.ndarray, b: np.ndarray, far: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact mean pairwise face distance of each pair of nodes (a[i], b[i]), for the pairs under `far`:
    (min node, max node, distance) arrays. Vectorised over all the pairs' face pairs, a bounded batch at a
    time."""
    lb = g.length[b]
    work = g.length[a] * lb
    done = np.concatenate([[0], np.cumsum(work)])  # face pairs of the pairs before each
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    begin = 0
    while begin < len(a):
        end = max(begin + 1, int(np.searchsorted(done, done[begin] + FACE_PAIRS, side="right")) - 1)
        counts = work[begin:end]
        pair = np.repeat(np.arange(end - begin), counts)
        k = np.arange(len(pair)) - np.repeat(np.cumsum(counts) - counts, counts)
        width = lb[begin:end][pair]
        ia = g.start[a[begin:end]][pair] + k // width
        ib = g.start[b[begin:end]][pair] + k % width
        diff = vectors[ia].astype(np.float32)
        diff -= vectors[ib]  # in place: one float32 array, not three (the same numbers)
        d = np.sqrt(np.einsum("ij,ij->i", diff, diff, dtype=np.float64))
        mean = np.bincount(pair, weights=d, minlength=end - begin) / counts
        keep = mean < far
        x, y = a[begin:end][keep], b[begin:end][keep]
        out.append((np.minimum(x, y), np.maximum(x, y), mean[keep]))
        begin = end
    if not out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    lo, hi, mean = (np.concatenate(c) for c in zip(*out, strict=True))
    return lo, hi, mean


class _Sample:
    """linkage.Measure over the faces: each cluster keeps the SAMPLE_FACES of its faces with the smallest hash
    of their point id (a bottom-k sample: the same faces whatever the order of merges). A face weighs
    weight(node) / faces(node), so that the weighted mean over two complete samples is exactly the
    Lance-Williams distance of the two clusters."""

    def __init__(self, vectors: np.ndarray, g: Graph, point_ids: np.ndarray) -> None:
        self.vectors = vectors
        self.g = g
        self.norms = np.einsum("ij,ij->i", vectors, vectors, dtype=np.float32)
        self.weight = np.zeros(len(vectors), np.float64)
        self.key = np.zeros(len(vectors), np.uint64)
        self.merged_rows: dict[int, np.ndarray] = {}  # clusters that have merged; a lone node's are its own rows
        for node in range(len(g.nodes)):
            rows = g.rows(node)
            self.weight[rows] = len(g.nodes[node]) / len(rows)
            self.key[rows] = [int.from_bytes(hashlib.blake2b(pid, digest_size=8).digest(), "big")
                              for pid in point_ids[rows].tolist()]

    def _bottom(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) <= SAMPLE_FACES:
            return rows
        return rows[np.lexsort((rows, self.key[rows]))[:SAMPLE_FACES]]

    def rows(self, node: int) -> np.ndarray:
        rows = self.merged_rows.get(node)
        return rows if rows is not None else self._bottom(self.g.rows(node))

    def distances(self, a: int, others: list[int]) -> list[float]:
        ra = self.rows(a)
        parts = [self.rows(c) for c in others]
        rc = np.concatenate(parts)
        va, vc = self.vectors[ra].astype(np.float32), self.vectors[rc].astype(np.float32)
        d2 = self.norms[ra][:, None] + self.norms[rc][None, :] - 2.0 * (va @ vc.T)
        weighted = (self.weight[ra] @ np.sqrt(np.maximum(d2, 0.0))) * self.weight[rc]
        sums = np.add.reduceat(weighted, np.concatenate([[0], np.cumsum([len(p) for p in parts])[:-1]]))
        total_a = float(self.weight[ra].sum())
        return [float(s) / (total_a * float(self.weight[p].sum())) for s, p in zip(sums, parts, strict=True)]

    def merged(self, a: int, b: int) -> None:
        self.merged_rows[a] = self._bottom(np.concatenate([self.rows(a), self.rows(b)]))
        self.merged_rows.pop(b, None)


def _graph_pairs(store: FaceStore, t: FaceTable, g: Graph, radius: float, dense: bool
                 ) -> Iterator[tuple[tuple[int, int], float]]:
    """The measured pairs of nodes (mean face distance under `radius`), each once: every pair of a small set,
    else each node with the nodes of its engine kNN hits, a chunk of nodes at a time."""
    n = len(g.nodes)
    found = []
    if dense:
        a, b = np.triu_indices(n, 1)
        found.append(_mean_distances(t.vectors, g, a, b, radius))
    else:
        by_id = np.argsort(t.point_ids)  # rows by point id: hits are looked up by binary search, no dict
        sorted_ids = t.point_ids[by_id]
        for start in range(0, n, 1024):  # a chunk at a time: hits for every node at once would not fit
            nodes = np.arange(start, min(start + 1024, n))
            hits = [[pid for pid, d in row if d < radius]
                    for row in store.neighbour_ids(_representatives(t.vectors, g, nodes), GRAPH_KNN)]
            ids = np.asarray([pid for row in hits for pid in row], "S16")
            asking = np.repeat(nodes, [len(row) for row in hits])
            at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
            known = sorted_ids[at] == ids
            other = g.node_of[t.owner[by_id[at[known]]]]
            asking = asking[known]
            pairs = np.unique(np.minimum(asking, other) * n + np.maximum(asking, other))
            pairs = pairs[pairs // n != pairs % n]
            found.append(_mean_distances(t.vectors, g, pairs // n, pairs % n, radius))
    lo, hi, d = (np.concatenate(c) for c in zip(*found, strict=True))
    del found
    first = np.unique(lo * n + hi, return_index=True)[1]  # a pair found from both ends is measured twice
    return _items(lo[first], hi[first], d[first], n)


def _items(lo: np.ndarray, hi: np.ndarray, d: np.ndarray, n: int) -> Iterator[tuple[tuple[int, int], float]]:
    """The pairs as linkage reads them, a slice at a time (never a Python object per pair at once); one int
    object per node, shared by every pair and neighbour-dict key that names it."""
    node = list(range(n))
    for s in range(0, len(lo), 1 << 16):
        for x, y, z in zip(lo[s:s + (1 << 16)].tolist(), hi[s:s + (1 << 16)].tolist(), d[s:s + (1 << 16)].tolist(),
                           strict=True):
            yield (node[x], node[y]), z


def _representatives(vectors: np.ndarray, g: Graph, nodes: np.ndarray) -> np.ndarray:
    """For each node, the face of its first person nearest that person's mean face (what its query looks
    for)."""
    lengths = g.length[nodes]
    firsts = np.cumsum(lengths) - lengths
    rows = np.repeat(g.start[nodes], lengths) + np.arange(int(lengths.sum())) - np.repeat(firsts, lengths)
    owner = np.repeat(np.arange(len(nodes)), lengths)
    faces = vectors[rows].astype(np.float32)
    means = np.add.reduceat(faces, firsts, axis=0) / lengths[:, None]
    off = faces - means[owner]
    spread = np.einsum("ij,ij->i", off, off)
    best = np.lexsort((spread, owner))[firsts]  # per node, its face nearest the mean (ties: the first)
    return faces[best]


def derive(store: FaceStore, t: FaceTable, threshold: float, margin: float) -> list[str]:
    """New influencer id per person of `t` (UNCONFIRMED for a lone doubtful person); a pinned cluster takes
    its pin, others inherit the id they overlap most, founders' ids for new ones.

    The graph holds the pairs of people under threshold + margin apart: enough for the
    exact result. Two clusters under the threshold have two members under it (a weighted mean is at least
    its smallest term), so an edge joins them from the start; a merge keeps every neighbour of either side
    and measures what the other side lacks; and the margin's check looks no farther than threshold +
    margin. Pairs farther apart can never merge or make a merge ambiguous, so they are left out."""
    if not t.keys:
        return []
    g = _graph(t)
    radius = threshold + margin
    dense = int(g.length.sum()) <= DENSE_FACES
    pairs = _graph_pairs(store, t, g, radius, dense)
    position = {k: i for i, k in enumerate(t.keys)}
    cannot = {(int(g.node_of[i]), int(g.node_of[position[(k[0], o)]]))
              for i, k in enumerate(t.keys) for o in t.cooccurs[i] if (k[0], o) in position}
    del position
    pins = [next((t.pinned[p] for p in people if t.pinned[p]), "") for people in g.nodes]
    node_labels = average_linkage(len(g.nodes), pairs, threshold, sorted(cannot), margin,
                                  [len(people) for people in g.nodes], far=radius, pins=pins,
                                  measure=_Sample(t.vectors, g, t.point_ids),
                                  max_degree=None if dense else MAX_DEGREE)
    labels = [node_labels[int(g.node_of[i])] for i in range(len(t.keys))]
    pinned = {label: pins[node] for node, label in enumerate(node_labels) if pins[node]}
    old = _majorities(t)
    new = inherit_ids(old, labels, [new_influencer_id(*k) for k in t.keys], pinned)
    members: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        members[label].append(i)
    for group in members.values():  # one person, or only reposts of one: doubtful alone (a copy is no witness)
        if len({int(g.node_of[i]) for i in group}) == 1 and not confirmed(t.faces[group[0]], t.best_quality[group[0]]):
            for i in group:
                new[i] = UNCONFIRMED
    return new


def _majorities(t: FaceTable) -> list[str]:
    counts: list[dict[str, int]] = [defaultdict(int) for _ in t.keys]
    for row, inf in enumerate(t.influencer):
        counts[int(t.owner[row])][inf] += 1
    return [max(sorted(c), key=lambda k: c[k]) for c in counts]


def moves(t: FaceTable, new: list[str]) -> tuple[dict[str, list[str]], set[str]]:
    """The faces whose influencer changes (influencer -> point ids) and the videos they are in."""
    out: dict[str, list[str]] = defaultdict(list)
    videos: set[str] = set()
    for row, pid in enumerate(t.point_ids.tolist()):
        person = int(t.owner[row])
        if t.influencer[row] != new[person]:
            out[new[person]].append(unpacked(pid))
            videos.add(t.keys[person][0])
    return dict(out), videos


def neighbourhood(store: FaceStore, video_ids: list[str], threshold: float) -> list[FaceColumns]:
    """The faces of `video_ids`, of every influencer with a face within threshold + SLACK of theirs, and of
    the unconfirmed people that near (a second sighting may confirm them)."""
    seed = store.faces_in(sorted(set(video_ids)), with_vectors=True)
    if not seed:
        return []
    radius = threshold + SLACK
    hits = [h for face in store.search(np.stack([f.vector for f in seed]), KNN) for h in face if h.distance < radius]
    near = ({f.record.influencer_id for f in seed} | {h.influencer_id for h in hits}) - {UNCONFIRMED}
    lone_videos = sorted({h.video_id for h in hits if h.influencer_id == UNCONFIRMED} - set(video_ids))
    lone = [f for f in store.faces_in(lone_videos, with_vectors=True) if f.record.influencer_id == UNCONFIRMED]
    return [FaceColumns.of(seed + lone + (store.faces_of(sorted(near), with_vectors=True) if near else []))]
