"""The seeds' worked numbers, reproduced through the public API."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, softmax
from scipy.stats import binom

import mixfit as mf
from tests.conftest import TEN_FLIPS, THREE_COINS

SEED001_START = {"weights_init": [0.25, 0.5, 0.25], "params_init": {"p": [[0.4], [0.5], [0.65]]}}


def three_coins(**options) -> mf.Mixture:
    return mf.Mixture(mf.Binomial(n_trials=10), n_components=3, **SEED001_START, **options)


# ----------------------------------------------------------------------------- seed 001
def test_seed001_one_iteration_public_api():
    with pytest.warns(mf.ConvergenceWarning):
        m = three_coins(max_iter=1).fit(THREE_COINS)
    np.testing.assert_allclose(m.weights_, [0.3337246, 0.5261878, 0.1400877], atol=5e-8)
    np.testing.assert_allclose(m.params_["p"][:, 0], [0.3536485, 0.4278732, 0.5128013], atol=5e-8)
    assert m.n_iter_ == 1


def test_seed001_tables_via_explain():
    (step,) = three_coins().explain(THREE_COINS)
    table61 = step.posteriors
    assert table61["x"].tolist() == [2, 3, 4, 5, 6]
    assert table61["occurrences"].tolist() == [4, 2, 5, 5, 4]
    expected61 = [
        [0.5674795, 0.4124300, 0.0200905],
        [0.4568744, 0.4980674, 0.0450583],
        [0.3436451, 0.5619435, 0.0944114],
        [0.2370680, 0.5814960, 0.1814361],
        [0.1468149, 0.5401758, 0.3130094],
    ]
    np.testing.assert_allclose(table61[["c_1", "c_2", "c_3"]], expected61, atol=5e-8)
    expected62 = [
        [2.2699180, 1.6497199, 0.0803621],
        [0.9137487, 0.9961348, 0.0901165],
        [1.7182254, 2.8097177, 0.4720569],
        [1.1853398, 2.9074798, 0.9071804],
        [0.5872594, 2.1607030, 1.2520376],
    ]
    np.testing.assert_allclose(step.expected_counts[["c_1", "c_2", "c_3"]], expected62, atol=5e-7)
    stats = step.sufficient_stats
    np.testing.assert_allclose(stats.loc["expected_rows"], [6.6744913, 10.5237552, 2.8017535], atol=5e-7)
    np.testing.assert_allclose(stats.loc["x"], [23.60424, 45.02833, 14.36743], atol=5e-6)
    np.testing.assert_allclose(step.new_params.loc["p[x]"], [0.3536485, 0.4278732, 0.5128013], atol=5e-8)
    np.testing.assert_allclose(step.new_weights.loc["weight"], [0.3337246, 0.5261878, 0.1400877], atol=5e-8)


def test_seed001_first_point_likelihoods():
    """Eqs. (6.7)-(6.9): likelihood, joint and posterior of x_1 = 6."""
    m = mf.Mixture(mf.Binomial(n_trials=10), n_components=3)
    m.weights_, m.params_ = np.array([0.25, 0.5, 0.25]), {"p": np.array([[0.4], [0.5], [0.65]])}
    np.testing.assert_allclose(m.predict_proba([6])[0], [0.1468149, 0.5401758, 0.3130094], atol=5e-8)
    joint = np.array([0.0278692, 0.1025391, 0.0594171])
    np.testing.assert_allclose(np.exp(m.score_samples([6])), joint.sum(), atol=2e-7)


def _best_ll_by_direct_maximisation(x, n_trials, k, n_starts=20):
    x = np.asarray(x)
    rng = np.random.default_rng(0)

    def neg_ll(theta):
        w, p = softmax(theta[:k]), expit(theta[k:])
        return -np.log(binom.pmf(x[:, None], n_trials, p[None, :]) @ w).sum()

    return max(
        -minimize(
            neg_ll,
            rng.normal(size=2 * k),
            method="Nelder-Mead",
            options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-12},
        ).fun
        for _ in range(n_starts)
    )


def test_seed001_converges_to_the_mle():
    m = three_coins().fit(THREE_COINS)
    assert m.converged_
    best = _best_ll_by_direct_maximisation(THREE_COINS, 10, 3)
    assert m.log_likelihood_ >= best - 1e-4
    # the data are under-dispersed for a binomial, so the MLE merges the coins at p = 83/200
    single = binom.logpmf(THREE_COINS, 10, 83 / 200).sum()
    assert m.log_likelihood_ == pytest.approx(single, abs=1e-4)
    np.testing.assert_allclose(m.params_["p"][:, 0], 0.415, atol=2e-3)


# ----------------------------------------------------------------------------- seed 002
SEED002 = {"weights_init": [0.3, 0.7], "params_init": {"p": [[0.6], [0.8]]}}


@pytest.mark.parametrize("family", [mf.Bernoulli(), mf.Binomial(n_trials=1)])
def test_seed002_elbo_equals_log_likelihood_at_e_step(family):
    with pytest.warns(mf.IdentifiabilityWarning):
        m = mf.Mixture(family, n_components=2, **SEED002).fit(TEN_FLIPS)
    first = m.history_.iloc[0]
    assert round(first["log_likelihood"], 5) == -9.28686
    # The recorded elbo and kl are defined from Q and H = ll - Q, so comparing them with ll would
    # hold by construction; the seed's claim (ELBO = log-likelihood at the E-step) is checked on
    # Q and H against the seed's own lower bound sum_nk gamma (log mu_k + log B(x_n | p_k)) -
    # gamma log gamma, computed here directly:
    x = np.array(TEN_FLIPS)[:, None]
    joint = np.array([0.3, 0.7]) * np.where(x == 1, [0.6, 0.8], [0.4, 0.2])
    gamma = joint / joint.sum(axis=1, keepdims=True)
    assert first["entropy"] == pytest.approx(-(gamma * np.log(gamma)).sum(), abs=1e-12)
    assert first["expected_complete_ll"] == pytest.approx((gamma * np.log(joint)).sum(), abs=1e-12)


def test_seed002_m_step_raises_log_likelihood_at_least_as_much_as_q():
    with pytest.warns(mf.IdentifiabilityWarning):
        m = mf.Mixture(mf.Bernoulli(), n_components=2, **SEED002).fit(TEN_FLIPS)
    h = m.history_
    for i in range(len(h) - 1):
        ll_gain = h["log_likelihood"].iloc[i + 1] - h["log_likelihood"].iloc[i]
        q_gain = h["expected_complete_ll_after_m"].iloc[i] - h["expected_complete_ll"].iloc[i]
        assert q_gain >= -1e-12
        assert ll_gain >= q_gain - 1e-12
        assert h["kl_after_m"].iloc[i] >= -1e-12
    # the data fix only P(heads) = 0.4; EM keeps it while moving along the ridge
    m_heads = float(m.weights_ @ m.params_["p"][:, 0])
    assert m_heads == pytest.approx(0.4, abs=1e-6)


# ----------------------------------------------------------------------------- seed 000
def seed000_data(n_flips: int | None):
    """The seed's simulation with its own generator calls (seed 42)."""
    rng = np.random.default_rng(seed=42)
    pXZ = np.array([0.2, 0.9])
    Z = rng.binomial(1, 0.75, size=10000)
    X = rng.binomial(1, pXZ[Z]) if n_flips is None else rng.binomial(n_flips, pXZ[Z])
    return X, Z, rng


