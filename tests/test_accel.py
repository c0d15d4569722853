"""SQUAREM: the maximum plain EM reaches, in fewer E-step passes, never a lower log-likelihood."""

from __future__ import annotations

import numpy as np
import pytest

import mixfit as mf
from mixfit.accel import extrapolate
from mixfit.em import EMState
from tests.conftest import SUM_RTOL, THREE_COINS, latent_class_data


@pytest.fixture
def overlapping(rng):
    """The slow case: latent classes whose item probabilities differ little."""
    p = np.array([[0.3, 0.4, 0.5, 0.6, 0.4, 0.5], [0.5, 0.5, 0.3, 0.4, 0.6, 0.4], [0.4, 0.6, 0.6, 0.3, 0.5, 0.3]])
    X, _ = latent_class_data(rng, 5000, p, np.array([0.5, 0.3, 0.2]))
    start = {"weights_init": [0.3, 0.3, 0.4], "params_init": {"p": rng.uniform(0.3, 0.6, (3, 6))}}
    return X, start


def fit(X, start, accelerate, **options):
    return mf.Mixture("bernoulli", 3, tol=1e-10, max_iter=20_000, accelerate=accelerate, **start, **options).fit(X)


def test_same_maximum_in_at_least_three_times_fewer_passes(overlapping):
    X, start = overlapping
    plain, fast = fit(X, start, None), fit(X, start, "squarem")
    assert plain.converged_ and fast.converged_
    # plain EM crawls here: its tol stops it a little short of the maximum SQUAREM reaches
    assert plain.log_likelihood_ - 1e-9 <= fast.log_likelihood_ <= plain.log_likelihood_ + 1e-3
    np.testing.assert_allclose(fast.params_["p"], plain.params_["p"], atol=2e-3)
    plain_passes, fast_passes = plain.history_["e_steps"].iloc[-1], fast.history_["e_steps"].iloc[-1]
    assert plain_passes == plain.n_iter_ + 1  # plain EM: one pass per iteration
    assert plain_passes >= 3 * fast_passes, (plain_passes, fast_passes)


def test_log_likelihood_never_decreases(overlapping):
    X, start = overlapping
    history = fit(X, start, "squarem").history_
    assert np.all(np.diff(history["log_likelihood"]) >= -history["ll_roundoff"].iloc[1:].to_numpy())
    passes = np.diff(history["e_steps"])
    from mixfit.accel import WARMUP

    assert np.all(passes[:WARMUP] == 1)  # plain EM steps first, one pass each
    assert np.all(np.isin(passes[WARMUP:-1], (2, 3)))  # two or three passes per SQUAREM iteration
    assert passes[-1] == 1  # the last stops at theta_1: one EM step gained <= tol, plain EM's rule


@pytest.mark.parametrize("family", [mf.Binomial(n_trials=10), pytest.param(mf.Categorical(), marks=pytest.mark.slow)])
def test_three_coins_and_categories_reach_the_plain_em_maximum(family, rng):
    if isinstance(family, mf.Binomial):
        X, start = THREE_COINS, {"weights_init": [0.25, 0.5, 0.25], "params_init": {"p": [0.4, 0.5, 0.65]}}
    else:
        X = rng.choice(np.array(["a", "b", "c"], dtype=object), size=(2000, 4), p=[0.5, 0.3, 0.2])
        start = {"random_state": 1, "n_init": 1}  # one start: both methods run from it
    plain = mf.Mixture(family, 3, tol=1e-12, max_iter=50_000, accelerate=None, **start).fit(X)
    fast = mf.Mixture(family, 3, tol=1e-12, max_iter=50_000, accelerate="squarem", **start).fit(X)
    assert fast.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-9)
    assert fast.history_["e_steps"].iloc[-1] < plain.history_["e_steps"].iloc[-1]


def test_extrapolation_is_the_s3_step_on_the_free_scale():
    """Logit for Bernoulli p, log then renormalised for weights; alpha = ||r|| / ||v||; alpha = 1 is theta_2."""
    from scipy.special import logit

    theta = [
        EMState(np.array([0.5, 0.5]), {"p": np.array([[0.2], [0.6]])}),
        EMState(np.array([0.45, 0.55]), {"p": np.array([[0.18], [0.63]])}),
        EMState(np.array([0.42, 0.58]), {"p": np.array([[0.17], [0.645]])}),
    ]
    jump_to, alpha = extrapolate(mf.Bernoulli(), *theta, step_max=100.0)
    x = [np.concatenate([np.log(t.weights), logit(t.params["p"].ravel())]) for t in theta]
    r, v = x[1] - x[0], x[2] - 2 * x[1] + x[0]
    assert alpha == pytest.approx(np.linalg.norm(r) / np.linalg.norm(v))
    jump, expected = jump_to(alpha), x[0] + 2 * alpha * r + alpha**2 * v
    np.testing.assert_allclose(logit(jump.params["p"].ravel()), expected[2:])
    np.testing.assert_allclose(jump.weights, np.exp(expected[:2]) / np.exp(expected[:2]).sum())
    theta2 = jump_to(1.0)
    np.testing.assert_allclose(theta2.weights, theta[2].weights, rtol=1e-14)
    np.testing.assert_allclose(theta2.params["p"], theta[2].params["p"], rtol=1e-14)
    assert extrapolate(mf.Bernoulli(), *theta, step_max=1.0)[1] == 1.0


