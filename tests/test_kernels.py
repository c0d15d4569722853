"""The compiled log-sum-exp (numba) against NumPy, the reference: same numbers, same fits."""

from __future__ import annotations

import contextvars

import numpy as np
import pytest

import mixfit as mf
from mixfit import kernels
from mixfit._math import normalize_log_joint
from mixfit.config import get_config
from mixfit.em import run_e_step

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


# ------------------------------------------------------------------ the compiled pass of small blocks
def _small_cases(rng):
    """(family, raw data) of every family whose pass is the generic linear one."""
    p = np.array([[0.2, 0.7, 0.6, 0.3], [0.8, 0.4, 0.3, 0.6], [0.5, 0.5, 0.9, 0.1]])
    labels = rng.integers(0, 3, 300)
    binary = (rng.random((300, 4)) < p[labels]).astype(np.int64)
    with_gaps = binary.astype(float)
    with_gaps[rng.random(with_gaps.shape) < 0.1] = np.nan
    return {
        "bernoulli": (mf.Bernoulli(), binary),
        "bernoulli-missing": (mf.Bernoulli(), with_gaps),
        "categorical": (mf.Categorical(), np.column_stack([rng.integers(0, n, 300) for n in (3, 2, 4)])),
        "poisson": (mf.Poisson(), rng.poisson(np.where(labels[:, None] == 0, 1.0, 5.0), (300, 2))),
        "binomial": (mf.Binomial(n_trials=10), rng.binomial(10, p[labels][:, :2])),
        "multinomial": (mf.Multinomial(), rng.multinomial(12, [0.2, 0.3, 0.5], 300)),
    }


def _small_source(family, X, compress="auto"):
    from mixfit.sources import as_source

    columns = [f"x{j}" for j in range(X.shape[1])]
    family = family.fitted_to(X, columns)
    if np.isnan(np.asarray(X, dtype=float)).any():
        family = type(family)(missing=True)
    return family, as_source(family.validate(X, columns), family, compress=compress)


def _start(family, source, rng, weights):
    from mixfit.init import initial_state

    options = dict(n_components=len(weights), n_features=0, weights_init=weights, params_init=None)
    return initial_state(family, source, init="random-rows", rng=np.random.RandomState(0), **options)


@pytest.mark.parametrize(
    "case", ["bernoulli", "bernoulli-missing", "categorical", "poisson", "binomial", "multinomial"]
)
@pytest.mark.parametrize("compress", ["auto", False])
def test_compiled_pass_agrees_with_numpy(rng, case, compress):
    family, source = _small_source(*_small_cases(rng)[case], compress=compress)
    assert family.linear_pass
    state = _start(family, source, rng, np.array([0.5, 0.0, 0.5]))  # a component of weight 0
    coef, bias = family.natural(state.params)
    chunk = source.chunk(0)
    assert kernels.linear_pass(chunk.X, chunk.weight, coef, bias, state.weights) is not None  # it applies
    summaries = {}
    for kernel in ("numba", "numpy"):
        with kernels.use(kernel):
            summaries[kernel] = run_e_step(family, source, state)
    compiled, reference = summaries["numba"], summaries["numpy"]
    assert compiled.log_likelihood == pytest.approx(reference.log_likelihood, rel=1e-12)
    scale = float(np.abs(reference.stats.t_sum).max())
    np.testing.assert_allclose(compiled.stats.n, reference.stats.n, rtol=1e-12, atol=1e-12 * len(chunk.X))
    np.testing.assert_allclose(compiled.stats.t_sum, reference.stats.t_sum, rtol=1e-12, atol=1e-12 * scale)
    assert compiled.stats.n[1] == 0.0 and not compiled.stats.t_sum[1].any()  # weight 0 takes no row