def closed_form_update(X, pXZ0, pXZ1, pZ):
    """Seed 000, eqs. (12)-(13) then (9)-(11)."""
    pZX0 = (1 - pXZ1) * pZ / ((1 - pXZ1) * pZ + (1 - pXZ0) * (1 - pZ))
    pZX1 = pXZ1 * pZ / (pXZ1 * pZ + pXZ0 * (1 - pZ))
    post = np.array([pZX0, pZX1])[X]
    return post.mean(), np.sum(X * (1 - post)) / np.sum(1 - post), np.sum(X * post) / np.sum(post)


def seed000_acdlf(X, pXZ0, pXZ1, pZ):
    """The seed's ACDLF function, eqs. (1)-(3)."""
    pZX = np.array(
        [
            (1 - pXZ1) * pZ / ((1 - pXZ1) * pZ + (1 - pXZ0) * (1 - pZ)),
            pXZ1 * pZ / (pXZ1 * pZ + pXZ0 * (1 - pZ)),
        ]
    )
    first = pZX[X] * (X * np.log(pXZ1) + (1 - X) * np.log(1 - pXZ1)) + (1 - pZX[X]) * (
        X * np.log(pXZ0) + (1 - X) * np.log(1 - pXZ0)
    )
    second = pZX[X] * np.log(pZ) + (1 - pZX[X]) * np.log(1 - pZ)
    return first.sum() + second.sum()


