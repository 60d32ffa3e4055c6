"""Average linkage over a sparse graph: the same answer as the textbook dense algorithm, at any size."""

import itertools

import numpy as np

from services.identity.linkage import average_linkage


def dense_reference(x: np.ndarray, threshold: float, cannot: set[tuple[int, int]]) -> list[int]:
    """Textbook average linkage: merge the closest pair of clusters (mean of all member pairs) while it is
    under the threshold and no cannot-link pair would end in one cluster."""
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    clusters = [[i] for i in range(len(x))]
    while True:
        best = None
        for a, b in itertools.combinations(range(len(clusters)), 2):
            if any((min(i, j), max(i, j)) in cannot for i in clusters[a] for j in clusters[b]):
                continue
            dist = d[np.ix_(clusters[a], clusters[b])].mean()
            if dist < threshold and (best is None or dist < best[0]):
                best = (dist, a, b)
        if best is None:
            break
        _, a, b = best
        clusters[a] += clusters.pop(b)
    labels = [0] * len(x)
    for label, members in enumerate(sorted(clusters, key=min)):
        for i in members:
            labels[i] = label
    return labels


def blobs(rng, people=6, each=5, spread=0.25):
    centres = rng.normal(scale=0.3, size=(people, 16))
    return np.concatenate([c + rng.normal(scale=spread / 4, size=(each, 16)) for c in centres])


def test_a_complete_graph_gives_the_dense_result():
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = blobs(rng)
        n = len(x)
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        cannot = {(0, 1), (5, 6), (7, 20)}
        pairs = {(i, j): float(d[i, j]) for i in range(n) for j in range(i + 1, n)}
        assert average_linkage(n, pairs, 0.6, sorted(cannot)) == dense_reference(x, 0.6, cannot)


def test_pairs_left_out_beyond_the_radius_change_nothing_when_clusters_are_apart():
    rng = np.random.default_rng(1)
    x = blobs(rng, people=8, each=6, spread=0.2) * 3
    n = len(x)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    full = {(i, j): float(d[i, j]) for i in range(n) for j in range(i + 1, n)}
    sparse = {k: v for k, v in full.items() if v < 0.9}
    assert average_linkage(n, sparse, 0.6, far=0.9) == average_linkage(n, full, 0.6)


def test_the_result_does_not_depend_on_the_order_of_the_pairs():
    rng = np.random.default_rng(2)
    x = blobs(rng)
    n = len(x)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    items = [((i, j), float(d[i, j])) for i in range(n) for j in range(i + 1, n)]
    shuffled = [items[k] for k in rng.permutation(len(items))]
    assert average_linkage(n, dict(items), 0.6) == average_linkage(n, dict(shuffled), 0.6)


def test_weights_count_identical_members():
    """A node standing for three identical people weighs as three nodes at distance zero would."""
    d = {(0, 1): 0.5, (1, 2): 0.5, (0, 2): 0.9}
    expanded = {(0, 1): 0.0, (0, 2): 0.0, (1, 2): 0.0, (0, 3): 0.5, (1, 3): 0.5, (2, 3): 0.5,
                (3, 4): 0.5, (0, 4): 0.9, (1, 4): 0.9, (2, 4): 0.9}
    weighted = average_linkage(3, d, 0.62, weights=[3, 1, 1])
    plain = average_linkage(5, expanded, 0.62)
    assert weighted == [plain[0], plain[3], plain[4]]


def test_people_seen_together_never_join_even_through_a_third():
    pairs = {(0, 1): 0.1, (1, 2): 0.1, (0, 2): 0.2}
    labels = average_linkage(3, pairs, 0.6, [(0, 2)])
    assert labels[0] != labels[2]


def test_a_node_between_two_clusters_that_stay_apart_joins_neither_with_a_margin():
    pairs = {(0, 1): 0.50, (0, 2): 0.52, (1, 2): 0.9}
    assert average_linkage(3, pairs, 0.6, margin=0.04) == [0, 1, 2]
    assert average_linkage(3, pairs, 0.6) == [0, 0, 1]


class Exact:
    """A measure that knows every point: the distance of two clusters is the mean over their members."""

    def __init__(self, x: np.ndarray) -> None:
        self.d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        self.members = {i: [i] for i in range(len(x))}
        self.asked = 0

    def distances(self, a, others):
        self.asked += len(others)
        return [float(self.d[np.ix_(self.members[a], self.members[c])].mean()) for c in others]

    def merged(self, a, b):
        self.members[a] += self.members.pop(b)


def test_a_knn_graph_with_a_measure_gives_the_dense_result_for_big_clusters():
    """Big clusters over a graph of five neighbours a node: what a merge lacks is measured, not assumed far."""
    rng = np.random.default_rng(4)
    x = blobs(rng, people=3, each=24, spread=0.3)
    n = len(x)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    knn = {(min(i, j), max(i, j)): float(d[i, j]) for i in range(n) for j in np.argsort(d[i])[1:6]}
    measure = Exact(x)
    labels = average_linkage(n, knn, 0.6, far=0.9, measure=measure)
    assert labels == dense_reference(x, 0.6, set())
    assert average_linkage(n, knn, 0.6, far=0.9) != labels, "without the measure the missing pairs count as far"
    assert measure.asked < n * n / 4
    assert average_linkage(n, knn, 0.6, far=0.9, measure=Exact(x), max_degree=8) == labels, \
        "keeping a cluster's eight nearest neighbours loses no merge here"


def test_nodes_pinned_alike_are_one_cluster_and_pinned_apart_never_merge():
    pairs = {(0, 1): 0.1, (1, 2): 0.9, (2, 3): 0.1, (3, 4): 0.2}
    pins = ["a", "", "a", "b", ""]
    labels = average_linkage(5, pairs, 0.6, pins=pins, far=1.0)
    assert labels[0] == labels[2], "one pin, one cluster, however far"
    assert labels[2] != labels[3], "two pins never merge, however near"
    assert labels[3] == labels[4]
