"""Model-based hierarchical agglomeration, the start mclust uses for Gaussian mixtures.

Every row starts as its own cluster; at each stage the two clusters whose merge lowers the
classification likelihood of an unconstrained ("VVV") Gaussian model the least are merged
(Banfield and Raftery, 1993; Fraley, 1998, "Algorithms for model-based Gaussian hierarchical
clustering", SIAM J. Sci. Comput. 20:270-281). A cluster of ``l`` rows with scatter matrix ``W``
costs ``l log(det(W / l) + beta (tr W + alpha) / l)``: the log-determinant of its covariance
(the classification likelihood's term) made finite for clusters of fewer than ``D + 1`` rows by
``beta (tr W + alpha) / l``, with ``alpha`` the data's total scatter over ``n D`` and
``alpha = beta = 1`` as in mclust's ``hcVVV``. As mclust does by default (``hcUse = "SVD"``),
the rows are first centred, scaled and rotated onto their singular vectors, each direction
scaled by the inverse square root of its singular value, and at most ``SUBSET_ROWS`` rows
(drawn at random) are agglomerated.

The merge costs of all pairs are held in an (n, n) matrix with each row's smallest; a merge
recomputes the new cluster's row and the rows whose best partner it absorbed. A new row holds
lower bounds from the traces alone, made exact (a determinant) only when one is the cheapest
entry (``merges``), so the whole tree costs O(n^2) trace updates and few determinants.
"""

from __future__ import annotations

import hashlib

import numpy as np

from mixfit._math import FloatArray

#: Rows agglomerated at most (mclust's ``mclust.options("subset")``); larger data: a random subset.
SUBSET_ROWS = 2000
#: Trees kept (``tree``), the oldest dropped first.
TREES_KEPT = 4
_TREES: dict[bytes, np.ndarray] = {}
ALPHA = 1.0
BETA = 1.0


def svd_scaled(x: FloatArray, weight: FloatArray) -> FloatArray:
    """The rows centred, scaled to unit deviation and whitened along their singular vectors
    (mclust's ``hc(use = "SVD")``); constant columns and null directions are dropped."""
    centre = np.average(x, axis=0, weights=weight)
    spread = np.sqrt(np.average((x - centre) ** 2, axis=0, weights=weight))
    keep = spread > 0
    z = (x[:, keep] - centre[keep]) / spread[keep]
    _, singular, vt = np.linalg.svd(z * np.sqrt(weight)[:, None], full_matrices=False)
    kept = singular > singular[0] * 1e-10 if singular.size else singular > 0
    return np.asarray((z @ vt[kept].T) / np.sqrt(singular[kept]))