def test_seed000_one_iteration_equals_closed_form():
    X, _, rng = seed000_data(None)
    pXZ0, pXZ1, pZ = 0.2 + rng.normal(scale=0.05), 0.9 + rng.normal(scale=0.05), 0.75 + rng.normal(scale=0.05)
    m = mf.Mixture(
        mf.Bernoulli(),
        n_components=2,
        max_iter=1,
        weights_init=[1 - pZ, pZ],
        params_init={"p": [[pXZ0], [pXZ1]]},
    )
    with pytest.warns((mf.IdentifiabilityWarning, mf.ConvergenceWarning)):
        m.fit(X)
    new_pZ, new_pXZ0, new_pXZ1 = closed_form_update(X, pXZ0, pXZ1, pZ)
    assert abs(m.weights_[1] - new_pZ) < 1e-12
    assert abs(m.params_["p"][0, 0] - new_pXZ0) < 1e-12
    assert abs(m.params_["p"][1, 0] - new_pXZ1) < 1e-12
    assert m.history_["expected_complete_ll"].iloc[0] == pytest.approx(seed000_acdlf(X, pXZ0, pXZ1, pZ), rel=1e-12)


def test_seed000_single_flip_is_flagged_not_identifiable():
    X, _, _ = seed000_data(None)
    with pytest.warns(mf.IdentifiabilityWarning, match=r"only P\(x=1\)"):
        m = mf.Mixture(mf.Bernoulli(), n_components=2, random_state=0).fit(X)
    # what is identified is estimated: P(heads) equals the sample mean
    assert float(m.weights_ @ m.params_["p"][:, 0]) == pytest.approx(X.mean(), abs=1e-6)


def test_seed000_coins_flipped_ten_times_recover_the_truth():
    X, _, _ = seed000_data(10)
    m = mf.Mixture(
        mf.Binomial(n_trials=10), n_components=2, weights_init=[0.5, 0.5], params_init={"p": [[0.3], [0.7]]}
    ).fit(X)
    truth = np.array([0.75, 0.2, 0.9])  # p(Z=1), p(X=1|Z=0), p(X=1|Z=1)
    estimate = np.array([m.weights_[1], *m.params_["p"][:, 0]])
    se = _standard_errors(m, X, estimate)
    assert np.all(np.abs(estimate - truth) < 3 * se), (estimate, se)
    assert np.all(se < 0.01)


def _standard_errors(m, X, theta, h=1e-5):
    """Square roots of the diagonal of the inverse observed information (central differences)."""

    def ll(t):
        m.weights_ = np.array([1 - t[0], t[0]])
        m.params_ = {"p": np.array([[t[1]], [t[2]]])}
        return m.score_samples(X).sum()

    eye = np.eye(3) * h
    hess = np.array(
        [
            [(ll(theta + a + b) - ll(theta + a - b) - ll(theta - a + b) + ll(theta - a - b)) / (4 * h * h) for b in eye]
            for a in eye
        ]
    )
    return np.sqrt(np.diag(np.linalg.inv(-hess)))
