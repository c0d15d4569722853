"""Bad input: the exact exception type and a message that names the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixfit as mf

BIN = mf.Bernoulli
COINS = [6, 5, 4, 2, 2, 6, 5, 5, 4, 2]

FIT_CASES = [
    ("empty data", BIN(), {}, np.empty((0, 3)), mf.DataError, r"at least one row and one column"),
    ("3-D data", BIN(), {}, np.zeros((2, 2, 2)), mf.DataError, r"1-D or 2-D"),
    ("NaN", BIN(), {}, [[0, 1], [np.nan, 1]], mf.DataError, r"column 'x0' .*must be finite; got NaN"),
    ("inf", mf.Binomial(n_trials=5), {}, [[1.0], [np.inf]], mf.DataError, r"must be finite; got inf"),
    ("non-binary", BIN(), {}, [[0, 1], [1, 2]], mf.DataError, r"column 'x1' .*must be binary .*got 2"),
    (
        "strings for Bernoulli",
        BIN(),
        {},
        [["a", "b"], ["c", "d"]],
        mf.DataError,
        r"column 'x0' .*must be numeric",
    ),
    (
        "negative count",
        mf.Binomial(n_trials=5),
        {},
        [[1], [-1]],
        mf.DataError,
        r"whole counts between 0 and n_trials; got -1",
    ),
    ("fractional count", mf.Binomial(n_trials=5), {}, [[1.5], [2]], mf.DataError, r"whole counts.*got 1.5"),
    (
        "count above trials",
        mf.Binomial(n_trials=5),
        {},
        [[1], [6]],
        mf.DataError,
        r"got 6 with n_trials 5 in row 1",
    ),
    (
        "missing trials column",
        mf.Binomial(n_trials="n"),
        {},
        pd.DataFrame({"x": [1, 2]}),
        mf.DataError,
        r"column 'n' not in the data \(n_trials column\); columns are \['x'\]",
    ),
    (
        "zero trials",
        mf.Binomial(n_trials="n"),
        {},
        pd.DataFrame({"x": [0, 1], "n": [0, 3]}),
        mf.DataError,
        r"n_trials column 'n' must hold whole numbers >= 1; got 0",
    ),
    (
        "n_components 0",
        BIN(),
        {"n_components": 0},
        [[0], [1]],
        mf.ModelError,
        r"n_components must be an int >= 1; got 0",
    ),
    (
        "n_components float",
        BIN(),
        {"n_components": 2.5},
        [[0], [1]],
        mf.ModelError,
        r"n_components must be an int",
    ),
    (
        "K above rows",
        BIN(),
        {"n_components": 3},
        [[0], [1]],
        mf.ModelError,
        r"<= the number of rows \(2\); got 3",
    ),
    (
        "K above distinct rows",
        mf.Binomial(n_trials=10),
        {"n_components": 4},
        [1, 1, 2, 2, 3, 3],
        mf.ModelError,
        r"<= the number of distinct rows \(3\); got 4",
    ),
    (
        "bad init",
        BIN(),
        {"init": "kmeans"},
        [[0], [1]],
        mf.ModelError,
        r"init must be one of \['k-means\+\+', 'random'\]",
    ),
    (
        "bad max_iter",
        BIN(),
        {"max_iter": 0},
        [[0], [1]],
        mf.ModelError,
        r"max_iter must be an int >= 1; got 0",
    ),
    ("negative tol", BIN(), {"tol": -1.0}, [[0], [1]], mf.ModelError, r"tol must be a finite number >= 0"),
    (
        "weights not summing to 1",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "weights_init": [0.5, 0.6]},
        COINS,
        mf.ModelError,
        r"weights_init must sum to 1; got sum 1.1",
    ),
    (
        "weights of the wrong shape",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "weights_init": [1.0]},
        COINS,
        mf.ModelError,
        r"weights_init must have shape \(2,\); got \(1,\)",
    ),
    (
        "params of the wrong shape",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "params_init": {"p": [0.1, 0.2, 0.3]}},
        COINS,
        mf.ModelError,
        r"params_init\['p'\] must have shape \(2, 1\); got \(3, 1\)",
    ),
    (
        "probability above 1",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "params_init": {"p": [0.1, 1.2]}},
        COINS,
        mf.ModelError,
        r"params_init\['p'\] must lie in \[0, 1\]",
    ),
    (
        "params without p",
        mf.Binomial(n_trials=10),
        {"n_components": 2, "params_init": {"q": [0.1, 0.2]}},
        COINS,
        mf.ModelError,
        r"params_init must be a dict with key 'p'",
    ),
    ("unknown family name", "gamma", {}, [[0], [1]], mf.ModelError, r"family must be one of \['bernoulli'"),
    (
        "categorical missing",
        mf.Categorical(),
        {},
        np.array([["a"], [None]], dtype=object),
        mf.DataError,
        r"column 'x0' has missing values",
    ),
    (
        "categorical mixed types",
        mf.Categorical(),
        {},
        np.array([["a"], [1]], dtype=object),
        mf.DataError,
        r"column 'x0' mixes value types \['int', 'str'\]",
    ),
    (
        "duplicate column names",
        BIN(),
        {},
        pd.DataFrame([[0, 1]], columns=["a", "a"]),
        mf.DataError,
        r"column names must be unique; got duplicates \['a'\]",
    ),
]


@pytest.mark.parametrize(
    ("family", "options", "X", "error", "message"), [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES]
)
def test_fit_refuses_bad_input(family, options, X, error, message):
    with pytest.raises(error, match=message):
        mf.Mixture(family, **options).fit(X)


def test_bad_sample_weight():
    with pytest.raises(mf.DataError, match=r"sample_weight must have shape \(3,\); got \(2,\)"):
        mf.Mixture(BIN()).fit([0, 1, 1], sample_weight=[1, 2])
    with pytest.raises(mf.DataError, match="finite and >= 0"):
        mf.Mixture(BIN()).fit([0, 1, 1], sample_weight=[1, -2, 1])


def test_predict_before_fit_and_mismatched_columns():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        mf.Mixture(BIN()).predict([[0, 1]])
    m = mf.Mixture(BIN(), 1).fit([[0, 1], [1, 1]])
    with pytest.raises(mf.DataError, match="X must have 2 columns, as at fit; got 3"):
        m.predict([[0, 1, 1]])
    with pytest.raises(mf.DataError, match="column 'x1' .*must be binary"):
        m.predict([[0, 3]])


def test_errors_are_value_errors_and_one_line():
    with pytest.raises(ValueError) as info:
        mf.Mixture(BIN(), n_components=-1).fit([[0]])
    assert "\n" not in str(info.value)