class _Clusters:
    """The clusters of an agglomeration: size, distinct rows, mean, scatter and its trace, and
    the cost ``l log(det(W / l) + beta (tr W + alpha) / l)`` of each."""

    def __init__(self, z: FloatArray, weight: FloatArray, alpha: float) -> None:
        n, d = z.shape
        self.alpha, self.d = alpha, d
        self.size = weight.astype(float).copy()
        self.count = np.ones(n)
        self.mean = z.astype(float).copy()
        self.scatter = np.zeros((n, d, d))
        self.trace = np.zeros(n)
        self.cost = self.size * np.log(BETA * alpha / self.size)

    def joined(self, i: int, others: np.ndarray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``(size, distinct rows, trace, gap)`` of cluster ``i`` merged with each of ``others``."""
        gap = self.mean[others] - self.mean[i]
        size = self.size[others] + self.size[i]
        trace = self.trace[others] + self.trace[i] + (self.size[others] * self.size[i] / size) * (gap**2).sum(axis=1)
        return size, self.count[others] + self.count[i], trace, gap

    def merge_bound(self, i: int, others: np.ndarray) -> tuple[FloatArray, np.ndarray]:
        """A lower bound on the cost change of merging ``i`` with each of ``others`` (``det >=
        0``), and where it is exact (merged clusters of at most D distinct rows: ``det W = 0``;
        one column: ``det W = tr W``)."""
        size, count, trace, _ = self.joined(i, others)
        det = trace / size if self.d == 1 else 0.0  # one column: the determinant is the trace
        bound = size * np.log(det + BETA * (trace + self.alpha) / size) - self.cost[i] - self.cost[others]
        return bound, (count <= self.d) | (self.d == 1)

    def merge_cost(self, i: int, others: np.ndarray) -> FloatArray:
        """The exact cost change of merging ``i`` with each of ``others``."""
        size, _, trace, gap = self.joined(i, others)
        spread = self.scatter[others] + self.scatter[i]
        spread += ((self.size[others] * self.size[i] / size)[:, None, None]) * (gap[:, :, None] * gap[:, None, :])
        det = np.maximum(np.linalg.det(spread / size[:, None, None]), 0.0)
        merged = size * np.log(det + BETA * (trace + self.alpha) / size)
        return np.asarray(merged - self.cost[i] - self.cost[others])

    def merge(self, i: int, j: int, change: float) -> None:
        """Cluster ``j`` into cluster ``i``; ``change``: the exact cost change."""
        delta = self.mean[j] - self.mean[i]
        total = self.size[i] + self.size[j]
        shift = self.size[i] * self.size[j] / total
        self.scatter[i] += self.scatter[j] + shift * np.outer(delta, delta)
        self.trace[i] += self.trace[j] + shift * (delta @ delta)
        self.mean[i] += delta * (self.size[j] / total)
        self.size[i] = total
        self.count[i] += self.count[j]
        self.cost[i] += self.cost[j] + change


def _single_pairs(z: FloatArray, size: FloatArray, cost: FloatArray, alpha: float) -> FloatArray:
    """The cost change of merging each pair of single rows (inf on the diagonal), computed in
    place on one (n, n) array: the merged scatter ``c (a - b)(a - b)'`` (``c = l_a l_b / l``)
    has trace ``c |a - b|^2`` and rank one, so its determinant is 0 unless D = 1."""
    norms = np.einsum("ij,ij->i", z, z)
    pair = z @ z.T
    pair *= -2.0
    pair += norms[:, None]
    pair += norms[None, :]
    np.maximum(pair, 0.0, out=pair)  # squared distances
    merged = np.add.outer(size, size)
    pair *= np.multiply.outer(size, size)
    pair /= merged  # the merged trace
    if z.shape[1] == 1:  # det(W / l) = trace / l
        pair *= 1.0 + BETA
        pair += BETA * alpha
    else:
        pair += alpha
        pair *= BETA
    pair /= merged
    np.log(pair, out=pair)
    pair *= merged
    pair -= cost[:, None]
    pair -= cost[None, :]
    np.fill_diagonal(pair, np.inf)
    return pair


def agglomerate(z: FloatArray, weight: FloatArray, n_clusters: int) -> np.ndarray:
    """Labels 0..n_clusters-1 of the rows of ``z`` (n, D) after merging down to ``n_clusters``
    clusters; a row of weight ``w`` starts as a cluster of ``w`` identical rows (as its copies
    would be once merged)."""
    return cut(merges(z, weight, n_clusters), len(z), n_clusters)


def tree(z: FloatArray, weight: FloatArray) -> np.ndarray:
    """``merges(z, weight)``, the whole tree, kept for the last ``TREES_KEPT`` tables: model
    selection fits every K of one table, and each K's start is a cut of the same tree."""
    key = hashlib.blake2b(z.tobytes() + weight.tobytes() + repr(z.shape).encode(), digest_size=16).digest()
    if key not in _TREES:
        while len(_TREES) >= TREES_KEPT:
            _TREES.pop(next(iter(_TREES)))
        _TREES[key] = merges(z, weight)
    return _TREES[key]


def cut(pairs: np.ndarray, n_rows: int, n_clusters: int) -> np.ndarray:
    """Labels 0..n_clusters-1 of ``n_rows`` rows after the first ``n_rows - n_clusters`` merges
    of ``pairs`` (``merges``' record: row ``(i, j)`` merged cluster ``j`` into cluster ``i``)."""
    labels = np.arange(n_rows)
    for i, j in pairs[: n_rows - n_clusters]:
        labels[labels == j] = i
    return np.unique(labels, return_inverse=True)[1].reshape(n_rows)


def merges(z: FloatArray, weight: FloatArray, n_clusters: int = 1) -> np.ndarray:
    """The merges, in order, that take the rows of ``z`` down to ``n_clusters`` clusters: an
    (n - n_clusters, 2) array of ``(i, j)``, cluster ``j`` merged into cluster ``i`` (a cluster
    is named by its smallest row). With the default, the whole tree: every cut of it is one
    ``cut`` away.

    The (n, n) table of merge costs holds exact costs or lower bounds (``exact``): a bound from
    the traces alone costs O(D) a pair, a determinant O(D^3), and most pairs are far apart and
    never come near the cheapest merge. Whenever the cheapest entry is a bound, its exact cost
    is computed and the search repeats; an exact entry that is cheapest is the cheapest merge,
    since no exact cost is below its bound."""
    n, d = z.shape
    centred = z - np.average(z, axis=0, weights=weight)
    alpha = max(ALPHA * float(np.sum(weight[:, None] * centred**2)) / (weight.sum() * d), np.finfo(float).eps)
    clusters = _Clusters(z, weight, alpha)
    pair = _single_pairs(z, clusters.size, clusters.cost, alpha)
    exact = np.ones((n, n), dtype=bool)
    best = pair.argmin(axis=1)
    best_cost = pair[np.arange(n), best]
    record = np.empty((n - n_clusters, 2), dtype=np.intp)
    active = np.ones(n, dtype=bool)
    for stage in range(n - n_clusters):
        while True:  # the cheapest entry, made exact
            i = int(best_cost.argmin())
            j = int(best[i])
            if exact[i, j]:
                break
            pair[i, j] = pair[j, i] = clusters.merge_cost(i, np.array([j]))[0]
            exact[i, j] = exact[j, i] = True
            for row in (i, j):
                best[row] = int(pair[row].argmin())
                best_cost[row] = pair[row, best[row]]
        i, j = min(i, j), max(i, j)
        clusters.merge(i, j, float(pair[i, j]))
        record[stage] = i, j
        active[j] = False
        pair[j, :] = pair[:, j] = np.inf
        best_cost[j] = np.inf
        others = np.flatnonzero(active)
        others = others[others != i]
        if others.size == 0:  # (the last merge)
            break
        new, is_exact = clusters.merge_bound(i, others)
        pair[i, others] = pair[others, i] = new
        exact[i, others] = exact[others, i] = is_exact
        k = int(new.argmin())
        best[i], best_cost[i] = others[k], new[k]
        stale = (best[others] == i) | (best[others] == j)
        for row in others[stale]:
            best[row] = int(pair[row].argmin())
            best_cost[row] = pair[row, best[row]]
        closer = ~stale & (new < best_cost[others])
        best[others[closer]] = i
        best_cost[others[closer]] = new[closer]
    return record
