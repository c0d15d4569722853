"""One table of families, one set of checks (STYLE rule 14), with scipy.stats as the oracle."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy import stats as st

import mixfit as mf


@dataclass
class Case:
    name: str
    family: Any
    data: Callable[[np.random.Generator], np.ndarray]
    params: Callable[[np.random.Generator, int], dict]
    oracle: Callable[[np.ndarray, dict], np.ndarray]  # (n, K) log-densities
    group_mle: Callable[[np.ndarray], dict]  # MLE of one group's rows
    n_free: int  # for K = 3 on the case's data
    #: absolute tolerance of parameters re-estimated from 20,000 sampled rows (a few standard errors)
    sample_atol: float = 0.02


def _bern_params(rng, k):
    return {"p": rng.uniform(0.05, 0.95, size=(k, 4))}


def _binom_params(rng, k):
    return {"p": rng.uniform(0.05, 0.95, size=(k, 2))}


def _cat_params(rng, k):
    p = np.zeros((k, 2, 3))
    p[:, 0, :3] = rng.dirichlet(np.ones(3), size=k)
    p[:, 1, :2] = rng.dirichlet(np.ones(2), size=k)
    return {"p": p}


def _object_columns(*columns):
    out = np.empty((len(columns[0]), len(columns)), dtype=object)
    for j, col in enumerate(columns):
        out[:, j] = col
    return out


def _poisson_params(rng, k):
    return {"rate": rng.uniform(0.5, 6.0, size=(k, 3))}


def _multinomial_params(rng, k):
    return {"p": rng.dirichlet(np.ones(3), size=k)}


def _gaussian_full_params(rng, k):
    a = rng.normal(size=(k, 2, 2))
    return {"mean": rng.normal(0, 3, size=(k, 2)), "covariance": a @ np.swapaxes(a, 1, 2) + 0.5 * np.eye(2)}


def _gaussian_diag_params(rng, k):
    return {"mean": rng.normal(0, 3, size=(k, 2)), "covariance": rng.uniform(0.5, 2.0, size=(k, 2))}


def _independent_params(rng, k):
    return {"x0.rate": rng.uniform(0.5, 6.0, size=(k, 1)), "x1..x2.p": rng.uniform(0.05, 0.95, size=(k, 2))}


def _gaussian_oracle(X, prm):
    cov = prm["covariance"]
    full = cov if cov.ndim == 3 else np.stack([np.diag(c) for c in cov])
    return np.stack([st.multivariate_normal(m, c).logpdf(X) for m, c in zip(prm["mean"], full, strict=True)], axis=1)


TRIALS = 7
CASES = [
    Case(
        "bernoulli",
        mf.Bernoulli(),
        lambda rng: (rng.random((60, 4)) < 0.4).astype(int),
        _bern_params,
        lambda X, prm: np.stack([st.bernoulli.logpmf(X, p).sum(axis=1) for p in prm["p"]], axis=1),
        lambda X: {"p": X.mean(axis=0)},
        3 * 4,
    ),
    Case(
        "binomial",
        mf.Binomial(n_trials=TRIALS),
        lambda rng: rng.binomial(TRIALS, [0.3, 0.6], size=(60, 2)),
        _binom_params,
        lambda X, prm: np.stack([st.binom.logpmf(X, TRIALS, p).sum(axis=1) for p in prm["p"]], axis=1),
        lambda X: {"p": X.mean(axis=0) / TRIALS},
        3 * 2,
    ),
    Case(
        "categorical",
        mf.Categorical(levels=[["a", "b", "c"], [0, 1]]),
        lambda rng: _object_columns(rng.choice(["a", "b", "c"], 60), rng.choice([0, 1], 60)),
        _cat_params,
        lambda X, prm: np.stack(
            [
                np.log(p[0][np.searchsorted(["a", "b", "c"], X[:, 0])]) + np.log(p[1][X[:, 1].astype(int)])
                for p in prm["p"]
            ],
            axis=1,
        ),
        lambda X: {
            "p": np.array(
                [
                    [np.mean(X[:, 0] == v) for v in "abc"],
                    [np.mean(X[:, 1].astype(int) == 0), np.mean(X[:, 1].astype(int) == 1), 0],
                ]
            )
        },
        3 * (2 + 1),
    ),
    Case(
        "poisson",
        mf.Poisson(),
        lambda rng: rng.poisson([1.0, 3.0, 6.0], size=(60, 3)),
        _poisson_params,
        lambda X, prm: np.stack([st.poisson.logpmf(X, r).sum(axis=1) for r in prm["rate"]], axis=1),
        lambda X: {"rate": X.mean(axis=0)},
        3 * 3,
        sample_atol=0.15,
    ),
    Case(
        "multinomial",
        mf.Multinomial(n_trials=TRIALS),
        lambda rng: rng.multinomial(TRIALS, [0.2, 0.3, 0.5], size=60),
        _multinomial_params,
        lambda X, prm: np.stack([st.multinomial.logpmf(X, TRIALS, p) for p in prm["p"]], axis=1),
        lambda X: {"p": X.sum(axis=0) / X.sum()},
        3 * 2,
    ),
    Case(
        "gaussian-full",
        mf.Gaussian("full"),
        lambda rng: rng.multivariate_normal([1.0, -2.0], [[2.0, 0.6], [0.6, 1.0]], size=60),
        _gaussian_full_params,
        _gaussian_oracle,
        lambda X: {"mean": X.mean(axis=0), "covariance": np.cov(X.T, bias=True)},
        3 * 2 + 3 * 3,
        sample_atol=0.25,
    ),
    Case(
        "gaussian-diag",
        mf.Gaussian("diag"),
        lambda rng: rng.normal([1.0, -2.0], [1.5, 0.7], size=(60, 2)),
        _gaussian_diag_params,
        _gaussian_oracle,
        lambda X: {"mean": X.mean(axis=0), "covariance": X.var(axis=0)},
        3 * 2 + 3 * 2,
        sample_atol=0.1,
    ),
    Case(
        "independent",
        mf.Independent([(["x0"], mf.Poisson()), (["x1", "x2"], mf.Bernoulli())]),
        lambda rng: np.column_stack([rng.poisson(3.0, 60), rng.random((60, 2)) < 0.4]).astype(int),
        _independent_params,
        lambda X, prm: np.stack(
            [
                st.poisson.logpmf(X[:, 0], r[0]) + st.bernoulli.logpmf(X[:, 1:], p).sum(axis=1)
                for r, p in zip(prm["x0.rate"], prm["x1..x2.p"], strict=True)
            ],
            axis=1,
        ),
        lambda X: {"x0.rate": X[:, :1].mean(axis=0), "x1..x2.p": X[:, 1:].mean(axis=0)},
        3 * 1 + 3 * 2,
        sample_atol=0.1,
    ),
]
CASES_BY_ID = pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])


def _design(case, X):
    columns = [f"x{j}" for j in range(X.shape[1])]
    return case.family.design(case.family.validate(X, columns))


@CASES_BY_ID
def test_log_prob_matches_scipy(case, rng):
    X, params = case.data(rng), case.params(rng, 3)
    got = case.family.log_prob(_design(case, X), params)
    np.testing.assert_allclose(got, case.oracle(X, params), rtol=1e-12, atol=1e-12)


@CASES_BY_ID
def test_stats_add_across_chunks(case, rng):
    X = case.data(rng)
    design = _design(case, X)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    whole = case.family.stats(design, resp)
    parts = case.family.stats(design[:17], resp[:17]) + case.family.stats(design[17:], resp[17:])
    _assert_stats_equal(parts, whole)  # every named statistic adds (Independent: part by part)
    np.testing.assert_allclose(parts.t_sum, resp.T @ design, rtol=1e-12)  # the design product, in order
    assert sum([case.family.stats(design, resp)]).t_sum.shape == whole.t_sum.shape


def _assert_stats_equal(got, expected):
    for field in dataclasses.fields(expected):
        a, b = getattr(got, field.name), getattr(expected, field.name)
        if isinstance(b, tuple):
            for x, y in zip(a, b, strict=True):
                _assert_stats_equal(x, y)
        elif b is not None and not isinstance(b, bool):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@CASES_BY_ID
def test_m_step_on_one_hot_resp_is_the_group_mle(case, rng):
    X = case.data(rng)
    labels = np.arange(len(X)) % 3
    resp = np.eye(3)[labels]
    params = case.family.m_step(case.family.stats(_design(case, X), resp))
    for k in range(3):
        for name, expected in case.group_mle(X[labels == k]).items():
            np.testing.assert_allclose(params[name][k], expected, atol=1e-12)


@CASES_BY_ID
def test_n_free_params_hand_count(case, rng):
    n_features = case.data(rng).shape[1]
    assert case.family.n_free_params(3, n_features) == case.n_free


@CASES_BY_ID
def test_expected_log_prob_equals_weighted_log_prob(case, rng):
    X, params = case.data(rng), case.params(rng, 3)
    design = _design(case, X)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    direct = (resp * case.family.log_prob(design, params)).sum(axis=0)
    from_stats = case.family.expected_log_prob(case.family.stats(design, resp), params)
    np.testing.assert_allclose(from_stats, direct, rtol=1e-12)


@CASES_BY_ID
def test_sample_draws_valid_rows_with_the_right_frequencies(case, rng):
    params = case.params(rng, 3)
    labels = np.zeros(20000, dtype=int)
    X = case.family.sample(params, labels, rng)
    design = _design(case, X)
    mean_design = design.mean(axis=0)
    estimated = case.family.m_step(case.family.stats(design, np.eye(3)[labels]))
    for name, value in params.items():
        np.testing.assert_allclose(estimated[name][0], value[0], atol=case.sample_atol)
    assert np.all(np.isfinite(mean_design))


def test_binomial_trials_column_and_per_row_trials_agree(rng):
    n = rng.integers(1, 9, size=50)
    x = rng.binomial(n, 0.4)
    by_array = mf.Binomial(n_trials=n)
    by_column = mf.Binomial(n_trials="n")
    d1 = by_array.design(by_array.validate(x[:, None], ["x"]))
    d2 = by_column.design(by_column.validate(np.column_stack([x, n]), ["x", "n"]))
    np.testing.assert_array_equal(d1, d2)
    params = {"p": np.array([[0.2], [0.7]])}
    oracle = np.stack([st.binom.logpmf(x, n, p) for p in (0.2, 0.7)], axis=1)
    np.testing.assert_allclose(by_column.log_prob(d2, params), oracle, rtol=1e-12)
    assert by_column.feature_names(["x", "n"]) == ["x"]


def test_categorical_learns_sorted_levels_and_keeps_them():
    fam = mf.Categorical().fitted_to(np.array([["b"], ["a"], ["c"], ["a"]], dtype=object), ["q"])
    assert fam.levels[0].tolist() == ["a", "b", "c"]
    codes = fam.validate(np.array([["c"], ["a"]], dtype=object), ["q"])
    assert codes[:, 0].tolist() == [2.0, 0.0]
    with pytest.raises(mf.DataError, match=r"column 'q' has level 'z' not seen at fit"):
        fam.validate(np.array([["z"]], dtype=object), ["q"])


def test_categorical_shape_follows_new_levels():
    """The levels' sizes and mask are built once per set of levels, and again when they change."""
    fam = mf.Categorical(levels=[["a", "b"], ["x", "y", "z"]])
    assert fam.param_shape("p", 2, 2) == (2, 2, 3)
    assert fam.structural_zeros("p", (2, 2, 3))[0].tolist() == [[False, False, True], [False, False, False]]
    fam.set_params(levels=[["a", "b", "c", "d"], ["x"]])
    assert fam.param_shape("p", 2, 2) == (2, 2, 4)
    assert fam.structural_zeros("p", (2, 2, 4))[0].tolist() == [[False] * 4, [False, True, True, True]]


