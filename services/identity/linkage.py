"""Average-linkage agglomerative clustering over a sparse graph of distances: the one routine that groups the
faces of a video into people and the people of the store into influencers. Pure Python (heapq).

Pairs absent from the graph count as `far` apart (a distance at least the radius within which the caller
looked for neighbours), so the cost follows the number of pairs given, not the square of the nodes, and a
complete graph gives exactly the dense result. With a `measure`, a pair whose distance is needed and not
known (two clusters, one of which was a neighbour of only one side of a merge) is measured instead, and pairs
at `far` or beyond are dropped: a weighted mean of distances at `far` or beyond is itself at `far` or beyond,
so what is dropped can never merge, and memory follows the clusters within `far` of each other."""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol


class Measure(Protocol):
    """Distances between clusters that the graph does not hold, and the news of each merge."""

    def distances(self, a: int, others: Sequence[int]) -> Sequence[float]:
        """The average-linkage distance from cluster `a` to each cluster of `others` (clusters by root node)."""

    def merged(self, a: int, b: int) -> None:
        """Cluster `b` has joined cluster `a`."""


def average_linkage(n: int, pairs: Mapping[tuple[int, int], float] | Iterable[tuple[tuple[int, int], float]],
                    threshold: float,
                    cannot_link: Iterable[tuple[int, int]] = (), margin: float = 0.0,
                    weights: Sequence[float] | None = None, far: float = math.inf,
                    pins: Sequence[str] | None = None, measure: Measure | None = None,
                    max_degree: int | None = None) -> list[int]:
    """Clusters nodes 0..n-1, merging while the closest pair of clusters is under `threshold`; the distance of
    two clusters is the weighted mean of their members' pairwise distances (Lance-Williams), `weights[i]` being
    how many identical members node i stands for; `pairs` is a mapping, or an iterable of its items read once.
    Pairs in `cannot_link` (seen in one frame) never end in one cluster. With a `margin`, a cluster about to
    join another while a third, itself apart from that other (at or over the threshold), is within `margin` of
    the same distance is ambiguous and joins neither.
    With `max_degree` (and a measure), a cluster keeps only its `max_degree` nearest neighbours after a merge:
    a big cluster does not carry every cluster around it (whose merges with it wait on nearer ones anyway), so
    a merge costs at most that many updates.
    `pins[i]` (a label set by hand, "" for none): nodes of one pin are one cluster from the start, and
    clusters of two different pins never merge.

    Returns a label per node, numbered by each cluster's smallest node; the result depends only on the graph,
    not on the order the pairs were given (ties go to the smallest node ids)."""
    adj: list[dict[int, float]] = [{} for _ in range(n)]
    for (i, j), d in (pairs.items() if isinstance(pairs, Mapping) else pairs):
        if i != j and math.isfinite(d) and (measure is None or d < far):
            adj[i][j] = adj[j][i] = float(d)
    blocked: dict[int, set[int]] = defaultdict(set)  # only the nodes with a cannot-link (few)
    for a, b in cannot_link:
        if a != b:
            blocked[a].add(b)
            blocked[b].add(a)
            adj[a].pop(b, None)
            adj[b].pop(a, None)
    size = [float(w) for w in weights] if weights is not None else [1.0] * n
    pin = list(pins) if pins is not None else [""] * n
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    first_of: dict[str, int] = {}
    for i in range(n):  # the analyst's word first: nodes of one pin become one cluster
        if pin[i] and pin[i] in first_of and i not in blocked.get(first_of[pin[i]], ()):  # never two seen together
            a = first_of[pin[i]]
            _merge(adj, blocked, size, a, i, far, measure, max_degree)
            members[a] += members.pop(i)
        elif pin[i]:
            first_of[pin[i]] = i
    # One heap entry per cluster, keyed by a lower bound of its distance to its nearest neighbour (Mullner's
    # generic algorithm): the heap holds clusters, not pairs, and a popped bound is checked before use.
    key = [math.inf] * n
    heap: list[tuple[float, int]] = []

    def queue(i: int) -> None:
        """Keys cluster i by its exact nearest distance (if under the threshold)."""
        nearest = min(adj[i].values(), default=math.inf)
        key[i] = nearest if nearest < threshold else math.inf
        if nearest < threshold:
            heapq.heappush(heap, (nearest, i))

    for i in members:
        queue(i)
    while heap:
        k, x = heapq.heappop(heap)
        if x not in members or k != key[x]:
            continue  # merged away, or queued again since
        d, y = min((dy, y) for y, dy in adj[x].items()) if adj[x] else (math.inf, x)
        if d != k:  # the bound was low: the neighbour it came from merged or moved away
            queue(x)
            continue
        a, b = min(x, y), max(x, y)  # the closest pair, ties to the smallest ids (as a heap of pairs gives)
        if pin[a] and pin[b] and pin[a] != pin[b]:
            adj[a].pop(b, None)
            adj[b].pop(a, None)
            queue(a)
            queue(b)
            continue
        joining, partner = (a, b) if size[a] <= size[b] else (b, a)
        if margin > 0 and _ambiguous(adj, joining, partner, d, threshold, margin, far):
            adj[joining].pop(partner, None)
            adj[partner].pop(joining, None)
            c = min(((dc, c) for c, dc in adj[joining].items() if c != partner))[1]
            adj[joining].pop(c, None)
            adj[c].pop(joining, None)
            for i in (joining, partner, c):
                queue(i)
            continue
        _merge(adj, blocked, size, a, b, far, measure, max_degree)
        members[a] += members.pop(b)
        pin[a] = pin[a] or pin[b]
        queue(a)
        for c, dc in adj[a].items():  # a merge may bring a neighbour closer than its bound
            if dc < key[c] and dc < threshold:
                key[c] = dc
                heapq.heappush(heap, (dc, c))
    labels = [0] * n
    for label, root in enumerate(sorted(members)):
        for i in members[root]:
            labels[i] = label
    return labels


