"""Starting parameters: given by the user, or from responsibilities (k-means++ or random).

Responsibilities are turned into parameters by the family's own M-step, so families need no
initialisation code. No start may trap EM: hard k-means++ assignments give a component whose
rows never show a category, or never answer yes, a probability of exactly 0 (or 1), a fixed
point EM cannot leave, and a Gaussian component of few rows a singular covariance. The default
start therefore blends the assignments with uniform responsibilities (``KMEANS_BLEND``): every
row counts a little in every component, so every start lies inside the parameter space.
``benchmarks/bench_starts.py`` measures how often each start reaches the best maximum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixfit._math import FloatArray
from mixfit._validation import check_weights
from mixfit.concomitant import intercepts_for
from mixfit.em import EMState, m_step
from mixfit.errors import DataError, ModelError
from mixfit.families import Family
from mixfit.sources import ArraySource

INIT_METHODS = ("auto", "k-means++", "random-rows", "random", "hard-k-means++", "hierarchical")
#: Share of uniform responsibility blended into the k-means++ assignments.
KMEANS_BLEND = 0.1
#: "random-rows": each component starts from this many random rows ...
SUBSET_ROWS = 10
#: ... which hold all but this share of its responsibility (the rest is spread over every row).
SUBSET_BLEND = 0.01


def initial_state(
    family: Family,
    source: ArraySource,
    *,
    n_components: int,
    n_features: int,
    init: str,
    weights_init: Any,
    params_init: Any,
    rng: np.random.RandomState,
) -> EMState:
    """The parameters EM starts from."""
    weights = None if weights_init is None else check_weights(weights_init, n_components)
    if weights is not None:
        weights = weights / weights.sum()
    if params_init is not None:
        params = family.check_params(params_init, n_components, n_features)
        if weights is None:
            weights = np.full(n_components, 1.0 / n_components)
        return _start(weights, params, source)
    resp = initial_resp(family, source, n_components, init, rng)
    if source.fixed is not None:  # rows whose class is known start where they are held
        known = ~np.isnan(source.fixed[:, 0])
        resp[known] = source.fixed[known]
    if source.weight is not None:
        resp *= source.weight[:, None]
    state = m_step(family, family.stats(np.asarray(source.design, dtype=float), resp))
    return _start(state.weights if weights is None else weights, state.params, source)


def _start(weights: FloatArray, params: dict[str, FloatArray], source: ArraySource) -> EMState:
    """The start; with covariates every row starts with the prior ``weights``."""
    if source.covariates is None:
        return EMState(weights, params)
    return EMState(weights, params, coef=intercepts_for(weights, source.covariates.shape[1]))


def start_method(init: str, start: int, agglomerate: bool = False) -> str:
    """The method of start number ``start``: ``"auto"`` alternates k-means++ (even starts, so a
    single start is k-means++) and random-rows (odd starts), except that with ``agglomerate``
    (a Gaussian family on complete rows, ``can_agglomerate``) the first start is mclust's
    model-based hierarchical agglomeration."""
    if init != "auto":
        return init
    if start == 0 and agglomerate:
        return "hierarchical"
    return "k-means++" if start % 2 == 0 else "random-rows"


def can_agglomerate(family: Family, source: ArraySource) -> bool:
    """Whether the "hierarchical" start applies: a Gaussian family and complete rows."""
    from mixfit.families.gaussian import Gaussian

    if not isinstance(family, Gaussian):
        return False
    design = np.asarray(source.design, dtype=float)
    features = family.init_features(design)
    if family.missing and (design[:, -features.shape[1] :] < 1).any():  # the observed indicators
        return False
    return bool(np.isfinite(features).all())


def subset_resp(source: ArraySource, n_components: int, rng: np.random.RandomState) -> FloatArray:
    """Responsibilities of the "random-rows" start: component k is the mean of ``SUBSET_ROWS``
    rows drawn (by weight) for it, blended with all rows at ``SUBSET_BLEND``; diverse starts, as
    poLCA's random probabilities are, for any family, and never at 0 or 1."""
    n_rows = source.design.shape[0]
    weight = np.ones(n_rows) if source.weight is None else np.asarray(source.weight, dtype=float)
    total = weight.sum()
    m = SUBSET_ROWS
    counts = np.zeros((n_rows, n_components))
    for k in range(n_components):  # rows of the data drawn with replacement: distinct rows by their counts
        rows = rng.choice(n_rows, size=m, replace=True, p=weight / total)
        np.add.at(counts[:, k], rows, (1.0 - SUBSET_BLEND) * total / n_components / m)  # the subset's mass
    counts += SUBSET_BLEND * weight[:, None] / n_components  # and a little of every row
    # as responsibilities per design row (the caller multiplies by the row weights)
    return np.divide(counts, weight[:, None], out=np.zeros_like(counts), where=weight[:, None] > 0)


