"""scikit-learn's own estimator checks over ``Mixture`` with each family whose data they can draw.

The checks draw real-valued X. Gaussian takes all of it; Categorical reads every distinct value
as a level. Bernoulli and Poisson refuse real values by design (a ``DataError`` naming the
column), so the checks that feed them such data are listed, each with its reason.
"""

from __future__ import annotations

import warnings

import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import mixfit as mf

ONE_D = "a 1-D X is one column (the seeds give coin counts as a flat list), not an error"
WEIGHTED_START = (
    "random starts are drawn per row, so weights and repeated rows start EM at different points "
    "(weighted = repeated rows from the same start: test_model.py); the Gaussian default passes "
    "when its hierarchical start, which takes a weighted row as its merged copies, wins"
)
OBJECT_CELL = "a non-numeric cell is a DataError (a ValueError) naming the column, not NumPy's TypeError"
NAN_IS_MISSING = "NaN marks a missing answer, fitted by full-information likelihood, so it is not refused"
UNSEEN_LEVEL = "the check predicts on new real values, which are levels never seen at fit (a DataError)"

#: Checks that draw real-valued or non-count X, which the family refuses before anything else.
_REAL_X = [
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_estimators_dtypes",
    "check_sample_weights_list",
    "check_all_zero_sample_weights_error",
    "check_sample_weight_equivalence_on_dense_data",
    "check_dtype_object",
    "check_pipeline_consistency",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1sample",
    "check_fit2d_1feature",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
]
#: Checks that draw whole numbers above 1: counts for Poisson, not 0/1 for Bernoulli.
_WHOLE_X = [
    "check_sample_weights_pandas_series",
    "check_sample_weights_not_an_array",
    "check_sample_weights_shape",
    "check_sample_weights_not_overwritten",
]

# The default search (20 starts, screened) on the first; 4 unscreened starts on the others keep the
# ~240 checks quick (the search itself is tested in test_restarts.py).
ESTIMATORS = [
    mf.Mixture(mf.Gaussian("full", reg_covar=1e-6), 2, random_state=0),  # scikit-learn's floor
    mf.Mixture(mf.Gaussian("diag", reg_covar=1e-6), 2, n_init=4, random_state=0),
    mf.Mixture(mf.Categorical(), 2, n_init=4, random_state=0),
    mf.Mixture(mf.Bernoulli(), 2, n_init=4, random_state=0),
    mf.Mixture(mf.Poisson(), 2, n_init=4, random_state=0),
]


def expected_failed_checks(estimator: mf.Mixture) -> dict[str, str]:
    family = estimator.family
    if isinstance(family, mf.Gaussian):
        expected = {
            "check_fit1d": ONE_D,
            "check_sample_weight_equivalence_on_dense_data": WEIGHTED_START,
            "check_dtype_object": OBJECT_CELL,
        }
        if family.supports_missing:
            expected["check_estimators_nan_inf"] = NAN_IS_MISSING
        return expected
    if isinstance(family, mf.Categorical):
        return {
            "check_fit1d": ONE_D,
            "check_sample_weight_equivalence_on_dense_data": UNSEEN_LEVEL,
            "check_fit_idempotent": UNSEEN_LEVEL,
            "check_dtype_object": "a column that mixes value types (a dict among floats) is a DataError",
            "check_estimators_nan_inf": NAN_IS_MISSING,
        }
    name = type(family).__name__
    refused = {check: f"the check draws real-valued X, which {name} refuses (a DataError)" for check in _REAL_X}
    if isinstance(family, mf.Bernoulli):
        refused |= {check: "the check draws whole numbers above 1, which Bernoulli refuses" for check in _WHOLE_X}
    refused["check_estimators_nan_inf"] = NAN_IS_MISSING
    return refused


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # identifiability and convergence notes on tiny data
        check(estimator)


def test_a_family_setting_is_a_grid_search_parameter():
    import numpy as np

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(6, 1, (60, 2))])
    pipe = Pipeline([("scale", StandardScaler()), ("mixture", mf.Mixture(mf.Gaussian(), 2, random_state=0))])
    grid = GridSearchCV(pipe, {"mixture__family__covariance": ["full", "diag", "spherical"]}, cv=3).fit(X)
    assert grid.best_params_["mixture__family__covariance"] in ("full", "diag", "spherical")
    assert (
        grid.best_estimator_.named_steps["mixture"].family_.covariance
        == grid.best_params_["mixture__family__covariance"]
    )
    original = mf.Gaussian("tied", reg_covar=1e-6)
    copied = clone(mf.Mixture(original, 2)).family
    assert copied is not original and copied.get_params() == {**original.get_params()}
    with pytest.raises(mf.ModelError, match="Gaussian has no setting 'bogus'"):
        original.set_params(bogus=1)
    with pytest.raises(mf.ModelError, match="covariance"):
        original.set_params(covariance="blocky")
