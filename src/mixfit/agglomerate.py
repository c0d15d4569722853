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
recomputes the new cluster's row and the rows whose best partner it absorbed, so the whole tree
costs O(n^2) determinants.
"""

from __future__ import annotations

import numpy as np

from mixfit._math import FloatArray

#: Rows agglomerated at most (mclust's ``mclust.options("subset")``); larger data: a random subset.
SUBSET_ROWS = 2000
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


def _merged_cost(
    size: FloatArray, count: FloatArray, trace: FloatArray, scatter: FloatArray, alpha: float, d: int
) -> FloatArray:
    """``l log(det(W / l) + beta (tr W + alpha) / l)`` for clusters of size ``l`` and scatter
    ``W`` (``count`` distinct rows, trace ``trace``): a cluster of at most ``d`` rows has
    ``det W = 0``, so only larger ones take a determinant (``scatter`` holds theirs)."""
    det = np.zeros_like(size)
    large = count > d
    if large.any():
        det[large] = np.maximum(np.linalg.det(scatter / size[large, None, None]), 0.0)
    return np.asarray(size * np.log(det + BETA * (trace + alpha) / size))


def agglomerate(z: FloatArray, weight: FloatArray, n_clusters: int) -> np.ndarray:
    """Labels 0..n_clusters-1 of the rows of ``z`` (n, D) after merging down to ``n_clusters``
    clusters; a row of weight ``w`` starts as a cluster of ``w`` identical rows (as its copies
    would be once merged)."""
    n, d = z.shape
    centred = z - np.average(z, axis=0, weights=weight)
    alpha = max(float(np.sum(weight[:, None] * centred**2)) / (weight.sum() * d), np.finfo(float).eps)
    size = weight.astype(float).copy()
    count = np.ones(n)
    mean = z.astype(float).copy()
    scatter = np.zeros((n, d, d))
    trace = np.zeros(n)
    cost = size * np.log(BETA * alpha / size)
    # Pairs of single rows: the merged scatter c (a - b)(a - b)' has rank one, det 0 unless D = 1.
    merged = size[:, None] + size[None, :]
    norms = (z**2).sum(axis=1)
    squared = np.maximum(norms[:, None] + norms[None, :] - 2.0 * (z @ z.T), 0.0)
    squared *= size[:, None] * size[None, :] / merged
    det = squared / merged if d == 1 else 0.0
    pair = merged * np.log(det + BETA * (squared + alpha) / merged) - cost[:, None] - cost[None, :]
    np.fill_diagonal(pair, np.inf)
    best = pair.argmin(axis=1)
    best_cost = pair[np.arange(n), best]
    labels = np.arange(n)
    active = np.ones(n, dtype=bool)
    for _ in range(n - n_clusters):
        i = int(best_cost.argmin())
        i, j = sorted((i, int(best[i])))
        delta = mean[j] - mean[i]
        total = size[i] + size[j]
        shift = size[i] * size[j] / total
        scatter[i] += scatter[j] + shift * np.outer(delta, delta)
        trace[i] += trace[j] + shift * (delta @ delta)
        mean[i] += delta * (size[j] / total)
        size[i] = total
        count[i] += count[j]
        cost[i] = pair[i, j] + cost[i] + cost[j]
        labels[labels == j] = i
        active[j] = False
        pair[j, :] = pair[:, j] = np.inf
        best_cost[j] = np.inf
        others = np.flatnonzero(active)
        others = others[others != i]
        if others.size == 0:
            break
        gap = mean[others] - mean[i]
        joined = size[others] + total
        factor = size[others] * total / joined
        joined_count = count[others] + count[i]
        large = others[joined_count > d]
        large_gap = gap[joined_count > d]
        spread = (
            scatter[large]
            + scatter[i]
            + (factor[joined_count > d])[:, None, None] * (large_gap[:, :, None] * large_gap[:, None, :])
        )
        joined_trace = trace[others] + trace[i] + factor * (gap**2).sum(axis=1)
        new = _merged_cost(joined, joined_count, joined_trace, spread, alpha, d) - cost[i] - cost[others]
        pair[i, others] = pair[others, i] = new
        k = int(new.argmin())
        best[i], best_cost[i] = others[k], new[k]
        stale = (best[others] == i) | (best[others] == j)
        for row in others[stale]:
            best[row] = int(pair[row].argmin())
            best_cost[row] = pair[row, best[row]]
        closer = ~stale & (new < best_cost[others])
        best[others[closer]] = i
        best_cost[others[closer]] = new[closer]
    return np.unique(labels, return_inverse=True)[1].reshape(n)