def test_categorical_jump_keeps_rows_on_the_simplex_and_zeros_held():
    family = mf.Categorical(levels=[["a", "b", "c"], ["x", "y"]])
    p = np.array([[[0.2, 0.3, 0.5], [0.4, 0.6, 0.0]], [[0.6, 0.3, 0.1], [0.9, 0.1, 0.0]]])  # padding: 0
    steps = [p, p * [[[1.1, 0.9, 1.0], [1.2, 0.8, 1]]], p * [[[1.15, 0.85, 1.0], [1.3, 0.75, 1]]]]
    theta = [EMState(np.array([0.5, 0.5]), {"p": q / q.sum(axis=-1, keepdims=True)}) for q in steps]
    jump_to, alpha = extrapolate(family, *theta, step_max=64.0)
    jump = jump_to(alpha)
    assert alpha > 1
    np.testing.assert_allclose(jump.params["p"].sum(axis=-1), 1.0, rtol=1e-14)
    assert np.all(jump.params["p"][:, 1, 2] == 0)  # padding stays padding


def test_unknown_acceleration_is_refused():
    with pytest.raises(mf.ModelError, match=r"accelerate must be one of \['auto', None, 'squarem'\]"):
        mf.Mixture("bernoulli", 2, accelerate="aitken").fit([[0, 1], [1, 0], [1, 1]])


@pytest.mark.parametrize("accelerate", [None, "squarem"])
def test_parallel_restarts_give_the_sequential_result(rng, accelerate):
    X, _ = latent_class_data(rng, 3000, rng.uniform(0.1, 0.9, (3, 8)), np.array([0.5, 0.3, 0.2]))
    options = {"n_init": 4, "random_state": 7, "init": "random", "tol": 1e-9, "accelerate": accelerate}
    sequential = mf.Mixture("bernoulli", 3, **options).fit(X)
    seen = []
    parallel = mf.Mixture("bernoulli", 3, n_jobs=2, **options).fit(X, on_iteration=lambda *a: seen.append(a[0]))
    # the same restart wins; workers run BLAS single-threaded, so sums may differ in the last bits
    np.testing.assert_allclose(parallel.params_["p"], sequential.params_["p"], rtol=0, atol=1e-10)
    assert parallel.log_likelihood_ == pytest.approx(sequential.log_likelihood_, rel=SUM_RTOL)
    assert parallel.n_iter_ == sequential.n_iter_
    assert seen == [0, 1, 2, 3]


def test_bad_n_jobs_is_refused():
    with pytest.raises(mf.ModelError, match="n_jobs must be None or a nonzero int"):
        mf.Mixture("bernoulli", 2, n_jobs=0).fit([[0, 1], [1, 0], [1, 1]])


def test_probabilities_at_the_boundary_do_not_set_the_step_length():
    """Four classes on four categorical items: EM drives some level probabilities to 0, where
    they stop at the clamp; held out of the extrapolation, they no longer pin the step length
    near 1 (5,778 passes against plain EM's 6,553 before; bench_small's slow set)."""
    rng = np.random.default_rng(10)
    levels = (3, 2, 2, 3)
    z = rng.choice(3, 1202, p=[0.6, 0.25, 0.15])
    X = np.column_stack([[rng.choice(n, p=p) for p in rng.dirichlet(np.ones(n) * 2, 3)[z]] for n in levels])
    fits = {
        accelerate: mf.Mixture(
            mf.Categorical(), 4, n_init=1, random_state=0, tol=1e-12, max_iter=50_000, accelerate=accelerate
        ).fit(X)
        for accelerate in (None, "squarem")
    }
    plain, fast = fits[None], fits["squarem"]
    assert plain.params_["p"].min() < 1e-8  # the case: a maximum on the boundary
    assert fast.log_likelihood_ >= plain.log_likelihood_ - 1e-6  # the same maximum (stopping points differ)
    assert plain.history_["e_steps"].iloc[-1] >= 2.5 * fast.history_["e_steps"].iloc[-1]


def test_entries_next_to_the_boundary_keep_the_plain_em_value():
    from mixfit.accel import BOUNDARY, FreeScale

    p = np.array([[0.5, 1e-12], [0.3, 0.6]])
    states = tuple(EMState(np.array([0.4, 0.6]), {"p": p * f}) for f in (1.0, 0.99, 0.98))
    scale = FreeScale(mf.Bernoulli(), states)
    assert scale.free[1].tolist() == [[True, False], [True, True]] and 1e-12 < BOUNDARY
    jumped = scale.state(scale.points[0] + 5.0)
    assert jumped.params["p"][0, 1] == states[2].params["p"][0, 1]  # held at theta_2's value
