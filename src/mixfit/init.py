"""Starting parameters: given by the user, or from responsibilities (k-means++ or random).

Responsibilities are turned into parameters by the family's own M-step, so families need no
initialisation code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import kmeans_plusplus
from sklearn.metrics import pairwise_distances_argmin

from mixfit._math import FloatArray
from mixfit._validation import check_weights
from mixfit.em import EMState, m_step
from mixfit.families import Family
from mixfit.sources import ArraySource

INIT_METHODS = ("k-means++", "random")


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
    features = family.init_features(np.asarray(source.design, dtype=float))
    centers, _ = kmeans_plusplus(
        features, n_components, sample_weight=source.weight, random_state=rng.randint(2**31 - 1)
    )
    labels = pairwise_distances_argmin(features, centers)
    resp = np.zeros((n_rows, n_components))
    resp[np.arange(n_rows), labels] = 1.0
    return resp
