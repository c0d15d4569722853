"""Published mixture-of-regression fits reproduced with default settings.

The data are flexmix's (``examples/published/README.md``); the published numbers are printed in
flexmix's vignette "Applications of finite mixtures of regression models" (Grün and Leisch,
flexmix 2.3-18: ``regression-examples.pdf``): the log-likelihood to 4 decimals and the degrees
of freedom. The ``FLEXMIX`` estimates and standard errors are from a side-by-side run of flexmix
2.3-18 on R 4.2.2 (``stepFlexmix(..., nrep = 10, control = list(tol = 1e-10))`` and
``summary(refit(fit))``), copied to the digits R printed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixfit as mf

DATA = Path(__file__).resolve().parents[1] / "examples" / "published"


def _fit(family, k, frame, covariates=None, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the replication note of a flat ridge, not a failure
        return mf.Mixture(family, k, random_state=0, **options).fit(frame, covariates=covariates)


def _by_slope(coef, column=1):
    """Rows of a coefficient table ordered by one coefficient (component labels are arbitrary)."""
    return coef[np.argsort(coef[:, column])]


def test_patent_poisson_regression_with_a_concomitant_variable():
    """Patents ~ lgRD, Poisson, K = 3, class membership ~ RDS (Wang et al. 1998's chosen model):
    published 'log Lik.' -197.6753 (df=10), AIC 415.3505, BIC 437.8355."""
    frame = pd.read_csv(DATA / "patent.csv")
    rds = frame[["RDS"]]
    m = _fit(mf.Regression("poisson", "Patents", ["lgRD"]), 3, frame, rds)
    assert m.n_parameters() == 10
    assert m.log_likelihood_ == pytest.approx(-197.6753, abs=5e-4)  # printed to 4 decimals
    assert m.log_likelihood_ == pytest.approx(-197.675022, abs=2e-6)  # flexmix at tol 1e-10
    assert m.aic(frame, covariates=rds) == pytest.approx(415.3505, abs=1e-3)
    assert m.bic(frame, covariates=rds) == pytest.approx(437.8355, abs=1e-3)
    flexmix_coef = np.array([[1.961957, 0.671929], [0.50638, 0.88008], [-2.64677, 1.58862]])
    flexmix_se = np.array([[0.176301, 0.045596], [0.16076, 0.04022], [0.63083, 0.13471]])
    order = np.argsort(m.params_["coef"][:, 1])
    # two stopping points within tol (1e-8 per row: 7e-7 in log-likelihood) differ by up to
    # se * sqrt(2 * 7e-7), about 1.2e-3 standard errors
    gap = np.abs(m.params_["coef"][order] - _by_slope(flexmix_coef))
    assert np.all(gap < 2e-3 * flexmix_se[np.argsort(flexmix_coef[:, 1])])
    se = m.standard_errors(frame, covariates=rds).params["coef"][order]
    # flexmix's refit differentiates numerically (optim's Hessian), at its own stopping point:
    # agreement to 0.2%
    np.testing.assert_allclose(se, flexmix_se[np.argsort(flexmix_coef[:, 1])], rtol=2e-3)


def test_seizure_poisson_regression_with_an_offset():
    """Seizures ~ Treatment * log(Day), offset log(Hours), Poisson, K = 2: published 'log Lik.'
    -376.1762 (df=9)."""
    frame = pd.read_csv(DATA / "seizure.csv")
    family = mf.Regression("poisson", "Seizures", ["Treatment", "logDay", "TreatmentLogDay"], offset="logHours")
    m = _fit(family, 2, frame)
    assert m.n_parameters() == 9
    assert m.log_likelihood_ == pytest.approx(-376.1762, abs=5e-5)
    flexmix_coef = np.array(
        [[2.070399, 7.431966, -0.270644, -2.276208], [2.84489, 1.30227, -0.40624, -0.43105]],
    )
    flexmix_se = np.array([[0.092250, 0.548811, 0.042326, 0.147845], [0.25886, 0.54442, 0.10008, 0.15261]])
    order = np.argsort(m.params_["coef"][:, 0])
    assert np.all(np.abs(m.params_["coef"][order] - flexmix_coef) < 2e-3 * flexmix_se)  # as for patent
    np.testing.assert_allclose(m.standard_errors(frame).params["coef"][order], flexmix_se, rtol=1e-3)


def test_mehta_binomial_regression_reaches_flexmix_maximum_or_higher():
    """cbind(Response, Total - Response) ~ Drug, binomial, K = 3, rows independent. (The
    vignette's -62.02723 is of another model, ``~ Drug | Site``: both rows of a site in one
    component, a grouping mixfit does not have.) flexmix 2.3-18 on this model ends at -62.66768
    (nrep = 10); mixfit's best over 200 random starts is -62.66705. A flat ridge (the small
    component's logit for the new drug) holds a second maximum at -62.6755 that does better in
    the first iterations, so this fit converges every start it screens (n_converge=20)."""
    frame = pd.read_csv(DATA / "mehta.csv")
    m = _fit(mf.Regression("binomial", "Response", ["New"], n_trials="Total"), 3, frame, n_converge=20)
    assert m.n_parameters() == 8
    assert m.log_likelihood_ >= -62.66768
    assert m.log_likelihood_ == pytest.approx(-62.66705, abs=1e-4)


def test_patent_with_a_fixed_effect():
    """Patents ~ 1, lgRD a fixed effect (FLXMRglmfix), class membership ~ RDS: published
    'log Lik.' -216.824 (df=8), AIC 449.6479, BIC 467.6359; flexmix at tol 1e-10 -216.8235164."""
    frame = pd.read_csv(DATA / "patent.csv")
    rds = frame[["RDS"]]
    m = _fit(mf.Regression("poisson", "Patents", ["lgRD"], fixed=["lgRD"]), 3, frame, rds)
    assert m.n_parameters() == 8
    assert m.log_likelihood_ == pytest.approx(-216.824, abs=5e-4)
    assert -216.8235164 <= m.log_likelihood_ <= -216.8235164 + 1e-5  # as high as flexmix's, or higher
    assert m.aic(frame, covariates=rds) == pytest.approx(449.6479, abs=2e-3)
    assert m.bic(frame, covariates=rds) == pytest.approx(467.6359, abs=2e-3)
    coef = m.params_["coef"][np.argsort(m.params_["coef"][:, 0])]
    # two stopping points 2.4e-6 apart in log-likelihood differ by up to se * sqrt(2 * 2.4e-6),
    # about 3e-4 for these intercepts (se 0.14)
    np.testing.assert_allclose(coef[:, 0], [0.2946895, 1.0418652, 1.5928192], atol=1e-3)
    np.testing.assert_allclose(coef[:, 1], 0.7585256, atol=1e-3)
    se = m.standard_errors(frame, covariates=rds).params["coef"][np.argsort(m.params_["coef"][:, 0])]
    np.testing.assert_allclose(se[:, 0], [0.143173, 0.146979, 0.139715], rtol=2e-3)
    np.testing.assert_allclose(se[:, 1], 0.032525, rtol=2e-3)


def test_fabric_faults_random_intercepts():
    """Faults ~ 1, log(Length) a fixed effect, Poisson, K = 2: published 'log Lik.' -86.33119
    (df=4), AIC 180.6624, BIC 186.5253; flexmix at tol 1e-10 -86.33108653, slope 0.7991576 (se
    0.23492), intercepts -3.1282040 and -2.3622770 (se 1.51945 and 1.59157)."""
    frame = pd.read_csv(DATA / "fabricfault.csv")
    m = _fit(mf.Regression("poisson", "Faults", ["logLength"], fixed=["logLength"]), 2, frame)
    assert m.n_parameters() == 4
    assert m.log_likelihood_ == pytest.approx(-86.33119, abs=5e-4)
    assert m.log_likelihood_ == pytest.approx(-86.33108653, abs=2e-6)
    assert m.aic(frame) == pytest.approx(180.6624, abs=1e-3) and m.bic(frame) == pytest.approx(186.5253, abs=1e-3)
    order = np.argsort(m.params_["coef"][:, 0])
    np.testing.assert_allclose(m.params_["coef"][order], [[-3.128204, 0.7991576], [-2.362277, 0.7991576]], atol=2e-3)
    se = m.standard_errors(frame).params["coef"][order]
    np.testing.assert_allclose(se, [[1.51945, 0.23492], [1.59157, 0.23492]], rtol=2e-3)


def test_npreg_gaussian_regression_is_the_maximum_flexmix_misses_by_its_variance():
    """yn ~ x + I(x^2), Gaussian, K = 2 (flexmix-intro vignette): published 'log Lik.' -642.5451
    (df=9), and flexmix at tol 1e-12 -642.5451665. flexmix's Gaussian M-step divides the residual
    sum of squares by n - p (a least-squares variance), not by n: at its estimates mixfit's
    written-out likelihood is -642.54517 too, while the maximum-likelihood variances give
    -642.5320 with the same lines (to 2% of a standard error)."""
    frame = pd.read_csv(DATA / "npreg.csv")
    m = _fit(mf.Regression("gaussian", "yn", ["x", "x2"]), 2, frame)
    assert m.n_parameters() == 9
    assert m.log_likelihood_ == pytest.approx(-642.53201, abs=1e-4)
    assert m.log_likelihood_ > -642.5451665
    order = np.argsort(m.params_["coef"][:, 0])
    flexmix_coef = [[-0.20851010, 4.81650507, 0.03628113], [14.7179138, 9.8458075, -0.9682699]]
    flexmix_se = np.array([[1.009206, 0.509610, 0.049755], [1.32377, 0.59158, 0.05526]])
    # the lines agree to 2% of a standard error (the variances, hence the weights, differ)
    assert np.all(np.abs(m.params_["coef"][order] - flexmix_coef) < 0.02 * flexmix_se)
    flexmix_sd = np.array([3.47566571, 3.4802271])
    # the least-squares variance exceeds the maximum-likelihood one by n_k / (n_k - 3), n_k ~ 100
    ratio = flexmix_sd**2 / m.params_["variance"][order]
    np.testing.assert_allclose(ratio, 1.02, atol=0.015)


def test_biochemists_fixed_effects_and_a_concomitant_variable():
    """art ~ 1, kid5, mar and ment fixed, Poisson, K = 2, class membership ~ fem (the FlexMix
    Version 2 vignette's ff_4): its printed concomitant coefficients -1.02262 and -0.61281 (se
    0.28385 and 0.27280); flexmix at tol 1e-10 ends at -1567.282696."""
    frame = pd.read_csv(DATA / "biochemists.csv")
    women = frame[["women"]]
    family = mf.Regression("poisson", "art", ["kid5", "married", "ment"], fixed=["kid5", "married", "ment"])
    m = _fit(family, 2, frame, women)
    assert m.n_parameters() == 7
    assert m.log_likelihood_ == pytest.approx(-1567.282696, abs=1e-4)  # a slow fit: default tol stops 2e-5 short
    coef = m.covariate_coef_ if m.params_["coef"][0, 0] < m.params_["coef"][1, 0] else -m.covariate_coef_
    np.testing.assert_allclose(coef[1], [-1.02262, -0.61281], atol=5e-3)  # 0.02 standard errors
    se = m.standard_errors(frame, covariates=women).covariate_coef[1]
    np.testing.assert_allclose(se, [0.28385, 0.27280], rtol=1e-2)
    np.testing.assert_allclose(m.params_["coef"][0, 1:], [-0.1819162, 0.1883990, 0.0288501], atol=5e-3)


@pytest.mark.parametrize(
    ("data", "k", "mclust"),
    [("faithful", 3, -1127.199), ("faithful", 4, -1111.28), ("iris", 3, -180.1858), ("iris", 4, -167.4862)],
)
def test_default_gaussian_fits_reach_at_least_mclusts_maximum(data, k, mclust):
    """mclust 6.0.0 (R 4.2.2), ``Mclust(X, G = k, modelNames = "VVV")$loglik``: one EM from its
    model-based hierarchical agglomeration start. mixfit's default (20 starts, k-means++ and
    random-rows, screened) ends at or above it for every seed tried (0-7: faithful K = 3 at
    -1119.21 or -1114.44, K = 4 at -1106.70 or -1106.03; iris K = 4 at -157.77 to -163.70)."""
    if data == "iris":
        from sklearn.datasets import load_iris

        X = load_iris().data
    else:
        X = pd.read_csv(DATA / "faithful.csv").to_numpy()
    m = _fit(mf.Gaussian("full"), k, X)
    assert m.log_likelihood_ >= mclust - 1e-3
