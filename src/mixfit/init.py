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
from mixfit.em import EMState, m_step
from mixfit.families import Family
from mixfit.sources import ArraySource

INIT_METHODS = ("k-means++", "random", "hard-k-means++")
#: Share of uniform responsibility blended into the k-means++ assignments of the default start.
KMEANS_BLEND = 0.1


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
        return EMState(weights, params)
    resp = initial_resp(family, source, n_components, init, rng)
    if source.fixed is not None:  # rows whose class is known start where they are held
        known = ~np.isnan(source.fixed[:, 0])
        resp[known] = source.fixed[known]
    if source.weight is not None:
        resp *= source.weight[:, None]
    state = m_step(family, family.stats(np.asarray(source.design, dtype=float), resp))
    return state if weights is None else EMState(weights, state.params)


def initial_resp(
    family: Family, source: ArraySource, n_components: int, init: str, rng: np.random.RandomState
) -> FloatArray:
    """Responsibilities of shape (m, K) over the source's design rows."""
    n_rows = source.design.shape[0]
    if init == "random":
        resp = rng.uniform(size=(n_rows, n_components))
        return resp / resp.sum(axis=1, keepdims=True)
    from sklearn.cluster import kmeans_plusplus
    from sklearn.metrics import pairwise_distances_argmin

    features = family.init_features(np.asarray(source.design, dtype=float))
    centers, _ = kmeans_plusplus(
        features, n_components, sample_weight=source.weight, random_state=rng.randint(2**31 - 1)
    )
    labels = pairwise_distances_argmin(features, centers)
    resp = np.zeros((n_rows, n_components))
    resp[np.arange(n_rows), labels] = 1.0
    if init == "hard-k-means++":
        return resp
    return (1.0 - KMEANS_BLEND) * resp + KMEANS_BLEND / n_components
