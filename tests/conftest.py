"""Shared fixtures. Every test runs in debug mode: a log-likelihood decrease raises."""

from __future__ import annotations

import numpy as np
import pytest

from mixfit.config import config_context


@pytest.fixture(autouse=True)
def debug_mode():
    """``mixfit.config``'s debug setting on for the test (not the process environment)."""
    with config_context(debug=True):
        yield


#: Relative tolerance for totals of up to ~1e5 terms that two code paths add in different orders
#: (chunks, compression, BLAS threads, worker processes): the worst case is n * eps = 1e5 * 1.1e-16
#: ~ 1e-11, so 1e-10 leaves a margin of 10 and still catches any real difference.
SUM_RTOL = 1e-10

#: The seed 001 data: heads in 20 sequences of 10 flips.
THREE_COINS = [6, 5, 4, 2, 2, 6, 5, 5, 4, 2, 5, 2, 4, 4, 6, 4, 5, 6, 3, 3]
#: The seed 002 data: 10 single flips.
TEN_FLIPS = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)


def latent_class_data(rng: np.random.Generator, n: int, p: np.ndarray, weights: np.ndarray):
    """Binary items drawn from a latent class model: returns (X, labels)."""
    labels = rng.choice(len(weights), size=n, p=weights)
    return (rng.random((n, p.shape[1])) < p[labels]).astype(float), labels


def interrupted_fit(X, path, stop_at: int):
    """A Bernoulli fit of X (K = 2, one start) checkpointing every iteration to ``path`` and
    interrupted after saving iteration ``stop_at``: the real checkpoint it leaves, and its model."""
    import warnings

    import mixfit as mf
    import mixfit.checkpoint

    model = mf.Mixture(mf.Bernoulli(), 2, n_init=1, random_state=0, checkpoint=path, checkpoint_every=1)
    real_save = mixfit.checkpoint.Checkpointer.save

    def save_and_stop(self, restart, iteration, *args):
        real_save(self, restart, iteration, *args)
        if iteration == stop_at:
            raise KeyboardInterrupt

    mixfit.checkpoint.Checkpointer.save = save_and_stop
    try:
        with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)
    finally:
        mixfit.checkpoint.Checkpointer.save = real_save
    return path, model
