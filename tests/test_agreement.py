"""mixfit reaches the maximum log-likelihood that StepMix reaches on the same data.

The StepMix numbers were written down from running StepMix 3.0.0 (the ``bench`` extra) on
these exact data sets: ``StepMix(n_components=K, measurement="binary"|"categorical",
n_init=10, max_iter=5000, abs_tol=1e-12, rel_tol=1e-12, random_state=seed)`` for seeds 0-4, best
``score(X) * n`` kept (see docs/statistics.md). scikit-learn's GaussianMixture is compared live
in tests/test_statistics.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import mixfit as mf

STEPMIX_BINARY_LL = -3749.15589743581
STEPMIX_CATEGORICAL_LL = -3842.3412954633227


def binary_lca_data() -> np.ndarray:
    rng = np.random.default_rng(2024)
    truth = np.array([[0.9, 0.8, 0.85, 0.2, 0.1, 0.3], [0.1, 0.2, 0.3, 0.8, 0.9, 0.7], [0.6, 0.5, 0.5, 0.5, 0.6, 0.5]])
    z = rng.choice(3, 1000, p=[0.3, 0.4, 0.3])
    return (rng.random((1000, 6)) < truth[z]).astype(int)


def categorical_lca_data() -> np.ndarray:
    rng = np.random.default_rng(7)
    probs = np.array(
        [
            [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4]],
            [[0.1, 0.2, 0.7], [0.2, 0.2, 0.6], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]],
        ]
    )
    z = rng.choice(2, 800, p=[0.45, 0.55])
    u = rng.random((800, 5, 1))
    return (u > np.cumsum(probs[z], axis=2)).sum(axis=2)


#: mixfit's default (20 starts alternating k-means++ and random-rows, best 4 to convergence)
#: finds a higher maximum than StepMix's best of 5 x 10 starts on these data.
MIXFIT_BINARY_LL = -3748.794082976


def test_binary_latent_class_model_reaches_stepmix_maximum():
    m = mf.Mixture(mf.Bernoulli(), 3, random_state=0, tol=1e-12, max_iter=20_000).fit(binary_lca_data())
    assert m.log_likelihood_ >= STEPMIX_BINARY_LL - 1e-6
    assert m.log_likelihood_ == pytest.approx(MIXFIT_BINARY_LL, abs=1e-5)
    # StepMix's maximum is a real, lower one: single starts reach it too
    lower = mf.Mixture(mf.Bernoulli(), 3, n_init=10, n_converge=10, init="k-means++", random_state=0, tol=1e-12)
    maxima = lower.fit(binary_lca_data()).maxima_["log_likelihood"]
    assert np.isclose(maxima, STEPMIX_BINARY_LL, atol=1e-5).any()


def test_categorical_latent_class_model_reaches_stepmix_maximum():
    m = mf.Mixture(mf.Categorical(), 2, n_init=10, random_state=0, tol=1e-12).fit(categorical_lca_data())
    assert m.log_likelihood_ == pytest.approx(STEPMIX_CATEGORICAL_LL, abs=1e-5)
    assert m.log_likelihood_ >= STEPMIX_CATEGORICAL_LL - 1e-6
