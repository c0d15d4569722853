"""The compiled log-sum-exp (numba) against NumPy, the reference: same numbers, same fits."""

from __future__ import annotations

import contextvars

import numpy as np
import pytest

import mixfit as mf
from mixfit import kernels
from mixfit._math import normalize_log_joint
from mixfit.config import get_config

numba_kernel = pytest.importorskip("mixfit._numba_kernel", reason="numba is not installed")


def test_exp_matches_numpy_to_the_last_bits():
    x = -np.linspace(0.0, 708.0, 200_001)
    out = np.empty_like(x)
    numba_kernel.exp_nonpositive(x, out)
    assert np.max(np.abs(out - np.exp(x)) / np.exp(x)) <= 4.5e-16  # two units in the last place
    x32 = -np.linspace(0.0, 87.0, 200_001, dtype=np.float32)
    out32 = np.empty_like(x32)
    numba_kernel.exp_nonpositive_32(x32, out32)
    exact = np.exp(x32.astype(np.float64))
    assert np.max(np.abs(out32 - exact) / exact) <= 2.4e-7


def test_exp_is_zero_below_the_floor_and_at_minus_infinity():
    x = np.array([-708.5, -800.0, -np.inf, 0.0])
    out = np.empty_like(x)
    numba_kernel.exp_nonpositive(x, out)
    assert out.tolist() == [0.0, 0.0, 0.0, 1.0]


def log_joint_block(rng, dtype=np.float64):
    log_joint = (rng.normal(size=(6, kernels.MIN_CELLS // 4)) * 30).astype(dtype)
    log_joint[2] = -np.inf  # a component of weight 0
    return log_joint


@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_log_sum_exp_agrees_with_numpy(rng, weighted):
    log_joint = log_joint_block(rng)
    weight = rng.uniform(0.5, 3.0, log_joint.shape[1]) if weighted else None
    compiled, reference = log_joint.copy(), log_joint.copy()
    with kernels.use("numba"):
        log_marginal = normalize_log_joint(compiled, weight)
    with kernels.use("numpy"):
        expected = normalize_log_joint(reference, weight)
    np.testing.assert_allclose(log_marginal, expected, rtol=1e-14, atol=0)
    np.testing.assert_allclose(compiled, reference, rtol=1e-13, atol=1e-300)
    assert np.all(compiled[2] == 0.0)
    column_sums = compiled.sum(axis=0)
    np.testing.assert_allclose(column_sums, 1.0 if weight is None else weight, rtol=1e-14)


def test_float32_log_sum_exp_agrees_to_float32_precision(rng):
    log_joint = log_joint_block(rng, np.float32)
    compiled, reference = log_joint.copy(), log_joint.astype(np.float64)
    with kernels.use("numba"):
        log_marginal = normalize_log_joint(compiled, None)
    with kernels.use("numpy"):
        expected = normalize_log_joint(reference, None)
    assert compiled.dtype == np.float32
    np.testing.assert_allclose(log_marginal, expected, rtol=1e-6, atol=2e-5)  # float32 spacing near 100
    np.testing.assert_allclose(compiled, reference, atol=1e-6)


def test_small_blocks_and_the_switch_use_numpy(rng, monkeypatch):
    small = rng.normal(size=(3, 100))
    assert kernels.normalize_log_joint(small.copy(), None) is None
    with kernels.use("numba"):
        with kernels.use("numpy"):
            assert kernels.active() == "numpy"
            assert kernels.normalize_log_joint(log_joint_block(rng), None) is None
        assert kernels.active() == "numba"
    with pytest.raises(mf.ModelError, match="kernel must be one of"):
        with kernels.use("fortran"):
            pass
    monkeypatch.setenv("MIXFIT_KERNEL", "fortran")
    with pytest.raises(mf.ModelError, match="MIXFIT_KERNEL must be one of \\['numba', 'numpy'\\]; got 'fortran'"):
        contextvars.Context().run(get_config)  # a fresh context reads the environment


def test_a_row_with_no_possible_component_is_nan_in_both(rng):
    log_joint = log_joint_block(rng)
    log_joint[:, 7] = -np.inf
    results = []
    for kernel in ("numba", "numpy"):
        with kernels.use(kernel), np.errstate(invalid="ignore"):
            results.append(normalize_log_joint(log_joint.copy(), None))
    assert np.isnan(results[0][7]) and np.isnan(results[1][7])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fits_agree_with_and_without_the_kernel(rng, dtype):
    p = rng.uniform(0.1, 0.9, size=(4, 12))
    labels = rng.integers(0, 4, 40_000)
    X = (rng.random((40_000, 12)) < p[labels]).astype(float)
    options = dict(n_components=4, n_init=1, random_state=0, max_iter=30, tol=1e-12, compress=False, dtype=dtype)
    options["accelerate"] = None  # 30 textbook iterations stop short of convergence
    fits = {}
    for kernel in ("numba", "numpy"):
        with kernels.use(kernel), pytest.warns(mf.ConvergenceWarning):
            fits[kernel] = mf.Mixture("bernoulli", **options).fit(X)
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(fits["numba"].log_likelihood_, fits["numpy"].log_likelihood_, rtol=rtol)
    np.testing.assert_allclose(fits["numba"].params_["p"], fits["numpy"].params_["p"], rtol=rtol * 100, atol=0)