def nearest_centre(features: FloatArray, centers: FloatArray) -> np.ndarray:
    """The index of each row's nearest centre (squared distances ``|x|^2 - 2 x.c + |c|^2``, one
    matrix product: scikit-learn's ``pairwise_distances_argmin`` computes the same but costs
    about 7 ms per call on a table of a hundred rows, more than a whole small fit)."""
    distances = (centers**2).sum(axis=1)[None, :] - 2.0 * (features @ centers.T)
    return np.asarray(distances.argmin(axis=1))


def hierarchical_resp(family: Family, source: ArraySource, n_components: int, rng: np.random.RandomState) -> FloatArray:
    """Responsibilities of the "hierarchical" start (Gaussian families): the clusters of
    model-based hierarchical agglomeration (``mixfit.agglomerate``, mclust's start) of at most
    ``SUBSET_ROWS`` rows, blended with uniform responsibilities at ``SUBSET_BLEND`` so that no
    cluster of fewer rows than columns has a singular covariance; rows outside the subset do
    not count in the start."""
    from mixfit.agglomerate import SUBSET_ROWS, cut, svd_scaled, tree
    from mixfit.families.gaussian import Gaussian

    if not isinstance(family, Gaussian):
        raise ModelError(f"init='hierarchical' needs a Gaussian family, not {family.name}")
    if not can_agglomerate(family, source):
        raise DataError("init='hierarchical' needs complete rows; use init='k-means++' with missing values")
    features = family.init_features(np.asarray(source.design, dtype=float))
    n_rows = features.shape[0]
    weight = np.ones(n_rows) if source.weight is None else np.asarray(source.weight, dtype=float)
    rows = np.flatnonzero(weight > 0)
    if rows.size > SUBSET_ROWS:
        rows = np.sort(rng.choice(rows, size=SUBSET_ROWS, replace=False, p=weight[rows] / weight[rows].sum()))
    z = svd_scaled(features[rows], weight[rows])
    if rows.size < n_components or z.shape[1] == 0:  # (a failed start: recorded, and the others go on)
        raise ModelError(f"init='hierarchical' needs at least {n_components} distinct rows of positive weight")
    labels = cut(tree(z, weight[rows]), rows.size, n_components)
    resp = np.zeros((n_rows, n_components))
    resp[rows] = SUBSET_BLEND / n_components
    resp[rows, labels] += 1.0 - SUBSET_BLEND
    return resp


def kmeans_plusplus(features: FloatArray, n_centres: int, weight: FloatArray | None, seed: int) -> FloatArray:
    """Greedy k-means++ seeding, as scikit-learn's ``kmeans_plusplus`` draws it (the same centres
    from the same seed: each next centre is the best of ``2 + log k`` rows drawn with
    probability proportional to weight x squared distance to the nearest centre so far); here
    without its argument checks, which cost twice the seeding itself on a small table."""
    rng = np.random.RandomState(seed)
    n_rows = features.shape[0]
    weight = np.ones(n_rows) if weight is None else np.asarray(weight, dtype=float)
    norms = np.einsum("ij,ij->i", features, features)

    def squared_distances(rows: np.ndarray) -> FloatArray:
        out = -2.0 * (features[rows] @ features.T)
        out += norms[rows][:, None]
        out += norms[None, :]
        return np.maximum(out, 0.0, out=out)

    n_trials = 2 + int(np.log(n_centres))
    first = rng.choice(n_rows, p=weight / weight.sum())
    centres = [features[first]]
    closest = squared_distances(np.array([first]))[0]
    potential = closest @ weight
    for _ in range(1, n_centres):
        draws = rng.uniform(size=n_trials) * potential
        candidates = np.searchsorted(np.cumsum(weight * closest, dtype=np.float64), draws)
        np.clip(candidates, None, n_rows - 1, out=candidates)
        distances = np.minimum(closest, squared_distances(candidates))
        potentials = distances @ weight
        best = int(np.argmin(potentials))
        potential, closest = potentials[best], distances[best]
        centres.append(features[candidates[best]])
    return np.array(centres)


def initial_resp(
    family: Family, source: ArraySource, n_components: int, init: str, rng: np.random.RandomState
) -> FloatArray:
    """Responsibilities of shape (m, K) over the source's design rows."""
    n_rows = source.design.shape[0]
    if init == "random":
        resp = rng.uniform(size=(n_rows, n_components))
        return resp / resp.sum(axis=1, keepdims=True)
    if init == "random-rows":
        return subset_resp(source, n_components, rng)
    if init == "hierarchical":
        return hierarchical_resp(family, source, n_components, rng)
    features = family.init_features(np.asarray(source.design, dtype=float))
    centers = kmeans_plusplus(features, n_components, source.weight, rng.randint(2**31 - 1))
    labels = nearest_centre(features, centers)
    resp = np.zeros((n_rows, n_components))
    resp[np.arange(n_rows), labels] = 1.0
    if init == "hard-k-means++":
        return resp
    return (1.0 - KMEANS_BLEND) * resp + KMEANS_BLEND / n_components