def _ambiguous(adj: list[dict[int, float]], joining: int, partner: int, d: float, threshold: float,
               margin: float, far: float) -> bool:
    others = [(dc, c) for c, dc in adj[joining].items() if c != partner]
    if not others:
        return False
    dc, c = min(others)
    return dc < d + margin and adj[partner].get(c, far) >= threshold


def _merge(adj: list[dict[int, float]], blocked: dict[int, set[int]], size: list[float], a: int, b: int, far: float,
           measure: Measure | None, max_degree: int | None = None) -> None:
    """Merges cluster b into a (a < b), updating a's distances by Lance-Williams."""
    na, nb = size[a], size[b]
    from_a, from_b = adj[a], adj[b]
    if b in blocked:
        from_b_blocked = blocked.pop(b)
        blocked[a] |= from_b_blocked
        for c in from_b_blocked:
            blocked[c].discard(b)
            blocked[c].add(a)
        blocked[a] -= {a, b}
    neighbours = sorted((set(from_a) | set(from_b)) - {a, b} - blocked.get(a, set()))
    if measure is not None:  # what one side lacks is measured, not assumed far
        for side, known in ((a, from_a), (b, from_b)):
            lacking = [c for c in neighbours if c not in known]
            if lacking:
                known.update(zip(lacking, (float(x) for x in measure.distances(side, lacking)), strict=True))
        measure.merged(a, b)
    for c in from_b:
        adj[c].pop(b, None)
    for c in from_a:
        adj[c].pop(a, None)
    merged_adj: dict[int, float] = {}
    for c in neighbours:
        merged = (na * from_a.get(c, far) + nb * from_b.get(c, far)) / (na + nb)
        if math.isfinite(merged) and (measure is None or merged < far):
            merged_adj[c] = merged
    if measure is not None and max_degree is not None and len(merged_adj) > max_degree:
        merged_adj = dict(sorted(merged_adj.items(), key=lambda kv: (kv[1], kv[0]))[:max_degree])
    for c, merged in merged_adj.items():
        adj[c][a] = merged
    adj[a] = merged_adj
    adj[b] = {}
    size[a] = na + nb