def test_m_steps_without_a_prior_are_the_exact_ratio():
    """No pseudo-counts are added and taken away without a prior: p = successes / trials to the bit."""
    ones, n = np.array([[0.1, 2.7], [1.3, 0.3]]), np.array([3.0, 1.7])
    stats = mf.Bernoulli().named_stats(n, ones)
    np.testing.assert_array_equal(mf.Bernoulli().m_step(stats)["p"], ones / n[:, None])
    with_prior = mf.Bernoulli(prior=(2.0, 2.0)).m_step(stats)["p"]
    np.testing.assert_allclose(with_prior, (ones + 1) / (n[:, None] + 2), rtol=1e-15)


def test_categorical_numeric_codes_equal_the_general_path():
    from mixfit.families.categorical import _numeric_codes

    column = np.array([3.0, 1.0, np.nan, 7.0, 1.0])
    known = np.array([7, 1, 3])  # given levels, not sorted
    present = ~np.isnan(column)
    out = np.full(5, np.nan)
    assert _numeric_codes(column, known, present, out)
    np.testing.assert_array_equal(out, [2.0, 1.0, np.nan, 0.0, 1.0])
    assert not _numeric_codes(np.array([1.0, 5.0]), known, np.ones(2, bool), np.full(2, np.nan))  # 5 is unknown
    assert not _numeric_codes(np.array(["a", "b"], dtype=object), known, np.ones(2, bool), np.full(2, np.nan))
    family = mf.Categorical([known]).fitted_to(column[:, None], ["q"])
    with pytest.raises(mf.DataError, match="column 'q' has level 5.0 not seen at fit; known levels are \\[7, 1, 3\\]"):
        family.validate(np.array([[1.0], [5.0]]), ["q"])