def test_mixtures_side_by_side_are_each_one_alone(rng):
    family, source = _small_source(*_small_cases(rng)["categorical"])
    chunk = source.chunk(0)
    states = [_start(family, source, rng, w) for w in ([0.2, 0.8], [0.5, 0.5], [1.0, 0.0])]
    alone = [kernels.linear_pass(chunk.X, chunk.weight, *family.natural(s.params), s.weights) for s in states]
    params = {"p": np.concatenate([s.params["p"] for s in states])}
    weights = np.stack([s.weights for s in states])
    ll, n, product = kernels.linear_pass(chunk.X, chunk.weight, *family.natural(params), weights, n_groups=3)
    # the same arithmetic per mixture; only whether a loop over components is vectorised may
    # differ (a fused multiply-add: one rounding, ~1e-15 of a sum of 200 rows)
    np.testing.assert_allclose(ll, [a[0][0] for a in alone], rtol=1e-12)
    np.testing.assert_allclose(n, np.concatenate([a[1] for a in alone]), rtol=1e-12)
    np.testing.assert_allclose(product, np.concatenate([a[2] for a in alone]), rtol=1e-12)


def test_a_row_no_component_can_take_is_minus_infinity_for_its_mixture_only(rng):
    design = np.eye(3)
    with np.errstate(divide="ignore"):
        coef = np.log(np.array([[0.5, 0.5, 0.0], [0.3, 0.7, 0.0], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6]]))
    ll, n, _ = kernels.linear_pass(design, None, coef, np.zeros(4), np.full((2, 2), 0.5), n_groups=2)
    assert ll[0] == -np.inf  # the third row has probability 0 under both of the first mixture's components
    assert np.isfinite(ll[1]) and n[2:].sum() == pytest.approx(3.0)


def test_what_the_compiled_pass_does_not_take(rng):
    design, coef, bias, weights = rng.random((50, 4)), rng.normal(size=(3, 4)), np.zeros(3), np.full(3, 1 / 3)
    assert kernels.linear_pass(design, None, coef, bias, weights) is not None
    assert kernels.linear_pass(design.astype(np.float32), None, coef, bias, weights) is None  # float32: NumPy
    assert kernels.linear_pass(np.asfortranarray(design), None, coef, bias, weights) is None
    big = rng.random((kernels.MAX_LINEAR_PASS_CELLS // 3 + 1, 4))
    assert kernels.linear_pass(big, None, coef, bias, weights) is None  # large blocks: BLAS products
    with kernels.use("numpy"):
        assert kernels.linear_pass(design, None, coef, bias, weights) is None
    assert not mf.Gaussian("full").linear_pass and not mf.Independent({"a": mf.Bernoulli()}).linear_pass


def test_small_default_fits_agree_with_and_without_the_compiled_pass(rng):
    family, X = _small_cases(rng)["bernoulli"]
    fits = {}
    for kernel in ("numba", "numpy"):
        with kernels.use(kernel):
            # components in order of p[0] (which start is kept among those at one maximum is
            # round-off's choice); tol 1e-12: two stopping points differ by ~1e-9 in the
            # log-likelihood and ~1e-6 in p even if round-off moves the stop by an iteration
            fits[kernel] = mf.Mixture(mf.Bernoulli(), 2, n_init=5, tol=1e-12, random_state=0, order="p").fit(X)
    assert fits["numba"].converged_ and fits["numpy"].converged_
    np.testing.assert_allclose(fits["numba"].log_likelihood_, fits["numpy"].log_likelihood_, rtol=1e-10)
    np.testing.assert_allclose(fits["numba"].params_["p"], fits["numpy"].params_["p"], atol=1e-5)


def test_a_compiler_that_cannot_set_up_means_numpy_not_a_failed_fit(monkeypatch):
    def refuse(name):
        raise RuntimeError("cannot cache function 'linear_pass': no locator available")

    kernels.compiled.cache_clear()
    monkeypatch.setattr(kernels.importlib, "import_module", refuse)
    try:
        with pytest.warns(UserWarning, match="the compiled kernels are not available .*no locator available"):
            assert kernels.compiled() is None
        assert kernels.active() == "numpy"
        X = np.array([[0, 1], [1, 1], [0, 0], [1, 0], [1, 1]] * 6)
        model = mf.Mixture(mf.Bernoulli(), 1).fit(X)
        np.testing.assert_allclose(model.params_["p"], [[0.6, 0.6]])
    finally:
        monkeypatch.undo()
        kernels.compiled.cache_clear()
    assert kernels.compiled() is numba_kernel
